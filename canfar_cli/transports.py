"""The connection pools under the HTTP client: one module per transport, as httpx does it.

`pooled_transport` picks what `HttpClient` uses when no transport is given: `StackedTransport`
(httpcore's connections without httpcore's pool) unless it is switched off (the `stacked`
argument, or the environment variable CANFAR_SHARDED_POOLS=0, a name kept from when these were
several small pools: scripts may set it) or a proxy is configured; None lets httpx build its
own pool. The
benchmark figure behind it is in docs/performance.md.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

__all__ = ["StackedTransport", "pooled_transport", "proxy_configured", "stacking_enabled"]

# Seconds an idle connection is kept (httpx's default).
KEEPALIVE_EXPIRY = 5.0
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


def proxy_configured() -> bool:
    """Whether the environment sets a proxy. httpx applies environment proxies only to the
    transports it builds itself, so with one set, requests go through httpx's own (one pool)
    rather than lose the proxy, and no body is read on a socket of our own (storage/direct.py)."""
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)


def _httpx_error(exc: Exception) -> Exception:
    """httpcore's exception as httpx's of the same name (httpx names its own after them), so
    that callers see only httpx's, as through httpx's own transport."""
    for kind in type(exc).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(exc))
    return exc


class _Body(httpx.AsyncByteStream):
    """A response body from httpcore, streamed as httpx's (its errors as httpx's); the
    transport is told when it is closed (the connection is free again), once: a connection put
    back twice would be handed to two requests."""

    def __init__(self, stream: Any, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        release, self._release = self._release, None
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            if release is not None:
                release()


class StackedTransport(httpx.AsyncBaseTransport):
    """httpcore's HTTP/1.1 connections under httpx, kept here in one stack per origin.

    httpcore's connection pool hands each request its connection through a queue, a scan of
    every connection, an anyio event and a shielded cancel scope; at 100 connections the scan
    alone costs more CPU than the request. None of that is needed under HttpClient, whose limiter
    already bounds the requests in flight: a request never waits for a connection here. It takes
    the connection last put back for its origin (kept alive, still open) or opens a new one, and
    the connection goes back when the response's body is closed. The connections are httpcore's
    own (AsyncHTTP11Connection: h11, keep-alive expiry, a connection the server closed is not
    reused), opened through the network backend (asyncio_net.py under asyncio). The request
    goes out as httpcore's and its answer comes back as one httpx.Response streaming httpcore's
    body (read whole by HttpClient.request, in pieces by its stream door). One SSL context
    serves every connection."""

    def __init__(self, concurrency: int, verify: ssl.SSLContext | bool, trust_env: bool) -> None:
        import httpcore

        if isinstance(verify, ssl.SSLContext):
            context: ssl.SSLContext | None = verify
        elif verify:
            context = httpx.create_ssl_context(trust_env=trust_env)
        else:
            context = None  # plain http only (an https URL always comes with its context)
        if context is not None:
            context.set_alpn_protocols(["http/1.1"])  # once, not on every connection
        self.concurrency = concurrency
        self._context = context
        self._backend: httpcore.AsyncNetworkBackend = _network_backend() or httpcore.AnyIOBackend()
        self._idle: dict[tuple[bytes, bytes, int | None], list[Any]] = {}
        self._open: set[Any] = set()  # every connection made and not seen closed, for aclose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import httpcore

        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        while True:
            connection = await self._idle_connection(key)
            fresh = connection is None
            try:
                if connection is None:
                    await self._make_room()
                    connection = await self._connect(core_request)
                    self._open.add(connection)
                answer = await connection.handle_async_request(core_request)
            except httpcore.ConnectionNotAvailable as exc:
                # Closed since it was put back (its server hung up): another one.
                self._open.discard(connection)
                if fresh:
                    raise httpx.ConnectError(str(exc)) from exc
                continue
            except Exception as exc:
                self._open.discard(connection)  # httpcore closed it
                raise _httpx_error(exc) from exc
            except BaseException:
                self._open.discard(connection)  # cancelled: httpcore closed it
                raise
            break
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream, lambda: self._put_back(key, connection)),
            extensions=answer.extensions,
            request=request,
        )

    async def _idle_connection(self, key: tuple[bytes, bytes, int | None]) -> Any:
        """The connection last put back for this origin that can still be used, or None."""
        stack = self._idle.get(key)
        while stack:
            connection = stack.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            # Its keep-alive ran out, or the server hung up while it was idle.
            self._open.discard(connection)
            await connection.aclose()
        return None

    async def _make_room(self) -> None:
        """At the bound, the longest idle connection (of another origin: this one's stack is
        empty) is closed before a new one is opened, so that connections to several hosts
        (storage) stay within the bound, as in httpcore's pool."""
        if len(self._open) < self.concurrency:
            return
        for stack in self._idle.values():
            if stack:
                connection = stack.pop(0)
                self._open.discard(connection)
                await connection.aclose()
                return

    async def _connect(self, request: Any) -> Any:
        """A new HTTP/1.1 connection to the request's origin (TLS for https)."""
        import httpcore

        origin = request.url.origin
        timeout = request.extensions.get("timeout", {}).get("connect")
        host = origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
        if origin.scheme == b"https":
            context = self._context or httpx.create_ssl_context()
            server_name = request.extensions.get("sni_hostname") or host
            try:
                stream = await stream.start_tls(
                    context, server_hostname=server_name, timeout=timeout
                )
            except BaseException:
                await stream.aclose()
                raise
        return httpcore.AsyncHTTP11Connection(
            origin=origin, stream=stream, keepalive_expiry=KEEPALIVE_EXPIRY
        )

    def _put_back(self, key: tuple[bytes, bytes, int | None], connection: Any) -> None:
        """The body is closed: the connection is free for the next request, or was closed."""
        if connection.is_idle():
            self._idle.setdefault(key, []).append(connection)
        else:
            self._open.discard(connection)

    async def aclose(self) -> None:
        connections, self._open = list(self._open), set()
        self._idle.clear()
        for connection in connections:
            await connection.aclose()


def _network_backend() -> Any:
    """The lean asyncio backend (asyncio_net.py) when the pools are made in asyncio's event loop
    (HttpClient builds them in the loop that uses them); None, httpcore's own choice, under any
    other (trio through anyio)."""
    import sniffio

    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library != "asyncio":
        return None
    from canfar_cli.asyncio_net import AsyncioBackend

    return AsyncioBackend()


def stacking_enabled(stacked: bool | None = None) -> bool:
    """Whether to use StackedTransport: `stacked` when given, else CANFAR_SHARDED_POOLS
    ("0", "false", "no" or "off" turn it off; anything else, or unset, leaves it on)."""
    if stacked is not None:
        return stacked
    value = os.environ.get("CANFAR_SHARDED_POOLS", "").strip().lower()
    return value not in ("0", "false", "no", "off")


def pooled_transport(
    concurrency: int, verify: ssl.SSLContext | bool, *, stacked: bool | None = None
) -> httpx.AsyncBaseTransport | None:
    """The transport for a client bounded at `concurrency` requests in flight: StackedTransport
    (a request never waits for a connection), or None for httpx's own pool
    (when switched off, or a proxy is set: httpx applies environment proxies only to the
    transports it builds itself)."""
    if not stacking_enabled(stacked) or proxy_configured():
        return None
    return StackedTransport(concurrency, verify=verify, trust_env=True)
