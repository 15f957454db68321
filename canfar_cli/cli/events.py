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
WATCH_INTERVAL = 2.0


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
    out = state.out

    def key(event: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, str(v)) for k, v in event.items() if k != "last_time"))

    async def work(session: AsyncSession) -> None:
        import anyio

        from canfar_cli.errors import NotFoundError
        from canfar_cli.models import is_finished

        seen: dict[tuple[Any, ...], str] = {}
        header = fmt != "json"
        ended = False
        while True:
            try:
                current = (await session.events_each([session_id]))[0]
                record = (await session.info_each([session_id]))[0]
            except NotFoundError:
                return
            if not current.ok:
                if isinstance(current.error, NotFoundError) and seen:
                    return  # the session went away while we watched
                raise current.error
            fresh = []
            for event in current.value or []:
                marker = key(event)
                if seen.get(marker) != str(event.get("last_time")):
                    seen[marker] = str(event.get("last_time"))
                    fresh.append(event)
            if fresh and fmt == "json":
                for event in fresh:  # one JSON object per line: a stream a script can read
                    out.json_line(event)
            elif fresh:
                text = out.render_table(COLUMNS, rows(fresh), color=out.color_out())
                out.write(text if header else text.split("\n", 1)[1])
                header = False
            if ended:
                return
            status = record.value.get("status") if record.ok and record.value else None
            ended = not record.ok or is_finished(status)
            if not ended:
                await anyio.sleep(WATCH_INTERVAL)

    state.run(work)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
