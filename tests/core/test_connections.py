"""The connections under HttpClient (canfar_cli/transports.py and its asyncio backend,
canfar_cli/asyncio_net.py) over real sockets: no more connections than the bound, each reused,
bodies arrive whole, a connection the server closed while idle is not reused, a silent server
times out, and a certificate that is not trusted is the one clear line (no retry)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from canfar_cli.errors import UnreachableError
from canfar_cli.http import HttpClient, RetryPolicy

pytestmark = pytest.mark.anyio
ONCE = RetryPolicy(attempts=1)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(
    handler: Handler, context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[int]]]:
    """A server on loopback in this event loop: its port, and a count of the connections made
    (with TLS, those whose handshake succeeded)."""
    connections: list[int] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1], connections


@asynccontextmanager
async def client_at(url: str, **options: Any) -> AsyncIterator[HttpClient]:
    """An HttpClient of `url` (HttpClient's own options), closed at the end."""
    client = HttpClient(url, **options)
    try:
        yield client
    finally:
        await client.aclose()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head (these tests send GETs, with no body)."""
    return await reader.readuntil(b"\r\n\r\n")


def answer(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


async def test_connections_never_exceed_the_bound_and_are_kept() -> None:
    from canfar_cli.asyncio_net import AsyncioBackend
    from canfar_cli.transports import StackedTransport, pooled_transport

    in_flight = peak = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, peak
        while True:
            await read_request(reader)
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            writer.write(answer(b"ok"))
            await writer.drain()

    async with (
        raw_server(handler) as (port, connections),
        client_at(f"http://127.0.0.1:{port}", retry=ONCE, timeout=10, concurrency=7) as client,
    ):
        for _ in range(2):
            async with anyio.create_task_group() as group:
                for n in range(40):
                    group.start_soon(client.request, "GET", f"session/{n}")
        transport = client._sender
    assert isinstance(transport, StackedTransport)
    assert isinstance(transport._backend, AsyncioBackend)  # asyncio's loop: the lean backend
    assert peak == 7 and len(connections) == 7  # the second batch made none: all were kept
    assert isinstance(pooled_transport(4, False), StackedTransport)


async def test_a_body_larger_than_the_read_buffer_arrives_whole() -> None:
    # Several MiB: the protocol stops reading the socket above its high-water mark and
    # starts again as httpcore takes the data.
    body = bytes(range(256)) * (6 * 4096)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(body))
            await writer.drain()

    async with (
        raw_server(handler) as (port, connections),
        client_at(f"http://127.0.0.1:{port}", retry=ONCE, timeout=10) as client,
    ):
        for _ in range(2):
            response = await client.request("GET", "session/abc", params={"view": "logs"})
            assert response.content == body
    assert len(connections) == 1  # kept alive and reused


async def test_a_connection_closed_by_the_server_while_idle_is_not_reused() -> None:
    # The server answers (keep-alive, as far as the headers say) and then hangs up: the next
    # request must go out on a new connection, not fail on the dead one.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"first"))
        await writer.drain()

    async with (
        raw_server(handler) as (port, connections),
        client_at(f"http://127.0.0.1:{port}", retry=ONCE, timeout=10) as client,
    ):
        first = await client.request("GET", "session")
        await asyncio.sleep(0.1)  # the hang-up arrives while the connection is idle
        second = await client.request("GET", "session")
    assert (first.content, second.content) == (b"first", b"first")
    assert len(connections) == 2


async def test_a_server_that_never_answers_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    async with (
        raw_server(handler) as (port, _connections),
        client_at(f"http://127.0.0.1:{port}", retry=ONCE, timeout=0.3) as client,
    ):
        with pytest.raises(UnreachableError) as caught:
            await client.request("GET", "session")
    assert "timed out" in caught.value.message


async def test_an_answer_cut_short_is_an_error_not_a_short_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"0123456789")[:-4])  # the connection ends 4 bytes early
        await writer.drain()

    async with (
        raw_server(handler) as (port, _connections),
        client_at(f"http://127.0.0.1:{port}", retry=ONCE, timeout=5) as client,
    ):
        with pytest.raises(UnreachableError):
            await client.request("GET", "session")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing")
async def test_tls_works_and_an_untrusted_certificate_is_said_so(tmp_path: Path) -> None:
    key, cert = tmp_path / "server.key", tmp_path / "server.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(b"secret"))
            await writer.drain()

    async with raw_server(handler, context) as (port, connections):
        async with client_at(
            f"https://127.0.0.1:{port}", retry=ONCE, ca_bundle=str(cert)
        ) as trusted:
            for _ in range(2):
                assert (await trusted.request("GET", "session")).content == b"secret"
        assert len(connections) == 1
        async with client_at(
            f"https://127.0.0.1:{port}", retry=RetryPolicy(attempts=3)
        ) as stranger:
            with pytest.raises(UnreachableError) as caught:
                await stranger.request("GET", "session")
    assert "certificate could not be verified" in caught.value.message
    assert "attempts" not in caught.value.message  # not retried: trying again cannot help


async def test_connections_to_several_hosts_stay_within_the_bound() -> None:
    # Two servers, one client bounded at 2: after two requests to the first, a request to the
    # second closes one of the first's idle connections rather than open a third.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.01)
            writer.write(answer(b"ok"))
            await writer.drain()

    async with (
        raw_server(handler) as (one, _),
        raw_server(handler) as (two, _),
        client_at(f"http://127.0.0.1:{one}", retry=ONCE, timeout=10, concurrency=2) as client,
    ):
        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(client.request, "GET", "session")
        await client.request("GET", f"http://127.0.0.1:{two}/session")
        transport = client._sender
        assert len(transport._open) == 2  # type: ignore[union-attr]


async def test_a_body_closed_twice_puts_its_connection_back_once() -> None:
    from canfar_cli.transports import StackedTransport

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(b"ok"))
            await writer.drain()

    async with raw_server(handler) as (port, _connections):
        transport = StackedTransport(4, verify=False, trust_env=False)
        try:
            request = httpx.Request("GET", f"http://127.0.0.1:{port}/session")
            response = await transport.handle_async_request(request)
            await response.aread()
            await response.stream.aclose()  # type: ignore[union-attr]  # a second close
            assert [len(stack) for stack in transport._idle.values()] == [1]
        finally:
            await transport.aclose()
