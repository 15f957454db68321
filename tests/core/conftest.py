"""Fixtures of the core's tests: a watched server, for counting what reaches the server.

`watched_server(latency_ms=...)` serves the local platform's app on a real loopback socket
(uvicorn in a thread of the test process) behind a small ASGI wrapper that counts the requests in
flight and records each request as the server received it (method, path, query, headers, body).
The counting happens at the server, so it proves what the client really did on the wire.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest


def _shared_conftest() -> Any:
    # The project's tests/conftest.py (loaded under its own name: both files are "conftest").
    name = "_canfar_shared_conftest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(autouse=True)
def no_stray_jobs(isolated: Path) -> Iterator[None]:
    """Jobs started by an in-process platform (server="local", watched_server) die with the test."""
    yield
    _shared_conftest().kill_platform_processes(Path(os.environ["CANFAR_LOCAL_HOME"]))


@dataclass
class Seen:
    method: str
    path: str
    query: bytes
    headers: dict[str, str]
    body: bytes


@dataclass
class Watch:
    latency: float = 0.0
    in_flight: int = 0
    peak: int = 0
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app: Any) -> Any:
        async def watched(scope: dict, receive: Callable, send: Callable) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            seen = Seen(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b""),
                headers={
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
                },
                body=b"",
            )

            async def recording_receive() -> dict:
                message = await receive()
                if message.get("type") == "http.request":
                    seen.body += message.get("body", b"")
                return message

            # Recorded as it arrives: the client may act on the response before this returns.
            with self.lock:
                self.seen.append(seen)
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            done = False

            def finish() -> None:
                nonlocal done
                with self.lock:
                    if not done:
                        done = True
                        self.in_flight -= 1

            async def counting_send(message: dict) -> None:
                # Out of flight before the last byte leaves: the client cannot see it earlier.
                if message.get("type") == "http.response.body" and not message.get("more_body"):
                    finish()
                await send(message)

            try:
                if self.latency:
                    await anyio.sleep(self.latency)
                await app(scope, recording_receive, counting_send)
            finally:
                finish()

        return watched


@dataclass
class WatchedServer:
    url: str
    watch: Watch


@pytest.fixture
def watched_server() -> Iterator[Callable[..., WatchedServer]]:
    import uvicorn

    from canfar_cli.local.app import create_app

    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(latency_ms: float = 0.0) -> WatchedServer:
        watch = Watch(latency=latency_ms / 1000)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            watch.wrap(create_app()),
            log_level="warning",
            lifespan="off",
            backlog=2048,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the watched server did not start")
            time.sleep(0.01)
        started.append((server, thread))
        return WatchedServer(url=f"http://127.0.0.1:{port}/skaha", watch=watch)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=10)
