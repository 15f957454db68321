"""`canfar data cat`, `mkdir`, `rm` and `url`: one file's bytes, new folders, removal, a link."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.data import check_remote, exit_for, report_error, run_storage
from canfar_cli.cli.state import state_of
from canfar_cli.errors import CanfarError, ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.output import Output
    from canfar_cli.storage import AsyncStorage, TransferReport

_CHUNK = 1 << 20  # bytes handed to stdout at a time
_SHOWN = 20  # paths listed before a removal is confirmed; the rest counted


def cat(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="PATH...", help="Remote files."),
) -> None:
    """Print files, byte for byte, to stdout.

    Each file is checked against the server's checksum as it ends; a file that fails stops the
    command (exit 1) after what was written.

    \b
    Examples:
      canfar data cat arc:~/out.txt
      canfar data cat arc:~/table.csv | head -5
      canfar data cat vault:/alice/x.fits > x.fits
    """
    from canfar_cli.storage.streams import RemoteReader

    state = state_of(ctx)
    out = state.out
    check_remote(paths, "cat")

    async def work(storage: AsyncStorage) -> None:
        for path in paths:
            async with storage.open(path, "rb") as reader:
                assert isinstance(reader, RemoteReader)
                async for chunk in reader:
                    out.write_bytes(chunk)

    run_storage(state, work)


def mkdir(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="PATH...", help="Remote folders to make."),
    parents: bool = typer.Option(
        False, "-p", "--parents", help="Make missing parents too; an existing folder is fine."
    ),
) -> ExitCode:
    """Make folders.

    \b
    Examples:
      canfar data mkdir arc:~/runs
      canfar data mkdir -p arc:~/runs/2026/december
    """
    state = state_of(ctx)
    out = state.out
    check_remote(paths, "mkdir")
    failures: list[CanfarError] = []

    async def work(storage: AsyncStorage) -> None:
        for path in paths:
            try:
                await storage.mkdir(path, parents=parents)
            except CanfarError as exc:
                failures.append(exc)
                report_error(out, path, exc)

    run_storage(state, work)
    return exit_for(failures, len(paths))


def rm(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="PATH...", help="Remote files or folders."),
    recursive: bool = typer.Option(
        False, "-r", "-R", "--recursive", help="Folders too, with everything in them."
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be removed (stdout) and remove nothing."
    ),
) -> ExitCode:
    """Remove files, and folders with -r.

    On a terminal it asks first; elsewhere it refuses unless -f/--force is given. Declining
    removes nothing (exit 0). --dry-run prints the paths that would go, one per line.

    \b
    Examples:
      canfar data rm arc:~/old.fits
      canfar data rm -rf arc:~/scratch-run
      canfar data rm -r --dry-run arc:~/runs/2025
    """
    from canfar_cli.cli.data_report import finish, show_plan

    state = state_of(ctx)
    out = state.out
    check_remote(paths, "rm")
    if not dry_run and not force and not out.stdin_is_terminal():
        raise UsageError(
            f"refusing to remove {_count_paths(len(paths))} without confirmation"
            " (no terminal to ask on)",
            hint="add -f/--force to remove without asking, or --dry-run to see what would go",
        )

    async def work(storage: AsyncStorage) -> TransferReport | None:
        if dry_run:
            return await storage.remove(paths, recursive=recursive, dry_run=True)
        if not force:
            plan = await storage.remove(paths, recursive=recursive, dry_run=True)
            if not _confirmed(out, plan):
                return None
        return await storage.remove(paths, recursive=recursive)

    report = run_storage(state, work)
    if report is None:
        out.message("nothing removed")
        return ExitCode.OK
    if dry_run:
        show_plan(out, report, bare=True)
        return ExitCode(report.exit_code)
    return finish(out, report)


def _count_paths(number: int) -> str:
    return "1 path" if number == 1 else f"{number} paths"


def _confirmed(out: Output, plan: TransferReport) -> bool:
    """Ask on the terminal, listing what would go (the first few by name)."""
    from canfar_cli.cli.data_report import item_path

    items = plan.planned
    if not items:
        return True  # nothing would go: the real run reports each refusal
    for item in items[:_SHOWN]:
        out.message(f"  {item_path(item)}")
    if len(items) > _SHOWN:
        out.message(f"  … and {len(items) - _SHOWN} more")
    return out.confirm(f"Remove {_count_paths(len(items))}?")


def url(
    ctx: typer.Context,
    path: str = typer.Argument(..., metavar="PATH", help="A remote file."),
    write: bool = typer.Option(
        False, "--write", help="A URL to upload to (PUT) instead of one to read."
    ),
) -> None:
    """Print a pre-authorized URL for one file, to fetch with curl or wget or to share.

    Anyone with the URL can read the file (or, with --write, replace it) without signing in,
    and such URLs do not expire: share them with care. This is the only command that prints one.

    \b
    Examples:
      curl -o out.txt "$(canfar data url arc:~/out.txt)"
      curl --upload-file fit.py "$(canfar data url --write arc:~/fit.py)"
    """
    state = state_of(ctx)
    out = state.out
    check_remote([path], "url")

    async def work(storage: AsyncStorage) -> str:
        return await storage.url(path, write=write)

    link = run_storage(state, work)
    out.write(link + "\n")
    grant = "replace" if write else "read"
    out.message(f"anyone with this URL can {grant} {path} without signing in; it does not expire")


def register(app: typer.Typer) -> None:
    app.command("cat")(cat)
    app.command("mkdir")(mkdir)
    app.command("rm")(rm)
    app.command("url")(url)
