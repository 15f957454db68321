"""`canfar local serve` that records, for each request of the skaha API, when it arrived and when
it was answered, in wall-clock and in the server's own CPU seconds. Used by load.py. Not a test.

    python tests/bench/traced_serve.py TRACE_FILE [canfar local serve options]

On a machine shared with other work the server is not always running, so its wall-clock latency
says as much about the machine as about the server; the CPU seconds the server spent between a
request's arrival (its bytes handed to the HTTP protocol) and its answer are the work that was
ahead of it: what it would wait on a core of its own. Written to TRACE_FILE when the server
stops: one JSON list of [status, arrived, wall seconds, CPU seconds] per request (arrived:
time.perf_counter(), the machine's monotonic clock, as the load's senders read it). It wraps
uvicorn's protocol from outside, so it traces any version's code.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

trace: list[tuple[int, float, float, float]] = []
ARRIVED, STATUS = "bench.arrived", "bench.status"

plain_events = H11Protocol.handle_events
plain_send = RequestResponseCycle.send


def handle_events(self: Any) -> None:
    """Stamp a request's scope when its bytes reach the protocol (h11 parses one request at a
    time, so a new cycle is the one request that arrived)."""
    before = self.cycle
    stamp = (time.perf_counter(), time.process_time())
    plain_events(self)
    if self.cycle is not before and self.cycle is not None:
        self.cycle.scope[ARRIVED] = stamp


async def send(self: Any, message: Any) -> None:
    """Note the end of each answer of the skaha API, wherever it is written from."""
    if message.get("type") == "http.response.start":
        self.scope[STATUS] = message.get("status", 0)
    await plain_send(self, message)
    if (
        message.get("type") == "http.response.body"
        and not message.get("more_body", False)
        and str(self.scope.get("path", "")).startswith("/skaha/v1/")
        and ARRIVED in self.scope
    ):
        wall, cpu = self.scope[ARRIVED]
        status = self.scope.get(STATUS, 0)
        trace.append((status, wall, time.perf_counter() - wall, time.process_time() - cpu))


def write(path: Path) -> None:
    path.write_text(json.dumps(trace))


H11Protocol.handle_events = handle_events  # type: ignore[method-assign]
RequestResponseCycle.send = send  # type: ignore[method-assign]

if __name__ == "__main__":
    atexit.register(write, Path(sys.argv[1]))
    from canfar_cli.cli.entry import main

    sys.argv = ["canfar", "local", "serve", *sys.argv[2:]]
    main()
