"""Helpers of the CLI's tests, on top of the `cli` fixture (tests/cli/conftest.py)."""

from __future__ import annotations

import json
import time
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
