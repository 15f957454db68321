"""How a storage batch ends on the terminal: each failure named, one summary line, the exit code.

`canfar data cp`, `sync`, `mv` and `rm` all hand their TransferReport here; the progress of a
transfer (a live bar on a terminal) is `TransferProgress`, given to the core as its callback.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from canfar_cli.cli.data import named
from canfar_cli.cli.data_present import bytes_text, count, join_parts, rate_text
from canfar_cli.errors import ExitCode

if TYPE_CHECKING:
    from canfar_cli.output import Output, TransferBar
    from canfar_cli.storage import TransferItem, TransferReport

# Verbs and nouns of the summary line, by what the items were.
_DONE = {"copy": "copied", "delete": "removed", "mkdir": "made", "move": "moved"}
_NOUN = {"copy": "file", "delete": "path", "mkdir": "folder", "move": "path"}
_SHOWN_LEFT = 20  # items not done listed by name after an interruption; the rest counted


class TransferProgress:
    """The core's progress callback (canfar_cli.storage.Progress): drives the live bar when
    there is one, and keeps the time for the summary line's rate."""

    def __init__(self, bar: TransferBar | None) -> None:
        self.bar = bar
        self.began = time.monotonic()

    def start(self, total_files: int, total_bytes: int) -> None:
        if self.bar is not None:
            self.bar.start(total_files, total_bytes)

    def advance(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.advance(nbytes)

    def file_done(self, path: str, ok: bool) -> None:
        if self.bar is not None:
            self.bar.file_done()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.began


def item_path(item: TransferItem) -> str:
    """The one path of a removal or a new folder (the core may give it as source or dest)."""
    return item.dest or item.source if item.action in ("delete", "mkdir") else item.source


def item_line(item: TransferItem) -> str:
    """One planned item of a dry run, on stdout: `SRC -> DEST`, `delete PATH`, `mkdir PATH`."""
    if item.action in ("delete", "mkdir"):
        return f"{item.action} {item_path(item)}"
    return f"{item.source} -> {item.dest}"


def show_plan(out: Output, report: TransferReport, *, bare: bool = False) -> None:
    """A dry run: what would be done, one line each on stdout (bare: the paths alone), and a
    count on stderr."""
    planned = report.planned
    if bare:
        out.ids(item_path(item) for item in planned)
    else:
        out.ids(item_line(item) for item in planned)
    copies = [item for item in planned if item.action == "copy"]
    size = sum(item.bytes for item in copies)
    parts = []
    if copies:
        parts.append(f"{count(len(copies), 'file')} ({bytes_text(size)}) would be copied")
    for action in ("delete", "move", "mkdir"):
        these = [item for item in planned if item.action == action]
        if these:
            parts.append(f"{count(len(these), _NOUN[action])} would be {_DONE[action]}")
    unchanged = len(report.skipped)
    if unchanged:
        parts.append(f"{unchanged} unchanged")
    summary = join_parts(parts) or "nothing to do"
    out.message(f"dry run: {summary}; nothing was changed")


def summary_line(report: TransferReport, seconds: float | None) -> str:
    """`copied 12 files (3.4 MiB) in 1.2 s, 2.8 MiB/s; 3 unchanged; 1 failed`."""
    parts = []
    for action, verb in _DONE.items():
        done = [item for item in report.done if item.action == action]
        if not done:
            continue
        text = f"{verb} {count(len(done), _NOUN[action])}"
        if action == "copy":
            size = sum(item.bytes for item in done)
            text += f" ({bytes_text(size)})"
            if seconds is not None:
                text += f" in {seconds:.1f} s{rate_text(size, seconds)}"
        parts.append(text)
    if report.skipped:
        parts.append(f"{len(report.skipped)} unchanged")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.not_done:
        parts.append(f"{len(report.not_done)} not done")
    return "; ".join(parts) or "nothing to do"


def show_failures(out: Output, report: TransferReport) -> None:
    """Every failed item by name, with the server's reason and the fix (one line each)."""
    for item in report.failed:
        where = item_path(item) or item.dest
        error = item.error
        if error is None:
            out.error(f"{where}: failed")
            continue
        # The core's message names the node already (as the server knows it) or not at all.
        message = error.message if item.dest and item.dest in error.message else named(where, error)
        out.error(message, error.hint)


def finish(out: Output, report: TransferReport, seconds: float | None = None) -> ExitCode:
    """A batch's end: failures, the summary line (stderr); its exit code."""
    show_failures(out, report)
    out.message(summary_line(report, seconds))
    return ExitCode(report.exit_code)


def interrupted(out: Output, report: TransferReport, message: str, hint: str | None) -> ExitCode:
    """Ctrl-C: what was done, what was not (by name, the first few); exit 130."""
    show_failures(out, report)
    left = report.not_done
    if left:
        out.message(f"not done ({len(left)}):")
        for item in left[:_SHOWN_LEFT]:
            out.message(f"  {item_line(item)}")
        if len(left) > _SHOWN_LEFT:
            out.message(f"  … and {len(left) - _SHOWN_LEFT} more")
    out.message(summary_line(report, None))
    out.message(message)
    if hint:
        out.message(f"hint: {hint}")
    return ExitCode.INTERRUPTED
