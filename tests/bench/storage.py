"""Benchmark of `canfar data` against the local platform's storage (issue 16, "Speed").
Not part of the test suite: it measures and prints, one command, every figure beside its target.

Run from the repository root (after the README's test set-up):

    .venv/bin/python tests/bench/storage.py
    .venv/bin/python tests/bench/storage.py --runs 1 --size-mib 256     # quicker
    .venv/bin/python tests/bench/storage.py --no-official     # without the official client

One `canfar local serve --tls` on loopback serves everything, in a temporary folder, with a
client certificate of its own CA for the user (the official client speaks only HTTPS with a
credential). Side by side against that one server:

- one file of --size-mib (1 GiB) up and down: `canfar data cp` and `curl --upload-file` / `curl -o`
  (same certificate); rates, ours/curl (target ≥ 0.7), and our peak memory (target < 100 MB);
- --files (1,000) files of 4 KiB, `cp -r` up and down: ours and the official client's
  `canfar data cp -r` (canfar==1.5.2, installed in a venv of its own, configured through
  ~/.canfar/config.yaml under a temporary HOME as storage.md §1.2 and sign-in.md §5 describe);
  target: ours at least 3x faster;
- `sync` of that unchanged tree: no transfer, target < 1 s;
- `ls` of a folder of --entries (10,000) entries: target < 1 s.

Each timed figure is the median of --runs runs (--heavy-runs for the big file and the official
client), as the wall time of the whole command, start-up included, as a user waits for it; peak
memory is the largest RSS of our process (wait4).
The machine's load (/proc/loadavg) is printed before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # type: ignore[import-not-found]  # the suite's helpers (servers)

ROOT = Path(__file__).resolve().parents[2]
OURS = [sys.executable, "-m", "canfar_cli"]
OFFICIAL_VERSION = "1.5.2"
DEFAULT_OFFICIAL_VENV = Path.home() / ".cache" / "canfar-bench" / f"canfar-{OFFICIAL_VERSION}"
MIB = 1 << 20


@dataclass
class Run:
    seconds: float
    peak_mb: float
    stdout: bytes
    stderr: bytes


def run(argv: list[str], env: dict[str, str], *, cwd: Path | None = None) -> Run:
    """One successful run of argv: its wall time, its peak RSS (MB), its output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Run(elapsed, usage.ru_maxrss / 1024, out.read(), err.read())
    if process.returncode != 0:
        shown = " ".join(argv[:8])
        raise SystemExit(f"{shown}… exited {process.returncode}:\n{result.stderr.decode()[-800:]}")
    return result


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


@contextlib.contextmanager
def tls_server(state: Path, user: str, env: dict[str, str]) -> Iterator[str]:
    """`canfar local serve --tls` on loopback; yields its skaha URL."""
    argv = [*OURS, "local", "serve", "--port", "0", "--tls", "--home", str(state), "--user", user]
    with bench.server(argv, env) as url:
        yield url


def certificate(state: Path, user: str, path: Path) -> None:
    """A proxy PEM (certificate and key) for `user` from the server's own CA, valid a day."""
    sys.path.insert(0, str(ROOT))
    from canfar_cli.local.signin.ca import LocalCA

    path.write_bytes(bytes(LocalCA.load_or_create(state).issue_client(user, 86400)))
    path.chmod(0o600)


def official_venv(where: Path) -> Path:
    """The official client in a venv of its own (made once, then reused): its `canfar`."""
    program = where / "bin" / "canfar"
    if program.exists():
        return program
    print(f"installing canfar=={OFFICIAL_VERSION} into {where} …", file=sys.stderr)
    where.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run(
        [str(where / "bin" / "pip"), "install", "-q", f"canfar=={OFFICIAL_VERSION}"], check=True
    )
    return program


def official_config(home: Path, base: str, pem: Path) -> None:
    """~/.canfar/config.yaml pointing the official client's `canfar` server (and its `arc`
    storage identifier) at the local server, with the certificate as its CADC credential."""
    folder = home / ".canfar"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        f"""version: 2
active:
  authentication: cadc
  server: canfar
authentication:
  cadc:
    idp: cadc
    mode: x509
    path: {pem}
servers:
  canfar:
    idp: cadc
    uri: ivo://cadc.nrc.ca/skaha
    url: {base}/skaha
    version: v1
    auths: [x509]
    storage:
      arc:
        uri: ivo://cadc.nrc.ca/arc
        url: {base}/arc
"""
    )


def make_tree(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"f{n:05d}.dat").write_bytes(os.urandom(size))


