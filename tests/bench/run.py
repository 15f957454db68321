"""Benchmarks of canfar-cli against the local platform (issues 5 and 19). Not part of the tests.

Run from the repository root (after the README's test set-up):

    .venv/bin/python tests/bench/run.py            # every figure, 5 runs each
    .venv/bin/python tests/bench/run.py --runs 9 --only startup,ps,info
    .venv/bin/python tests/bench/run.py --official /path/to/official/venv/bin/canfar
    .venv/bin/python tests/bench/run.py --only startup,ps,info --baseline ../old/.venv/bin/python
    .venv/bin/python tests/bench/load.py           # the local platform under load (its own script)

Each figure is run several times and reported as median, min and max, with the floor or the ideal
beside it and the target. Every command runs as `PYTHON -P -m canfar_cli` from a neutral working
folder, so each side imports its own code (the header prints each side's canfar_cli.__file__).
With --baseline PYTHON (another checkout's venv: `git worktree add ../old b5d4249`, then its own
venv), `--help`, `ps --help`, `ps -a -o json` and `info ID` are run on both sides by turns, run by
run; the ratio ours/baseline is the median of the per-pair ratios. With --official CANFAR (the
official client's `canfar`, from `python -m venv ../official && ../official/bin/pip install
canfar`), `--help`, `ps -a -o json` and the per-id batches are run beside it the same way (it
gets the server and token as CANFAR_URL and CANFAR_TOKEN, and a home of its own). Servers are
started by the script itself on loopback, each with its own state folder, and stopped at the end.
Nothing here asserts: it measures and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
WATCHED_SERVER = ROOT / "tests" / "support" / "watched_server.py"
IMAGE = "images.canfar.net/skaha/terminal:1.1.1"
BIN = Path(sys.executable).parent
CANFAR = (
    [str(BIN / "canfar")] if (BIN / "canfar").exists() else [sys.executable, "-m", "canfar_cli"]
)
# Beside a baseline both sides start the same way, `PYTHON -P -m canfar_cli` from a neutral
# working folder (NEUTRAL): -P and the folder keep the checkout the script was started from off
# sys.path, so each side imports its own code (the report prints each side's canfar_cli.__file__).
OURS = [sys.executable, "-P", "-m", "canfar_cli"]
NEUTRAL = Path(tempfile.mkdtemp(prefix="canfar-bench-cwd-"))


def side(python: str) -> list[str]:
    return [python, "-P", "-m", "canfar_cli"]


def code_of(python: str) -> str:
    """The canfar_cli that `python` imports from the neutral folder (its __file__)."""
    done = subprocess.run(
        [python, "-P", "-c", "import canfar_cli; print(canfar_cli.__file__)"],
        cwd=NEUTRAL,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or done.stderr.strip()[-200:]


@dataclass
class Figure:
    name: str
    samples: list[float]  # seconds
    reference: str = ""  # the floor or the ideal, as text
    target: str = ""
    note: str = ""
    ratio: float | None = None  # ours / baseline, median of per-pair ratios

    def row(self) -> list[str]:
        ms = [s * 1000 for s in self.samples]
        return [
            self.name,
            f"{statistics.median(ms):.0f}",
            f"{min(ms):.0f}",
            f"{max(ms):.0f}",
            self.reference,
            self.target,
            self.note,
            f"{self.ratio:.2f}" if self.ratio is not None else "",
        ]


def print_table(figures: list[Figure]) -> None:
    header = ["figure", "median ms", "min", "max", "floor / ideal", "target", "note", "ours/base"]
    rows = [header, *(f.row() for f in figures)]
    if all(f.ratio is None for f in figures):
        rows = [row[:-1] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def env_for(home: Path, **extra: str) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every run compile the package from source (~30 ms):
    # users' installs have bytecode, so the benchmark must too.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CANFAR_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        CANFAR_LOCAL_HOME=str(home / "local"),
        CANFAR_CONFIG_DIR=str(home / "config"),
        CANFAR_LOCAL_CLEANUP="86400",
        NO_COLOR="1",
        **extra,
    )
    return env


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """The wall time of one successful run of argv."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=NEUTRAL
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… failed: {done.stderr.decode()[-500:]}")
    return elapsed


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall times of `runs` runs, after one untimed warm-up run (bytecode, page cache)."""
    return [run_once(argv, env) for _ in range(runs + 1)][1:]


def timed_pair(
    ours: list[str],
    theirs: list[str],
    env: dict[str, str],
    runs: int,
    theirs_env: dict[str, str] | None = None,
) -> tuple[list[float], list[float], float]:
    """Both commands run by turns (who goes first alternates), after one warm-up each: their
    wall times, and the median of the per-pair ratios ours/theirs (a shared machine's load
    shifts both sides of a pair alike)."""
    mine: list[float] = []
    base: list[float] = []
    for n in range(runs + 1):
        turns = [(ours, mine, env), (theirs, base, theirs_env or env)]
        for argv, samples, environment in turns if n % 2 else turns[::-1]:
            samples.append(run_once(argv, environment))
    mine, base = mine[1:], base[1:]
    return mine, base, statistics.median(a / b for a, b in zip(mine, base, strict=True))


def compared(
    name: str,
    ours: list[str],
    theirs: list[str],
    env: dict[str, str],
    runs: int,
    label: str = "baseline",
    theirs_env: dict[str, str] | None = None,
    **fields: str,
) -> list[Figure]:
    """A figure of ours (with its ratio to theirs) and theirs, timed by turns."""
    mine, base, ratio = timed_pair(ours, theirs, env, runs, theirs_env)
    return [
        Figure(f"{name} [ours]", mine, ratio=ratio, **fields),
        Figure(f"{name} [{label}]", base),
    ]


@contextlib.contextmanager
def server(argv: list[str], env: dict[str, str]) -> Iterator[str]:
    """A server process that prints its base URL first; stopped (and its jobs with it) at exit.
    Its stderr (notices such as where its token is) is kept aside, shown only if it fails."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=log
        )
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url.startswith("http"):
            process.kill()
            process.wait()
            log.seek(0)
            raise SystemExit(f"server did not start: {argv}\n{log.read().decode()[-500:]}")
        try:
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def local_serve(env: dict[str, str], *flags: str) -> contextlib.AbstractContextManager[str]:
    return server([*CANFAR, "local", "serve", "--port", "0", *flags], env)


