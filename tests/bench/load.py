"""Load benchmark of the local platform (`canfar local serve`), issue 19. Not a test.

    .venv/bin/python tests/bench/load.py                  # 1,000 sessions, 200 requests/s, 10 s
    .venv/bin/python tests/bench/load.py --sessions 1000 --rate 200 --seconds 10 --overload 1500

A real `canfar local serve` (its own state folder) is given `--sessions` sessions of one user (the
worst case: every one of them is that user's), then requests arrive at a fixed rate, whether or
not earlier ones were answered (an open loop, as independent users would send them): a mix of
GETs of one session, its events and its log, renews, creates of headless jobs and deletes of the
sessions made. Reported: the rate achieved, the latency (median, p99, max) of every answer, and
the answers that are errors (a 5xx or no answer). Then `--overload` requests/s for a few seconds,
beyond what the server can do: it must answer the excess with 503 and Retry-After at once (their
latency is reported apart), and lose nothing: every create answered 200 is in the listing, and
nothing else was created.

The load is sent by a small HTTP/1.1 client on asyncio streams (keep-alive connections, no
library): httpx would spend more CPU per request than the server and measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # type: ignore[import-not-found]  # the suite's helpers (servers, seeding)

IMAGE = bench.IMAGE


@dataclass
class Answer:
    kind: str
    status: int  # 0: no answer
    seconds: float
    retry_after: str | None = None
    body: bytes = b""


@dataclass
class Pool:
    """Keep-alive connections to one host; one request at a time on each."""

    host: str
    port: int
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        got = {}
        for line in header_lines:
            if ":" in line:
                key, value = line.split(":", 1)
                got[key.strip().lower()] = value.strip()
        if got.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                content += await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            size = int(got.get("content-length", "0"))
            content = await reader.readexactly(size) if size else b""
        if got.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status, got, content


class Load:
    def __init__(self, url: str, token_header: dict[str, str], ids: list[str]) -> None:
        parts = urlsplit(url)
        self.pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80)
        self.api = parts.path.rstrip("/") + "/v1"
        self.headers = {"Accept": "application/json", **token_header}
        self.ids = ids
        self.created: list[str] = []  # answered 200 to a create
        self.deleted: set[str] = set()
        self.answers: list[Answer] = []

    async def one(self, kind: str) -> None:
        method, target, body, extra = self.plan(kind)
        start = time.perf_counter()
        try:
            status, headers, content = await self.pool.request(
                method, target, {**self.headers, **extra}, body
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.answers.append(Answer(kind, 0, time.perf_counter() - start))
            return
        answer = Answer(kind, status, time.perf_counter() - start, headers.get("retry-after"))
        self.answers.append(answer)
        if kind == "create" and status == 200:
            self.created.append(content.decode().strip())

    def plan(self, kind: str) -> tuple[str, str, bytes, dict[str, str]]:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        some = random.choice(self.ids)
        if kind == "get":
            return "GET", f"{self.api}/session/{some}", b"", {}
        if kind == "events":
            return "GET", f"{self.api}/session/{some}?view=events", b"", {}
        if kind == "logs":
            return "GET", f"{self.api}/session/{some}?view=logs", b"", {}
        if kind == "renew":
            return "POST", f"{self.api}/session/{some}", b"action=renew", form
        if kind == "create":
            body = f"name=load&image={IMAGE}&cmd=true".encode()
            return "POST", f"{self.api}/session", body, form
        if kind == "delete":
            mine = [i for i in self.created if i not in self.deleted]
            if not mine:
                return "GET", f"{self.api}/session/{some}", b"", {}
            target = random.choice(mine)
            self.deleted.add(target)
            return "DELETE", f"{self.api}/session/{target}", b"", {}
        raise ValueError(kind)

    async def run(self, rate: float, seconds: float, mix: list[str]) -> float:
        """Send at `rate` per second for `seconds`; the rate achieved."""
        tasks = []
        began = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(self.one(mix[n % len(mix)])))
        await asyncio.gather(*tasks)
        return total / (time.perf_counter() - began)

    async def listing_ids(self) -> set[str]:
        """The ids in the listing (asked again while the server is busy)."""
        while True:
            status, _headers, content = await Pool(self.pool.host, self.pool.port).request(
                "GET", f"{self.api}/session", self.headers
            )
            if status == 200:
                return {record["id"] for record in json.loads(content)}
            await asyncio.sleep(1)


# Of every 20 requests: 12 GETs of one session, 2 of its events, 2 of its log, 2 renews, one
# create and one delete.
MIX = ["get"] * 12 + ["events"] * 2 + ["logs"] * 2 + ["renew"] * 2 + ["create", "delete"]


def summary(answers: list[Answer], name: str) -> str:
    ms = sorted(a.seconds * 1000 for a in answers)
    if not ms:
        return f"{name}: none"
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    errors = sum(1 for a in answers if a.status == 0 or (a.status >= 500 and a.status != 503))
    busy = sum(1 for a in answers if a.status == 503)
    return (
        f"{name}: {len(ms)} answers, median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms,"
        f" max {ms[-1]:.1f} ms; errors {errors}; 503 {busy}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--overload", type=float, default=1500.0, help="requests/s (0: skip)")
    options = parser.parse_args()
    print(f"local platform load: load average at start {bench.load()}")
    with tempfile.TemporaryDirectory(prefix="canfar-load-") as tmp:
        work = Path(tmp)
        env = bench.env_for(work)
        with bench.local_serve(env) as url:
            ids = bench.seed_finished(work, options.sessions, url)
            load = Load(url, bench.auth(url, work), ids)
            achieved = asyncio.run(load.run(options.rate, options.seconds, MIX))
            answered = load.answers
            ms = sorted(a.seconds * 1000 for a in answered)
            p99 = ms[int(len(ms) * 0.99)]
            print(
                f"{options.rate:.0f} requests/s offered for {options.seconds:.0f} s with"
                f" {options.sessions} sessions: {achieved:.0f}/s achieved"
            )
            print("  " + summary(answered, "all"))
            for kind in dict.fromkeys(MIX):
                print("  " + summary([a for a in answered if a.kind == kind], kind))
            print(
                f"  target: p99 < 50 ms, no error: p99 {p99:.1f} ms -> "
                f"{'met' if p99 < 50 and 'errors 0;' in summary(answered, '') else 'NOT met'}"
            )
            if options.overload:
                time.sleep(2)  # the jobs of the creates above start and end
                over = Load(url, bench.auth(url, work), ids)
                over.created = list(load.created)
                over.deleted = set(load.deleted)
                asyncio.run(over.run(options.overload, 3.0, MIX))
                busy = [a for a in over.answers if a.status == 503]
                served = [a for a in over.answers if a.status != 503]
                print(f"{options.overload:.0f} requests/s offered for 3 s (past capacity):")
                print("  " + summary(served, "served"))
                print("  " + summary(busy, "refused with 503"))
                print(f"  503 without Retry-After: {sum(1 for a in busy if not a.retry_after)}")
                listed = asyncio.run(over.listing_ids())
                made = set(over.created) - over.deleted
                lost = made - listed
                extra = listed - set(ids) - set(over.created)
                print(
                    f"  creates answered 200: {len(over.created)}; missing from the listing:"
                    f" {len(lost)}; in the listing but never answered: {len(extra)}"
                )
    print(f"load average at the end: {bench.load()}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
