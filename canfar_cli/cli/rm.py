"""`canfar rm ID …`: remove sessions (asks first on a terminal)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.removal import confirm_removal, force_option, label, remove, yes_option
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, NotFoundError, UsageError

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession


def rm(
    ctx: typer.Context,
    ids: list[str] | None = typer.Argument(
        None, metavar="[ID|NAME]...", help="Session ids or names."
    ),
    name: str | None = typer.Option(
        None, "--name", metavar="PATTERN", help="Remove the sessions whose name matches this glob."
    ),
    all_named: bool = typer.Option(
        False, "--all-named", help="A NAME shared by several sessions removes them all."
    ),
    force: bool = force_option(),
    yes: bool = yes_option(),
) -> ExitCode:
    """Remove sessions.

    By id, by name (a name of several sessions needs --all-named), or by a name pattern with
    --name. Prints each removed id.

    On a terminal it asks first; elsewhere it refuses unless -f/--force or -y/--yes is given.
    Unknown ids are reported as not found (exit 4 when none was found); on a partial failure
    the rest are still removed, each failure is reported with the server's reason, exit 1.

    \b
    Examples:
      canfar rm x7k2m9qa
      canfar rm -f myfit
      canfar rm -f --name 'fit-*'
      canfar ps -q -s Failed | xargs canfar rm -f
    """
    from canfar_cli.cli.present import unique

    state = state_of(ctx)
    out = state.out
    forced = force or yes
    ids = unique(ids or [])
    if ids and name is not None:
        raise UsageError("give session ids or --name, not both")
    if not ids and name is None:
        if forced:  # `canfar ps -q | xargs canfar rm -f` with nothing listed: nothing to do
            out.message("no session ids given; nothing removed")
            return ExitCode.OK
        raise UsageError("no session ids given", hint="give ids, or --name PATTERN")

    async def work(session: AsyncSession) -> ExitCode:
        from canfar_cli.cli.present import report_failures

        targets, labels = ids, ids
        known: dict[str, Any] | None = None
        failed: list[Outcome[Any]] = []
        if ids:
            # One look per id (the server answers a DELETE of an unknown id with 200): the
            # records found also label the prompt, and spare the deletes a second look.
            found = await session.info_each(ids, names=True, all_named=all_named)
            known = {o.key: o.value for o in found if o.value is not None}
            targets = list(known)
            labels = [label(record) for record in known.values()]
            failed = [o for o in found if not o.ok]
            missing = report_failures(out, failed)  # said before any prompt
            if not targets:
                return missing
        if name is not None:
            from canfar_cli.models import select_sessions

            sessions = select_sessions(await session.fetch(), name_pattern=name)
            if not sessions:
                raise NotFoundError(f"no session has a name matching {name!r}", status=404)
            targets = [str(s["id"]) for s in sessions]
            labels = [label(s) for s in sessions]
        confirm_removal(out, targets, labels, forced)
        _removed, code = await remove(out, session, targets, known, failed)
        return code

    return state.run(work)


def register(app: typer.Typer) -> None:
    app.command("rm")(rm)
