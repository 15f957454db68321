"""The local platform's app behind a wrapper that watches the wire, served on loopback.

Run as `python tests/support/watched_server.py [LATENCY_MS]` (by the `watched_server` fixture):
prints the base URL (`http://127.0.0.1:PORT/skaha`) as its first line and serves until
terminated. With WATCH_UNLISTED=1 in its environment the listing (GET …/session) answers `[]`:
the sessions are there, one by one, but a listing cannot serve a batch (as with sessions made
after it). The wrapper counts requests in flight (from arrival to the last byte of the response)
and records each request as received; `GET /__watch` answers them as JSON. It is a separate
process so that the client under test and the server never share one interpreter lock.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from typing import Any


class Watch:
    def __init__(self, app: Any, latency: float, unlisted: bool = False) -> None:
        self.app = app
        self.latency = latency
        self.unlisted = unlisted
        self.in_flight = 0
        self.peak = 0
        self.seen: list[dict[str, Any]] = []

    async def report(self, send: Any) -> None:
        body = json.dumps({"peak": self.peak, "in_flight": self.in_flight, "seen": self.seen})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    @staticmethod
    async def empty_listing(send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"[]"})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/__watch":
            await self.report(send)
            return
        seen = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            },
            "body": "",
        }
        # Recorded as it arrives: the client may act on the response before the app returns.
        self.seen.append(seen)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        done = False

        def finish() -> None:
            nonlocal done
            if not done:
                done = True
                self.in_flight -= 1

        async def recording_receive() -> dict:
            message = await receive()
            if message.get("type") == "http.request":
                seen["body"] += message.get("body", b"").decode("latin-1")
            return message

        async def counting_send(message: dict) -> None:
            # Out of flight before the last byte leaves: the client cannot see it any earlier.
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                finish()
            await send(message)

        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            listing = scope["method"] == "GET" and scope["path"].endswith("/v1/session")
            if self.unlisted and listing and not seen["query"]:
                await self.empty_listing(counting_send)
                return
            await self.app(scope, recording_receive, counting_send)
        finally:
            finish()


def main() -> None:
    import uvicorn

    from canfar_cli.local.app import create_app

    latency = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.0
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says it is TCP; without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    server = uvicorn.Server(
        uvicorn.Config(
            Watch(create_app(), latency, os.environ.get("WATCH_UNLISTED") == "1"),
            log_level="warning",
            lifespan="off",
            access_log=False,
            backlog=2048,
            timeout_keep_alive=30,
        )
    )

    def stop(_signum: int, _frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/skaha", flush=True)  # noqa: T201 (its URL, for the parent)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
