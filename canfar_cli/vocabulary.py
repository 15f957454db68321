"""The words of the skaha API that the command line offers as choices: session kinds and
statuses. A module of its own, with no imports, so that building a command's options does not
load canfar_cli.models (and what it imports) for two tuples."""

from __future__ import annotations

KINDS: tuple[str, ...] = ("headless", "notebook", "desktop", "carta", "firefly", "contributed")

# What the current server emits, then what older servers (and the stale docs) said.
STATUSES: tuple[str, ...] = (
    "Pending",
    "Running",
    "Completed",
    "Failed",
    "Terminating",
    "Succeeded",
    "Error",
)
