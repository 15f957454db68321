"""`canfar wait ID…`: wait until sessions have ended (or run); ids from stdin too."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.session import AsyncSession


class Until(str, Enum):
    running = "running"
    ended = "ended"


def wait(
    ctx: typer.Context,
    ids: list[str] | None = typer.Argument(
        None, metavar="[ID|NAME]...", help="Sessions (ids or names); read from stdin if none."
    ),
    until: Until = typer.Option(
        Until.ended,
        "--until",
        case_sensitive=False,
        help="ended: Completed or Failed (default); running: Running or already ended.",
    ),
    wait_timeout: float | None = typer.Option(
        None, "--timeout", metavar="S", help="Give up after S seconds (exit 1)."
    ),
) -> ExitCode:
    """Wait until sessions have ended.

    Progress goes to stderr. Exit 0 when every session Completed (with --until running: is
    Running or Completed), 1 when any Failed (each named with its exit code when the events
    give it) or on --timeout, 4 when every id is unknown. With no ids and stdin not a terminal,
    the ids are read from stdin (whitespace separated).

    \b
    Examples:
      canfar wait x7k2m9qa y3p8d2kc
      canfar create headless skaha/terminal:1.1.1 -r 20 -- python3 fit.py | canfar wait
      canfar wait --until running --timeout 600 myfit
    """
    from canfar_cli.cli.present import unique

    state = state_of(ctx)
    out = state.out
    tokens = list(ids or [])
    if not tokens and not out.stdin_is_terminal():
        tokens = out.stdin.read().split()
    tokens = unique(tokens)
    if not tokens:
        raise UsageError("no session ids given", hint="give ids or names, or pipe ids on stdin")
    if wait_timeout is not None and not wait_timeout > 0:
        raise UsageError("--timeout must be more than 0 seconds")

    async def work(session: AsyncSession) -> ExitCode:
        from canfar_cli.cli.present import report_failures
        from canfar_cli.cli.waiting import wait_for

        # Which are known (unknown ones are reported, the others still waited for).
        outcomes = await session.info_each(tokens, names=True)
        code = report_failures(out, outcomes)
        known = [o.key for o in outcomes if o.ok]
        if not known:
            return code
        await wait_for(out, session, known, until=until.value, timeout=wait_timeout)
        return code

    return state.run(work)


def register(app: typer.Typer) -> None:
    app.command("wait")(wait)
