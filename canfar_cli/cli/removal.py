"""What rm and prune share: asking before removing, and removing with an honest report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.errors import ExitCode, ReportedError, UsageError
from canfar_cli.output import Output

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession


def force_option() -> Any:
    return typer.Option(False, "-f", "--force", help="Do not ask for confirmation.")


def yes_option() -> Any:
    return typer.Option(False, "-y", "--yes", help="Same as --force.")


def confirm_removal(out: Output, ids: Sequence[str], labels: Sequence[str], force: bool) -> None:
    """Ask on a terminal; without one, refuse unless forced (a script must say so explicitly)."""
    if force:
        return
    count = len(ids)
    noun = "session" if count == 1 else "sessions"
    if not out.stdin_is_terminal():
        raise UsageError(
            f"refusing to remove {count} {noun} without confirmation (no terminal to ask on)",
            hint="add -f/--force (or -y/--yes) to remove without asking",
        )
    shown = list(labels[:20])
    for label in shown:
        out.message(f"  {label}")
    if count > len(shown):
        out.message(f"  … and {count - len(shown)} more")
    if not out.confirm(f"Remove {count} {noun}?"):
        # Declining is an answer, not a failure (as `rm -i`): exit 0.
        out.message("nothing removed")
        raise ReportedError(ExitCode.OK)


async def remove(
    out: Output,
    session: AsyncSession,
    ids: list[str],
    known: Mapping[str, Any] | None = None,
    failed: Sequence[Outcome[Any]] = (),
) -> tuple[list[str], ExitCode]:
    """Delete the sessions (`known`: already looked up, not looked up again); print each
    removed id on stdout, each failure on stderr. Returns the removed ids and the exit code of
    the whole batch (`failed`: the look-up's failures, already reported, count too)."""
    from canfar_cli.cli.present import report_failures
    from canfar_cli.outcomes import batch_exit_code

    outcomes = await session.destroy_each(ids, known=known)
    removed = [outcome.key for outcome in outcomes if outcome.ok]
    out.ids(removed)
    code = report_failures(out, outcomes)
    return removed, batch_exit_code([*failed, *outcomes]) if failed else code


def label(session: dict[str, Any]) -> str:
    return f"{session.get('id')}  {session.get('name', '')}  {session.get('status', '')}".rstrip()
