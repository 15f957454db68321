"""Helpers of the CLI's tests, on top of the `cli` fixture (tests/cli/conftest.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from . import IMAGE

Cli = Callable[..., Any]


def sessions(cli: Cli, server: str = "local") -> list[dict[str, Any]]:
    """Every session of the server, as `canfar ps -a --json` lists them."""
    result = cli("ps", "-a", "--json", server=server)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def create_done(cli: Cli, *args: str, server: str = "local") -> list[str]:
    """Create headless sessions of IMAGE and wait until each has ended (or runs on, for an
    interactive kind or a job that does not end within a minute); the new ids."""
    result = cli("create", "headless", IMAGE, "--wait", *args, server=server)
    assert result.exit_code == 0, result.stderr
    ids = result.stdout.split()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {s["id"]: s["status"] for s in sessions(cli, server)}
        if all(states.get(i) not in ("Pending", "Running") for i in ids):
            break
        time.sleep(0.05)
    return ids


def ids_of(result: Any) -> list[str]:
    """The ids a successful `create` printed (asserts it succeeded)."""
    assert result.exit_code == 0, result.stderr
    return list(result.stdout.split())


def serve_refused_in_process(monkeypatch: pytest.MonkeyPatch, *flags: str) -> Any:
    """`canfar local serve FLAGS` in-process (Typer's CliRunner), for the cases of a refusal
    before serving: a start that was let through reaches the server itself, which raises at once
    instead of serving for ever (an internal error, exit 1, naming the flags: the test's exit 2
    fails). A refusal as a real process (exit 2, no URL on
    stdout, one line on stderr) is tests/local/test_serve.py::test_bad_options_are_usage_errors'
    and tests/cli/test_one_line_answers.py::test_local_serve_refusing_a_number_is_a_real_exit_2'.
    """
    from typer.testing import CliRunner

    from canfar_cli.cli.main import app
    from canfar_cli.local import serve

    def started(*_args: Any, **_options: Any) -> int:
        raise AssertionError(f"`local serve {' '.join(flags)}` was let through")

    monkeypatch.setattr(serve, "serve", started)
    return CliRunner().invoke(app, ["local", "serve", *flags], catch_exceptions=False)
