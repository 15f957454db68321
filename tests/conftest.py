"""Shared fixtures. Every test runs isolated from the user's real settings and state."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CANFAR_VARIABLES = (
    "CANFAR_URL",
    "CANFAR_TOKEN",
    "CANFAR_CERTIFICATE",
    "CANFAR_TIMEOUT",
    "CANFAR_CONCURRENCY",
    "CANFAR_CONFIG_DIR",
    "CANFAR_LOCAL_HOME",
    "CANFAR_LOCAL_USER",
    "CANFAR_LOCAL_CLEANUP",
    "CANFAR_LOCAL_EXPIRY",
    "CANFAR_LOCAL_GRACE",
    "CANFAR_LOCAL_SUPERVISOR_IDLE",
    "CANFAR_LOCAL_CONTEXT",
    "CANFAR_LOCAL_IMAGES",
    "CANFAR_LOCAL_REGISTRY_HOSTS",
    "CANFAR_PLATFORM",
    "CANFAR_CA_BUNDLE",
    "CANFAR_REGISTRY_CADC",
    "CANFAR_REGISTRY_SRCNET",
    "CANFAR_OIDC_ISSUER_SRCNET",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME, config folder and local-platform state folder for each test."""
    for name in CANFAR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CANFAR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CANFAR_LOCAL_HOME", str(tmp_path / "local"))
    # A test's local-platform supervisor (started by its first create) exits 2 s after its last
    # job instead of 30, so a run does not leave dozens of idle ones behind it.
    monkeypatch.setenv("CANFAR_LOCAL_SUPERVISOR_IDLE", "2")
    return tmp_path


# --- the local platform on a loopback socket ------------------------------------------------
#
# `local_server`: a fresh server for the test: `python -m canfar_cli local serve --port 0` in a
#   subprocess, its state in the `isolated` fixture's CANFAR_LOCAL_HOME (tmp_path / "local").
#   Attributes: .url (base URL, "http://127.0.0.1:PORT/skaha"), .home (state folder), .token
#   (None), .user (the user every request acts as), .process (the Popen), .stop().
# `serve_local(**options)`: a factory for more servers, or servers with options:
#   token="T" (Bearer T required), user="name", latency_ms=50, fail_rate=0.3, fail_status=503,
#   drop_rate=0.3, retry_after=1, cleanup_seconds=2 (CANFAR_LOCAL_CLEANUP), grace_seconds=1
#   (CANFAR_LOCAL_GRACE), expiry_seconds=60 (CANFAR_LOCAL_EXPIRY), idle_seconds=2
#   (CANFAR_LOCAL_SUPERVISOR_IDLE), home=Path (default: the isolated state folder, so two
#   servers of one test share their sessions), env={...}.
# `shared_local_server`: one server per test module (own state folder), for stateless tests.
# Teardown of each: the server is killed (state is safe in SQLite), and the supervisor and every
# job process started under its state folder are killed, found through /proc, so no process
# outlives the test.


@dataclass
class LocalServer:
    url: str
    home: Path
    token: str | None
    user: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def stop(self, graceful: bool = False) -> None:
        """Stop the server: SIGKILL by default (fast: state is safe in SQLite at any moment);
        graceful=True sends SIGTERM and waits for its clean exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


def _read_first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first stdout line, waiting at most `timeout` s (polling the pipe, no sleeps)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the local server printed no URL in time")
            if not selector.select(left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the local server exited with {process.wait()}")
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode()


def _platform_pids(home: Path) -> list[int]:
    """The supervisor (`--home HOME` on its command line) and jobs (HOME under HOME) of a
    platform."""
    marker_cmd = str(home).encode()
    marker_env = b"HOME=" + str(home / "sessions").encode() + b"/"
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            if b"canfar_cli.local.supervisor" in cmdline and marker_cmd in cmdline:
                pids.append(int(entry))
                continue
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(marker_env) for item in environ.split(b"\0")):
            pids.append(int(entry))
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def kill_platform_processes(home: Path, timeout: float = 15.0) -> None:
    """SIGKILL the supervisor and every job of the platform at `home` (and their groups), then
    wait."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in _platform_pids(home) if _alive(pid)]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of the local platform survived: {pids}")
        time.sleep(0.02)