def same_tree(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def median(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


ROWS: list[list[str]] = []


def row(figure: str, value: str, target: str, verdict: bool | None, note: str = "") -> None:
    mark = "" if verdict is None else ("met" if verdict else "MISSED")
    ROWS.append([figure, value, target, mark, note])
    print(f"  {figure}: {value}  (target {target}) {mark} {note}".rstrip(), file=sys.stderr)


def print_rows() -> None:
    header = ["figure", "measured", "target", "", "note"]
    rows = [header, *ROWS]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for n, line in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


@dataclass
class Bench:
    """What every part of the benchmark needs: options, folders, commands, environments."""

    options: argparse.Namespace
    work: Path
    data: Path
    user: str
    base: str
    pem: Path
    ca: Path
    env: dict[str, str]  # for curl and the official client (no canfar settings)
    ours_env: dict[str, str]
    ours: list[str]  # `python -m canfar_cli --server URL --cert PEM data`

    @property
    def arc_home(self) -> Path:
        return self.work / "local" / "home" / self.user

    @property
    def curl(self) -> list[str]:
        return ["curl", "-sS", "--fail", "--cacert", str(self.ca), "--cert", str(self.pem)]

    def mine(self, *args: str) -> Run:
        return run([*self.ours, *args], self.ours_env)


def bench_big(b: Bench) -> None:
    """One big file up and down, against curl, and our peak memory."""
    big = b.data / "big.bin"
    block = os.urandom(MIB)
    with open(big, "wb") as handle:
        for _ in range(b.options.size_mib):
            handle.write(block)
    files_url = f"{b.base}/arc/files/home/{b.user}"
    up, up_curl, down, down_curl = [], [], [], []
    for n in range(b.options.heavy_runs):
        up.append(b.mine("cp", str(big), f"arc:~/big-{n}.bin"))
        up_curl.append(
            run([*b.curl, "--upload-file", str(big), f"{files_url}/curl-{n}.bin"], b.env)
        )
        down.append(b.mine("cp", f"arc:~/big-{n}.bin", str(b.data / f"down-{n}.bin")))
        target = str(b.data / f"curl-{n}.bin")
        down_curl.append(run([*b.curl, "-o", target, f"{files_url}/big-{n}.bin"], b.env))
        for name in (f"down-{n}.bin", f"curl-{n}.bin"):
            (b.data / name).unlink()
        for name in (f"big-{n}.bin", f"curl-{n}.bin"):
            (b.arc_home / name).unlink()
    mb = big.stat().st_size / 1e6
    big.unlink()
    for label, mine, theirs in (("up", up, up_curl), ("down", down, down_curl)):
        rate, base_rate = mb / median(mine), mb / median(theirs)
        row(
            f"{b.options.size_mib} MiB {label}: ours vs curl",
            f"{rate:.0f} vs {base_rate:.0f} MB/s = {rate / base_rate:.2f}x",
            ">= 0.7x",
            rate / base_rate >= 0.7,
        )
        peak = max(r.peak_mb for r in mine)
        row(f"{b.options.size_mib} MiB {label}: our peak memory", f"{peak:.0f} MB", "< 100 MB",
            peak < 100)  # fmt: skip


def bench_small(b: Bench, small: Path, official: Path | None) -> None:
    """Many small files, cp -r up and down, against the official client."""
    mine_up, mine_down = [], []
    for n in range(b.options.runs):
        mine_up.append(b.mine("cp", "-r", str(small), f"arc:~/small-{n}"))
        mine_down.append(b.mine("cp", "-r", f"arc:~/small-{n}", str(b.data / f"back-{n}")))
        assert same_tree(small, b.data / f"back-{n}"), "a downloaded tree differs"
    label = f"{b.options.files} x 4 KiB cp -r"
    if official is None:
        for direction, mine in (("up", mine_up), ("down", mine_down)):
            row(f"{label} {direction}: ours", f"{median(mine):.2f} s", "(official skipped)", None)
        return
    official_home = b.work / "official-home"
    official_config(official_home, b.base, b.pem)
    env = {**b.env, "HOME": str(official_home), "SSL_CERT_FILE": str(b.ca)}
    theirs_up, theirs_down = [], []
    for n in range(b.options.heavy_runs):
        remote = f"arc:/home/{b.user}/official-{n}"
        back = b.data / f"official-back-{n}"
        theirs_up.append(run([str(official), "data", "cp", "-r", f"local:{small}", remote], env))
        theirs_down.append(run([str(official), "data", "cp", "-r", remote, f"local:{back}"], env))
        assert same_tree(small, back), "the official client's tree differs"
    for direction, mine, theirs in (("up", mine_up, theirs_up), ("down", mine_down, theirs_down)):
        speedup = median(theirs) / median(mine)
        row(
            f"{label} {direction}: ours vs official {OFFICIAL_VERSION}",
            f"{median(mine):.2f} s vs {median(theirs):.2f} s = {speedup:.1f}x faster",
            ">= 3x faster",
            speedup >= 3,
        )


def bench_sync_and_ls(b: Bench, small: Path) -> None:
    """The floor (start-up and one request), sync of an unchanged tree, ls of a big folder."""
    runs = b.options.runs
    b.mine("mkdir", "arc:~/empty")
    floor = median([b.mine("ls", "arc:~/empty") for _ in range(runs)])
    row("floor: ls of an empty folder", f"{floor:.2f} s", "", None, "start-up + 1 request")

    syncs = [b.mine("sync", str(small), "arc:~/small-0") for _ in range(runs)]
    said = syncs[-1].stderr.decode().strip().splitlines()[-1:]
    moved = any("copied" in line for line in said)
    row(
        f"sync of an unchanged {b.options.files}-file tree",
        f"{median(syncs):.2f} s",
        "< 1 s, no transfer",
        median(syncs) < 1 and not moved,
        note=f"said: {said[0] if said else '(nothing)'}",
    )

    many = b.arc_home / "many"  # written as a session would, through the folder itself
    many.mkdir()
    for n in range(b.options.entries):
        (many / f"entry-{n:05d}.txt").write_bytes(b"x")
    listings = [b.mine("ls", "arc:~/many") for _ in range(runs)]
    lines = listings[-1].stdout.count(b"\n")
    row(
        f"ls of a {b.options.entries}-entry folder",
        f"{median(listings):.2f} s",
        "< 1 s",
        median(listings) < 1 and lines == b.options.entries,
        note=f"{lines} lines",
    )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the quick figures (median)")
    parser.add_argument(
        "--heavy-runs", type=int, default=1, help="runs of the big file and the official client"
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="the big file, MiB")
    parser.add_argument("--files", type=int, default=1000, help="files of 4 KiB for cp -r")
    parser.add_argument("--entries", type=int, default=10000, help="entries of the ls folder")
    parser.add_argument("--official-venv", type=Path, default=DEFAULT_OFFICIAL_VENV)
    parser.add_argument("--no-official", action="store_true", help="skip the official client")
    parser.add_argument("--skip-big", action="store_true", help="skip the big file")
    return parser.parse_args()


def main() -> None:
    options = arguments()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed (the baseline of the big file)")
    official = None if options.no_official else official_venv(options.official_venv)

    print(f"load before: {loadavg()}  ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="canfar-bench-storage-") as scratch:
        work = Path(scratch)
        home, state, data = work / "home", work / "local", work / "data"
        for folder in (home, data):
            folder.mkdir()
        user = getpass.getuser()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CANFAR_") and k not in ("PYTHONDONTWRITEBYTECODE", "NO_COLOR")
        }
        env.update(
            HOME=str(home),
            CANFAR_LOCAL_HOME=str(state),
            CANFAR_CONFIG_DIR=str(work / "config"),
            CANFAR_CACHE_DIR=str(work / "cache"),
            NO_COLOR="1",
        )
        with tls_server(state, user, env) as url:
            base = url.removesuffix("/skaha")
            ca = state / "ca" / "ca.pem"
            pem = home / ".ssl" / "cadcproxy.pem"
            pem.parent.mkdir()
            certificate(state, user, pem)
            ours_env = {
                **env,
                "CANFAR_CA_BUNDLE": str(ca),
                "CANFAR_REGISTRY_CADC": f"{base}/reg/cadc/resource-caps",
                "CANFAR_REGISTRY_SRCNET": f"{base}/reg/srcnet/resource-caps",
            }
            ours = [*OURS, "--server", url, "--cert", str(pem), "data"]
            b = Bench(options, work, data, user, base, pem, ca, env, ours_env, ours)
            b.mine("mkdir", "-p", "arc:~")  # the home exists from here on
            if not options.skip_big:
                bench_big(b)
            small = data / "small"
            make_tree(small, options.files, 4096)
            bench_small(b, small, official)
            bench_sync_and_ls(b, small)
    print(f"load after: {loadavg()}")
    print()
    print_rows()


if __name__ == "__main__":
    main()
