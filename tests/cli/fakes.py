"""A fake skaha server for the CLI contract tests: an httpx MockTransport behind the real
AsyncSession, handed to the commands through CliState's session factory (no socket, no job)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from canfar_cli.cli.state import CliState
from canfar_cli.config import Settings
from canfar_cli.http import RetryPolicy
from canfar_cli.output import Output

Handler = Callable[[httpx.Request], httpx.Response]
QUICK = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.002, retry_after_cap=0.002)

RECORD = {
    "id": "abc12345",
    "name": "job",
    "type": "headless",
    "status": "Running",
    "image": "images.canfar.net/skaha/terminal:1.1.1",
    "startTime": "2025-04-10T15:45:33Z",
}
EVENTS = (
    "TYPE     REASON    MESSAGE   FIRST-TIME             LAST-TIME\n"
    "Normal   Started   started   2025-04-10T15:45:33Z   2025-04-10T15:45:33Z\n"
)


def healthy(request: httpx.Request) -> httpx.Response:
    """A small working server: one session, abc12345."""
    path, query = request.url.path, request.url.params
    if request.method == "POST":
        return httpx.Response(200, text="def67890\n")
    if request.method == "DELETE":
        return httpx.Response(200, text="")
    if path.endswith("/session"):
        if query.get("view") == "stats":
            return httpx.Response(200, json={"cores": {"requestedCPUCores": 1}, "ram": {}})
        return httpx.Response(200, json=[RECORD])
    if path.endswith("/session/abc12345"):
        if query.get("view") == "logs":
            return httpx.Response(200, text="hello\n")
        if query.get("view") == "events":
            return httpx.Response(200, text=EVENTS)
        return httpx.Response(200, json=RECORD)
    if path.endswith("/context"):
        return httpx.Response(200, json={"cores": {"default": 1}})
    if path.endswith("/image"):
        return httpx.Response(200, json=[])
    return httpx.Response(404, text=f"session {path.rsplit('/', 1)[-1]} not found\n")


def state_with(handler: Handler, counter: dict[str, int] | None = None) -> CliState:
    """A CliState whose commands talk to `handler` (requests counted by method in `counter`)."""

    def counted(request: httpx.Request) -> httpx.Response:
        if counter is not None:
            counter[request.method] = counter.get(request.method, 0) + 1
        return handler(request)

    def factory(*, settings: Settings, loglevel: int) -> AbstractAsyncContextManager[Any]:
        from canfar_cli.session import AsyncSession

        return AsyncSession(
            settings=settings,
            loglevel=loglevel,
            transport=httpx.MockTransport(counted),
            retry=QUICK,
        )

    return CliState(session_factory=factory, out=Output())
