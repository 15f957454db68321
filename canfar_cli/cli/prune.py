"""`canfar prune`: remove finished sessions (or those matching the filters given)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.options import (
    Format,
    Kind,
    Status,
    json_option,
    kind_option,
    kind_values,
    output_option,
    parse_duration,
    quiet_option,
    resolve_format,
    status_option,
    status_values,
)
from canfar_cli.cli.removal import confirm_removal, force_option, label, remove, yes_option
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode

if TYPE_CHECKING:
    from canfar_cli.session import AsyncSession


def prune(
    ctx: typer.Context,
    kind: list[Kind] | None = kind_option(),
    status: list[Status] | None = status_option(
        "Only this status (repeatable; default Completed, Failed, Succeeded)."
    ),
    name: str | None = typer.Option(
        None, "--name", metavar="PATTERN", help="Only names matching this glob."
    ),
    older_than: str | None = typer.Option(
        None, "--older-than", metavar="DURATION", help="Only sessions started before: 30m, 2h, 7d."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be removed, remove none."
    ),
    force: bool = force_option(),
    yes: bool = yes_option(),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
    quiet: bool = quiet_option(),
) -> ExitCode:
    """Remove finished sessions.

    Completed and Failed (and older servers' Succeeded) by default.

    -s Pending removes jobs stuck in the queue. Asks first like rm. Prints each removed id, and a
    summary on stderr. With --dry-run the sessions that would go are listed (-o/-q apply).

    \b
    Examples:
      canfar prune --dry-run
      canfar prune -f --older-than 7d
      canfar prune -y -s Pending -k headless --name 'fit-*'
    """
    from canfar_cli.cli.present import show_sessions
    from canfar_cli.models import FINISHED_STATUSES, select_sessions

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json, quiet)
    age = parse_duration(older_than) if older_than is not None else None
    statuses = status_values(status) or sorted(FINISHED_STATUSES)

    async def work(session: AsyncSession) -> ExitCode:
        sessions = select_sessions(
            await session.fetch(),
            kinds=kind_values(kind),
            statuses=statuses,
            name_pattern=name,
            older_than=age,
        )
        noun = "session" if len(sessions) == 1 else "sessions"
        if dry_run:
            from canfar_cli.cli.launch import flexible_ceiling

            tabled = fmt in ("table", "wide")
            ceiling = await flexible_ceiling(session, sessions) if tabled else None
            show_sessions(out, sessions, fmt, ceiling)
            out.message(f"{len(sessions)} {noun} would be removed (dry run: nothing removed)")
            return ExitCode.OK
        if not sessions:
            out.message("nothing to prune")
            return ExitCode.OK
        ids = [str(s["id"]) for s in sessions]
        confirm_removal(out, ids, [label(s) for s in sessions], force or yes)
        removed, code = await remove(out, session, ids)
        out.message(f"removed {len(removed)} of {len(ids)} {noun}")
        return code

    return state.run(work)


def register(app: typer.Typer) -> None:
    app.command("prune")(prune)