def watched_serve(env: dict[str, str], latency_ms: int) -> contextlib.AbstractContextManager[str]:
    return server([sys.executable, str(WATCHED_SERVER), str(latency_ms)], env)


def auth(url: str, home: Path) -> dict[str, str]:
    """The header a raw client needs for the `canfar local serve` at `url` (its state folder is
    `home / "local"`, as env_for sets it): the token it recorded, as canfar itself finds it."""
    from canfar_cli.serve_tokens import find_token

    token = find_token(url, home / "local")
    return {"Authorization": f"Bearer {token}"} if token else {}


def watch(url: str) -> dict[str, Any]:
    import httpx

    return httpx.get(url.rsplit("/skaha", 1)[0] + "/__watch", timeout=60).json()


def seed_finished(home: Path, count: int, url: str) -> list[str]:
    """`count` Completed headless sessions, written straight into the platform's store.

    One real session is created over HTTP (so the row has exactly the shape the app writes) and
    cloned under fresh ids: thousands of real jobs would measure process start-up, not the CLI.
    """
    import httpx

    from canfar_cli.local import skaha
    from canfar_cli.local.store import Store

    response = httpx.post(
        f"{url}/v1/session",
        data={"name": "seed", "image": IMAGE, "cmd": "true"},
        headers=auth(url, home),
        timeout=60,
    )
    response.raise_for_status()
    first = response.text.strip()
    store = Store(home / "local")
    deadline = time.monotonic() + 60
    while (store.get(first) or {"status": "gone"})["status"] not in ("Completed", "Failed"):
        if time.monotonic() > deadline:
            raise SystemExit("the seed job did not finish")
        time.sleep(0.05)
    seed = store.get(first)
    assert seed is not None, "the seed job's row is gone"
    template = dict(seed)
    ids = [first]
    with store.transaction() as db:
        for n in range(count - 1):
            row = dict(template, id=skaha.new_session_id(), name=f"seed-{n}")
            row.update(runner_pid=None, job_pid=None, created=template["created"] + n * 1e-3)
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            db.execute(
                f"INSERT OR IGNORE INTO sessions ({columns}) VALUES ({marks})", tuple(row.values())
            )
            ids.append(row["id"])
    store.close()
    return ids


# --- the figures ---------------------------------------------------------------------------


