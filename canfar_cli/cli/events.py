"""`canfar events ID …`: the platform's events for sessions; `-w` follows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.cli.state import CliState
    from canfar_cli.session import AsyncSession

COLUMNS = ["TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME"]


# `-w` prints rows as they come, so its columns cannot be sized to the whole table: the fixed-width
# ones first, each padded to its widest possible value, and the message (any length) last.
WATCH_COLUMNS = ["TYPE", "REASON", "FIRST-TIME", "LAST-TIME", "MESSAGE"]
_WATCH_WIDTHS = (7, 24, 20, 20)


def watch_line(row: list[str] | str) -> str:
    """One row of `events -w`, aligned with every other whatever came before."""
    from canfar_cli.output import printable

    if isinstance(row, str):
        return printable(row) + "\n"
    cells = list(row)
    fixed = [printable(c).ljust(w) for c, w in zip(cells[:4], _WATCH_WIDTHS, strict=True)]
    return "   ".join([*fixed, printable(cells[4])]).rstrip() + "\n"


def rows(events: list[dict[str, Any]]) -> list[Any]:
    """Table rows; a line the parser did not understand stays a plain string, shown as it is."""
    result: list[Any] = []
    for event in events:
        if "raw" in event:
            result.append(str(event["raw"]))
        else:
            result.append(
                [
                    str(event.get(key) or "-")
                    for key in ("type", "reason", "message", "first_time", "last_time")
                ]
            )
    return result


def events(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., metavar="ID|NAME...", help="Session ids or names."),
    watch: bool = typer.Option(
        False, "-w", "--watch", help="Print new events as they come until the session ends."
    ),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> ExitCode:
    """Show the events of sessions.

    The platform's events: scheduling, image pulls, failures.

    A line the parser does not understand is shown as it is, never dropped. A name stands for its
    session when it is not an id. JSON is always one array of event objects, each carrying its
    session's `id`, whatever the number of ids.

    \b
    Examples:
      canfar events x7k2m9qa
      canfar events -w x7k2m9qa
      canfar events x7k2m9qa -o json
    """
    from canfar_cli.cli.present import report_failures, unique

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    ids = unique(ids)
    if watch:
        if len(ids) != 1:
            raise UsageError("--watch follows one session", hint="give a single id with -w")
        _watch(state, ids[0], fmt)
        return ExitCode.OK

    async def work(session: AsyncSession) -> tuple[list[Any], dict[str, str]]:
        outcomes = await session.events_each(ids, names=True)
        names: dict[str, str] = {}
        if fmt != "json" and len(outcomes) > 1:  # the headings' names: one listing for all
            names = {str(s.get("id")): str(s.get("name") or "") for s in await session.fetch()}
        return outcomes, names

    outcomes, names = state.run(work)
    found = [outcome for outcome in outcomes if outcome.ok]
    if fmt == "json":
        if found:
            out.json([{"id": o.key, **event} for o in found for event in o.value])
    else:
        for index, outcome in enumerate(found):
            if len(found) > 1 or len(outcomes) > 1:
                name = names.get(outcome.key)
                label = f"{name} ({outcome.key})" if name else outcome.key
                out.write(("\n" if index else "") + f"==> {label} <==\n")
            if outcome.value:
                out.write(out.render_table(COLUMNS, rows(outcome.value), color=out.color_out()))
            else:
                out.message(f"no events for session {outcome.key}")
    return report_failures(out, outcomes)


def _watch(state: CliState, session_id: str, fmt: str) -> None:
    """New events as they come (AsyncSession.follow_events), until the session ends."""
    out = state.out

    async def work(session: AsyncSession) -> None:
        resolved = (await session.resolve_ids([session_id]))[0]
        header = fmt != "json"
        async for fresh in session.follow_events(resolved):
            if fmt == "json":
                for event in fresh:  # one JSON object per line: a stream a script can read
                    out.json_line({"id": resolved, **event})
                continue
            if header:
                out.write(watch_line(WATCH_COLUMNS))
                header = False
            for row in rows(fresh):  # TYPE REASON MESSAGE FIRST LAST -> the watch order
                cells = row if isinstance(row, str) else [row[i] for i in (0, 1, 3, 4, 2)]
                out.write(watch_line(cells))

    state.run(work)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
