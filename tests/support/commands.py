"""Helpers of the CLI's tests, on top of the `cli` fixture (tests/cli/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import IMAGE

Cli = Callable[..., Any]


def sessions(cli: Cli, server: str = "local") -> list[dict[str, Any]]:
    """Every session of the server, as `canfar ps -a --json` lists them."""
    result = cli("ps", "-a", "--json", server=server)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def create_done(cli: Cli, *args: str, server: str = "local") -> list[str]:
    """Create a headless session of IMAGE and wait until each has ended or runs; the new ids."""
    result = cli("create", "headless", IMAGE, "--wait", *args, server=server)
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()
