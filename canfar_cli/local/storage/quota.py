"""The per-user quota (CANFAR_LOCAL_QUOTA) on each allocation, and what is left of it."""

from __future__ import annotations

from canfar_cli.local.storage import errors
from canfar_cli.local.storage.tree import Tree


def remaining(tree: Tree, path: str, replacing: int = 0) -> int | None:
    """Bytes `path` may hold (the quota of its allocation minus what the allocation uses
    besides the `replacing` bytes being overwritten), or None without a quota."""
    if tree.quota is None:
        return None
    allocation = tree.allocation(path)
    if allocation is None:
        return None
    return tree.quota - (tree.usage(allocation[0]) - replacing)


def check_negotiation(tree: Tree, path: str) -> None:
    """pushToVoSpace's check (VOSpaceTransfer.checkQuota): nothing left → 413 QuotaExceeded."""
    left = remaining(tree, path)
    allocation = tree.allocation(path)
    if left is not None and left <= 0 and allocation is not None:
        raise errors.fault(413, "QuotaExceeded", f"no space left in {tree.uri(allocation[0])}")
