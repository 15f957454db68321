"""httpcore's network backend on asyncio's own transports, for the connection pools of
transports.py when the event loop is asyncio's.

httpcore's default backend on asyncio goes through anyio's socket streams: every read and write
opens a cancel scope for its timeout, and every look at an idle connection (`is_readable`, done
for each pooled connection each time a request is assigned) builds anyio's whole table of socket
attributes and polls the socket. Measured on a batch of 1,000 GETs, that is about a third of the
client's CPU per request. httpcore lets its pools take another backend (`network_backend=`); this
one reads through an asyncio.Protocol: data is buffered as the loop delivers it, a read waits on
one future with one timer for its timeout, and `is_readable` is known without a system call (the
protocol has been told of any data or end of stream already).

Errors are httpcore's (ConnectError, ReadTimeout, …), as its own backends raise them, so the
pools and httpx see no difference. Cancellation (anyio's cancel scopes cancel the asyncio task)
leaves the stream usable for httpcore to close.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

__all__ = ["AsyncioBackend"]

# Above this many bytes buffered and not yet read, the socket is not read any further until
# httpcore takes some (a large log is not held whole in memory twice, and each read's slice off
# the front of the buffer stays short).
_HIGH_WATER = 256 << 10


class _Protocol(asyncio.Protocol):
    """The receiving end of one connection: what arrived, and whether the stream has ended."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False  # end of stream or connection lost: reads answer b"" once buffered
        self.error: Exception | None = None  # why the connection was lost, if not cleanly
        self.paused = False
        self._reader: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake_reader()
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def _wake_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.set_result(None)

    async def readable(self, timeout: float | None) -> None:
        """Wait until data or the end of the stream arrives (ReadTimeout after `timeout`)."""
        loop = asyncio.get_running_loop()
        waiter = self._reader = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter, "read")
        try:
            await waiter
        finally:
            self._reader = None
            if timer is not None:
                timer.cancel()

    async def writable(self, timeout: float | None) -> None:
        """Wait until the transport takes more (after pause_writing; WriteTimeout on timeout)."""
        if self._writable is None:
            return
        loop = asyncio.get_running_loop()
        waiter = self._writable
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter, "write")
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future[None], what: str) -> None:
    if not waiter.done():
        kind = httpcore.ReadTimeout if what == "read" else httpcore.WriteTimeout
        waiter.set_exception(kind(f"timed out waiting to {what}"))


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.ended:
            await protocol.readable(timeout)
        buffer = protocol.buffer
        if not buffer:
            if protocol.error is not None:
                raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
            return b""
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if protocol.paused and len(buffer) <= _HIGH_WATER // 2:
            protocol.paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        await self._protocol.writable(timeout)
        if self._protocol.error is not None:
            raise httpcore.WriteError(str(self._protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except (asyncio.TimeoutError, TimeoutError) as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection ended during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Data or the end of the stream on an idle connection: the server closed it.
            return bool(self._protocol.buffer) or self._protocol.ended
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections as asyncio transports with a buffering protocol (see the module's note)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        made = loop.create_connection(_Protocol, host, port, local_addr=local)
        transport, protocol = await _connected(made, timeout)
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        made = loop.create_unix_connection(_Protocol, path)
        transport, protocol = await _connected(made, timeout)
        sock: socket.socket = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(made: Any, timeout: float | None) -> tuple[asyncio.Transport, _Protocol]:
    try:
        transport, protocol = await asyncio.wait_for(made, timeout)
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise httpcore.ConnectTimeout(str(exc) or "timed out connecting") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    assert isinstance(transport, asyncio.Transport) and isinstance(protocol, _Protocol)
    return transport, protocol
