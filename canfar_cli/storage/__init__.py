"""The user's files on the platform's storage services (arc/cavern and vault), see storage.md.

    from canfar_cli import AsyncStorage, Storage

Module map (small modules, each loaded only when needed):
    paths.py      parsing what users write (`arc:~/x`, `vos://…`, local paths); no I/O
    results.py    Node, Usage, TransferItem, TransferReport, TransferInterrupted; no I/O
    progress.py   the Progress protocol a transfer reports to
    nodes.py      node and transfer XML documents: streaming parse, writing
    services.py   which storage services the identity in use has (registries, capabilities)
    wire.py       the storage requests over canfar_cli.http's client: errors, digests, redaction
    engine.py     moving bytes: one file up, down or across; batches with their report
    core.py       AsyncStorage
    blocking.py   Storage, its blocking twin
    fs.py         the fsspec filesystem (protocols arc and vault; `canfar-cli[fsspec]`)

The package root stays light (the command line imports paths/results without httpx).
"""

from __future__ import annotations

from canfar_cli.storage.paths import LocalPath, RemotePath, parse_path
from canfar_cli.storage.progress import Progress
from canfar_cli.storage.results import (
    Node,
    TransferInterrupted,
    TransferItem,
    TransferReport,
    Usage,
)

__all__ = [
    "AsyncStorage",
    "LocalPath",
    "Node",
    "Progress",
    "RemotePath",
    "Storage",
    "TransferInterrupted",
    "TransferItem",
    "TransferReport",
    "Usage",
    "parse_path",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from canfar_cli.storage.blocking import Storage
    from canfar_cli.storage.core import AsyncStorage


def __getattr__(name: str) -> object:
    if name == "AsyncStorage":
        from canfar_cli.storage.core import AsyncStorage

        return AsyncStorage
    if name == "Storage":
        from canfar_cli.storage.blocking import Storage

        return Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
