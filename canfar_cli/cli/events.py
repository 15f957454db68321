"""`canfar events ID …`: the platform's events for sessions; `-w` follows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of
from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    from canfar_cli.cli.state import CliState
    from canfar_cli.session import AsyncSession

COLUMNS = ["TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME"]


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
    ids: list[str] = typer.Argument(..., metavar="ID...", help="Session ids."),
    watch: bool = typer.Option(
        False, "-w", "--watch", help="Print new events as they come until the session ends."
    ),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> None:
    """Show the events of sessions.

    The platform's events: scheduling, image pulls, failures.

    A line the parser does not understand is shown as it is, never dropped. JSON gives an array
    of event objects (an object keyed by id for several ids).

    \b
    Examples:
      canfar events x7k2m9qa
      canfar events -w x7k2m9qa
      canfar events x7k2m9qa -o json
    """
    from canfar_cli.cli.present import exit_with, report_failures, unique

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    ids = unique(ids)
    if watch:
        if len(ids) != 1:
            raise UsageError("--watch follows one session", hint="give a single id with -w")
        _watch(state, ids[0], fmt)
        return
    outcomes = state.run(lambda session: session.events_each(ids))
    found = [outcome for outcome in outcomes if outcome.ok]
    if fmt == "json":
        if found:
            out.json(found[0].value if len(ids) == 1 else {o.key: o.value for o in found})
    else:
        for index, outcome in enumerate(found):
            if len(ids) > 1:
                out.write(("\n" if index else "") + f"==> {outcome.key} <==\n")
            if outcome.value:
                out.write(out.render_table(COLUMNS, rows(outcome.value), color=out.color_out()))
            else:
                out.message(f"no events for session {outcome.key}")
    exit_with(report_failures(out, outcomes))


def _watch(state: CliState, session_id: str, fmt: str) -> None:
    """New events as they come (AsyncSession.follow_events), until the session ends."""
    out = state.out

    async def work(session: AsyncSession) -> None:
        header = fmt != "json"
        async for fresh in session.follow_events(session_id):
            if fmt == "json":
                for event in fresh:  # one JSON object per line: a stream a script can read
                    out.json_line(event)
                continue
            text = out.render_table(COLUMNS, rows(fresh), color=out.color_out())
            out.write(text if header else text.split("\n", 1)[1])
            header = False

    state.run(work)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
