"""The connection pools under the HTTP client: one module per transport, as httpx does it.

`pooled_transport` picks what `HttpClient` uses when no transport is given: `ShardedTransport`
(several small pools) unless it is switched off (the `sharded` argument, or the environment
variable CANFAR_SHARDED_POOLS=0) or a proxy is configured; None lets httpx build its own single
pool. The benchmark figure behind it is in docs/performance.md.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

__all__ = ["SHARD_SIZE", "ShardedTransport", "pooled_transport", "sharding_enabled"]

SHARD_SIZE = 4
# Seconds an idle connection is kept (httpx's default).
KEEPALIVE_EXPIRY = 5.0
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


def _proxy_configured() -> bool:
    # httpx applies environment proxies only to the transports it builds itself; so when a proxy
    # is set, let it build its own (one pool) rather than lose the proxy.
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
    """A response body from httpcore, streamed as httpx's (its errors as httpx's); the shard
    is told when it is closed (the connection is free again)."""

    def __init__(self, stream: Any, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            self._release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """httpcore's connection pools, several small ones in place of one large one, under httpx.

    httpcore's pool scans every connection for every queued request each time a request starts
    or ends; at 100 connections that scan costs more CPU than the request itself. Pools of at most
    SHARD_SIZE connections, each request going to the least busy one, keep the scan short: the
    same connections in all, and the same bound (the caller's limiter), for a fraction of the
    CPU. The pools are httpcore's own, with no httpx transport around each: the request goes to
    a pool as httpcore's and its answer comes back as one httpx.Response streaming httpcore's
    body (read whole by HttpClient.request, in pieces by its stream door). One SSL context
    serves every pool."""

    def __init__(self, concurrency: int, verify: ssl.SSLContext | bool, trust_env: bool) -> None:
        import httpcore

        count = max(1, -(-concurrency // SHARD_SIZE))
        sizes = [concurrency // count + (1 if i < concurrency % count else 0) for i in range(count)]
        if isinstance(verify, ssl.SSLContext):
            context: ssl.SSLContext | None = verify
        elif verify:
            context = httpx.create_ssl_context(trust_env=trust_env)
        else:
            context = None  # plain http only (an https URL always comes with its context)
        backend = _network_backend()
        self._shards = [
            httpcore.AsyncConnectionPool(
                ssl_context=context,
                max_connections=size,
                max_keepalive_connections=size,
                keepalive_expiry=KEEPALIVE_EXPIRY,
                network_backend=backend,
            )
            for size in sizes
        ]
        self._busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import httpcore

        index = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[index] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._busy[index] -= 1

        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            answer = await self._shards[index].handle_async_request(core_request)
        except Exception as exc:
            release()
            raise _httpx_error(exc) from exc
        except BaseException:
            release()
            raise
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream, release),
            extensions=answer.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


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


def sharding_enabled(sharded: bool | None = None) -> bool:
    """Whether to use ShardedTransport: `sharded` when given, else CANFAR_SHARDED_POOLS
    ("0", "false", "no" or "off" turn it off; anything else, or unset, leaves it on)."""
    if sharded is not None:
        return sharded
    value = os.environ.get("CANFAR_SHARDED_POOLS", "").strip().lower()
    return value not in ("0", "false", "no", "off")


def pooled_transport(
    concurrency: int, verify: ssl.SSLContext | bool, *, sharded: bool | None = None
) -> httpx.AsyncBaseTransport | None:
    """The transport for a client bounded at `concurrency` requests in flight: sharded pools as
    large together as the bound (a request never waits for one), or None for httpx's own pool
    (when sharding is off, or a proxy is set: httpx applies environment proxies only to the
    transports it builds itself)."""
    if not sharding_enabled(sharded) or _proxy_configured():
        return None
    return ShardedTransport(concurrency, verify=verify, trust_env=True)