def bench_startup(
    work: Path, runs: int, official: str | None = None, baseline: str | None = None
) -> list[Figure]:
    env = env_for(work)
    # A TAB with the shipped bash script: it never starts Python. Timed as a fresh bash that
    # sources the script and answers `canfar p<TAB>` (so bash's own start-up is included).
    tab = [
        "bash",
        "--norc",
        "--noprofile",
        "-c",
        f"source {ROOT / 'completions' / 'canfar.bash'}; COMP_WORDS=(canfar p); COMP_CWORD=1;"
        " _canfar",
    ]
    floor = timed([sys.executable, "-c", "pass"], env, runs)
    python = f"{statistics.median(floor) * 1000:.0f} (python)"
    figures = [Figure("python -c pass", floor, note="the interpreter alone")]
    for args in (["--help"], ["ps", "--help"]):
        name = " ".join(["canfar", *args])
        if baseline:
            figures += compared(
                name,
                [*OURS, *args],
                [*side(baseline), *args],
                env,
                runs,
                reference=python,
                target="<= 0.80x baseline",
            )
        else:
            figures.append(Figure(name, timed([*OURS, *args], env, runs), python, "<= 100"))
    if official:
        figures += compared(
            "canfar --help",
            [*OURS, "--help"],
            [official, "--help"],
            env,
            runs,
            label="official",
            theirs_env=official_env(env, work),
            reference=python,
            target="<= 0.25x official",
        )
    figures += [
        Figure(
            "TAB in bash (static script)",
            timed(tab, env, runs),
            "",
            "<= 60",
            "fresh bash: source + one _canfar",
        ),
    ]
    return figures


def official_env(env: dict[str, str], work: Path, url: str = "", token: str = "") -> dict[str, str]:
    """The official client's environment: a home of its own (no config of the user's), and the
    server and token as its CANFAR_URL and CANFAR_TOKEN (it wants the URL with /v1)."""
    home = work / "official-home"
    home.mkdir(exist_ok=True)
    extra = {"HOME": str(home)}
    if url:
        extra["CANFAR_URL"] = url.rstrip("/") + "/v1"
    if token:
        extra["CANFAR_TOKEN"] = token
    return {**env, **extra}


# The floor of `ps -o json`: the interpreter, httpx (without its optional command line, which
# canfar keeps out too), and one loopback GET of the listing.
# The token comes in the environment (BENCH_AUTHORIZATION), as canfar finds it in a file.
FLOOR_SCRIPT = (
    "import os, sys; sys.modules['httpx._main'] = None; import httpx;"
    " auth = os.environ.get('BENCH_AUTHORIZATION');"
    " headers = {'Accept': 'application/json', **({'Authorization': auth} if auth else {})};"
    " httpx.get(sys.argv[1] + '/v1/session', headers=headers).raise_for_status()"
)


def floor_env(env: dict[str, str], url: str, home: Path) -> dict[str, str]:
    return {**env, "BENCH_AUTHORIZATION": auth(url, home).get("Authorization", "")}


def bench_ps(
    work: Path, runs: int, baseline: str | None = None, official: str | None = None
) -> list[Figure]:
    """`ps -a -o json` of 3 sessions. Beside a baseline both sides ask one server of ours, served
    without a token (--no-auth): the baseline predates tokens and could not send one. Beside
    the official client, a server with a token, given to it as CANFAR_TOKEN."""
    env = env_for(work)
    name, args = "ps -a -o json (3 sessions)", ["ps", "-a", "-o", "json"]
    figures: list[Figure] = []
    with local_serve(env) as url:
        seed_finished(work, 3, url)
        floor = timed([sys.executable, "-c", FLOOR_SCRIPT, url], floor_env(env, url, work), runs)
        reference = f"{statistics.median(floor) * 1000:.0f} (python+httpx+GET)"
        ours = [*OURS, "--server", url, *args]
        if official:
            token = auth(url, work).get("Authorization", "").removeprefix("Bearer ")
            figures += compared(
                name,
                ours,
                [official, *args],
                env,
                runs,
                label="official",
                theirs_env=official_env(env, work, url, token),
                reference=reference,
                target="<= 0.40x official",
            )
        else:
            figures.append(Figure(name, timed(ours, env, runs), reference, "<= 120"))
    if baseline:
        home = work / "no-auth"
        env = env_for(home)
        with local_serve(env, "--no-auth") as url:
            seed_finished(home, 3, url)
            theirs = [*side(baseline), "--server", url, *args]
            figures += compared(
                name,
                [*OURS, "--server", url, *args],
                theirs,
                env,
                runs,
                target="<= 0.95x baseline",
            )
    return figures


