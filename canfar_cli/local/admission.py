"""Past its capacity, the local platform says so at once (503 and Retry-After) instead of queueing.

The app handles a request on the event loop without yielding, so when requests come faster than
it can answer them they wait in the loop's queue, and every request waits longer than the one
before: with a client that keeps sending, minutes. `Admission` watches how late the loop runs (a
heartbeat that asks to wake every TICK seconds and measures how late it woke: the time a request
arriving now would wait before its turn) and, while that wait has been over `max_wait` at two
heartbeats running (sustained, not a burst: a batch of a hundred requests at once is served),
answers each new request with 503 and `Retry-After: 1` before the app sees it: nothing is read
or written, so nothing is lost or half-done, and every client's retry rule (GET and DELETE
retried after the pause; a create refused outright, never made twice) does the rest.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from canfar_cli.local.asgi import Receive, Scope, Send

# How often the heartbeat looks, and the wait beyond which new requests are turned away.
TICK = 0.01
MAX_WAIT = 1.0
# The paths guarded: the skaha API (sessions, images, context).
GUARDED = "/skaha/v1/"

_BUSY = b"temporarily unavailable: too many requests at once; try again in a second\n"


class Admission:
    """ASGI middleware: 503 + Retry-After while the event loop runs over `max_wait` late."""

    def __init__(self, app: Any, max_wait: float = MAX_WAIT) -> None:
        self.app = app
        self.max_wait = max_wait
        self.lags = (0.0, 0.0)  # how late the heartbeat woke, the last two times, in seconds
        self.refused = 0
        self._heartbeat: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(GUARDED):
            # Only the sessions API is turned away: the sign-in services (a device login's
            # polls, a password check) always get their answer.
            await self.app(scope, receive, send)
            return
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        if min(self.lags) > self.max_wait:
            self.refused += 1
            await _refuse(send)
            return
        await self.app(scope, receive, send)

    async def _beat(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(TICK)
            # Late by the time the loop spent on what was queued before this wake-up.
            self.lags = (self.lags[1], max(0.0, time.perf_counter() - asked - TICK))


async def _refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(_BUSY)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BUSY})
