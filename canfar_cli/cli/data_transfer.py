"""`canfar data cp`, `sync` and `mv`: files in, out and across, with a progress bar on a terminal
and one summary line elsewhere; Ctrl-C says what was done and what was not (exit 130)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.data import check_paths, run_storage
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.cli.data_report import TransferProgress
    from canfar_cli.cli.state import CliState
    from canfar_cli.output import Output
    from canfar_cli.storage import AsyncStorage, TransferReport

_SHOWN = 20  # deletions listed before `sync --delete` is confirmed; the rest counted


def _operands(paths: list[str], command: str) -> tuple[list[str], str]:
    """SRC… DEST, checked before anything is sent: two paths at least, one of them remote."""
    from canfar_cli.storage.paths import LocalPath

    if len(paths) < 2:
        raise UsageError(
            f"`canfar data {command}` needs a source and a destination",
            hint=f"e.g. canfar data {command} fit.py arc:~/",
        )
    parsed = check_paths(paths)
    if all(isinstance(path, LocalPath) for path in parsed):
        raise UsageError(
            "every path is local: nothing here is on the platform's storage",
            hint="write the remote side as SERVICE:PATH, e.g. arc:~/ (a plain path is local)",
        )
    return paths[:-1], paths[-1]


def _run_transfer(
    state: CliState,
    work: Callable[[AsyncStorage, TransferProgress], Awaitable[TransferReport]],
    *,
    dry_run: bool = False,
    before: Callable[[AsyncStorage], Awaitable[bool]] | None = None,
) -> ExitCode:
    """Run a transfer with its progress shown, then its report: the plan of a dry run on stdout,
    or each failure and one summary line on stderr; Ctrl-C prints what was and was not done.
    `before` (a confirmation) runs first, before any bar is drawn; False stops there."""
    from canfar_cli.cli.data_report import TransferProgress, finish, interrupted, show_plan
    from canfar_cli.storage import TransferInterrupted

    out = state.out
    stopped: TransferInterrupted | None = None
    seconds = 0.0

    async def main(storage: AsyncStorage) -> TransferReport | None:
        nonlocal stopped, seconds
        if before is not None and not await before(storage):
            return None
        # A dry run moves nothing: no bar for it.
        with nullcontext(None) if dry_run else out.transfer_bar() as bar:
            progress = TransferProgress(bar)
            try:
                return await work(storage, progress)
            except TransferInterrupted as exc:
                stopped = exc  # reported once the bar is gone
                return None
            finally:
                seconds = progress.seconds

    report = run_storage(state, main)
    if stopped is not None:
        return interrupted(out, stopped.report, stopped.message, stopped.hint)
    if report is None:  # declined: nothing was changed
        return ExitCode.OK
    if dry_run:
        show_plan(out, report)
        return ExitCode(report.exit_code)
    return finish(out, report, seconds)


def cp(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="SRC... DEST", help="Sources, then where to."),
    recursive: bool = typer.Option(
        False, "-r", "-R", "--recursive", help="Copy folders, with everything in them."
    ),
    resume: bool = typer.Option(
        False,
        "--continue",
        help="Skip files already whole at DEST; continue partial downloads where possible.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be copied (stdout) and copy nothing."
    ),
) -> ExitCode:
    """Copy files and folders in, out, or between storage services.

    As cp does: an existing folder DEST receives the sources; several sources need a folder.
    Files move in parallel (--concurrency), streamed and checked by MD5 both ways; a download
    is written to NAME.part and renamed only when whole and verified. A progress bar shows on a
    terminal, one summary line on stderr otherwise. Every file that failed is named; the
    others are done. Ctrl-C stops starting files and says what was done (exit 130).

    \b
    Examples:
      canfar data cp fit.py arc:~/
      canfar data cp arc:~/out.txt .
      canfar data cp -r ./inputs arc:~/run1/
      canfar data cp -r --continue arc:~/results ./results
      canfar data cp arc:~/big.fits vault:/alice/
    """
    state = state_of(ctx)
    sources, dest = _operands(paths, "cp")

    async def work(storage: AsyncStorage, progress: TransferProgress) -> TransferReport:
        return await storage.copy(
            sources,
            dest,
            recursive=recursive,
            dry_run=dry_run,
            resume=resume,
            progress=progress,
        )

    return _run_transfer(state, work, dry_run=dry_run)


def sync(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="SRC DEST", help="The folder, then its copy."),
    delete: bool = typer.Option(
        False, "--delete", help="Remove files at DEST that SRC does not have (asks first)."
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask before --delete."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be copied and removed; change nothing."
    ),
) -> ExitCode:
    """Mirror a folder one way: copy only new and changed files.

    Either direction (local to remote or back, or between services). A file is unchanged when
    size and date match (and the MD5 where both sides have one); a second sync of an unchanged
    tree moves nothing. --delete removes what DEST has and SRC has not: on a terminal it asks
    first; elsewhere it refuses unless -f/--force. Declining changes nothing (exit 0).

    \b
    Examples:
      canfar data sync ./inputs arc:~/inputs
      canfar data sync arc:~/results ./results
      canfar data sync --delete --dry-run ./inputs arc:~/inputs
      canfar data sync --delete -f ./inputs arc:~/inputs
    """
    state = state_of(ctx)
    out = state.out
    if len(paths) != 2:
        raise UsageError(
            "`canfar data sync` takes one source folder and one destination",
            hint="e.g. canfar data sync ./inputs arc:~/inputs",
        )
    sources, dest = _operands(paths, "sync")
    source = sources[0]
    ask = delete and not force and not dry_run
    if ask and not out.stdin_is_terminal():
        raise UsageError(
            "refusing to --delete without confirmation (no terminal to ask on)",
            hint="add -f/--force to delete without asking, or --dry-run to see what would go",
        )

    async def confirm(storage: AsyncStorage) -> bool:
        plan = await storage.sync(source, dest, delete=True, dry_run=True)
        if _deletion_confirmed(out, plan, dest):
            return True
        out.message("nothing copied or removed")
        return False

    async def work(storage: AsyncStorage, progress: TransferProgress) -> TransferReport:
        return await storage.sync(source, dest, delete=delete, dry_run=dry_run, progress=progress)

    return _run_transfer(state, work, dry_run=dry_run, before=confirm if ask else None)


def _deletion_confirmed(out: Output, plan: TransferReport, dest: str) -> bool:
    """Ask before removing what DEST has and SRC has not (nothing to remove: no question)."""
    from canfar_cli.cli.data_report import item_path

    doomed = [item for item in plan.planned if item.action == "delete"]
    if not doomed:
        return True
    for item in doomed[:_SHOWN]:
        out.message(f"  {item_path(item)}")
    if len(doomed) > _SHOWN:
        out.message(f"  … and {len(doomed) - _SHOWN} more")
    noun = "path" if len(doomed) == 1 else "paths"
    return out.confirm(f"Remove {len(doomed)} {noun} at {dest} that the source does not have?")


def mv(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="SRC... DEST", help="Sources, then where to."),
) -> ExitCode:
    """Move or rename files and folders.

    On one service it is the server's own move (a rename, or into an existing folder); across
    services, or to or from this machine, a copy and then the removal of the source, which is
    kept on any failure.

    \b
    Examples:
      canfar data mv arc:~/out.txt arc:~/run1/
      canfar data mv arc:~/run1 arc:~/run1-old
      canfar data mv arc:~/big.fits vault:/alice/
    """
    state = state_of(ctx)
    sources, dest = _operands(paths, "mv")

    async def work(storage: AsyncStorage, progress: TransferProgress) -> TransferReport:
        return await storage.move(sources, dest)

    return _run_transfer(state, work)


def register(app: typer.Typer) -> None:
    app.command("cp")(cp)
    app.command("sync")(sync)
    app.command("mv")(mv)
