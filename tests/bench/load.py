"""Load benchmark of the local platform (`canfar local serve`), issue 19. Not a test.

    .venv/bin/python tests/bench/load.py       # 1,000 sessions, 200 requests/s for 10 s, then
                                               # 5,000/s for 3 s, then 200/s again for 2 s
    .venv/bin/python tests/bench/load.py --seconds 3 --overload 5000 --senders 2 --connections 256

A real `canfar local serve` (its own state folder) is given `--sessions` sessions of one user (the
worst case: every one of them is that user's), then requests arrive at a fixed rate, whether or
not earlier ones were answered (an open loop, as independent users would send them): a mix of
GETs of one session, its events and its log, renews, creates of headless jobs and deletes of the
sessions made. Reported: the rate offered, the latency (median, p99, max) of every answer, and
the answers that are errors (a 5xx or no answer). Then `--overload` requests/s for
`--overload-seconds`, beyond what the server can do: it must answer the excess with 503 and
Retry-After at once (their latency is reported apart), keep the latency of what it serves
bounded, lose nothing (every create answered 200 is in the listing, and nothing else was
created), and serve at the ordinary rate again right after (the recovery phase).

The load is sent by a small HTTP/1.1 client on asyncio streams (keep-alive connections, no
library: httpx would spend more CPU per request than the server and measure itself), spread over
`--senders` processes. A sender that falls behind would report its own lag as the server's
latency, so each request records when it was due, when it was written and when its answer was
read: the latency is counted from the write, the lag (write - due) and the sender's own event
loop lateness are reported apart, with the rate actually offered. The server's CPU seconds per
request (from /proc, independent of the machine's load) give its capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # type: ignore[import-not-found]  # the suite's helpers (servers, seeding)

IMAGE = bench.IMAGE
TRACED_SERVE = Path(__file__).resolve().parent / "traced_serve.py"
# A lag or a loop lateness beyond this and the sender, not the server, may be what is measured.
SENDER_SLACK = 0.005


@dataclass
class Answer:
    kind: str
    status: int  # 0: no answer
    due: float  # perf_counter (CLOCK_MONOTONIC: the same clock in every process)
    written: float
    done: float
    retry_after: str | None = None
    shape_ok: bool = True  # a 503 is text/plain "temporarily unavailable: ..."

    @property
    def seconds(self) -> float:
        """The latency seen on the wire: from the request written to its answer read."""
        return self.done - self.written

    @property
    def lag(self) -> float:
        return self.written - self.due


class Pool:
    """At most `most` keep-alive connections to one host, one request at a time on each (as a
    client's pool): a request due while all are busy waits for one, and that wait is counted
    as the sender's lag, not as the server's latency."""

    def __init__(self, host: str, port: int, most: int = 1) -> None:
        self.host, self.port, self.most = host, port, most
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0  # open now
        self.connects = 0  # opened in all
        self.freed = asyncio.Condition()

    async def connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            await self.freed.wait_for(lambda: bool(self.idle) or self.opened < self.most)
            if self.idle:
                return self.idle.pop()
            self.opened += 1
            self.connects += 1
        try:
            return await asyncio.open_connection(self.host, self.port)
        except OSError:
            await self.release(None)
            raise

    async def release(
        self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
    ) -> None:
        async with self.freed:
            if connection is None:
                self.opened -= 1  # closed: another may be opened in its place
            else:
                self.idle.append(connection)
            self.freed.notify()

    async def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        written: list[float] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        reader, writer = await self.connection()
        kept = False
        try:
            answer = await self._exchange(reader, writer, method, target, headers, body, written)
            kept = answer[1].get("connection", "").lower() != "close"
            return answer
        finally:
            if not kept:
                writer.close()
            await self.release((reader, writer) if kept else None)

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        written: list[float] | None,
    ) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        if written is not None:
            written.append(time.perf_counter())
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
        return status, got, content


@dataclass
class Sent:
    """What one sender brings back from a phase."""

    answers: list[Answer]
    created: list[str]
    deleted: list[str]
    loop_late: list[float]  # how late the sender's own event loop woke, every millisecond
    connections: int
    cpu: float  # the sender's CPU seconds


class Load:
    def __init__(
        self,
        url: str,
        token_header: dict[str, str],
        ids: list[str],
        created: list[str] | None = None,
        deleted: set[str] | None = None,
        connections: int = 1,
    ) -> None:
        parts = urlsplit(url)
        self.pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80, connections)
        self.api = parts.path.rstrip("/") + "/v1"
        self.headers = {"Accept": "application/json", **token_header}
        self.ids = ids
        self.created: list[str] = list(created or [])  # answered 200 to a create
        self.deleted: set[str] = set(deleted or ())
        self.made: list[str] = []  # created in this phase
        self.answers: list[Answer] = []
        self.loop_late: list[float] = []

    async def one(self, kind: str, due: float) -> None:
        method, target, body, extra = self.plan(kind)
        written: list[float] = []
        try:
            status, headers, content = await self.pool.request(
                method, target, {**self.headers, **extra}, body, written
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            now = time.perf_counter()
            self.answers.append(Answer(kind, 0, due, written[0] if written else now, now))
            return
        done = time.perf_counter()
        shape_ok = status != 503 or (
            headers.get("content-type", "").startswith("text/plain")
            and content.startswith(b"temporarily unavailable: ")
        )
        retry = headers.get("retry-after")
        self.answers.append(Answer(kind, status, due, written[0], done, retry, shape_ok))
        if kind == "create" and status == 200:
            self.created.append(content.decode().strip())
            self.made.append(self.created[-1])

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

    async def run(
        self, rate: float, seconds: float, mix: list[str], start: float, share: tuple[int, int]
    ) -> None:
        """Send request n of the whole schedule at `start + n / rate`, for every n of this
        sender's share (n % senders == index), until `seconds` are over."""
        index, senders = share
        watching = asyncio.create_task(self._watch_loop())
        tasks = []
        for n in range(index, int(rate * seconds), senders):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(self.one(mix[n % len(mix)], due)))
        await asyncio.gather(*tasks)
        watching.cancel()

    async def _watch_loop(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.001)
            self.loop_late.append(max(0.0, time.perf_counter() - asked - 0.001))

    def sent(self) -> Sent:
        return Sent(
            self.answers,
            self.made,
            sorted(self.deleted),
            self.loop_late,
            self.pool.connects,
            time.process_time(),
        )

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


