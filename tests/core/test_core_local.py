"""The session core against the local platform on a real loopback socket.

Servers come from the shared fixtures (`local_server`, `serve_local(**options)` in
tests/conftest.py) or from `watched_server` (tests/core/conftest.py), which counts and records at
the server what the client sent. Jobs are small shell scripts run by the local platform's runner.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import pytest

from canfar_cli import AsyncSession, Session
from canfar_cli.errors import AuthError, NotFoundError, ServerError, UnreachableError, UsageError
from canfar_cli.http import RetryPolicy
from canfar_cli.models import is_finished
from canfar_cli.outcomes import BatchError
from tests.support import IMAGE

# Quick retries for servers that fail on purpose (the default policy waits longer between tries).
QUICK = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05, retry_after_cap=0.05)
STUBBORN = RetryPolicy(attempts=12, backoff=0.01, max_backoff=0.05, retry_after_cap=0.05)


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.sh"
    path.write_text(body)
    assert " " not in str(path)  # args may hold no whitespace
    return str(path)


async def until_finished(session: AsyncSession, ids: list[str], timeout: float = 60) -> list[dict]:
    with anyio.fail_after(timeout):
        while True:
            records = await session.info(ids)
            if all(is_finished(r.get("status")) for r in records):
                return records
            await anyio.sleep(0.1)


def blocking_until_finished(session: Session, ids: list[str], timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = session.info(ids)
        if all(is_finished(r.get("status")) for r in records):
            return records
        assert time.monotonic() < deadline, f"still running: {records}"
        time.sleep(0.1)


# --- every method ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_batch_job_through_every_read_method(local_server: Any, tmp_path: Path) -> None:
    job = script(
        tmp_path,
        "greet",
        'echo "hello $REPLICA_ID of $REPLICA_COUNT"\necho "GREETING=$GREETING"\n',
    )
    async with AsyncSession(server=local_server.url, retry=QUICK) as session:
        context = await session.context()
        assert 8 in context["cores"]["options"] or "8" in str(context["cores"])
        images = await session.images()
        assert isinstance(images, list)
        assert all("headless" in i.get("types", []) for i in await session.images("headless"))

        updates: list[list[dict]] = []
        ids = await session.create(
            "greet",
            IMAGE,
            cores=1,
            ram=2,
            cmd="sh",
            args=[job],
            env={"GREETING": "hi there"},
            replicas=3,
        )
        assert len(set(ids)) == 3
        waited = await session.wait(ids, timeout=60, interval=0.1, on_update=updates.append)
        assert [r["id"] for r in waited] == ids and updates
        records = await until_finished(session, ids)
        assert [r["name"] for r in records] == ["greet-1", "greet-2", "greet-3"]
        assert {r["status"] for r in records} == {"Completed"}

        logs = await session.logs(ids)
        assert logs is not None and list(logs) == ids
        for index, session_id in enumerate(ids, start=1):
            assert f"hello {index} of 3\n" in logs[session_id]
            assert "GREETING=hi there\n" in logs[session_id]

        events = await session.events(ids)
        assert events is not None and [e["id"] for e in events] == ids
        for entry in events:
            assert entry["events"], entry
            assert any(e.get("reason") for e in entry["events"])
        table = await session.events_text(ids[0])
        assert table.split()[:2] == ["TYPE", "REASON"]

        stats = await session.stats()
        assert set(stats) >= {"cores", "ram"}

        assert {s["id"] for s in await session.fetch()} >= set(ids)
        assert {s["id"] for s in await session.fetch(kind="headless")} >= set(ids)
        assert not {s["id"] for s in await session.fetch(kind="notebook")} & set(ids)
        # Succeeded (older servers) and Completed (newer) are the same state.
        assert {s["id"] for s in await session.fetch(status="Succeeded")} >= set(ids)
        everyone = await session.fetch(view="all")
        assert everyone and all("userid" in s for s in everyone)

        removed = await session.destroy_with("greet-", kind="headless", status="Succeeded")
        assert removed == dict.fromkeys(ids, True)
        assert not {s["id"] for s in await session.fetch()} & set(ids)


@pytest.mark.anyio
async def test_unknown_ids_are_not_found_and_never_deleted(
    watched_server: Any, tmp_path: Path
) -> None:
    server = watched_server()
    async with AsyncSession(server=server.url, retry=QUICK) as session:
        (known,) = await session.create("short", IMAGE, cmd="true")
        await until_finished(session, [known])

        logs = await session.logs_each([known, "zzzzzzz1"])
        assert logs[0].ok and isinstance(logs[1].error, NotFoundError)
        with pytest.raises(BatchError) as caught:
            await session.logs([known, "zzzzzzz1"])
        assert caught.value.exit_code == 1 and "1 of 2" in caught.value.message

        outcomes = await session.destroy_each([known, "zzzzzzz1", "zzzzzzz2"])
        assert [o.ok for o in outcomes] == [True, False, False]
        assert isinstance(outcomes[1].error, NotFoundError)
        assert "zzzzzzz1" in outcomes[1].error.message
        deletes = [s.path for s in server.watch().seen if s.method == "DELETE"]
        assert deletes == [f"/skaha/v1/session/{known}"]

        # Gone now: a second destroy finds nothing, and says so.
        assert await session.destroy(known) == {known: False}
        with pytest.raises(NotFoundError):
            await session.info(known)
        with pytest.raises(NotFoundError):
            await session.events(known)
        with pytest.raises(NotFoundError):
            async for _ in session.follow_logs(known):
                pass


@pytest.mark.e2e(long=True)
@pytest.mark.anyio
async def test_a_batch_of_1000_ids_keeps_its_order(watched_server: Any) -> None:
    server = watched_server()
    wanted = [f"q{i:07d}" for i in range(1000)]
    async with AsyncSession(server=server.url, concurrency=64, retry=QUICK) as session:
        outcomes = await session.info_each(wanted)
        assert [o.key for o in outcomes] == wanted
        assert all(isinstance(o.error, NotFoundError) for o in outcomes)
        assert outcomes[17].error is not None and "q0000017" in outcomes[17].error.message
        with pytest.raises(BatchError) as caught:
            await session.info(wanted[:20])
        assert caught.value.exit_code == 4  # every one unknown
        gone = await session.destroy(wanted)
        assert list(gone) == wanted and not any(gone.values())
    # info: one listing (1000 ids is more than a round) + 1000 GETs; then 20 GETs; destroy: one
    # look-up and no DELETE.
    assert len(server.watch().seen) == 1 + 1000 + 20 + 1


@pytest.mark.anyio
async def test_follow_logs_yields_everything_once(local_server: Any, tmp_path: Path) -> None:
    job = script(
        tmp_path, "count", "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done\necho done\n"
    )
    async with AsyncSession(server=local_server.url, retry=QUICK) as session:
        (session_id,) = await session.create("count", IMAGE, cmd="sh", args=[job])
        pieces = []
        with anyio.fail_after(60):
            async for piece in session.follow_logs(session_id, interval=0.1):
                pieces.append(piece)
        assert "".join(pieces) == "".join(f"line{i}\n" for i in range(1, 6)) + "done\n"
        assert len(pieces) > 1  # it did follow, not read once at the end
        (record,) = await session.info(session_id)
        assert record["status"] == "Completed"


def test_blocking_follow_logs(local_server: Any, tmp_path: Path) -> None:
    job = script(tmp_path, "bye", "echo one\nsleep 0.3\necho two\nexit 3\n")
    with Session(server=local_server.url, retry=QUICK) as session:
        (session_id,) = session.create("bye", IMAGE, cmd="sh", args=[job])
        text = "".join(session.follow_logs(session_id, interval=0.1))
        assert text == "one\ntwo\n"
        assert session.info(session_id)[0]["status"] == "Failed"


@pytest.mark.anyio
async def test_renew_and_interactive_sessions(local_server: Any) -> None:
    async with AsyncSession(server=local_server.url, retry=QUICK) as session:
        (notebook,) = await session.create("nb", IMAGE, kind="notebook", cores=1, ram=2)
        try:
            (record,) = await session.wait(notebook, timeout=60, interval=0.1)
            assert record["type"] == "notebook"
            assert await session.renew(notebook) == {notebook: True}
            outcomes = await session.renew_each(["zzzzzzz9"])
            assert isinstance(outcomes[0].error, ServerError)
            assert outcomes[0].error.status == 400 and "zzzzzzz9" in outcomes[0].error.message
            assert await session.renew([notebook, "zzzzzzz9"]) == {
                notebook: True,
                "zzzzzzz9": False,
            }
        finally:
            assert await session.destroy(notebook) == {notebook: True}


# --- Session and AsyncSession agree ----------------------------------------------------------


def test_session_and_async_session_return_equal_results(local_server: Any, tmp_path: Path) -> None:
    job = script(tmp_path, "same", 'echo "replica $REPLICA_ID"\n')
    with Session(server=local_server.url, retry=QUICK) as blocking:
        ids = blocking.create("same", IMAGE, cmd="sh", args=[job], replicas=2)
        blocking_until_finished(blocking, ids)
        unknown = [ids[0], "zzzzzzz3"]
        calls: list[tuple[str, tuple]] = [
            ("context", ()),
            ("images", ()),
            ("images", ("headless",)),
            ("info", (ids,)),
            ("logs", (ids,)),
            ("events", (ids,)),
            ("events_text", (ids[1],)),
            ("fetch", ("headless", "Completed")),
            ("stats", ()),
        ]
        expected = [getattr(blocking, name)(*args) for name, args in calls]
        expected_each = blocking.info_each(unknown)

        async def the_async_way() -> tuple[list, list]:
            async with AsyncSession(server=local_server.url, retry=QUICK) as session:
                got = [await getattr(session, name)(*args) for name, args in calls]
                return got, await session.info_each(unknown)

        got, got_each = anyio.run(the_async_way)
        for (name, _), mine, theirs in zip(calls, got, expected, strict=True):
            assert mine == theirs, name
        assert [(o.key, o.value, str(o.error)) for o in got_each] == [
            (o.key, o.value, str(o.error)) for o in expected_each
        ]
        plan = blocking.plan_create("x", IMAGE, cmd="true")
        assert AsyncSession(server=local_server.url).plan_create("x", IMAGE, cmd="true") == plan
        assert blocking.destroy(ids) == dict.fromkeys(ids, True)


def test_both_classes_have_the_same_methods_and_signatures() -> None:
    import inspect

    public = {n for n in dir(AsyncSession) if not n.startswith("_") and n not in ("aclose",)}
    public -= {"base_url"}
    for name in sorted(public):
        mine = inspect.signature(getattr(AsyncSession, name))
        twin = inspect.signature(getattr(Session, name))
        assert list(mine.parameters) == list(twin.parameters), name
        assert [p.default for p in mine.parameters.values()] == [
            p.default for p in twin.parameters.values()
        ], name


# --- the wire, counted at the server ---------------------------------------------------------


@pytest.mark.anyio
async def test_in_flight_bound_holds_and_batches_take_rounds_not_sums(watched_server: Any) -> None:
    server = watched_server(latency_ms=100)
    wanted = [f"r{i:07d}" for i in range(500)]
    async with AsyncSession(server=server.url, concurrency=100, retry=QUICK) as session:
        started = time.perf_counter()
        outcomes = await session.info_each(wanted)
        elapsed = time.perf_counter() - started
    watch = server.watch()
    # One listing (the batch is larger than a round), then each id it lacks asked on its own.
    assert len(watch.seen) == 501
    assert all(isinstance(o.error, NotFoundError) for o in outcomes)
    assert watch.peak <= 100
    assert watch.peak >= 10  # the bound was used, not serialized (generous for a loaded box)
    # Serial would take 500 x 0.1 s = 50 s; ideal is 5 rounds (0.5 s). Generous for a loaded box.
    assert elapsed < 0.3 * 50


@pytest.mark.anyio
async def test_info_of_a_large_batch_is_one_listing_plus_the_ids_it_lacks(
    watched_server: Any,
) -> None:
    server = watched_server()
    async with AsyncSession(server=server.url, concurrency=4, retry=QUICK) as session:
        ids = await session.create("big", IMAGE, cmd="true", replicas=6)
        with anyio.fail_after(60):  # ended, so nothing changes between the two ways of asking
            while not all(is_finished(s["status"]) for s in await session.info(ids)):
                await anyio.sleep(0.05)
        one_by_one = [await session.info(i) for i in ids]
        before = len(server.watch().seen)
        outcomes = await session.info_each([*ids, "zzzunknown", ids[0]])
    seen = server.watch().seen[before:]
    assert [(s.method, s.path, s.query) for s in seen] == [
        ("GET", "/skaha/v1/session", ""),
        ("GET", "/skaha/v1/session/zzzunknown", ""),
    ]
    assert [o.value for o in outcomes[:6]] == [found[0] for found in one_by_one]
    assert [o.key for o in outcomes] == [*ids, "zzzunknown", ids[0]]
    assert isinstance(outcomes[6].error, NotFoundError)
    assert outcomes[6].error.reason == "session zzzunknown not found"
    assert outcomes[7].value == outcomes[0].value


@pytest.mark.anyio
async def test_post_body_encoding_and_headers_at_the_server(watched_server: Any) -> None:
    server = watched_server()
    async with AsyncSession(server=server.url, token="tok-wire-123", retry=QUICK) as session:
        plan = session.plan_create(
            "wire", IMAGE, cmd="true", args=["a&b", "c=d"], env={"K": "v%20x&y"}
        )
        ids = await session.create(
            "wire", IMAGE, cmd="true", args=["a&b", "c=d"], env={"K": "v%20x&y"}
        )
        await session.renew_each(ids)
        await until_finished(session, ids)
        await session.destroy(ids)
    seen = server.watch().seen
    (post, renew) = [s for s in seen if s.method == "POST"]
    assert post.path == "/skaha/v1/session" and post.query == ""
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert post.headers["accept"] == "application/json"
    assert post.headers["user-agent"].startswith("canfar-cli/")
    assert post.headers["authorization"] == "Bearer tok-wire-123"
    assert "x-skaha-registry-auth" not in post.headers  # only on a create that needs it
    assert parse_qsl(post.body, keep_blank_values=True) == plan[0].form
    assert ("env", "K=v%20x&y") in plan[0].form and ("args", "a&b c=d") in plan[0].form
    assert renew.query == "" and parse_qsl(renew.body) == [("action", "renew")]
    for request in seen:
        assert request.query in ("", "view=logs", "view=events", "view=stats")


@pytest.mark.anyio
async def test_refusals_send_nothing_to_the_server(watched_server: Any) -> None:
    server = watched_server()
    refusals: list[dict[str, Any]] = [
        {"name": "Bad_Name"},
        {"name": "x" * 62, "replicas": 10},
        {"env": {"A": "x=y"}},
        {"env": {"1A": "x"}},
        {"cmd": "sh", "args": ["-c", 'echo "hi"']},
        {"cmd": "sh", "args": ["x", ""]},
        {"cores": 1.5},
        {"kind": "notebook", "cmd": "echo"},
        {"kind": "desktop", "env": {"A": "1"}},
        {"kind": "carta", "args": ["x"]},
        {"gpu": 0},
        {"cores": 0},
        {"ram": 0},
        {"replicas": 0},
        {"kind": "jupyter"},
        {"image": "ubuntu"},
    ]
    async with AsyncSession(server=server.url, retry=QUICK) as session:
        for refusal in refusals:
            arguments = {"name": "ok", "image": IMAGE, **refusal}
            with pytest.raises(UsageError):
                await session.create(**arguments)
            with pytest.raises(UsageError):
                await session.create_each(**arguments)
            with pytest.raises(UsageError):
                session.plan_create(**arguments)
        assert server.watch().seen == []
        assert await session.fetch() == []


# --- faults ----------------------------------------------------------------------------------


async def create_until_it_works(session: AsyncSession, name: str, **options: Any) -> str:
    for _ in range(50):
        (outcome,) = await session.create_each(name, IMAGE, **options)
        if outcome.ok and outcome.value:
            return outcome.value
        assert isinstance(outcome.error, UnreachableError), outcome.error
    raise AssertionError("no create got through")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "faults", [{"fail_rate": 0.3, "fail_status": 503}, {"drop_rate": 0.3}], ids=["503", "drop"]
)
async def test_get_and_delete_succeed_through_transient_faults(
    serve_local: Any, faults: dict
) -> None:
    server = serve_local(**faults)
    async with AsyncSession(server=server.url, retry=STUBBORN) as session:
        made = [await create_until_it_works(session, f"f{i}", cmd="true") for i in range(5)]
        for _ in range(10):
            assert {s["id"] for s in await session.fetch()} >= set(made)
        assert [r["id"] for r in await session.info(made)] == made
        await until_finished(session, made)
        assert set((await session.logs(made) or {}).values()) == {""}
        assert await session.destroy(made) == dict.fromkeys(made, True)
        assert not {s["id"] for s in await session.fetch()} & set(made)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "faults", [{"drop_rate": 0.4}, {"fail_rate": 0.4, "fail_status": 503}], ids=["drop", "503"]
)
async def test_a_create_is_never_duplicated(serve_local: Any, faults: dict) -> None:
    server = serve_local(**faults)
    async with AsyncSession(server=server.url, retry=STUBBORN) as session:
        outcomes = await session.create_each("dup", IMAGE, cmd="true", replicas=30)
        failed = [o for o in outcomes if not o.ok]
        assert all(isinstance(o.error, UnreachableError) for o in failed)
        sessions = await session.fetch()
    names = Counter(s["name"] for s in sessions)
    assert all(count == 1 for count in names.values()), names
    by_id = {s["id"]: s["name"] for s in sessions}
    for outcome in outcomes:
        if outcome.ok:
            assert by_id[outcome.value] == outcome.key
    assert len(sessions) >= len(outcomes) - len(failed)
    assert failed  # at these rates some creates must have failed, and were not retried


# --- credentials -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_never_reaches_a_log_record_or_an_error(
    serve_local: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    token = "t0ken-Very-Secret-42"
    server = serve_local(token=token)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with AsyncSession(server=server.url, token=token, loglevel=logging.DEBUG) as session:
        (session_id,) = await session.create("sec", IMAGE, cmd="true")
        await until_finished(session, [session_id])
        await session.logs(session_id)
        await session.destroy(session_id)
        texts.append(repr(session))
    async with AsyncSession(server=server.url, token="wrong-" + token) as intruder:
        with pytest.raises(AuthError) as caught:
            await intruder.fetch()
        texts += [str(caught.value), repr(caught.value), repr(intruder), caught.value.hint or ""]
        assert caught.value.exit_code == 3
    records = [r for r in caplog.records if r.name.startswith(("canfar_cli", "httpx", "httpcore"))]
    assert any(r.name == "canfar_cli.http" and r.levelno == logging.DEBUG for r in records)
    everything = "\n".join([r.getMessage() for r in caplog.records] + texts)
    assert token not in everything
    assert "POST" in everything and "DELETE" in everything


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
@pytest.mark.anyio
async def test_in_process_local_platform(tmp_path: Path) -> None:
    job = script(tmp_path, "inproc", "echo in-process\n")
    async with AsyncSession(server="local", retry=QUICK) as session:
        assert session.base_url == "http://local/skaha/v1"
        assert await session.fetch() == []
        (session_id,) = await session.create("inproc", IMAGE, cmd="sh", args=[job])
        await until_finished(session, [session_id])
        assert await session.logs(session_id) == {session_id: "in-process\n"}
        assert await session.destroy(session_id) == {session_id: True}


def test_blocking_twin_batch_forms(local_server: Any, tmp_path: Path) -> None:
    job = script(tmp_path, "twin", 'echo "twin $REPLICA_ID"\n')
    with Session(server=local_server.url, retry=QUICK) as session:
        made = session.create_each("twin", IMAGE, cmd="sh", args=[job], replicas=2)
        assert [o.key for o in made] == ["twin-1", "twin-2"] and all(o.ok for o in made)
        ids = [o.value for o in made if o.value]
        assert [r["id"] for r in session.wait(ids, timeout=60, interval=0.1)] == ids
        blocking_until_finished(session, ids)
        logs = session.logs_each([*ids, "zzzzzzz4"])
        assert [o.value for o in logs[:2]] == ["twin 1\n", "twin 2\n"]
        assert isinstance(logs[2].error, NotFoundError)
        events = session.events_each(ids)
        assert all(o.ok and o.value for o in events)
        (notebook,) = session.create("twin-nb", IMAGE, kind="notebook")
        session.wait(notebook, timeout=60, interval=0.1)
        assert [o.ok for o in session.renew_each([notebook])] == [True]
        assert session.renew(notebook) == {notebook: True}
        gone = session.destroy_each([notebook, "zzzzzzz4"])
        assert [o.ok for o in gone] == [True, False]
        assert session.destroy_with("twin-", kind="headless", status="Completed") == dict.fromkeys(
            ids, True
        )
        assert session.fetch() == []


def test_a_session_left_open_neither_leaks_nor_hangs_the_exit(local_server: Any) -> None:
    import subprocess
    import sys
    import threading

    def portals() -> int:
        return sum("portal" in thread.name for thread in threading.enumerate())

    before = portals()
    session = Session(server=local_server.url)
    assert session.fetch() == []
    assert portals() == before + 1  # the portal thread
    session.close()
    assert portals() == before
    assert session.fetch() == []  # usable again: a new portal on demand
    session.close()

    program = (
        "from canfar_cli import Session\n"
        f"s = Session(server={local_server.url!r})\n"
        "print(len(s.fetch()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0\n"


def test_verbose_prints_the_raw_text_and_returns_none(
    local_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = script(tmp_path, "loud", "printf 'a [b] c\\n\\tindented\\n'\n")
    with Session(server=local_server.url, retry=QUICK) as session:
        (session_id,) = session.create("loud", IMAGE, cmd="sh", args=[job])
        blocking_until_finished(session, [session_id])
        capsys.readouterr()
        assert session.logs(session_id, verbose=True) is None
        assert capsys.readouterr().out == "a [b] c\n\tindented\n"
        assert session.events([session_id], verbose=True) is None
        assert capsys.readouterr().out == session.events_text(session_id)
        session.destroy(session_id)


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_in_process_local_platform_blocking(tmp_path: Path) -> None:
    with Session(server="local", retry=QUICK) as session:
        (session_id,) = session.create("inproc-b", IMAGE, cmd="true")
        blocking_until_finished(session, [session_id])
        assert [s["id"] for s in session.fetch()] == [session_id]
        assert session.destroy(session_id) == {session_id: True}
