"""The in-process transport of `--server local`: httpx's ASGI transport, but streaming.

httpx.ASGITransport runs the app to its end and collects the whole response body before the
client sees a byte: a 1 GiB download through `--server local` would sit in memory. Here the app
runs as a task beside the client: the response is handed over at `http.response.start`, and each
body chunk passes through a small queue, so the app waits (back-pressure) while the client has
not read what came before. Request bodies are read chunk by chunk as the app asks for them, as
httpx does. An exception in the app becomes a 500 before the response starts (as with
`raise_app_exceptions=False`), a cut body after. Closing the response early cancels the app.
Needs asyncio (the only backend canfar runs on).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx

App = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
_END = object()
QUEUE_CHUNKS = 4


class _Body(httpx.AsyncByteStream):
    def __init__(self, chunks: asyncio.Queue[Any], task: asyncio.Task[None]) -> None:
        self._chunks = chunks
        self._task = task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._chunks.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise httpx.ReadError(f"the local platform failed mid-body: {item!r}")
            yield item

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


def _scope(request: httpx.Request, client: tuple[str, int]) -> dict[str, Any]:
    """The ASGI scope of a request, as httpx.ASGITransport builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "server": (request.url.host, request.url.port),
        "client": client,
        "root_path": "",
    }


class _Exchange:
    """One request/response between the client and the app: the app's receive and send, and the
    task that runs it."""

    def __init__(self, request: httpx.Request) -> None:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        self.body = request.stream.__aiter__()
        self.head = request.method == "HEAD"
        self.started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self.finished = asyncio.Event()
        self.request_done = False

    async def receive(self) -> MutableMapping[str, Any]:
        if self.request_done:
            await self.finished.wait()
            return {"type": "http.disconnect"}
        try:
            chunk = await self.body.__anext__()
        except StopAsyncIteration:
            self.request_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if not self.started.done():
                self.started.set_result((message["status"], list(message.get("headers") or [])))
        elif message["type"] == "http.response.body" and not self.finished.is_set():
            chunk = message.get("body", b"")
            if chunk and not self.head:
                await self.chunks.put(chunk)
            if not message.get("more_body", False):
                await self.end(_END)

    async def end(self, last: Any) -> None:
        """The body ends with `last`: _END, or the exception that cut it."""
        if not self.started.done():
            self.started.set_result((500, []))
            last = _END
        if not self.finished.is_set():
            self.finished.set()
            await self.chunks.put(last)

    async def run(self, app: App, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception as exc:  # answered as the server would: a 500, or a cut body
            await self.end(exc)
            return
        await self.end(_END)


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: App, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(request)
        task = asyncio.ensure_future(exchange.run(self.app, _scope(request, self.client)))
        try:
            status, headers = await asyncio.shield(exchange.started)
        except BaseException:
            task.cancel()
            raise
        return httpx.Response(status, headers=headers, stream=_Body(exchange.chunks, task))

    async def aclose(self) -> None:
        pass
