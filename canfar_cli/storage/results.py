"""What the storage library hands back: nodes, usage, and the report of a transfer batch.

Light on purpose (no httpx, no anyio): the command line renders these without loading the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from canfar_cli.errors import CanfarError, ExitCode

__all__ = ["Node", "TransferInterrupted", "TransferItem", "TransferReport", "Usage"]

NodeKind = Literal["file", "folder", "link"]
# What became of one item: done; skipped (unchanged, sync/cp --continue); failed (with `error`);
# planned (a dry run); not done (an interruption came before it started).
ItemStatus = Literal["done", "skipped", "failed", "planned", "not done"]
# What the item is: a file copied, a remote node removed, a folder made, a node moved.
ItemAction = Literal["copy", "delete", "mkdir", "move"]


@dataclass(frozen=True)
class Node:
    """One file, folder or link of a storage service.

    `path` is service-qualified ("arc:/home/alice/x"), `uri` the node's vos:// URI. `size` is the
    file's bytes (on a folder: the bytes under it where the server says, else None). `quota` and
    `used` are set on an allocation (a home or project folder) when the server reports them.
    `modified` is UTC. `target` is a link's target URI."""

    path: str
    uri: str
    name: str
    kind: NodeKind
    size: int | None = None
    md5: str | None = None
    modified: datetime | None = None
    owner: str | None = None
    public: bool | None = None
    group_read: tuple[str, ...] = ()
    group_write: tuple[str, ...] = ()
    quota: int | None = None
    used: int | None = None
    target: str | None = None
    content_type: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind == "folder"

    def to_json(self) -> dict[str, Any]:
        """A plain dict for `-o json` (dates as ISO 8601 with Z)."""
        return {
            "path": self.path,
            "uri": self.uri,
            "name": self.name,
            "type": self.kind,
            "size": self.size,
            "md5": self.md5,
            "modified": _iso(self.modified),
            "owner": self.owner,
            "public": self.public,
            "group_read": list(self.group_read),
            "group_write": list(self.group_write),
            "quota": self.quota,
            "used": self.used,
            "target": self.target,
            "content_type": self.content_type,
        }


@dataclass(frozen=True)
class Usage:
    """`du` of one folder (or file): bytes and files under it; the allocation's quota and the
    server's own figure of what it uses, where it reports them."""

    path: str
    size: int
    files: int
    quota: int | None = None
    used: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "files": self.files,
            "quota": self.quota,
            "used": self.used,
        }


@dataclass
class TransferItem:
    """One file (or node) of a batch: from where to where, how many bytes, and what became of it.
    For a removal `dest` is ""; local paths are plain, remote ones service-qualified."""

    source: str
    dest: str
    bytes: int = 0
    status: ItemStatus = "planned"
    action: ItemAction = "copy"
    error: CanfarError | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dest": self.dest,
            "bytes": self.bytes,
            "status": self.status,
            "action": self.action,
            "error": self.error.message if self.error else None,
        }


@dataclass
class TransferReport:
    """What a batch did, item by item, in the order the items were planned."""

    items: list[TransferItem] = field(default_factory=list)
    dry_run: bool = False
    interrupted: bool = False

    def _with(self, status: str) -> list[TransferItem]:
        return [item for item in self.items if item.status == status]

    @property
    def done(self) -> list[TransferItem]:
        return self._with("done")

    @property
    def skipped(self) -> list[TransferItem]:
        return self._with("skipped")

    @property
    def failed(self) -> list[TransferItem]:
        return self._with("failed")

    @property
    def not_done(self) -> list[TransferItem]:
        """Items an interruption kept from starting."""
        return self._with("not done")

    @property
    def planned(self) -> list[TransferItem]:
        return self._with("planned")

    @property
    def bytes_done(self) -> int:
        return sum(item.bytes for item in self.done if item.action == "copy")

    @property
    def exit_code(self) -> ExitCode:
        """0 when nothing failed; 130 when interrupted; else the batch rule of outcomes.py
        (every item failed the same way → that code; credentials gave out → 3; else 1)."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        failed = [item.error for item in self.failed if item.error is not None]
        if not failed:
            return ExitCode.OK
        codes = {ExitCode(error.exit_code) for error in failed}
        counted = [item for item in self.items if item.status != "skipped"]
        if len(failed) == len(counted) and len(codes) == 1:
            return codes.pop()
        if ExitCode.AUTH in codes:
            return ExitCode.AUTH
        return ExitCode.FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "done": len(self.done),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "not_done": len(self.not_done),
            "bytes": self.bytes_done,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "items": [item.to_json() for item in self.items],
        }


class TransferInterrupted(CanfarError):
    """A batch was cancelled (Ctrl-C): no file was started after it, those in flight were finished
    or removed, and `report` says what was and was not done. Exit code 130."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, report: TransferReport) -> None:
        report.interrupted = True
        done, left = len(report.done), len(report.not_done) + len(report.failed)
        super().__init__(
            f"interrupted: {done} of {len(report.items)} done, {left} not done",
            hint="run the same command again to finish (`sync` or `cp --continue` skip what is"
            " there)",
        )
        self.report = report


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
