"""`canfar local serve` for the tests, forked from a process that has imported it already.

Starting the local platform's server is ~0.25 s of CPU, nearly all of it imports (uvicorn, the
app, the sign-in and storage services); the suite starts a few hundred. A fork server imports
them once per pytest worker, then forks one child per server: the child is the same program
(`canfar_cli.cli.entry.main` with the test's argv, environment and working folder, its stdout a
pipe to the test, its stderr the test's file), started in a few milliseconds.

What a test sees is a `ForkedServer` with the part of `subprocess.Popen` the tests use (pid,
stdout, poll, wait, send_signal, terminate, kill, returncode); the exit status is relayed by the
fork server, which reaps its children. Tests about the process image itself (its command line)
start a real process instead (`start_local_server(..., forked=False)`).

Run as a script, this module is the fork server: `python -m tests.support.forkserver FD`, FD a
SOCK_SEQPACKET socket. A request is a JSON {argv, env, cwd, umask} with two descriptors (stdout,
stderr); the answer {pid}; later {pid, status} when that child has exited.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Any

from tests.support import REPO

_BUFFER = 1 << 20


class ForkedServer:
    """A child of the fork server, handled like a Popen."""

    def __init__(self, forks: ForkServer, pid: int, stdout: IO[bytes]) -> None:
        self._forks = forks
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._forks.status(self.pid, timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._forks.status(self.pid, timeout=timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(f"forked server {self.pid}", timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The test side: starts the fork server on first use, asks it for children."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._exited: dict[int, int] = {}

    def _connect(self) -> socket.socket:
        if self._socket is not None and self._process and self._process.poll() is None:
            return self._socket
        from .tiers import shared_processes

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with shared_processes():  # one per pytest worker, for every test that starts a server
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.forkserver", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                cwd=REPO,
            )
        theirs.close()
        self._socket = ours
        return ours

    def spawn(
        self, argv: list[str], env: dict[str, str], stderr: IO[bytes], program: str = "canfar"
    ) -> ForkedServer:
        """A child running `program` with `argv`: "canfar" (`python -m canfar_cli ARGV`),
        "watched_server" (`python tests/support/watched_server.py ARGV`) or "python-c"
        (`python -c CODE`, argv being [CODE])."""
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                sock = self._connect()
                umask = os.umask(0o022)
                os.umask(umask)
                request = json.dumps(
                    {"argv": argv, "env": env, "cwd": os.getcwd(), "umask": umask,
                     "program": program}
                ).encode()  # fmt: skip
                socket.send_fds(sock, [request], [write_end, stderr.fileno()])
                while True:
                    message = self._receive(sock, timeout=60)
                    if "status" in message:
                        self._exited[message["pid"]] = message["status"]
                    else:
                        pid = int(message["pid"])
                        break
        finally:
            os.close(write_end)
        return ForkedServer(self, pid, os.fdopen(read_end, "rb"))

    def status(self, pid: int, timeout: float | None) -> int | None:
        """The exit status of child `pid` (as Popen.returncode), or None if it still runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while pid not in self._exited:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                assert self._socket is not None
                try:
                    message = self._receive(self._socket, timeout=left)
                except TimeoutError:
                    return None
                self._exited[message["pid"]] = message["status"]
            return self._exited[pid]

    def close(self) -> None:
        """End the fork server and wait for it (its CPU, and its children's, is then counted
        with this process's, as that of a started process is)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    @staticmethod
    def _receive(sock: socket.socket, timeout: float | None) -> dict[str, Any]:
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            raise TimeoutError
        data = sock.recv(_BUFFER)
        if not data:
            raise RuntimeError("the fork server exited")
        return dict(json.loads(data))


FORKS = ForkServer()


# --- the fork server itself ----------------------------------------------------------------


def _returncode(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _serve(sock: socket.socket) -> dict[str, Any] | None:
    """Fork a child per request and report how each ended; returns (in the child only) the
    child's request, with its descriptors."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        try:
            ready = select.select([sock.fileno(), wake_read], [], [])[0]
        except InterruptedError:
            continue
        if wake_read in ready:
            os.read(wake_read, 4096)
        while True:  # reap every child that has ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            sock.send(json.dumps({"pid": pid, "status": _returncode(status)}).encode())
        if sock.fileno() not in ready:
            continue
        data, fds, _, _ = socket.recv_fds(sock, _BUFFER, 2)
        if not data:  # the test process is gone
            return None
        request = json.loads(data)
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(wake_read)
            os.close(wake_write)
            sock.close()
            request["fds"] = fds
            return dict(request)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


def _run_child(request: dict[str, Any]) -> None:
    """Become `python -m canfar_cli ARGV` (or the watched server) with the request's
    environment and folders."""
    import random

    from tests.support import watched_server  # before the chdir: found beside this module

    stdout_fd, stderr_fd = request["fds"]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    for fd in (devnull, stdout_fd, stderr_fd):
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    os.umask(request.get("umask", 0o022))  # as a started process inherits the test's
    random.seed()  # not the sequence of every other child
    if request.get("program") == "watched_server":
        sys.argv = ["watched_server.py", *request["argv"]]
        watched_server.main()  # returns when terminated: the interpreter then ends
        return
    if request.get("program") == "python-c":
        code, *rest = request["argv"]
        sys.argv = ["-c", *rest]
        # An exception ends the child with a traceback and status 1, as `python -c` does.
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
        return
    sys.argv = ["canfar", *request["argv"]]
    from canfar_cli.cli.entry import main

    main()  # exits through SystemExit: the interpreter then ends as a started process does


def _preload() -> None:
    """What `canfar local serve` imports, once (as canfar_cli.cli.entry sets it up)."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    # Also what a server imports once it runs, on its first requests (~20 ms of CPU a server,
    # ~80 ms more for the sign-in services' cryptography: the CA, client certificates): the h11
    # protocol, the event loop, anyio's backend. (OpenSSL reseeds its random generator in a
    # forked child: the children's keys differ.)
    import anyio._backends._asyncio
    import uvicorn
    import uvicorn.lifespan.off
    import uvicorn.loops.auto
    import uvicorn.protocols.http.h11_impl
    import uvicorn.protocols.websockets.auto

    import canfar_cli.cli.local
    import canfar_cli.cli.main
    import canfar_cli.local.app
    import canfar_cli.local.serve
    import canfar_cli.local.signin.ca
    import canfar_cli.local.signin.tls
    import canfar_cli.local.signin.users

    del anyio, uvicorn, canfar_cli


if __name__ == "__main__":
    _preload()
    child = _serve(socket.socket(fileno=int(sys.argv[1])))
    if child is None:
        sys.exit(0)
    _run_child(child)
