"""This replica's share of a list, for code running inside `canfar create -r N` sessions.

Every replica gets REPLICA_ID (1-based) and REPLICA_COUNT in its environment. `chunk(items)` gives
replica i the i-th of N contiguous blocks (the first `len % N` blocks one item longer); `stripe`
gives it every N-th item, starting at its own. Each replica computes its share from the same
list, so together they cover every item exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TypeVar

__all__ = ["ReplicaError", "chunk", "replica", "stripe"]

T = TypeVar("T")


class ReplicaError(ValueError):
    """REPLICA_ID or REPLICA_COUNT is missing or not usable."""


def replica(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(REPLICA_ID, REPLICA_COUNT) from the environment, checked: 1 <= id <= count."""
    env = os.environ if environ is None else environ
    values = []
    for name in ("REPLICA_ID", "REPLICA_COUNT"):
        raw = env.get(name)
        if raw is None or not raw.strip():
            raise ReplicaError(
                f"{name} is not set: this code expects to run in a replica of"
                " `canfar create -r N` (or set REPLICA_ID and REPLICA_COUNT yourself)"
            )
        try:
            values.append(int(raw.strip()))
        except ValueError:
            raise ReplicaError(f"{name} must be a whole number, got {raw!r}") from None
    index, count = values
    if count < 1:
        raise ReplicaError(f"REPLICA_COUNT must be at least 1, got {count}")
    if not 1 <= index <= count:
        raise ReplicaError(f"REPLICA_ID must be from 1 to REPLICA_COUNT ({count}), got {index}")
    return index, count


def chunk(items: Iterable[T], environ: Mapping[str, str] | None = None) -> list[T]:
    """This replica's contiguous block: 10 items over 3 replicas give 4, 3, 3."""
    index, count = replica(environ)
    listed = list(items)
    size, extra = divmod(len(listed), count)
    start = (index - 1) * size + min(index - 1, extra)
    return listed[start : start + size + (1 if index <= extra else 0)]


def stripe(items: Iterable[T], environ: Mapping[str, str] | None = None) -> list[T]:
    """Every REPLICA_COUNT-th item, from the REPLICA_ID-th: 1, 4, 7, … for replica 1 of 3."""
    index, count = replica(environ)
    return list(items)[index - 1 :: count]
