"""A folder of ten thousand files, for the tests that list one whole (storage.md §3.2: cavern
ignores `limit` and sends every child in one document, so the tests list a folder far past any
page size or capped reader).

Making 10 000 files costs 0.5-4 s of CPU on the test machines, nearly all of it the kernel
making inodes; 10 000 hard links to one file cost 0.3 s. The entries are what a listing reads:
10 000 names, each a regular file of one byte. The tests only read the folder (a write to one
entry would show in all of them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

COUNT = 10_000


def ten_thousand_files(folder: Path, name: Callable[[int], str]) -> None:
    """Fill `folder` (made if missing) with COUNT one-byte files named name(0)…name(9999)."""
    folder.mkdir(parents=True, exist_ok=True)
    first: Path | None = None
    for index in range(COUNT):
        entry = folder / name(index)
        if first is not None:
            try:
                os.link(first, entry)
                continue
            except OSError:  # a cap on links to one file (ext4: 65 000), or no hard links
                pass
        entry.write_bytes(b"x")
        first = entry
