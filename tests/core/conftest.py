"""Fixtures of the core's tests.

`watched_server(latency_ms=0, unlisted=False)` serves the local platform's app on a real loopback
socket, in a process of its own (tests/support/watched_server.py, forked from the fork server that
has imported the app already: tests/support/forkserver.py), behind a wrapper that counts the
requests in flight and records each request as the server received it (method, path, query,
headers, body).
`.url` is the base URL; `.watch()` fetches what was counted and seen so far. Counting at the server
proves what the client really did on the wire.

`no_stray_jobs` (autouse): jobs that an in-process platform (server="local") or a watched server
started under this test's state folder are killed after the test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.forkserver import FORKS, ForkedServer
from tests.support.loopback import kill_platform_processes


@pytest.fixture(autouse=True)
def no_stray_jobs(isolated: Path) -> Iterator[None]:
    yield
    kill_platform_processes(Path(os.environ["CANFAR_LOCAL_HOME"]))


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str


@dataclass
class Watch:
    peak: int
    in_flight: int
    seen: list[Seen]


@dataclass
class WatchedServer:
    url: str
    process: ForkedServer

    def watch(self) -> Watch:
        root = self.url.rsplit("/skaha", 1)[0]
        data = httpx.get(f"{root}/__watch", timeout=30).json()
        return Watch(
            peak=data["peak"],
            in_flight=data["in_flight"],
            seen=[Seen(**item) for item in data["seen"]],
        )


@pytest.fixture
def watched_server() -> Iterator[Callable[..., WatchedServer]]:
    started: list[WatchedServer] = []

    def start(latency_ms: float = 0.0, unlisted: bool = False) -> WatchedServer:
        # unlisted=True: the listing answers [] (sessions it cannot serve, see the server's note).
        env = {**os.environ, "WATCH_UNLISTED": "1"} if unlisted else dict(os.environ)
        with open(2, "wb", closefd=False) as stderr:  # the test's, as a started process has
            process = FORKS.spawn([str(latency_ms)], env, stderr, program="watched_server")
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()  # the server prints it once listening
        if not url.startswith("http://"):
            process.kill()
            process.wait()
            raise RuntimeError("the watched server did not start")
        server = WatchedServer(url=url, process=process)
        started.append(server)
        return server

    yield start
    for server in started:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        if server.process.stdout:
            server.process.stdout.close()
