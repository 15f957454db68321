"""Start-up stays light: help and completion requests import none of the heavy modules."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from canfar_cli.cli.main import COMMANDS
from tests.support.process import canfar_env

HEAVY = (
    "httpx",
    "anyio",
    "rich.table",
    "rich.markdown",
    "sqlite3",
    "uvicorn",
    "canfar_cli.local",
    "canfar_cli.session",
    "canfar_cli.http",
)

# Runs the real entry point, then reports on stderr which heavy modules got imported.
PROBE = """
import atexit, sys
heavy = {heavy!r}
def report():
    loaded = sorted(m for m in heavy if m in sys.modules)
    sys.__stderr__.write("LOADED:" + ",".join(loaded) + "\\n")
atexit.register(report)
sys.argv = ["canfar", *{args!r}]
from canfar_cli.cli.entry import main
main()
"""


def python_c(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -c code` in the tests' environment for canfar, its output as text."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=canfar_env(env),
        timeout=60,
        check=False,
    )


def loaded_modules(
    args: list[str], env: dict[str, str] | None = None, heavy: tuple[str, ...] = HEAVY
) -> list[str]:
    result = python_c(PROBE.format(heavy=heavy, args=args), env)
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("LOADED:")][-1]
    names = line.removeprefix("LOADED:")
    return [name for name in names.split(",") if name]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["ps", "--help"],
        ["create", "--help"],
        ["local", "--help"],
        ["completion", "bash"],
        ["config", "path"],
        ["--version"],
        ["login", "--help"],
        ["auth", "--help"],
        ["platform", "--help"],
        ["auth", "status"],
        ["auth", "logout"],
        ["run", "--help"],
        ["open", "--help"],
        ["renew", "--help"],
        ["images", "--help"],
        ["limits", "--help"],
        ["data", "--help"],
        ["data", "cp", "--help"],
        ["data", "ls", "--help"],
    ],
)
def test_light_commands_import_nothing_heavy(args: list[str]) -> None:
    assert loaded_modules(args) == []


@pytest.mark.parametrize("args", [["--help"], ["ps", "--help"], ["data", "cp", "--help"]])
def test_help_pages_import_not_even_typer(args: list[str]) -> None:
    # Printed from canfar_cli/cli/help_pages.txt (output not a terminal: 80 columns).
    assert loaded_modules(args, heavy=("typer", "typing", "canfar_cli.cli.main")) == []


def test_a_real_command_does_use_the_core() -> None:
    # The probe itself works: a command that talks to the server loads httpx, but not the
    # command line of httpx (click, pygments: ~80 ms) that its package init would pull in.
    loaded = loaded_modules(["--server", "local", "ps"], heavy=("httpx", "click", "pygments"))
    assert loaded == ["httpx"]


def test_platform_commands_that_need_no_network_import_nothing_heavy() -> None:
    # A platform known from an earlier sign-in: listing and choosing it need no HTTP stack.
    from tests.support.signin import write_auth as write_store

    write_store(
        {"platforms": {"canSRC": {"url": "https://src.example/skaha", "identity": "srcnet"}}}
    )
    assert loaded_modules(["platform", "ls"]) == []
    assert loaded_modules(["platform", "use", "canSRC"]) == []


# The modules of canfar_cli.cli that hold commands (what COMMANDS points at).
COMMAND_MODULES = tuple(sorted({f"canfar_cli.cli.{module}" for module, _ in COMMANDS.values()}))


@pytest.mark.parametrize(
    ("args", "built"),
    [
        (["--help"], []),
        (["ps", "--help"], []),  # a stored page (tests/cli/test_help_pages.py)
        (["ps", "-a", "--help"], ["canfar_cli.cli.ps"]),  # Typer's help
        (["--server", "local", "info", "--help"], ["canfar_cli.cli.info"]),
        (["config", "path"], ["canfar_cli.cli.config_cmd"]),
        (["auth", "status"], ["canfar_cli.cli.auth_cmd"]),
    ],
)
def test_only_the_command_that_runs_is_imported(args: list[str], built: list[str]) -> None:
    assert loaded_modules(args, heavy=COMMAND_MODULES) == built


def test_the_root_help_lines_are_the_commands_own() -> None:
    # The root lists its commands from COMMANDS without building them: each line must be what
    # the command's own help says (its first sentence, as click shortens it), and every command
    # the modules register must be listed.
    import importlib

    import typer
    from typer._click.utils import make_default_short_help
    from typer.main import get_group

    registered: dict[str, Any] = {}
    for module in {module for module, _ in COMMANDS.values()}:
        staging = typer.Typer(rich_markup_mode=None)
        importlib.import_module(f"canfar_cli.cli.{module}").register(staging)
        registered.update(get_group(staging).commands)
    assert set(registered) == set(COMMANDS)
    for name, (_module, line) in COMMANDS.items():
        command = registered[name]
        assert command.hidden == (line is None), name
        if line is not None:
            assert make_default_short_help(command.help or "", 1000) == line, name


def test_every_command_is_reachable_through_the_root(cli: Any) -> None:
    # Built on demand: each command's --help works through the real root, global options too.
    for name, (_module, line) in COMMANDS.items():
        if line is None:
            continue
        result = cli(name, "--help", server=None)
        assert result.exit_code == 0, (name, result.stderr)
        assert f"canfar {name}" in result.stdout


def test_an_explicit_token_is_chosen_without_the_sign_in_package() -> None:
    # Issue 19 cause 4: nothing of the sign-in state is imported (or read) for a given token.
    probe = (
        "import sys\n"
        "from canfar_cli.auth.credentials import credentials_for\n"
        "from canfar_cli.config import load_settings\n"
        "c = credentials_for(load_settings(server='https://x.example/skaha', token='t'))\n"
        "assert c.token == 't' and c.source == 'flag'\n"
        "print(sorted(m for m in sys.modules if m.startswith('canfar_cli.auth')))\n"
    )
    result = python_c(probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['canfar_cli.auth', 'canfar_cli.auth.credentials']"


def test_the_official_clients_file_is_read_without_yaml() -> None:
    # Issue 19 cause 5: its users pay no pyyaml import on every command.
    from pathlib import Path

    path = Path.home() / ".canfar" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "version: 2\nactive:\n  authentication: cadc\n  server: canfar\n"
        "servers:\n  canfar:\n    url: https://ws-uv.canfar.net/skaha  # production\n"
        "    version: v1\n"
    )
    assert loaded_modules(["platform", "ls"], heavy=("yaml", "httpx")) == []


def test_the_collector_is_back_to_usual_once_the_work_begins() -> None:
    # The program loads with a raised first threshold (entry.py); a command that talks to the
    # server puts the usual one back, with what start-up made frozen out of later passes.
    import gc

    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.__stderr__.write(f'GC:{gc.get_threshold()}"
        " {gc.get_freeze_count() > 0}\\n'))\n"
        "sys.argv = ['canfar', '--server', 'local', 'ps', '-o', 'json']\n"
        "from canfar_cli.cli.entry import main\n"
        "main()\n"
    )
    result = python_c(probe)
    assert result.returncode == 0, result.stderr
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("GC:")][-1]
    assert line == f"GC:{gc.get_threshold()} True"
