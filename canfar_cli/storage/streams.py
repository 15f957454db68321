"""Streaming handles returned by AsyncStorage.open."""

from __future__ import annotations

from collections.abc import AsyncIterator

from canfar_cli.storage.results import Node

__all__ = ["RemoteReader", "RemoteWriter"]


class RemoteReader:
    """A remote file being read: `await read(n)` (b"" at the end), or `async for chunk in f`.
    The whole body is checked against the server's Digest when its end is reached (a
    mismatch raises)."""

    node: Node | None
    size: int | None

    async def read(self, n: int = -1) -> bytes:
        raise NotImplementedError

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError


class RemoteWriter:
    """A remote file being written: `await write(data)`; the upload ends when the `async with`
    block does (verified by the server's Digest)."""

    path: str
    bytes_written: int

    async def write(self, data: bytes) -> int:
        raise NotImplementedError
