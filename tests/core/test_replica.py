"""canfar_cli.replica: each replica's share of a list, from REPLICA_ID/REPLICA_COUNT."""

from __future__ import annotations

import pytest

from canfar_cli.replica import ReplicaError, chunk, replica, stripe


def env(index: int, count: int) -> dict[str, str]:
    return {"REPLICA_ID": str(index), "REPLICA_COUNT": str(count)}


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 10, 12])
def test_chunks_and_stripes_cover_every_item_once(count: int) -> None:
    items = list(range(10))
    blocks = [chunk(items, env(i, count)) for i in range(1, count + 1)]
    assert [x for block in blocks for x in block] == items  # contiguous, in order
    sizes = [len(block) for block in blocks]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    stripes = [stripe(items, env(i, count)) for i in range(1, count + 1)]
    assert sorted(x for s in stripes for x in s) == items


def test_shares_of_ten_over_three() -> None:
    assert [chunk("abcdefghij", env(i, 3)) for i in (1, 2, 3)] == [
        list("abcd"),
        list("efg"),
        list("hij"),
    ]
    assert stripe(range(10), env(2, 3)) == [1, 4, 7]


def test_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICA_ID", "2")
    monkeypatch.setenv("REPLICA_COUNT", "2")
    assert replica() == (2, 2) and chunk([1, 2, 3]) == [3]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "REPLICA_ID is not set"),
        ({"REPLICA_ID": "1"}, "REPLICA_COUNT is not set"),
        ({"REPLICA_ID": "x", "REPLICA_COUNT": "2"}, "whole number"),
        ({"REPLICA_ID": "3", "REPLICA_COUNT": "2"}, "from 1 to REPLICA_COUNT (2)"),
        ({"REPLICA_ID": "0", "REPLICA_COUNT": "2"}, "from 1 to"),
        ({"REPLICA_ID": "1", "REPLICA_COUNT": "0"}, "at least 1"),
    ],
)
def test_bad_variables_are_refused_clearly(values: dict[str, str], words: str) -> None:
    with pytest.raises(ReplicaError) as caught:
        chunk([1], values)
    assert words in str(caught.value) and isinstance(caught.value, ValueError)