def start_local_server(
    tmp_path: Path,
    *,
    home: Path | None = None,
    token: str | None = None,
    user: str | None = None,
    latency_ms: float | None = None,
    fail_rate: float | None = None,
    fail_status: int | None = None,
    drop_rate: float | None = None,
    retry_after: int | None = None,
    cleanup_seconds: float | None = None,
    grace_seconds: float | None = None,
    expiry_seconds: int | None = None,
    idle_seconds: float | None = None,
    env: dict[str, str] | None = None,
) -> LocalServer:
    home = home or Path(os.environ.get("CANFAR_LOCAL_HOME") or tmp_path / "local")
    args = [sys.executable, "-m", "canfar_cli", "local", "serve", "--port", "0"]
    args += ["--home", str(home)]
    options = {
        "--token": token,
        "--user": user,
        "--latency": latency_ms,
        "--fail-rate": fail_rate,
        "--fail-status": fail_status,
        "--drop-rate": drop_rate,
        "--retry-after": retry_after,
    }
    for flag, value in options.items():
        if value is not None:
            args += [flag, str(value)]
    child_env = dict(os.environ)
    if cleanup_seconds is not None:
        child_env["CANFAR_LOCAL_CLEANUP"] = str(cleanup_seconds)
    if grace_seconds is not None:
        child_env["CANFAR_LOCAL_GRACE"] = str(grace_seconds)
    if expiry_seconds is not None:
        child_env["CANFAR_LOCAL_EXPIRY"] = str(expiry_seconds)
    if idle_seconds is not None:
        child_env["CANFAR_LOCAL_SUPERVISOR_IDLE"] = str(idle_seconds)
    child_env.update(env or {})
    stderr_path = tmp_path / f"server-{time.monotonic_ns()}.err"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=child_env
        )
    try:
        url = _read_first_line(process, timeout=60)
    except BaseException:
        process.kill()
        process.wait()
        raise RuntimeError(
            f"local server did not start: {stderr_path.read_text(errors='replace')}"
        ) from None
    import getpass

    return LocalServer(
        url=url,
        home=home,
        token=token,
        user=user or child_env.get("CANFAR_LOCAL_USER") or getpass.getuser(),
        process=process,
        stderr_path=stderr_path,
    )


@pytest.fixture
def serve_local(isolated: Path) -> Iterator[Callable[..., LocalServer]]:
    """Factory of loopback servers: `serve_local(**options) -> LocalServer`.

    Options (all optional): token="T" (then `Authorization: Bearer T` is required),
    user="name", latency_ms=50, fail_rate=0.3, fail_status=503, drop_rate=0.3, retry_after=1,
    cleanup_seconds=2 (CANFAR_LOCAL_CLEANUP), grace_seconds=1 (CANFAR_LOCAL_GRACE),
    expiry_seconds=60 (CANFAR_LOCAL_EXPIRY), idle_seconds=2 (CANFAR_LOCAL_SUPERVISOR_IDLE),
    env={...} (more environment for the server),
    home=Path (default: the isolated CANFAR_LOCAL_HOME, so servers of one test share state).
    Each server is `python -m canfar_cli local serve --port 0` in a subprocess; the returned
    LocalServer has .url ("http://127.0.0.1:PORT/skaha"), .home, .token, .user, .process,
    .stderr_path and .stop(graceful=False). After the test every server is killed, and so are
    the supervisor and every job process started under its state folder (found through /proc).
    """
    servers: list[LocalServer] = []

    def start(**options: Any) -> LocalServer:
        server = start_local_server(isolated, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for home in {server.home for server in servers}:
        kill_platform_processes(home)


@pytest.fixture
def local_server(serve_local: Callable[..., LocalServer]) -> LocalServer:
    """A fresh loopback server for this test: no token, the OS user, state in the isolated
    CANFAR_LOCAL_HOME. Use `.url` as the base URL (`--server`, CANFAR_URL); see serve_local."""
    return serve_local()


@pytest.fixture(scope="module")
def shared_local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One loopback server for a whole test module, for tests that change no state (refusals)."""
    folder = tmp_path_factory.mktemp("shared-local")
    server = start_local_server(folder, home=folder / "local", user="shared")
    yield server
    server.stop()
    kill_platform_processes(server.home)
