"""Fixtures for the CLI tests: `cli` runs `canfar` in-process through Typer's CliRunner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from canfar_cli.cli.main import app


@pytest.fixture
def cli() -> Callable[..., Result]:
    """`cli("ps", "-a")` runs `canfar --server local ps -a` in-process; `server=None` leaves the
    server to the environment/config, `server="http://..."` points elsewhere."""
    runner = CliRunner()

    def invoke(*args: str, server: str | None = "local", input: str | None = None) -> Result:
        argv = (["--server", server] if server else []) + list(args)
        return runner.invoke(app, argv, input=input, catch_exceptions=False)

    return invoke