def bench_info(work: Path, runs: int, baseline: str | None = None) -> list[Figure]:
    """`info -o json ID` against a server 100 ms away (the watched server, which needs no token):
    one request, so about 100 ms over the start-up."""
    env = env_for(work)
    with watched_serve(env, 0) as seed_url:
        [session_id] = seed_finished(work, 1, seed_url)
    with watched_serve(env, 100) as url:
        ours = [*OURS, "--server", url, "info", "-o", "json", session_id]
        if baseline:
            theirs = [*side(baseline), "--server", url, "info", "-o", "json", session_id]
            figures = compared(
                "info -o json ID (100 ms away)",
                ours,
                theirs,
                env,
                runs,
                target="<= 0.95x baseline",
            )
        else:
            figures = [Figure("info -o json ID (100 ms away)", timed(ours, env, runs))]
        counts = []
        for argv in [ours, theirs] if baseline else [ours]:
            before = len(watch(url)["seen"])
            run_once(argv, env)
            counts.append(str(len(watch(url)["seen"]) - before))
        figures[0].note = (
            "requests per run: " + " (ours), ".join(counts) + (" (baseline)" if baseline else "")
        )
    return figures


def bench_listing(work: Path, runs: int, count: int = 5000) -> list[Figure]:
    env = env_for(work)
    figures = []
    with local_serve(env) as url:
        seed_finished(work, count, url)
        floor = timed([sys.executable, "-c", FLOOR_SCRIPT, url], floor_env(env, url, work), runs)
        reference = f"{statistics.median(floor) * 1000:.0f} (python+httpx+GET)"
        for output, target in (("json", "< 500"), ("table", "< 2000")):
            argv = [*CANFAR, "--server", url, "ps", "-a", "-o", output]
            samples = timed(argv, env, runs)
            rss = max_rss_mb(argv, env)
            figures.append(
                Figure(
                    f"ps -a -o {output} ({count})",
                    samples,
                    reference,
                    target,
                    f"max RSS {rss:.0f} MB",
                )
            )
        small = [*CANFAR, "--server", url, "ps", "-a", "-o", "json", "--name", "seed-1"]
        figures.append(
            Figure(
                "ps -a --name seed-1 (1 of 5000)",
                timed(small, env, runs),
                reference,
                note=f"max RSS {max_rss_mb(small, env):.0f} MB",
            )
        )
    return figures


