"""Past its capacity, the local platform says so at once (503 and Retry-After) instead of queueing.

The app answers a request on the event loop, mostly without yielding, so when requests come
faster than it can answer them they wait in the loop's queue, and every one waits longer than
the one before. Turning requests away only once that queue is long (the loop a second late)
makes the refusals wait behind it too: measured, 503s in 2.7 s. So the decision is taken when
a request arrives, before any work, from how many requests of the skaha API have arrived and are
not answered yet (`pending`):

- While the loop keeps up, nothing is refused: a batch of a few hundred requests at once (a
  CLI at its largest concurrency, 128) waits its turn and is served.
- Once the loop has run over `max_wait` late at every heartbeat for `sustain` seconds (a queue
  that lasts, not a burst), the platform is past its capacity: a request that finds
  `busy_limit` requests ahead of it is answered 503 with `Retry-After: 1` at once. That keeps
  the loop's turns short, so what is served stays quick and the refusals are written within a
  turn. It stays so until a second has passed with no refusal (the excess is gone).
- `limit` (CANFAR_LOCAL_ADMIT) bounds the requests at once at any time.

The decision is taken in the HTTP protocol (`admitting`) as the request's head is parsed: a
refusal is written there and then, ahead of the work queued on the loop; an admitted request is
marked in its scope for the middleware, which decides itself only where no protocol marked it
(an app served in process). A refused request is never read or passed on, so nothing
is half-done, and every client's retry rule (GET and DELETE retried after the pause; a create
refused outright, never made twice) does the rest.

uvicorn's own `limit_concurrency` is not used: its 503 has no Retry-After and another body, it
closes the connection, and it counts idle keep-alive connections, so a thousand idle clients
would be turned away.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from canfar_cli.local.asgi import Receive, Scope, Send

# How often the heartbeat looks, and how late the loop runs, for how long, past its capacity
# (a burst of a few hundred requests keeps it late for a few tenths of a second).
TICK = 0.01
MAX_WAIT = 0.1
SUSTAIN = 1.0
# Requests at once past capacity: enough to keep the loop busy, few enough that a turn (and so
# a refusal's wait) stays short (about 0.5 ms of CPU each).
BUSY_LIMIT = 16
# Past capacity until this long without a refusal.
HOLD = 1.0
# The paths guarded: the skaha API (sessions, images, context).
GUARDED = "/skaha/v1/"
# The scope key of the protocol's decision: ADMITTED (counted in `pending` until answered),
# REFUSED (the middleware answers 503) or ANSWERED (the protocol has written the 503 already).
VERDICT = "canfar.admission"
ADMITTED, REFUSED, ANSWERED = "admitted", "refused", "answered"

BUSY = b"temporarily unavailable: too many requests at once; try again in a second\n"


class Admission:
    """ASGI middleware: 503 + Retry-After, decided on arrival, past the platform's capacity."""

    def __init__(
        self,
        app: Any,
        *,
        limit: int | None = None,
        busy_limit: int = BUSY_LIMIT,
        max_wait: float = MAX_WAIT,
        sustain: float = SUSTAIN,
    ) -> None:
        self.app = app
        self.limit = limit
        self.busy_limit = busy_limit if limit is None else min(busy_limit, limit)
        self.max_wait = max_wait
        self.sustain = sustain
        self.pending = 0  # requests of the skaha API admitted and not answered yet
        self.refused = 0
        self.beats = 0  # heartbeats so far
        self.late_since: float | None = None  # the first of the late heartbeats running
        self.busy_until = 0.0  # perf_counter: until then, past capacity
        self._heartbeat: asyncio.Task[None] | None = None

    def arrive(self, scope: Scope) -> bool:
        """A request of the skaha API arrived: admitted (and counted until answered) or not."""
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        now = time.perf_counter()
        limit = self.busy_limit if now < self.busy_until else self.limit
        if limit is not None and self.pending >= limit:
            self.refused += 1
            self.busy_until = now + HOLD
            return False
        self.pending += 1
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not guarded(scope):
            # Only the sessions API is turned away: the sign-in services (a device login's
            # polls, a password check) and storage always get their answer.
            await self.app(scope, receive, send)
            return
        verdict = scope.pop(VERDICT, None)
        if verdict == ANSWERED:
            return
        if verdict is None:
            verdict = ADMITTED if self.arrive(scope) else REFUSED
        if verdict == REFUSED:
            await refuse(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.pending -= 1

    async def _beat(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(TICK)
            # Late by the time the loop spent on what was queued before this wake-up.
            woke = time.perf_counter()
            self.beats += 1
            if woke - asked - TICK <= self.max_wait:
                self.late_since = None
            elif self.late_since is None:
                self.late_since = woke
            elif woke - self.late_since >= self.sustain:
                self.busy_until = woke + HOLD


def guarded(scope: Scope) -> bool:
    return scope.get("type") == "http" and str(scope.get("path", "")).startswith(GUARDED)


def admitting(base: type[Any], admission: Admission) -> type[Any]:
    """`base` (uvicorn's H11Protocol or a subclass) deciding each request's admission as its
    head is parsed: before the request waits for its turn on the loop."""

    class AdmittingProtocol(base):  # type: ignore[misc]
        def handle_events(self) -> None:
            # `cycle` and `flow` are uvicorn's own, not a public API: read with getattr, so a
            # uvicorn that renames them leaves every decision to the middleware (still correct,
            # only later).
            before = getattr(self, "cycle", None)
            super().handle_events()
            # h11 parses one request at a time (the next waits until this one is answered), so
            # a new cycle is the one request that arrived; its task has not run yet.
            cycle = getattr(self, "cycle", None)
            if cycle is before or cycle is None or not guarded(cycle.scope):
                return
            if admission.arrive(cycle.scope):
                cycle.scope[VERDICT] = ADMITTED
            elif getattr(getattr(self, "flow", None), "write_paused", True):
                # The client reads slowly (or the flow is not known): the task writes the 503.
                cycle.scope[VERDICT] = REFUSED
            else:
                # Written now, before the work queued on the loop: a refusal waits for nothing.
                # The cycle's send only waits while writes are paused (not the case here), so
                # the refusal completes in one step; the request's task then does nothing.
                cycle.scope[VERDICT] = ANSWERED
                step = refuse(cycle.send)
                try:
                    step.send(None)
                except StopIteration:
                    return
                step.close()
                raise RuntimeError("a refusal waited on the socket while writes were flowing")

    return AdmittingProtocol


async def refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(BUSY)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BUSY})
