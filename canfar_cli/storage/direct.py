"""A big download's body read on a blocking socket of its own, in worker threads.

Through httpx the body of a download arrives one TLS record (16 KiB) at a time, each passed up
through anyio's TLS stream, httpcore, h11 and httpx on the event loop: at a GiB that costs more
CPU than decrypting, hashing and writing it together (docs/performance.md, "Storage"). So a
body of DIRECT_MIN or more is asked for again, with the very request that was answered (same
URL, same headers), on a connection opened for it alone with the client's own TLS context, and
read there: one thread receives into reusable buffers, a second hashes and writes them, so
decrypting and hashing overlap; memory stays at BLOCKS buffers. (The first answer's
own connection cannot be taken over: h11 already holds the start of the body, and the TLS state
is anyio's. It is closed, which a server notices at once; the local platform's does, asgi.py.)

Only the body is read here. What the answer must be (the status and length of the first one),
the .part, the MD5 check and the retry decisions stay with the engine (`engine._Fetch`): a
different answer or a broken body is raised as the httpx error the usual way would have raised,
and the engine asks again as it always does. On cancellation the socket is shut so that a stalled
read ends at once; the caller removes the .part.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from canfar_cli.storage.progress import Progress

log = logging.getLogger("canfar_cli.http")

# Below this a body is read the usual way: one more connection is not worth it.
DIRECT_MIN = 64 << 20
# Blocks small enough that all of them (a MiB) stay in a core's cache between the receiving,
# the hashing and the writing: with 1 MiB blocks (4 MiB) the kernel's copies in and out cost
# twice the system time (docs/performance.md).
BLOCK = 64 << 10
BLOCKS = 16
PROGRESS_EVERY = 0.1


class _Stopped(Exception):
    """The download was cancelled while its threads ran."""


class _Disk(Exception):
    """Writing the file failed (a full disk): the OSError is raised as it is, not retried."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class Direct:
    """One body read on its own connection: what the threads share."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        context: ssl.SSLContext | None,
        timeout: float,
        status: int,
        length: int,
        shown: str,
    ) -> None:
        self.url = url
        self.shown = shown  # the URL as logs may show it
        self.headers = dict(headers)
        self.context = context
        self.timeout = timeout
        self.status = status
        self.length = length
        self.digest: str | None = None  # the Digest of the answer whose bytes were read
        self.written = 0
        self._stopped = threading.Event()
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        """End the reading now (from the event loop): a blocked receive returns at once."""
        with self._lock:
            self._stopped.set()
            if self._socket is not None:
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown: SSLSocket's own would also drop its TLS
                    # object under the reading thread (which would then fail otherwise).
                    socket.socket.shutdown(self._socket, socket.SHUT_RDWR)

    def _connect(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, parts.port, timeout=self.timeout, context=self.context
            )
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=self.timeout)
        connection.connect()
        with self._lock:
            self._socket = connection.sock
            stopped = self._stopped.is_set()
        if stopped:
            connection.close()
            raise _Stopped()
        return connection

    def receive(self, handle: Any, hasher: Any) -> None:
        """(Worker thread.) Send the request, check the answer is the one expected, and write
        its body to `handle`, hashing it: `written` counts what is in the file."""
        parts = urlsplit(self.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        started = time.perf_counter()
        connection: http.client.HTTPConnection | None = None
        answer: http.client.HTTPResponse | None = None
        try:
            try:
                connection = self._connect()
            except (http.client.HTTPException, OSError) as exc:
                if self._stopped.is_set():
                    raise _Stopped() from None
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
            connection.request("GET", target, headers=self.headers)
            answer = connection.getresponse()
            announced = answer.getheader("content-length", "")
            log.info(
                "GET %s %d %.3fs (own connection)",
                self.shown,
                answer.status,
                time.perf_counter() - started,
            )
            if answer.status != self.status or announced != str(self.length):
                raise httpx.RemoteProtocolError(
                    f"the server answered {answer.status} ({announced or 'no'} bytes) this time"
                )
            self.digest = answer.getheader("digest")
            self._pipe(answer, handle, hasher)
        except Exception as exc:
            if self._stopped.is_set():  # whatever the shut socket made of the reading
                raise _Stopped() from None
            if isinstance(exc, _Disk):
                raise exc.error from None
            if isinstance(exc, TimeoutError):
                raise httpx.ReadTimeout(str(exc) or "timed out") from None
            if isinstance(exc, (http.client.HTTPException, OSError)):
                raise httpx.ReadError(str(exc) or type(exc).__name__) from None
            raise
        finally:
            if answer is not None:
                answer.close()
            if connection is not None:
                connection.close()

    def _pipe(self, answer: http.client.HTTPResponse, handle: Any, hasher: Any) -> None:
        """Receive here, hash and write in a second thread, BLOCKS buffers going round."""
        free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        for _ in range(BLOCKS):
            free.put(bytearray(BLOCK))
        failure: list[OSError] = []
        writer = threading.Thread(
            target=self._write,
            args=(full, free, handle, hasher, failure),
            name="canfar-download-writer",
            daemon=True,
        )
        writer.start()
        try:
            left = self.length
            while left and not failure:
                if self._stopped.is_set():
                    raise _Stopped()
                want = min(BLOCK, left)
                buffer = free.get()
                size = _fill(answer, memoryview(buffer)[:want])
                full.put((buffer, size))
                left -= size
                if size < want:
                    raise httpx.RemoteProtocolError("the body ended before its length")
        finally:
            full.put(None)
            writer.join()
        if failure:
            raise _Disk(failure[0])

    def _write(
        self,
        full: queue.SimpleQueue[tuple[bytearray, int] | None],
        free: queue.SimpleQueue[bytearray],
        handle: Any,
        hasher: Any,
        failure: list[OSError],
    ) -> None:
        """(The second thread.) Hash and write each block received, then hand it back; after
        a failure to write, only hand them back."""
        while (item := full.get()) is not None:
            buffer, size = item
            if not failure:
                try:
                    view = memoryview(buffer)[:size]
                    hasher.update(view)
                    while view:  # an unbuffered write may write less than asked
                        view = view[handle.write(view) :]
                    self.written += size
                except OSError as exc:
                    failure.append(exc)
            free.put(buffer)


def _fill(answer: http.client.HTTPResponse, view: memoryview) -> int:
    """Read into all of `view` (fewer bytes only where the body ends)."""
    size = 0
    while size < len(view):
        got = answer.readinto(view[size:])
        if not got:
            break
        size += got
    return size


async def fetch(direct: Direct, handle: Any, hasher: Any, progress: Progress) -> None:
    """Read `direct`'s body into `handle` in worker threads, feeding `progress` from here; a
    cancellation stops the threads first, then is raised."""
    outcome: list[BaseException] = []
    told = 0

    def tell() -> None:
        nonlocal told
        written = direct.written
        if written > told:
            progress.advance(written - told)
            told = written

    async def report() -> None:
        try:
            while True:
                await anyio.sleep(PROGRESS_EVERY)
                tell()
        finally:
            direct.stop()

    async with anyio.create_task_group() as group:
        group.start_soon(report)
        try:
            await anyio.to_thread.run_sync(direct.receive, handle, hasher)
        except Exception as exc:  # raised below, outside the task group (not grouped)
            outcome.append(exc)
        finally:
            group.cancel_scope.cancel()
    tell()
    if outcome:
        if isinstance(outcome[0], _Stopped):
            await anyio.lowlevel.checkpoint()  # the cancellation that stopped it
        raise outcome[0]