def max_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of one run of argv (Linux: ru_maxrss in KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024


def ideal(n: int, concurrency: int, latency: float, extra_rounds: int = 0) -> float:
    return (math.ceil(n / concurrency) + extra_rounds) * latency


def bench_batches(
    work: Path,
    runs: int,
    latency_ms: int = 100,
    concurrency: int = 100,
    official: str | None = None,
) -> list[Figure]:
    from canfar_cli import AsyncSession

    latency = latency_ms / 1000
    figures: list[Figure] = []

    def fig(name: str, samples: list[float], n: int, step: str, extra_rounds: int = 0) -> Figure:
        best = ideal(n, concurrency, latency, extra_rounds)
        ratio = statistics.median(samples) / best
        return Figure(
            name,
            samples,
            f"{best * 1000:.0f} (ideal)",
            "<= 1.3x ideal",
            f"{ratio:.2f}x ideal, peak in flight {max(peaks[step])} (bound {concurrency}),"
            f" {statistics.median(requests[step]):.0f} requests",
        )

    for runner in ("library", "cli"):
        lib: dict[str, list[float]] = {"info": [], "create": [], "rm": []}
        peaks: dict[str, list[int]] = {"info": [], "create": [], "rm": []}
        requests: dict[str, list[int]] = {"info": [], "create": [], "rm": []}
        for run in range(runs):
            home = work / f"batch-{runner}-{run}"
            env = env_for(home)
            with watched_serve(env, 0) as seed_url:
                ids = seed_finished(home, 500, seed_url)
            with watched_serve(env, latency_ms) as url:
                seen = 0
                for step in ("info", "create", "rm"):
                    start = time.perf_counter()
                    if runner == "library":
                        asyncio.run(library_step(AsyncSession, url, concurrency, step, ids))
                    else:
                        cli_step(url, concurrency, step, ids, env)
                    lib[step].append(time.perf_counter() - start)
                    wire = watch(url)
                    peaks[step].append(wire["peak"])  # the peak so far
                    requests[step].append(len(wire["seen"]) - seen)
                    seen = len(wire["seen"])
        figures += [
            # The ideal of one request per id; canfar answers a batch this large from one listing.
            fig(f"{runner}: info of 500 ids", lib["info"], 500, "info"),
            fig(f"{runner}: create replicas=200", lib["create"], 200, "create"),
            # rm looks first: one listing round before the deletes.
            fig(f"{runner}: rm of 500 ids", lib["rm"], 500, "rm", extra_rounds=1),
        ]
    return figures


def bench_per_id(
    work: Path,
    runs: int,
    official: str | None = None,
    latency_ms: int = 100,
    concurrency: int = 100,
) -> list[Figure]:
    """`logs` and `info` of 500 ids that the listing cannot serve (the watched server answers
    the listing with [] under WATCH_UNLISTED=1), ours and the official client's by turns: one
    request per id at the bound, against the ideal of 500/bound rounds of the latency."""
    home = work / "per-id"
    env = env_for(home)
    with watched_serve(env, 0) as seed_url:
        ids = seed_finished(home, 500, seed_url)
    best = ideal(len(ids), concurrency, latency_ms / 1000)
    figures: list[Figure] = []
    with watched_serve({**env, "WATCH_UNLISTED": "1"}, latency_ms) as url:
        for command in ("info", "logs"):
            ours = [*OURS, "--server", url, "--concurrency", str(concurrency), command, *ids]
            name = f"cli: {command} of 500 ids the listing cannot serve"
            if official:
                theirs = [official, command, *ids]
                pair = compared(
                    name,
                    ours,
                    theirs,
                    env,
                    runs,
                    label="official",
                    theirs_env=official_env(env, home, url, "bench"),
                    reference=f"{best * 1000:.0f} (ideal)",
                    target="<= 1.5x ideal; <= 0.71x official",
                )
            else:
                pair = [
                    Figure(
                        name, timed(ours, env, runs), f"{best * 1000:.0f} (ideal)", "<= 1.5x ideal"
                    )
                ]
            before = len(watch(url)["seen"])
            run_once(ours, env)
            sent = len(watch(url)["seen"]) - before
            ours_ms = statistics.median(pair[0].samples)
            note = f"{ours_ms / best:.2f}x ideal, {sent} requests"
            # The API needs a look-up beside each log (an unknown id's log is an empty 200):
            # twice the requests through the same bound, so twice the rounds at best.
            paths = [f"/v1/session/{i}" for i in ids]
            if command == "logs":
                paths += [f"/v1/session/{i}?view=logs" for i in ids]
                at_best = ideal(len(paths), concurrency, latency_ms / 1000)
                note += f"; 2 per id at the bound: {at_best * 1000:.0f} ms at best"
            # The same per-id GETs from the leanest client, in this process (no start-up, no
            # listing): what this server on these cores allows before any cost of canfar's.
            floor = Figure(
                f"cli: {command} of 500 ids [floor: raw asyncio client, {len(paths)} GETs]",
                [timed_gets(url, paths, concurrency) for _ in range(runs)],
                note="the server and machine's own limit; canfar adds start-up and its CPU",
            )
            note += f"; {ours_ms / statistics.median(floor.samples):.2f}x the raw client"
            pair[0].note = note
            figures += [*pair, floor]
    return figures


# The floor of a per-id batch on this machine: the same GETs as canfar sends, at the same bound,
# from the leanest client Python has (asyncio streams, HTTP/1.1 keep-alive, nothing parsed beyond
# the body's length). Against a server sharing the machine's cores, this is what the server and the
# machine allow before any client cost: it separates canfar's overhead from the test bed's.
async def raw_gets(url: str, paths: list[str], bound: int) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    waiting = list(reversed(paths))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while waiting:
                path = waiting.pop()
                writer.write(
                    f"GET {parts.path}{path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    "Accept: */*\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"GET {path}: {head.splitlines()[0]!r}")
                pairs = (line.partition(b":") for line in head.split(b"\r\n")[1:])
                fields = {name.strip().lower(): value.strip() for name, _, value in pairs}
                if fields.get(b"transfer-encoding") == b"chunked":  # a log is streamed
                    while size := int(await reader.readuntil(b"\r\n"), 16):
                        await reader.readexactly(size + 2)
                    await reader.readuntil(b"\r\n")
                else:
                    await reader.readexactly(int(fields.get(b"content-length", b"0")))
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(min(bound, len(paths)))))


def timed_gets(url: str, paths: list[str], bound: int) -> float:
    """Seconds for every GET of `paths` (each under `url`) with at most `bound` in flight."""
    start = time.perf_counter()
    asyncio.run(raw_gets(url, paths, bound))
    return time.perf_counter() - start


async def library_step(cls: Any, url: str, concurrency: int, step: str, ids: list[str]) -> None:
    async with cls(server=url, concurrency=concurrency) as session:
        if step == "info":
            results = await session.info(ids)
            assert len(results) == len(ids)
        elif step == "create":
            created = await session.create("bench", IMAGE, cmd="true", replicas=200)
            assert len(created) == 200
        else:
            removed = await session.destroy(ids)
            assert all(removed.values()), "some sessions were not removed"


def cli_step(url: str, concurrency: int, step: str, ids: list[str], env: dict[str, str]) -> None:
    base = [*CANFAR, "--server", url, "--concurrency", str(concurrency)]
    if step == "info":
        argv = [*base, "info", "-o", "json", *ids]
    elif step == "create":
        argv = [*base, "create", "headless", IMAGE, "-n", "bench", "-r", "200", "--", "true"]
    else:
        argv = [*base, "rm", "-f", *ids]
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)


def bench_throughput(work: Path, runs: int, rate: int = 200, seconds: float = 5.0) -> list[Figure]:
    """Mixed GETs at a fixed arrival rate; every answer must be a 2xx."""
    import httpx

    env = env_for(work)
    figures = []
    with local_serve(env) as url:
        ids = seed_finished(work, 50, url)
        headers = auth(url, work)
        paths = ["/v1/session", "/v1/context", "/v1/image", "/v1/session?view=stats"]
        paths += [f"/v1/session/{i}" for i in ids[:10]]
        paths += [f"/v1/session/{i}?view=events" for i in ids[:5]]

        async def load() -> tuple[list[float], int, float]:
            latencies: list[float] = []
            errors = 0
            total = int(rate * seconds)
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

                async def one(path: str) -> None:
                    nonlocal errors
                    start = time.perf_counter()
                    try:
                        response = await client.get(path)
                        if response.status_code >= 300:
                            errors += 1
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append(time.perf_counter() - start)

                began = time.perf_counter()
                tasks = []
                for n in range(total):
                    await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
                    tasks.append(asyncio.create_task(one(paths[n % len(paths)])))
                await asyncio.gather(*tasks)
                achieved = total / (time.perf_counter() - began)
            return latencies, errors, achieved

        for _ in range(max(1, runs // 2)):
            latencies, errors, achieved = asyncio.run(load())
            p99 = sorted(latencies)[int(len(latencies) * 0.99)]
            figures.append(
                Figure(
                    f"local platform: {rate} req/s mixed GETs, {seconds:.0f} s",
                    latencies,
                    f"{achieved:.0f} req/s achieved",
                    "no error",
                    f"{errors} errors of {len(latencies)}; p99 {p99 * 1000:.0f} ms",
                )
            )
    return figures


BENCHES: dict[str, Callable[..., list[Figure]]] = {
    "startup": bench_startup,
    "ps": bench_ps,
    "info": bench_info,
    "listing": bench_listing,
    "batches": bench_batches,
    "per_id": bench_per_id,
    "throughput": bench_throughput,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument(
        "--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES)
    )
    parser.add_argument("--official", help="the official CANFAR CLI's `canfar`, timed beside ours")
    parser.add_argument(
        "--baseline",
        metavar="PYTHON",
        help="another checkout's venv python: start-up and ps timed by turns with ours, as ratios",
    )
    options = parser.parse_args()
    print(
        f"canfar-cli benchmarks: {platform.node()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}, {platform.platform()}, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(f"ours: {code_of(sys.executable)} (run as `{sys.executable} -P -m canfar_cli`)")
    if options.baseline:
        print(
            f"baseline: {code_of(options.baseline)} (run as `{options.baseline} -P -m canfar_cli`)"
        )
    if options.official:
        print(f"official: {options.official}")
    print(f"load average at start: {load()}\n")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="canfar-bench-") as tmp:
        for name in options.only.split(","):
            work = Path(tmp) / name
            work.mkdir()
            if name == "startup":
                figures += bench_startup(work, options.runs, options.official, options.baseline)
            elif name == "ps":
                figures += bench_ps(work, options.runs, options.baseline, options.official)
            elif name == "info":
                figures += bench_info(work, options.runs, options.baseline)
            elif name == "batches":
                figures += bench_batches(work, options.runs, official=options.official)
            elif name == "per_id":
                figures += bench_per_id(work, options.runs, official=options.official)
            else:
                figures += BENCHES[name](work, options.runs)
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(figures)
    print(f"\nload average at the end: {load()}")


def load() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


if __name__ == "__main__":
    main()
