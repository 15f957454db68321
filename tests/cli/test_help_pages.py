"""Stored help pages (canfar_cli/cli/help_pages.txt): `canfar [CMD] --help` prints them without
importing Typer, and they are what Typer prints, or Typer answers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from canfar_cli.cli import help_pages
from tests.support.process import canfar_env

# `canfar ARGS` through the real entry point (the stored pages first), or straight through the
# Typer app (never a stored page); either way it reports on stderr whether Typer was imported.
PROBE = """
import atexit, sys
atexit.register(lambda: sys.__stderr__.write("TYPER:" + str("typer" in sys.modules) + "\\n"))
sys.argv = ["canfar", *{args!r}]
from canfar_cli.cli.{module} import main
main()
"""


def run(args: list[str], *, typer_only: bool = False, columns: str = "") -> tuple[str, int, bool]:
    """stdout, exit code, and whether Typer was imported, of `canfar ARGS` in a real process."""
    module = "main" if typer_only else "entry"
    env = canfar_env({"COLUMNS": columns} if columns else None)
    if not columns:
        env.pop("COLUMNS", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, module=module)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    typer_line = [ln for ln in result.stderr.splitlines() if ln.startswith("TYPER:")][-1]
    return result.stdout, result.returncode, typer_line == "TYPER:True"


def typer_answer(args: list[str]) -> tuple[str, int]:
    """stdout and exit code of the Typer app itself for `canfar ARGS` (what `run(ARGS,
    typer_only=True)` reports), in-process, laid out as for an output that is not a terminal (80
    columns). Each test below also asks one real process the same, which shows the two agree."""
    from typer.testing import CliRunner

    from canfar_cli.cli.main import app

    # As wide as click lays out help for an output that is not a terminal (CliRunner would
    # force 80 columns otherwise).
    width = help_pages.WIDTH
    result = CliRunner().invoke(app, args, prog_name="canfar", terminal_width=width)
    return result.stdout, result.exit_code


def test_committed_pages_match_the_app() -> None:
    assert help_pages.PAGES_FILE.endswith("help_pages.txt")
    with open(help_pages.PAGES_FILE, encoding="utf-8") as file:
        committed = file.read()
    assert committed == help_pages.pages(), (
        f"canfar_cli/cli/help_pages.txt is out of date: run `{help_pages.GENERATOR}`"
        " and commit the result"
    )


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-h"], ["ps", "--help"], ["data", "cp", "--help"], ["config", "set", "-h"]],
)
def test_a_stored_page_is_what_typer_prints_without_typer(args: list[str]) -> None:
    stored, code, imported = run(args)
    assert (code, imported) == (0, False)
    assert (stored, code) == typer_answer(args)
    if args == ["--help"]:  # once as a real process too (typer_answer's reference)
        assert (stored, code) == run(args, typer_only=True)[:2]
    assert stored.startswith(f"Usage: canfar {' '.join(args[:-1])}".rstrip())


@pytest.mark.parametrize(
    "args",
    [
        ["--server", "local", "ps", "--help"],  # a global option first: not a page's line
        ["ps", "-a", "--help"],
        ["data", "ls", "-h"],  # -h is not help there (it is --human-readable's)
        ["completion-refresh", "--help"],  # hidden: no page
        ["nosuch", "--help"],
    ],
)
def test_other_command_lines_go_to_typer(args: list[str]) -> None:
    answered, code, imported = run(args)
    assert imported
    assert (answered, code) == typer_answer(args)
    if args == ["ps", "-a", "--help"]:  # once as a real process too (typer_answer's reference)
        assert (answered, code) == run(args, typer_only=True)[:2]


def test_a_narrow_terminal_gets_typer_laying_out_its_width() -> None:
    wide, _, _ = run(["ps", "--help"], columns="200")
    narrow, code, imported = run(["ps", "--help"], columns="60")
    assert (code, imported) == (0, True)
    assert narrow != wide
    assert max(len(line) for line in narrow.splitlines()) <= 58
    assert max(len(line) for line in wide.splitlines()) > 58


def test_a_missing_pages_file_falls_back_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(help_pages, "PAGES_FILE", "/nonexistent/help_pages.txt")
    assert help_pages.stored_page(["ps", "--help"]) is None


def test_a_page_is_found_by_its_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    logs = help_pages.stored_page(["logs", "--help"])
    local = help_pages.stored_page(["local", "--help"])
    serve = help_pages.stored_page(["local", "serve", "--help"])
    assert logs is not None and logs.startswith("Usage: canfar logs ")
    assert local is not None and local.startswith("Usage: canfar local ")
    assert serve is not None and serve.startswith("Usage: canfar local serve ")
    assert help_pages.stored_page(["serve", "--help"]) is None
    assert help_pages.stored_page(["ps"]) is None
