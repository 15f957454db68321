"""Past capacity the local platform answers 503 with Retry-After at once (local/admission.py)."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from canfar_cli.local.admission import Admission


async def busy_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that holds the event loop (as the local platform's handler does) for 30 ms."""
    time.sleep(0.03)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


@pytest.mark.anyio
async def test_a_sustained_queue_is_answered_503_at_once_and_the_app_never_sees_it() -> None:
    seen = 0

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal seen
        seen += 1
        await busy_app(scope, receive, send)

    admission = Admission(counted, max_wait=0.05)
    transport = httpx.ASGITransport(app=admission)
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:

        async def sender() -> None:
            for _ in range(20):
                await anyio.sleep(0)  # the next request comes over the network: the loop turns
                response = await client.get("/skaha/v1/session")
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert response.headers["retry-after"] == "1"
                    assert "try again" in response.text

        # Ten clients that keep sending: 6 s of work if each request were served, and a queue
        # of ten in front of every request; past two late heartbeats the rest are turned away.
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(sender)
    assert statuses.count(503) > 0 and statuses.count(200) > 0
    assert seen == statuses.count(200)  # a refused request never reached the app
    assert admission.refused == statuses.count(503)


@pytest.mark.anyio
async def test_a_loop_on_time_serves_every_request() -> None:
    admission = Admission(busy_app, max_wait=0.05)
    transport = httpx.ASGITransport(app=admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        for _ in range(5):
            assert (await client.get("/skaha/v1/session")).status_code == 200
            await anyio.sleep(0.03)  # the heartbeat runs between requests: no queue
    assert admission.refused == 0
