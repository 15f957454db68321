"""`canfar open ID…`: a Running session's connectURL in the web browser (or printed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession


def _has_display() -> bool:
    """A browser can show up: not on a Linux/BSD machine without X or Wayland (ssh)."""
    import os
    import sys

    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_sessions(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., metavar="ID...", help="Session ids or names."),
    print_only: bool = typer.Option(
        False, "--print", help="Print the URLs instead (also when there is no display)."
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait until each session is Running first."),
) -> ExitCode:
    """Open interactive sessions (notebook, desktop, CARTA, …) in the web browser.

    The URLs are printed instead, one per line, with --print, when stdout is not a terminal,
    or when there is no display. A session that is not Running or has no URL is one line on
    stderr and exit 1 (4 when no id is known).

    \b
    Examples:
      canfar open x7k2m9qa
      canfar open --wait $(canfar create notebook skaha/astroml)
      canfar open --print x7k2m9qa
    """
    from canfar_cli.cli.present import report_failures, unique

    state = state_of(ctx)
    out = state.out
    ids = unique(ids)
    show = not print_only and out.is_terminal(out.stdout) and _has_display()

    async def work(session: AsyncSession) -> list[Outcome[str]]:
        from canfar_cli.outcomes import Outcome

        if not wait:
            return await session.connect_urls_each(ids, names=True)  # one request each
        found = await session.info_each(ids, names=True)
        known = [o.key for o in found if o.ok]
        if known:
            await session.wait(known)
        opened = {o.key: o for o in await session.connect_urls_each(known)} if known else {}
        return [opened.get(o.key) or Outcome(o.key, error=o.error) for o in found]

    outcomes = state.run(work)
    if show:
        import webbrowser

        for o in outcomes:
            if o.ok:
                webbrowser.open(str(o.value))
    urls = [str(o.value) for o in outcomes if o.ok]
    if show:
        for session_id, url in ((o.key, o.value) for o in outcomes if o.ok):
            out.message(f"opened {session_id}: {url}")
    else:
        out.ids(urls)
    return report_failures(out, outcomes)


def register(app: typer.Typer) -> None:
    app.command("open")(open_sessions)
