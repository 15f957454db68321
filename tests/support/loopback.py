"""The local platform on a loopback socket for tests, and the clean-up of its processes.

`start_local_server(folder, **options)` runs `python -m canfar_cli local serve --port 0` in a
subprocess and returns a `LocalServer` once it has printed its URL. `kill_platform_processes(home)`
kills the supervisor and every job started under a state folder (found through /proc), so no
process outlives a test.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import TEST_SETTINGS
from .forkserver import FORKS, ForkedServer


@dataclass
class LocalServer:
    url: str
    home: Path
    token: str | None
    user: str
    process: subprocess.Popen[bytes] | ForkedServer
    stderr_path: Path

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header this server needs (none for a --no-auth server)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

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


def read_first_line(process: subprocess.Popen[bytes] | ForkedServer, timeout: float) -> str:
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


def job_pids(home: Path) -> list[int]:
    """Live jobs of the platform at `home`: processes whose HOME is one of its users' homes
    (`<home>/home/<user>`, every job's HOME and working folder)."""
    marker = b"HOME=" + str(home / "home").encode() + b"/"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(marker) for item in environ) and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def _platform_pids(home: Path) -> list[int]:
    """The supervisor (`--home HOME` on its command line) and the jobs of a platform."""
    return supervisor_pids(home) + job_pids(home)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def kill_platform_processes(home: Path, timeout: float = 15.0) -> None:
    """SIGKILL the supervisor and every job of the platform at `home` (and their groups), then
    wait. Nothing to do (and no scan of /proc) when no platform ever ran there."""
    if not home.exists():
        return
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in _platform_pids(home) if pid_alive(pid)]
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
    no_auth: bool = False,
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
    tls: bool = False,
    same_port: bool = False,
    forked: bool = True,
) -> LocalServer:
    """`same_port=True`: no --port, so the server takes the port its state folder remembers.
    `forked=False`: a process of its own (`python -m canfar_cli local serve`), for tests of the
    process itself (its command line); by default the server is forked from one that has
    imported it already (tests/support/forkserver.py), the same program ~0.25 s of CPU sooner."""
    home = home or Path(os.environ.get("CANFAR_LOCAL_HOME") or tmp_path / "local")
    args = [sys.executable, "-m", "canfar_cli", "local", "serve"]
    args += [] if same_port else ["--port", "0"]
    args += ["--home", str(home)]
    if token is not None:  # never on argv: a file of its own, 0600
        token_file = tmp_path / f"token-{time.monotonic_ns()}"
        token_file.write_text(token)
        token_file.chmod(0o600)
        args += ["--token-file", str(token_file)]
    if no_auth:
        args.append("--no-auth")
    if tls:
        args.append("--tls")
    options = {
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
    for name, value in TEST_SETTINGS.items():
        child_env.setdefault(name, value)
    timings = {
        "CANFAR_LOCAL_CLEANUP": cleanup_seconds,
        "CANFAR_LOCAL_GRACE": grace_seconds,
        "CANFAR_LOCAL_EXPIRY": expiry_seconds,
        "CANFAR_LOCAL_SUPERVISOR_IDLE": idle_seconds,
    }
    child_env.update({name: str(value) for name, value in timings.items() if value is not None})
    child_env.update(env or {})
    stderr_path = tmp_path / f"server-{time.monotonic_ns()}.err"
    process: subprocess.Popen[bytes] | ForkedServer
    with open(stderr_path, "wb") as stderr:
        if forked:
            process = FORKS.spawn(args[3:], child_env, stderr)
        else:
            process = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=child_env
            )
    try:
        url = read_first_line(process, timeout=60)
    except BaseException:
        process.kill()
        process.wait()
        raise RuntimeError(
            f"local server did not start: {stderr_path.read_text(errors='replace')}"
        ) from None
    if token is None and not no_auth:
        # The random token the server made, where canfar itself finds it.
        from canfar_cli.serve_tokens import find_token

        token = find_token(url, home)
    return LocalServer(
        url=url,
        home=home,
        token=token,
        user=user or child_env.get("CANFAR_LOCAL_USER") or getpass.getuser(),
        process=process,
        stderr_path=stderr_path,
    )


def supervisor_pids(home: Path | str) -> list[int]:
    """Live supervisor processes of the platform at `home` (found through /proc)."""
    marker = str(home).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"canfar_cli.local.supervisor" in argv and marker in argv and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found
