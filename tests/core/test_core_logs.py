"""The library's logs: bytes that are not UTF-8 come back as surrogates, losslessly; the
look-up and the log of an id go out together, and a batch the listing cannot serve looks each id
up once (requests counted at a watched server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from canfar_cli import AsyncSession
from canfar_cli.errors import NotFoundError
from tests.support import IMAGE, RAW_LOG, RAW_LOG_SCRIPT


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_the_library_gives_undecodable_log_bytes_back_as_surrogates(tmp_path: Path) -> None:
    from canfar_cli import Session

    script = tmp_path / "latin1.sh"
    script.write_text(RAW_LOG_SCRIPT)
    with Session(server="local") as session:
        ids = session.create("raw", IMAGE, cmd="sh", args=[str(script)])
        session.wait(ids)
        texts = session.logs(ids)
        assert texts is not None
        text = texts[ids[0]]
    assert text.encode("utf-8", "surrogateescape") == RAW_LOG


# --- the requests of a batch of logs, counted at the server ----------------------------------


def requests_seen(server: Any) -> list[str]:
    """'GET path?query' of each request the server received, in the order they arrived."""
    return [
        f"{s.method} {s.path.split('/skaha/v1/', 1)[-1]}{'?' + s.query if s.query else ''}"
        for s in server.watch().seen
    ]


@pytest.mark.anyio
async def test_the_look_up_and_the_log_of_an_id_are_in_flight_at_once(watched_server: Any) -> None:
    server = watched_server()
    async with AsyncSession(server=server.url) as session:
        (known,) = await session.create("pair", IMAGE, cmd="echo", args=["hello"])
        await until_done(session, [known])
    server = watched_server(latency_ms=300)  # a second server, slow, on the same platform state
    async with AsyncSession(server=server.url) as session:
        [(record, text)] = _values(await session.read_logs_each([known]))
        assert (record["id"], text) == (known, "hello\n")
        unknown = await session.read_logs_each(["zzzzzzz1"])
    assert isinstance(unknown[0].error, NotFoundError)  # its log (200, empty) dropped
    watch = server.watch()
    # One round, not two: both were at the server together (300 ms each).
    assert watch.peak == 2
    assert sorted(requests_seen(server)[:2]) == [
        f"GET session/{known}",
        f"GET session/{known}?view=logs",
    ]


@pytest.mark.anyio
async def test_a_batch_the_listing_cannot_serve_looks_each_id_up_once(watched_server: Any) -> None:
    seeder = watched_server()
    async with AsyncSession(server=seeder.url) as session:
        made = await session.create("batch", IMAGE, cmd="echo", args=["out"], replicas=5)
        await until_done(session, made)
    server = watched_server(unlisted=True)
    wanted = [made[0], "zzzzzzz1", *made[1:]]  # more than the bound: the listing is read too
    async with AsyncSession(server=server.url, concurrency=2) as session:
        outcomes = await session.read_logs_each(wanted)
    # In the ids' order; the unknown one is "not found", the others each with its own record.
    assert [o.key for o in outcomes] == wanted
    assert isinstance(outcomes[1].error, NotFoundError)
    for outcome in outcomes[:1] + outcomes[2:]:
        assert outcome.value is not None
        assert outcome.value[0]["id"] == outcome.key and outcome.value[1] == "out\n"
    seen = requests_seen(server)
    logs = [r for r in seen if r.endswith("?view=logs")]
    looks = [r for r in seen if r.startswith("GET session/") and "?" not in r]
    assert sorted(logs) == sorted(f"GET session/{i}?view=logs" for i in wanted)
    assert sorted(looks) == sorted(f"GET session/{i}" for i in wanted)
    assert seen.count("GET session") == 1 and len(seen) == 2 * len(wanted) + 1


async def until_done(session: AsyncSession, ids: list[str]) -> None:
    with anyio.fail_after(60):
        while True:
            records = await session.info(ids)
            if all(r.get("status") in ("Completed", "Failed") for r in records):
                return
            await anyio.sleep(0.1)


def _values(outcomes: list[Any]) -> list[Any]:
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return [o.value for o in outcomes]
