"""Shaping storage results for people: sizes, listings, stat blocks, a transfer's summary.

No I/O and nothing heavy: the `canfar data` commands hand what the storage core returns to these
functions and the text or rows they make to canfar_cli/output.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from canfar_cli.storage import Node

_UNITS = ("K", "M", "G", "T", "P", "E")


def human_size(size: int | None) -> str:
    """`ls -h` style: 512, 1.5K, 23M, 4.0G (powers of 1024); `-` when unknown."""
    if size is None:
        return "-"
    if size < 1024:
        return str(size)
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(size)  # not reached


def bytes_text(size: int) -> str:
    """A transfer's amount: `512 B`, `2.9 MiB`."""
    if size < 1024:
        return f"{size} B"
    short = human_size(size)  # 2.9M
    return f"{short[:-1]} {short[-1]}iB"


def size_text(size: int | None, human: bool) -> str:
    if size is None:
        return "-"
    return human_size(size) if human else str(size)


def date_text(moment: datetime | None) -> str:
    """`2026-12-03 12:40` in UTC (a listing's date, minute precision as `ls -l` shows)."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def display_name(node: Node) -> str:
    """A node's name as a listing shows it: folders end in `/`, links show their target."""
    if node.kind == "folder":
        return f"{node.name}/"
    if node.kind == "link" and node.target:
        return f"{node.name} -> {node.target}"
    return node.name


LONG_COLUMNS = ["SIZE", "MODIFIED", "OWNER", "MD5", "NAME"]


def long_row(node: Node, human: bool) -> list[str]:
    return [
        size_text(node.size, human),
        date_text(node.modified),
        node.owner or "-",
        node.md5 or "-",
        display_name(node),
    ]


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def stat_block(node: Node, human: bool = False) -> list[tuple[str, str]]:
    """`canfar data stat`: one key/value block per node."""
    block = [
        ("Path", node.path),
        ("URI", node.uri),
        ("Type", node.kind),
        ("Size", size_text(node.size, human)),
        ("MD5", node.md5 or "-"),
        ("Modified", date_text(node.modified) + (" UTC" if node.modified else "")),
        ("Owner", node.owner or "-"),
        ("Public", _yes_no(node.public)),
        ("Group read", " ".join(node.group_read) or "-"),
        ("Group write", " ".join(node.group_write) or "-"),
    ]
    if node.kind == "link":
        block.append(("Target", node.target or "-"))
    if node.quota is not None or node.used is not None:
        block.append(("Quota", size_text(node.quota, human)))
        block.append(("Used", usage_text(node.used, node.quota, human)))
    return block


def usage_text(used: int | None, quota: int | None, human: bool) -> str:
    """`3.2G of 10G (32%)`, or the bytes used alone when there is no quota."""
    text = size_text(used, human)
    if used is not None and quota:
        text += f" of {size_text(quota, human)} ({100 * used / quota:.0f}%)"
    return text


def count(number: int, noun: str) -> str:
    """`1 file`, `3 files`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def rate_text(size: int, seconds: float) -> str:
    if seconds <= 0:
        return ""
    return f", {bytes_text(int(size / seconds))}/s"


def join_parts(parts: Sequence[str]) -> str:
    return ", ".join(part for part in parts if part)
