"""`canfar renew ID… | --all`: push back the expiry of interactive sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession


def renew(
    ctx: typer.Context,
    ids: list[str] | None = typer.Argument(None, metavar="[ID...]", help="Session ids or names."),
    every: bool = typer.Option(False, "--all", help="Every Running interactive session of yours."),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> ExitCode:
    """Renew interactive sessions: their expiry moves to now + the server's session lifetime
    (4 days on CANFAR). Prints each renewed session's id (one request per session; `canfar
    info ID` shows the new expiry).

    Exit 0 only when every renew succeeded; the server's reason for each failure goes to
    stderr.

    \b
    Examples:
      canfar renew x7k2m9qa
      canfar renew --all
    """
    from canfar_cli.cli.present import report_failures, unique

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    if every and ids:
        raise UsageError("give session ids or --all, not both")
    if not every and not ids:
        raise UsageError("give session ids, or --all for every Running interactive session")

    async def work(session: AsyncSession) -> list[Outcome[None]]:
        if every:
            chosen = [
                str(s["id"])
                for s in await session.fetch(view="interactive", status="Running")
                if s.get("type") not in ("headless", "desktop-app") and "id" in s
            ]
            return await session.renew_each(chosen)
        return await session.renew_each(unique(ids or []), names=True)

    outcomes = state.run(work)
    renewed = [o.key for o in outcomes if o.ok]
    if fmt == "json":
        out.json([{"id": session_id, "renewed": True} for session_id in renewed])
    elif renewed:
        out.ids(renewed)
    elif every and not outcomes:
        out.message("no Running interactive session to renew")
    return report_failures(out, outcomes)


def register(app: typer.Typer) -> None:
    app.command("renew")(renew)