@dataclass
class Phase:
    """A phase's answers from every sender, with the server's CPU seconds over it."""

    answers: list[Answer]
    created: list[str]
    deleted: set[str]
    loop_late: list[float]
    connections: int
    sender_cpu: float
    server_cpu: float
    began: float
    ended: float


@dataclass
class Target:
    """The server under load and how it is loaded."""

    url: str
    token_header: dict[str, str]
    ids: list[str]  # the seeded sessions
    senders: int  # processes sending
    connections: int  # at most, over all senders
    pid: int | None  # the server's, for its CPU seconds


def _sender(
    conn: Connection,
    target: Target,
    known: tuple[list[str], set[str]],
    rate: float,
    seconds: float,
    start: float,
    index: int,
) -> None:
    random.seed(index)
    share = (index, target.senders)
    # Deletes pick among the creates of this sender's share of the sessions made so far.
    created = [i for n, i in enumerate(known[0]) if n % target.senders == index]
    most = max(1, target.connections // target.senders)
    load = Load(target.url, target.token_header, target.ids, created, known[1], most)
    asyncio.run(load.run(rate, seconds, MIX, start, share))
    conn.send(load.sent())
    conn.close()


def phase(target: Target, known: tuple[list[str], set[str]], rate: float, seconds: float) -> Phase:
    """`rate` requests/s for `seconds`, sent by the target's sender processes (forked: each has
    the schedule's start on the same monotonic clock). `known`: the sessions created and deleted
    so far."""
    context = multiprocessing.get_context("fork")
    start = time.perf_counter() + 0.3 + 0.05 * target.senders  # every sender started, waiting
    pipes, processes = [], []
    for index in range(target.senders):
        mine, theirs = context.Pipe(duplex=False)
        args = (theirs, target, known, rate, seconds, start, index)
        process = context.Process(target=_sender, args=args)
        process.start()
        pipes.append(mine)
        processes.append(process)
    cpu_before = server_cpu(target.pid)
    results: list[Sent] = [pipe.recv() for pipe in pipes]
    cpu = server_cpu(target.pid) - cpu_before
    for process in processes:
        process.join()
    answers = sorted((a for r in results for a in r.answers), key=lambda a: a.due)
    return Phase(
        answers,
        [i for r in results for i in r.created],
        {i for r in results for i in r.deleted},
        [late for r in results for late in r.loop_late],
        sum(r.connections for r in results),
        sum(r.cpu for r in results),
        cpu,
        start,
        max((a.done for a in answers), default=start),
    )


def server_cpu(pid: int | None) -> float:
    """The CPU seconds (user + system) the process has used so far; 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int | None:
    """The server: this process's child (the only one while the benchmark runs)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                return int(entry.name)
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def summary(answers: list[Answer], name: str) -> str:
    ms = sorted(a.seconds * 1000 for a in answers)
    if not ms:
        return f"{name}: none"
    errors = sum(1 for a in answers if a.status == 0 or (a.status >= 500 and a.status != 503))
    busy = sum(1 for a in answers if a.status == 503)
    return (
        f"{name}: {len(ms)} answers, median {statistics.median(ms):.1f} ms,"
        f" p99 {percentile(ms, 0.99):.1f} ms, max {ms[-1]:.1f} ms; errors {errors}; 503 {busy}"
    )


def sender_report(result: Phase, rate: float, senders: int) -> list[str]:
    """The rate actually offered and how far the senders fell behind their schedule."""
    answers = result.answers
    if not answers:
        return ["  no request sent"]
    written = sorted(a.written for a in answers)
    span = max(written[-1] - result.began, 1e-9)
    lags = [a.lag * 1000 for a in answers]
    late = [x * 1000 for x in result.loop_late]
    behind = max(percentile(lags, 0.99), percentile(late, 0.99)) > SENDER_SLACK * 1000
    return [
        f"  offered: {len(answers) / span:.0f}/s written ({rate:.0f}/s asked) by {senders}"
        f" sender(s) over {result.connections} connections; sender lag (written - due) median"
        f" {statistics.median(lags):.1f} ms, p99 {percentile(lags, 0.99):.1f} ms; sender loop"
        f" late p99 {percentile(late, 0.99):.1f} ms, max {max(late):.1f} ms"
        + (" -- the senders fell behind: add --senders" if behind else ""),
        f"  server CPU {result.server_cpu:.2f} s for {len(answers)} answers"
        f" ({1e6 * result.server_cpu / len(answers):.0f} us each), senders'"
        f" {result.sender_cpu:.2f} s ({1e6 * result.sender_cpu / len(answers):.0f} us each),"
        f" over {result.ended - result.began:.1f} s",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--overload", type=float, default=5000.0, help="requests/s (0: skip)")
    parser.add_argument("--overload-seconds", type=float, default=3.0)
    parser.add_argument("--senders", type=int, default=2, help="load-generating processes")
    parser.add_argument(
        "--connections", type=int, default=256, help="keep-alive connections at most, in all"
    )
    options = parser.parse_args()
    print(f"local platform load: load average at start {bench.load()}")
    with tempfile.TemporaryDirectory(prefix="canfar-load-") as tmp:
        work = Path(tmp)
        env = bench.env_for(work)
        trace_file = work / "trace.json"
        serve = [sys.executable, str(TRACED_SERVE), str(trace_file), "--port", "0"]
        phases: list[tuple[str, Phase]] = []
        with bench.server(serve, env) as url:
            pid = server_pid()
            ids = bench.seed_finished(work, options.sessions, url)
            token = bench.auth(url, work)
            target = Target(url, token, ids, options.senders, options.connections, pid)
            normal = phase(target, ([], set()), options.rate, options.seconds)
            phases.append(("ordinary rate", normal))
            answered = normal.answers
            p99 = percentile([a.seconds * 1000 for a in answered], 0.99)
            print(
                f"{options.rate:.0f} requests/s for {options.seconds:.0f} s with"
                f" {options.sessions} sessions:"
            )
            print("\n".join(sender_report(normal, options.rate, options.senders)))
            print("  " + summary(answered, "all"))
            for kind in dict.fromkeys(MIX):
                print("  " + summary([a for a in answered if a.kind == kind], kind))
            print(
                f"  target: p99 < 50 ms, no error: p99 {p99:.1f} ms -> "
                f"{'met' if p99 < 50 and 'errors 0;' in summary(answered, '') else 'NOT met'}"
            )
            if options.overload:
                time.sleep(2)  # the jobs of the creates above start and end
                known = (normal.created, normal.deleted)
                over = phase(target, known, options.overload, options.overload_seconds)
                # At once, the ordinary rate again: served as before within a second?
                known = (normal.created + over.created, normal.deleted | over.deleted)
                after = phase(target, known, options.rate, 2.0)
                phases += [("overload", over), ("after", after)]
                report_overload(options, over, after)
                everything = [normal, over, after]
                made = {i for p in everything for i in p.created}
                gone = {i for p in everything for i in p.deleted}
                listed = asyncio.run(Load(url, token, ids).listing_ids())
                lost = (made - gone) - listed
                extra = listed - set(ids) - made
                print(
                    f"  creates answered 200: {len(made)}; missing from the listing:"
                    f" {len(lost)}; in the listing but never answered: {len(extra)}"
                )
        report_server_side(json.loads(trace_file.read_text()), phases)
    print(f"load average at the end: {bench.load()}")


def report_server_side(
    trace: list[tuple[int, float, float, float]], phases: list[tuple[str, Phase]]
) -> None:
    """Inside the server, from a request's head parsed to its answer sent: in wall-clock, and
    in the server's CPU seconds (the work ahead of it: its wait on a core of its own)."""
    print("inside the server, from the request parsed to its answer (wall; server CPU):")
    first = phases[0][1]
    ordinary = [t[3] for t in trace if first.began - 0.5 <= t[1] <= first.ended and t[0] != 503]
    if ordinary:
        each = statistics.median(ordinary)
        print(
            f"  capacity: one served request at the ordinary rate takes {each * 1000:.2f} ms of"
            f" server CPU (median): about {1 / each:.0f} requests/s on a core of its own"
        )
    for name, result in phases:
        mine = [t for t in trace if result.began - 0.5 <= t[1] <= result.ended]
        for label, rows in (
            ("served", [t for t in mine if t[0] != 503]),
            ("503", [t for t in mine if t[0] == 503]),
        ):
            if not rows:
                continue
            wall = [t[2] * 1000 for t in rows]
            cpu = [t[3] * 1000 for t in rows]
            print(
                f"  {name}, {label}: {len(rows)}; wall median {statistics.median(wall):.1f} ms,"
                f" p99 {percentile(wall, 0.99):.1f} ms; CPU median {statistics.median(cpu):.1f}"
                f" ms, p99 {percentile(cpu, 0.99):.1f} ms, max {max(cpu):.1f} ms"
            )


def report_overload(options: argparse.Namespace, over: Phase, after: Phase) -> None:
    busy = [a for a in over.answers if a.status == 503]
    served = [a for a in over.answers if a.status != 503]
    seconds = options.overload_seconds
    print(f"{options.overload:.0f} requests/s for {seconds:.0f} s (past capacity):")
    print("\n".join(sender_report(over, options.overload, options.senders)))
    ok = [a for a in served if 200 <= a.status < 300]
    wall = max(over.ended - over.began, 1e-9)
    print(
        f"  served {len(ok) / wall:.0f}/s (2xx), refused {len(busy) / wall:.0f}/s; the server"
        f" busy {100 * over.server_cpu / wall:.0f}% of a core"
    )
    print("  " + summary(served, "served"))
    print("  " + summary(busy, "refused with 503"))
    print(
        f"  503 without Retry-After: {sum(1 for a in busy if not a.retry_after)};"
        f" 503 not text/plain 'temporarily unavailable': {sum(1 for a in busy if not a.shape_ok)}"
    )
    p99_busy = percentile([a.seconds * 1000 for a in busy], 0.99)
    p99_served = percentile([a.seconds * 1000 for a in served], 0.99)
    print(
        f"  target: 503s at once (p99 < 50 ms) {p99_busy:.1f} ms, served bounded (p99 < 250 ms)"
        f" {p99_served:.1f} ms -> "
        + ("met" if busy and p99_busy < 50 and p99_served < 250 else "NOT met")
    )
    print(f"{options.rate:.0f} requests/s again, at once after the overload:")
    first: list[Answer] = []
    for second in (0, 1):
        window = [
            a for a in after.answers if after.began + second <= a.due < after.began + second + 1
        ]
        first = first or window
        print("  " + summary(window, f"second {second + 1}"))
    p99_first = percentile([a.seconds * 1000 for a in first], 0.99)
    refused = sum(1 for a in first if a.status == 503)
    print(
        f"  target: recovered within a second (second 1: p99 < 50 ms, no 503) {p99_first:.1f} ms,"
        f" {refused} 503 -> " + ("met" if p99_first < 50 and not refused else "NOT met")
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
