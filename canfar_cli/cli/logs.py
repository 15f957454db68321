"""`canfar logs ID …`: the raw log text, byte for byte; `-f` follows until the session ends."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.options import json_option
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, JobFailedError, ReportedError, UsageError

if TYPE_CHECKING:
    from canfar_cli.cli.state import CliState
    from canfar_cli.output import Output
    from canfar_cli.session import AsyncSession


class LogFormat(str, Enum):
    text = "text"
    json = "json"


def tail_text(text: str, count: int | None) -> str:
    """The last `count` lines of `text`, each kept exactly as it was."""
    if count is None:
        return text
    if count <= 0:
        return ""
    return "".join(text.splitlines(keepends=True)[-count:])


def _label(session: dict[str, Any] | None, session_id: str) -> str:
    name = (session or {}).get("name")
    return f"{name} ({session_id})" if name else session_id


def _pending_hint(session_id: str) -> str:
    return (
        f"session {session_id} is Pending and has no logs yet;"
        f" `canfar events {session_id}` shows what it is waiting for"
    )


def logs(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., metavar="ID|NAME...", help="Session ids or names."),
    follow: bool = typer.Option(
        False, "-f", "--follow", help="Print new output until the session ends."
    ),
    tail: int | None = typer.Option(
        None, "--tail", metavar="N", min=0, help="Only the last N lines (then follow, with -f)."
    ),
    output: LogFormat | None = typer.Option(
        None, "-o", "--output", case_sensitive=False, help="text (default) or json."
    ),
    as_json: bool = json_option(),
) -> ExitCode:
    """Print the logs of sessions.

    The text exactly as the server sends it, never reformatted.

    With several ids each log is headed `==> name (id) <==` (with -f each line is prefixed with
    the name instead). -f exits 0 when the session Completed, 1 when it Failed. A name stands
    for its session when it is not an id. JSON (-o json) is always an array of
    {"id", "name", "log"}, one per session, whatever the number of ids.

    \b
    Examples:
      canfar logs x7k2m9qa
      canfar logs -f --tail 20 x7k2m9qa
      canfar logs $(canfar ps -q --name 'fit-*')
      canfar logs myfit -o json | jq -r '.[].log'
    """
    from canfar_cli.cli.present import unique

    state = state_of(ctx)
    ids = unique(ids)
    if as_json and output is not None and output != LogFormat.json:
        raise UsageError(f"--json contradicts -o {output.value}", hint="give one of them")
    as_json = as_json or output == LogFormat.json
    if follow:
        if as_json:
            raise UsageError("-f/--follow writes text as it comes; it cannot be JSON")
        _follow(state, ids, tail)
        return ExitCode.OK
    else:
        return _show(state, ids, tail, as_json)


def _show(state: CliState, ids: list[str], tail: int | None, as_json: bool = False) -> ExitCode:
    from canfar_cli.cli.present import report_failures

    out = state.out

    async def work(session: AsyncSession) -> tuple[list[Any], dict[str, dict[str, Any]]]:
        from canfar_cli.outcomes import Outcome

        nonlocal ids
        read = await session.read_logs_each(ids, names=True)
        ids = [o.key for o in read]
        # Each log comes with its session's record: the headings' names, the status behind an
        # empty log.
        known = {o.key: o.value[0] for o in read if o.value is not None}
        outcomes = [
            Outcome(o.key, value=o.value[1] if o.value is not None else None, error=o.error)
            for o in read
        ]
        return outcomes, known

    outcomes, known = state.run(work)
    if as_json:
        found = [
            {
                "id": o.key,
                "name": (known.get(o.key) or {}).get("name"),
                "log": tail_text(o.value or "", tail),
            }
            for o in outcomes
            if o.ok
        ]
        if found:  # none found: nothing on stdout, as `info` (the errors say why)
            out.json(found)
        return report_failures(out, outcomes)
    first = True
    for outcome in outcomes:
        if not outcome.ok:
            continue
        text = tail_text(outcome.value or "", tail)
        if len(ids) > 1:
            separator = "" if first else "\n"
            out.write(f"{separator}==> {_label(known.get(outcome.key), outcome.key)} <==\n")
            first = False
        out.write_log(text)
        if len(ids) > 1 and text and not text.endswith("\n"):
            out.write("\n")
        status = (known.get(outcome.key) or {}).get("status")
        if not outcome.value and status == "Pending":
            out.message(_pending_hint(outcome.key))
    return report_failures(out, outcomes)


async def _follow_one(
    out: Output, session: AsyncSession, session_id: str, prefix: str | None, tail: int | None
) -> None:
    """One session's log as it is written (the first chunk cut to --tail); with a prefix (several
    sessions at once), whole lines only, each prefixed with its session's name."""
    partial = ""
    first = True
    async for chunk in session.follow_logs(session_id):
        if first:
            chunk = tail_text(chunk, tail)
            first = False
        if prefix is None:
            out.write_log(chunk)
            continue
        partial += chunk
        *lines, partial = partial.split("\n")
        if lines:
            out.write_log("".join(f"{prefix}{line}\n" for line in lines))
    if prefix is not None and partial:
        out.write_log(f"{prefix}{partial}\n")


def _follow(state: CliState, ids: list[str], tail: int | None) -> None:
    out = state.out

    async def work(session: AsyncSession) -> list[Any]:
        import anyio

        from canfar_cli.cli.present import report_failures

        nonlocal ids
        before = await session.info_each(ids, names=True)
        ids = [o.key for o in before]
        code = report_failures(out, before)
        if code:
            raise ReportedError(code)  # an unknown id: nothing to follow
        sessions = {o.key: o.value for o in before if o.value is not None}
        for session_id, record in sessions.items():
            if record.get("status") == "Pending":
                out.message(_pending_hint(session_id))
        width = max(len(str(s.get("name") or k)) for k, s in sessions.items())
        async with anyio.create_task_group() as group:
            for session_id, record in sessions.items():
                prefix = None
                if len(ids) > 1:
                    prefix = f"{str(record.get('name') or session_id).ljust(width)} | "
                group.start_soon(_follow_one, out, session, session_id, prefix, tail)
        return await session.info_each(ids)

    after = state.run(work)
    _final_verdict(out, after)


def _final_verdict(out: Output, outcomes: list[Any]) -> None:
    """After following: 0 if every session Completed (or is an interactive one that ended),
    1 if one Failed or vanished before its end could be seen."""
    from canfar_cli.models import normalize_status

    failed = []
    gone = []
    for outcome in outcomes:
        if not outcome.ok:
            gone.append(outcome.key)
            continue
        if normalize_status(str(outcome.value.get("status", ""))) == "Failed":
            failed.append(outcome.key)
    for session_id in gone:
        out.warning(f"session {session_id} is gone; its final state is unknown")
    if failed:
        raise JobFailedError(
            f"session {', '.join(failed)} ended Failed",
            hint=f"`canfar events {failed[0]}` may say why",
        )
    if gone:
        raise ReportedError(ExitCode.FAILED)  # each gone one was warned about


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)
