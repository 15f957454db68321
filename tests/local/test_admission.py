"""Past capacity the local platform answers 503 with Retry-After at once (local/admission.py):
decided as a request arrives, from the requests ahead of it, before any work is done."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest

from canfar_cli.local.admission import BUSY, TICK, Admission
from tests.support import IMAGE
from tests.support.api import api


class HeldApp:
    """An app that holds every request until released (as a slow answer does), counting them."""

    def __init__(self) -> None:
        self.seen = 0
        self.release = anyio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


async def burst(admission: Admission, app: HeldApp, count: int, path: str) -> list[httpx.Response]:
    """`count` requests at once; the held ones are released once every other one is answered."""
    transport = httpx.ASGITransport(app=admission)
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:

        async def one() -> None:
            answers.append(await client.get(path))

        async with anyio.create_task_group() as group:
            for _ in range(count):
                group.start_soon(one)
            await anyio.wait_all_tasks_blocked()  # every request arrived: held or answered
            app.release.set()
        # Once the burst is over, the next request is served.
        after = await client.get(path)
        assert after.status_code == 200
    return answers


def assert_refusal(response: httpx.Response) -> None:
    """A 503 the clients' retry rule understands, in the local platform's text error shape."""
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "text/plain"
    assert response.content == BUSY
    assert response.text.startswith("temporarily unavailable: ")


@pytest.mark.anyio
async def test_past_the_limit_the_excess_is_refused_and_never_reaches_the_app() -> None:
    app = HeldApp()
    admission = Admission(app, limit=2)
    answers = await burst(admission, app, 7, "/skaha/v1/session")
    refused = [a for a in answers if a.status_code == 503]
    assert [a.status_code for a in answers].count(200) == 2
    assert len(refused) == 5
    for response in refused:
        assert_refusal(response)
    assert app.seen == 2 + 1  # the two admitted and the request after the burst
    assert admission.refused == 5
    assert admission.pending == 0  # every admitted request counted out once answered


@pytest.mark.anyio
async def test_a_burst_is_served_while_the_loop_keeps_up() -> None:
    # No limit: a CLI at its largest concurrency (128) sending at once waits its turn.
    app = HeldApp()
    admission = Admission(app)
    answers = await burst(admission, app, 130, "/skaha/v1/session")
    assert [a.status_code for a in answers] == [200] * 130
    assert admission.refused == 0


async def late_loop(admission: Admission) -> None:
    """Keep the event loop busy past `max_wait` at two heartbeats running, `sustain` apart (a
    queue that lasts): the loop is blocked, so the heartbeat wakes at least that late whatever
    the machine does."""
    admission.arrive({"type": "http", "path": "/skaha/v1/context"})  # starts the heartbeat
    admission.pending -= 1
    await anyio.sleep(0)  # the heartbeat starts, and sleeps for TICK
    for _ in range(2):
        before = admission.beats
        time.sleep(admission.max_wait + admission.sustain + 2 * TICK)  # ... and wakes this late
        while admission.beats == before:
            await anyio.sleep(0)  # the late heartbeat runs, and sleeps again


@pytest.mark.anyio
async def test_past_capacity_only_a_few_requests_at_once_are_taken() -> None:
    app = HeldApp()
    admission = Admission(app, busy_limit=3, max_wait=0.02, sustain=0.02)
    await late_loop(admission)
    answers = await burst(admission, app, 10, "/skaha/v1/session")
    assert [a.status_code for a in answers].count(200) == 3
    for response in [a for a in answers if a.status_code != 200]:
        assert_refusal(response)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/ac/login", "/arc/files/home/me/x", "/skaha/availability"])
async def test_only_the_skaha_api_is_turned_away(path: str) -> None:
    # A device login's polls, a password check and storage always get their answer.
    app = HeldApp()
    admission = Admission(app, limit=1)
    answers = await burst(admission, app, 5, path)
    assert [a.status_code for a in answers] == [200] * 5


def test_over_a_real_socket_a_refused_create_leaves_no_session(serve_local: Any) -> None:
    # Two requests at once at most; each one held 2 s (the latency fault, inside admission),
    # so a burst of eight sent together finds two ahead of the rest.
    server = serve_local(latency_ms=2000, env={"CANFAR_LOCAL_ADMIT": "2"})
    count = 8
    start = threading.Barrier(count)

    def one(n: int) -> httpx.Response:
        with api(server) as http:
            start.wait()
            if n % 2:
                return http.get("/session")
            return http.post("/session", data={"name": f"burst{n}", "image": IMAGE, "cmd": "true"})

    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(one, range(count)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 503} and statuses.count(503) >= 1
    for response in answers:
        if response.status_code == 503:
            assert_refusal(response)
    made = {a.text.strip() for a in answers if a.request.method == "POST" and a.status_code == 200}
    with api(server) as http:  # after the burst: served
        listing = http.get("/session")
    assert listing.status_code == 200
    # Every create answered 200 is there, and no refused one left a session.
    assert {s["id"] for s in listing.json() if s["name"].startswith("burst")} == made


def test_a_bad_admission_limit_is_one_clear_line(serve_local: Any) -> None:
    with pytest.raises(RuntimeError) as failed:
        serve_local(env={"CANFAR_LOCAL_ADMIT": "0"})
    assert "CANFAR_LOCAL_ADMIT must be a number >= 1" in str(failed.value)
