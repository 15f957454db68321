"""Fixtures for the CLI tests: `cli` runs `canfar` in-process through Typer's CliRunner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner, Result

from canfar_cli.cli.main import app
from canfar_cli.cli.state import CliState


@dataclass
class Given:
    """The CliState every `cli(…)` call of a test hands in (None: the program makes its own).
    A fixture sets it to give the commands a fake core or terminal."""

    state: CliState | None = None


@pytest.fixture
def given() -> Given:
    return Given()


@pytest.fixture
def cli(given: Given) -> Callable[..., Result]:
    """`cli("ps", "-a")` runs `canfar --server local ps -a` in-process; `server=None` leaves the
    server to the environment/config, `server="http://..."` points elsewhere. `obj=CliState(…)`
    hands in a terminal (streams, TTY flags) or a session factory for that call."""
    runner = CliRunner()

    def invoke(
        *args: str,
        server: str | None = "local",
        input: str | None = None,
        obj: CliState | None = None,
    ) -> Result:
        argv = (["--server", server] if server else []) + list(args)
        state = obj if obj is not None else given.state
        return runner.invoke(app, argv, input=input, obj=state, catch_exceptions=False)

    return invoke
