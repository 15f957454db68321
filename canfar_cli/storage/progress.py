"""The progress callback a transfer reports to (the CLI draws it; the core never prints)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress"]


class Progress(Protocol):
    """Called from the event loop running the transfer; each call must return quickly.

    `start` once the batch is planned (a total may grow later by another `start` call with the
    new totals, e.g. when a folder is walked as it is copied); `advance` with the bytes moved
    since the last call (negative when a file is started again after a retry); `file_done` when a
    file ends, `ok` False when it failed."""

    def start(self, total_files: int, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def file_done(self, path: str, ok: bool) -> None: ...
