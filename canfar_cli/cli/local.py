"""`canfar local …`: the local platform (placeholder until the local platform lands)."""

from __future__ import annotations

import typer

local_app = typer.Typer(help="The local platform: the skaha v1 API on this machine.")


@local_app.callback()
def _local() -> None:
    """The local platform: the skaha v1 API on this machine."""
