"""`canfar info ID …`: every field the server gives, one block per session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession

# Fields shown first, in this order, under friendlier labels; every other field follows as is.
LABELS = {
    "id": "ID",
    "name": "Name",
    "type": "Kind",
    "status": "Status",
    "image": "Image",
    "userid": "User",
    "startTime": "Started",
    "expiryTime": "Expires",
    "connectURL": "Connect URL",
    "requestedCPUCores": "CPU cores",
    "requestedRAM": "RAM (GiB)",
    "requestedGPUCores": "GPUs",
    "cpuCoresInUse": "CPU in use",
    "ramInUse": "RAM in use (GiB)",
    "isFixedResources": "Fixed resources",
    "runAsUID": "Run as UID",
    "runAsGID": "Run as GID",
    "supplementalGroups": "Groups",
    "appid": "App id",
}


def block(session: dict[str, Any]) -> list[tuple[str, str]]:
    from datetime import datetime, timezone

    from canfar_cli.cli.present import when
    from canfar_cli.cli.units import gib_from_gb
    from canfar_cli.models import is_finished

    now = datetime.now(timezone.utc)
    keys = [key for key in LABELS if key in session]
    keys += [key for key in session if key not in LABELS]
    lines = []
    for key in keys:
        value = session[key]
        if key == "expiryTime" and is_finished(session.get("status")):
            # The server keeps the expiry of an ended job; "in 13d" would read as time left.
            text = "- (ended)"
        elif key in ("requestedRAM", "ramInUse") and gib_from_gb(value) is not None:
            text = str(gib_from_gb(value))  # the server's decimal GB, in the GiB of -m
        elif key in ("startTime", "expiryTime") and isinstance(value, str):
            text = when(value, now)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(str(item) for item in value) or "-"
        elif value == "":
            text = "-"
        else:
            text = str(value)
        lines.append((LABELS.get(key, key), text))
    return lines


def info(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., metavar="ID|NAME...", help="Session ids or names."),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> ExitCode:
    """Show sessions in full.

    Every field the server gives, one block per session, expiry as date and time left.

    A name stands for its session when it is not an id (several sessions of that name: exit 2).
    JSON is always an array of the server's objects, one per session, whatever the number of
    ids. Unknown ids are reported on stderr: exit 4 when none was found, 1 when some were (the
    found ones still print).

    \b
    Examples:
      canfar info x7k2m9qa
      canfar info x7k2m9qa -o json | jq '.[0].status'
    """
    from canfar_cli.cli.present import report_failures, unique

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    ids = unique(ids)

    async def work(session: AsyncSession) -> list[Outcome[dict[str, Any]]]:
        return await session.info_each(ids, names=True)

    outcomes = state.run(work)
    found = [outcome.value for outcome in outcomes if outcome.value is not None]
    if fmt == "json":
        if found:
            out.json(found)  # always an array, one element per session found
    elif found:
        out.blocks([block(session) for session in found])
    return report_failures(out, outcomes)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
