"""Streaming handles returned by AsyncStorage.open: a remote file read or written as a stream,
memory flat whatever its size."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from canfar_cli.errors import CanfarError, UnreachableError
from canfar_cli.storage.paths import RemotePath
from canfar_cli.storage.wire import md5_of_digest
from canfar_cli.wire import describe

if TYPE_CHECKING:
    from canfar_cli.storage.engine import Engine
    from canfar_cli.storage.services import Service

__all__ = ["RemoteReader", "RemoteWriter", "reading", "writing"]


class RemoteReader:
    """A remote file being read: `await read(n)` (b"" at the end), or `async for chunk in f`.
    The whole body is checked against the server's Digest when its end is reached (a
    mismatch raises)."""

    def __init__(self, path: RemotePath, response: httpx.Response) -> None:
        self.path = str(path)
        length = response.headers.get("content-length")
        self.size: int | None = int(length) if length and length.isdigit() else None
        if response.status_code == 204:
            self.size = 0
        self._expected = md5_of_digest(response.headers.get("digest"))
        self._chunks: AsyncIterator[bytes] | None = (
            None if response.status_code == 204 else response.aiter_raw()
        )
        self._buffer = bytearray()
        self._md5 = hashlib.md5()
        self._ended = self._chunks is None
        self.bytes_read = 0

    async def _more(self) -> bool:
        if self._ended or self._chunks is None:
            return False
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            self._verify()
            return False
        except httpx.HTTPError as exc:
            raise UnreachableError(
                f"{self.path}: the read broke off after {self.bytes_read} bytes ({describe(exc)})",
                hint="try again",
            ) from None
        self._md5.update(chunk)
        self.bytes_read += len(chunk)
        self._buffer += chunk
        return True

    def _verify(self) -> None:
        if self._expected is not None and self._md5.hexdigest() != self._expected:
            from canfar_cli.storage.engine import IntegrityError

            raise IntegrityError(
                f"{self.path}: the bytes read do not match the server's checksum",
                status=200,
                hint="try again",
            )

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all that is left when n < 0); b"" at the end."""
        if n < 0:
            while await self._more():
                pass
        else:
            while len(self._buffer) < n and await self._more():
                pass
        size = len(self._buffer) if n < 0 else min(n, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            if not self._buffer and not await self._more():
                return
            data = bytes(self._buffer)
            self._buffer.clear()
            yield data


class RemoteWriter:
    """A remote file being written: `await write(data)`; the upload ends when the `async with`
    block does (verified by the server's Digest)."""

    def __init__(self, path: RemotePath, send: Any, outcome: dict[str, Any]) -> None:
        self.path = str(path)
        self.bytes_written = 0
        self._send = send
        self._outcome = outcome
        self.md5 = hashlib.md5()

    async def write(self, data: bytes) -> int:
        if not data:
            return 0
        data = bytes(data)
        self.md5.update(data)
        try:
            await self._send.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            error = self._outcome.get("error")
            if isinstance(error, CanfarError):
                raise error from None
            raise CanfarError(f"{self.path}: the upload stopped") from None
        self.bytes_written += len(data)
        return len(data)


@contextlib.asynccontextmanager
async def reading(
    engine: Engine, service: Service, path: RemotePath
) -> AsyncIterator[RemoteReader]:
    async with engine.open_read(service, path) as response:
        yield RemoteReader(path, response)


@contextlib.asynccontextmanager
async def writing(
    engine: Engine, service: Service, path: RemotePath
) -> AsyncIterator[RemoteWriter]:
    """One PUT whose body is fed by `write`; a failure, or an error in the block, removes the
    partial remote file."""
    from canfar_cli.storage.engine import IntegrityError

    send, receive = anyio.create_memory_object_stream[bytes](4)
    outcome: dict[str, Any] = {}
    writer = RemoteWriter(path, send, outcome)
    used = False

    def body() -> AsyncIterator[bytes]:
        nonlocal used
        if used:
            raise httpx.StreamConsumed()
        used = True
        return _drain(receive)

    async def put() -> None:
        try:
            outcome["response"] = await engine.put_stream(
                service, path, body, length=None, md5=None
            )
        except BaseException as exc:  # handed to the block's exit
            outcome["error"] = exc
            async with receive:
                pass

    async with anyio.create_task_group() as group:
        group.start_soon(put)
        try:
            yield writer
        except BaseException:
            group.cancel_scope.cancel()
            await engine.remove_partial(service, path)
            raise
        finally:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.aclose()
    error = outcome.get("error")
    if isinstance(error, CanfarError):
        await engine.remove_partial(service, path)
        raise error
    if error is not None:
        await engine.remove_partial(service, path)
        raise error
    response = outcome["response"]
    returned = md5_of_digest(response.headers.get("digest"))
    if returned is not None and returned != writer.md5.hexdigest():
        await engine.remove_partial(service, path)
        raise IntegrityError(
            f"{path}: the server stored other bytes than were written; removed", status=201
        )


async def _drain(receive: Any) -> AsyncIterator[bytes]:
    async with receive:
        async for chunk in receive:
            yield chunk
