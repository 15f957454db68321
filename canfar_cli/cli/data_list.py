"""`canfar data ls`, `stat` and `du`: what is there, about one node, and how much it takes."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.data import (
    HELP_ONLY_LONG,
    check_remote,
    exit_for,
    human_option,
    report_error,
    run_storage,
)
from canfar_cli.cli.state import state_of
from canfar_cli.errors import CanfarError, ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.output import Output
    from canfar_cli.storage import AsyncStorage, Node


class ListFormat(str, Enum):
    text = "text"
    json = "json"


def format_option() -> Any:
    return typer.Option(
        None, "-o", "--output", case_sensitive=False, help="text (default) or json (an array)."
    )


def _paths_argument(help: str = "Remote paths (SERVICE:PATH).") -> Any:
    return typer.Argument(..., metavar="PATH...", help=help)


def ls(
    ctx: typer.Context,
    paths: list[str] = _paths_argument(),
    long: bool = typer.Option(False, "-l", "--long", help="Size, date, owner and MD5 too."),
    human: bool = human_option("Sizes as 1.5K, 23M, 4.0G (implies -l)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Names starting with '.' too."),
    recursive: bool = typer.Option(False, "-R", "--recursive", help="Every folder below too."),
    output: ListFormat | None = format_option(),
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="Bare full paths, one per line (for xargs)."
    ),
) -> ExitCode:
    """List folders (a file lists itself).

    Names, one per line; -l adds size, date (UTC), owner and MD5 where the server knows them;
    folders end in '/'. -q prints full paths (arc:/home/me/x) to hand to other commands; -o json
    is an array of every node listed. With several paths or -R each folder is headed 'PATH:'.

    \b
    Examples:
      canfar data ls arc:~
      canfar data ls -lh arc:~/results
      canfar data ls -R -q arc:~/results | grep '\\.fits$'
      canfar data ls -o json vault:/alice | jq -r '.[].name'
    """
    state = state_of(ctx)
    out = state.out
    if quiet and (output is not None or long):
        raise UsageError("-q/--quiet prints bare paths; it cannot be combined with -l or -o")
    check_remote(paths, "ls")
    fmt = "json" if output == ListFormat.json else "quiet" if quiet else "long"
    if fmt == "long" and not (long or human):  # `ls -h` alone means the long form with sizes
        fmt = "short"
    listing = _Listing(out, fmt, human=human, headed=recursive or len(paths) > 1)
    failures: list[CanfarError] = []

    async def work(storage: AsyncStorage) -> None:
        for path in paths:
            try:
                await _list_one(storage, path, all_, recursive, listing)
            except CanfarError as exc:
                failures.append(exc)
                report_error(out, path, exc)

    run_storage(state, work)
    if fmt == "json":
        out.json(listing.everything)
    return exit_for(failures, len(paths))


class _Listing:
    """Where `ls` puts each folder's nodes as they come: the chosen form, headings between
    folders; JSON gathered for one array at the end."""

    def __init__(self, out: Output, fmt: str, *, human: bool, headed: bool) -> None:
        self.out, self.fmt, self.human, self.headed = out, fmt, human, headed
        self.everything: list[dict[str, Any]] = []
        self.first = True

    def show(self, title: str, nodes: list[Node]) -> None:
        if self.fmt == "json":
            self.everything.extend(node.to_json() for node in nodes)
        elif self.fmt == "quiet":
            self.out.ids(node.path for node in nodes)
        else:
            if self.headed:
                self.out.write(("" if self.first else "\n") + f"{title}:\n")
            _show_nodes(self.out, nodes, long=self.fmt == "long", human=self.human)
        self.first = False


async def _list_one(
    storage: AsyncStorage, path: str, all_: bool, recursive: bool, listing: _Listing
) -> None:
    if recursive:
        # Top down, each folder's listing after its parent's, as `ls -R` goes.
        shown = False
        async for folder, children in storage.walk(path, all=all_):
            listing.show(folder.path, children)
            shown = True
        if shown:
            return
    # Bare names need no properties: the short and quiet forms ask for the lighter document.
    bare = listing.fmt in ("short", "quiet")
    listing.show(path, await storage.ls(path, all=all_, properties=not bare))  # a file: itself


def _show_nodes(out: Output, nodes: list[Node], *, long: bool, human: bool) -> None:
    from canfar_cli.cli.data_present import LONG_COLUMNS, display_name, long_row

    if long:
        out.table(LONG_COLUMNS, (long_row(node, human) for node in nodes))
    else:
        out.ids(display_name(node) for node in nodes)


def stat(
    ctx: typer.Context,
    paths: list[str] = _paths_argument(),
    output: ListFormat | None = format_option(),
    human: bool = human_option(),
) -> ExitCode:
    """Show everything about files and folders.

    Type, size, MD5, date, owner, public, groups that may read and write, and on an allocation
    (your home, a project) its quota and what it uses. -o json is always an array.

    \b
    Examples:
      canfar data stat arc:~/fit.py
      canfar data stat -h arc:~
      canfar data stat -o json arc:~ | jq '.[0].quota'
    """
    from canfar_cli.cli.data_present import stat_block

    state = state_of(ctx)
    out = state.out
    check_remote(paths, "stat")
    failures: list[CanfarError] = []

    async def work(storage: AsyncStorage) -> list[Node]:
        found = []
        for path in paths:
            try:
                found.append(await storage.stat(path))
            except CanfarError as exc:
                failures.append(exc)
                report_error(out, path, exc)
        return found

    nodes = run_storage(state, work)
    if output == ListFormat.json:
        out.json([node.to_json() for node in nodes])
    elif nodes:
        out.blocks([stat_block(node, human) for node in nodes])
    return exit_for(failures, len(paths))


def du(
    ctx: typer.Context,
    paths: list[str] = _paths_argument(),
    summary: bool = typer.Option(False, "-s", "--summarize", help="One total per path."),
    human: bool = human_option(),
) -> ExitCode:
    """Show how much space folders use, and the quota of an allocation.

    Bytes and files under each folder (each sub-folder too, unless -s); QUOTA shows what the
    allocation uses of its quota where the server reports one.

    \b
    Examples:
      canfar data du -sh arc:~
      canfar data du -h arc:~/results
    """
    from canfar_cli.cli.data_present import size_text, usage_text

    state = state_of(ctx)
    out = state.out
    check_remote(paths, "du")
    failures: list[CanfarError] = []

    async def work(storage: AsyncStorage) -> list[Any]:
        found: list[Any] = []
        for path in paths:
            try:
                found.extend(await storage.usage(path, summary=summary))
            except CanfarError as exc:
                failures.append(exc)
                report_error(out, path, exc)
        return found

    usages = run_storage(state, work)
    if usages:
        with_quota = any(u.quota is not None for u in usages)
        columns = ["SIZE", "FILES", *(["QUOTA"] if with_quota else []), "PATH"]
        rows = []
        for usage in usages:
            row = [size_text(usage.size, human), str(usage.files)]
            if with_quota:
                used = usage.used if usage.used is not None else usage.size
                row.append(usage_text(used, usage.quota, human) if usage.quota else "-")
            rows.append([*row, usage.path])
        out.table(columns, rows)
    return exit_for(failures, len(paths))


def register(app: typer.Typer) -> None:
    app.command("ls", context_settings=HELP_ONLY_LONG)(ls)
    app.command("stat", context_settings=HELP_ONLY_LONG)(stat)
    app.command("du", context_settings=HELP_ONLY_LONG)(du)
