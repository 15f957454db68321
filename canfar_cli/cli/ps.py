"""`canfar ps`: list sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.options import (
    Format,
    Kind,
    Status,
    json_option,
    kind_option,
    kind_values,
    output_option,
    quiet_option,
    resolve_format,
    status_option,
    status_values,
)
from canfar_cli.cli.state import state_of
from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    from canfar_cli.session import AsyncSession


def ps(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "-a", "--all", help="Every state, not only Pending/Running."),
    kind: list[Kind] | None = kind_option(),
    status: list[Status] | None = status_option(
        "Only this status (repeatable): Pending, Running, Completed, Failed, …"
    ),
    name: str | None = typer.Option(
        None, "--name", metavar="PATTERN", help="Only names matching this glob, e.g. 'fit-*'."
    ),
    watch: bool = typer.Option(
        False, "-w", "--watch", help="Refresh in place until interrupted (terminal only)."
    ),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
    quiet: bool = quiet_option(),
) -> None:
    """List sessions.

    Pending and Running sessions unless -a/--all or -s/--status is given.

    Columns: ID NAME KIND STATUS IMAGE CPU RAM GPU AGE EXPIRES (times relative; ISO 8601 in
    JSON, which holds the server's objects). -o wide adds every other field the server gives.

    \b
    Examples:
      canfar ps
      canfar ps -a -k headless --name 'fit-*'
      canfar ps -s Failed -o json
      canfar ps -q | xargs canfar rm -f
    """
    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json, quiet)
    kinds = kind_values(kind)
    statuses = status_values(status)
    if statuses is None and not all_:
        statuses = ["Pending", "Running"]
    if watch and not out.live_allowed(out.stdout):
        raise UsageError(
            "--watch refreshes a terminal in place, and this output is not a terminal"
            " (or colour/live display is off)",
            hint="leave out -w, or run it in a terminal without NO_COLOR/--no-color",
        )
    if watch and fmt in ("json", "quiet"):
        raise UsageError("--watch shows a table; it cannot be combined with -o json or -q")

    def select(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from canfar_cli.models import select_sessions

        return select_sessions(sessions, kinds=kinds, statuses=statuses, name_pattern=name)

    if not watch:

        async def listing(session: AsyncSession) -> tuple[list[Any], Any]:
            chosen = select(await session.fetch())
            if fmt not in ("table", "wide"):
                return chosen, None  # JSON and bare ids show no ceiling (nor import launch)
            from canfar_cli.cli.launch import flexible_ceiling

            return chosen, await flexible_ceiling(session, chosen)

        from canfar_cli.cli.present import show_sessions

        chosen, ceiling = state.run(listing)
        show_sessions(out, chosen, fmt, ceiling)
        if not chosen and fmt in ("table", "wide"):
            more = " (-a shows finished ones too)" if statuses == ["Pending", "Running"] else ""
            out.message(f"no sessions{more}")
        return

    from canfar_cli.cli.present import session_rows

    async def follow(session: AsyncSession) -> None:
        from canfar_cli.cli.launch import flexible_ceiling

        with out.live(stream=out.stdout) as update:
            async for sessions in session.watch_sessions():
                chosen = select(sessions)
                ceiling = await flexible_ceiling(session, chosen)  # /context read once an hour
                rows = session_rows(chosen, wide=fmt == "wide", ceiling=ceiling)
                update(out.render_table(*rows, color=out.color_out()))

    state.run(follow)


def register(app: typer.Typer) -> None:
    app.command("ps")(ps)
