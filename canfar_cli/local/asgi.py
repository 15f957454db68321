"""A small request/response layer over plain ASGI (no framework), shaped by cadc-rest's rules.

Parameters: GET/DELETE read the query string; POST reads query + body only when the body is
form-urlencoded, only the parts when it is multipart/form-data, and nothing otherwise. Names are
case-insensitive; repeated names keep every value in order.

Bodies are read whole (at most `max_body` bytes) except where the router asks for a streamed
request (`Request.read(..., stream=True)`: the storage services' byte PUTs, read chunk by chunk
with `Request.chunks()`); a response streams a file (`file`) or any async iterable of bytes
(`stream`), so memory stays flat whatever the size: with back-pressure both over `canfar local
serve` (uvicorn) and in process (transport.py).
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from canfar_cli.local.skaha import SkahaError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

TEXT = "text/plain"
JSON = "application/json"
CHUNK = 64 * 1024


class ClientDisconnected(Exception):
    """The client went away before the whole request body came."""


class Params:
    """Case-insensitive multi-valued parameters."""

    def __init__(self, pairs: list[tuple[str, str]] | None = None) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs or []:
            self.add(key, value)

    def add(self, key: str, value: str) -> None:
        self._values.setdefault(key.lower(), []).append(value)

    def get(self, key: str) -> str | None:
        values = self._values.get(key.lower())
        return values[0] if values else None

    def get_all(self, key: str) -> list[str]:
        return list(self._values.get(key.lower(), []))

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._values


def parse_query(raw: bytes | str) -> list[tuple[str, str]]:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    except ValueError:  # max_num_fields and the like: treat as no parameters
        return []


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    except Exception:  # a malformed body holds no usable parameters
        return []
    if not message.is_multipart():
        return []
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""  # decode=True gives bytes or None
        pairs.append((name, data.decode("utf-8", "replace")))
    return pairs


@dataclass
class Request:
    method: str
    path: str
    query: bytes
    headers: dict[str, str]
    body: bytes = b""
    params: Params = field(default_factory=Params)
    # The ASGI scope, for what the parsed fields leave out (scheme, server, TLS extension).
    scope: Scope | None = field(default=None, repr=False)
    # Set when the body was left unread (stream=True): `chunks()` reads it.
    receive: Receive | None = field(default=None, repr=False)

    @classmethod
    async def read(
        cls, scope: Scope, receive: Receive, max_body: int, *, stream: bool = False
    ) -> Request:
        headers: dict[str, str] = {}
        for key, value in scope.get("headers") or []:
            name = key.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[name] = f"{headers[name]}, {text}" if name in headers else text
        raw_path = scope.get("raw_path")
        path = unquote(raw_path.decode("latin-1"), errors="replace") if raw_path else scope["path"]
        path = path.split("?", 1)[0]
        request = cls(
            method=scope["method"].upper(),
            path=path,
            query=scope.get("query_string") or b"",
            headers=headers,
            scope=scope,
        )
        if stream:  # the handler reads the body itself, chunk by chunk
            request.receive = receive
            request.params = Params(parse_query(request.query))
            return request
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > max_body:
            raise SkahaError(413, f"request body too large: at most {max_body} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_body:
                raise SkahaError(413, f"request body too large: at most {max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        request.body = b"".join(chunks)
        request.params = request._parameters()
        return request

    async def chunks(self) -> AsyncIterator[bytes]:
        """The streamed body, chunk by chunk; ClientDisconnected when the client goes away first."""
        receive, self.receive = self.receive, None
        if receive is None:  # read already (or never streamed): what was read
            if self.body:
                yield self.body
            return
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected("the client disconnected before the end of the body")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    def _parameters(self) -> Params:
        pairs = parse_query(self.query)
        if self.method != "POST":
            return Params(pairs)
        content_type = self.headers.get("content-type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            return Params(pairs + parse_query(self.body))
        if media == "multipart/form-data":
            return Params(parse_multipart(content_type, self.body))
        return Params()  # skaha has no inline-content handler: everything is ignored


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = TEXT
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None  # streamed instead of body when set
    # Streamed instead of body when set (give Content-Length in headers when it is known).
    stream: AsyncIterable[bytes] | None = field(default=None, repr=False)
    # Wake (or start) the supervisor before the answer goes out: a session awaits it.
    wake: bool = False

    async def send(self, send: Send, *, head: bool = False, receive: Receive | None = None) -> None:
        """Send the answer; a streamed body stops early when `receive` says the client is
        gone."""
        headers = [(b"content-type", self.content_type.encode())] if self.content_type else []
        headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]
        if self.stream is not None:
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            if not head:
                await _stream(self.stream, send, receive)
            closer = getattr(self.stream, "aclose", None)
            if closer is not None:
                await closer()
            await send({"type": "http.response.body", "body": b""})
            return
        if self.file is None:
            headers.append((b"content-length", str(len(self.body)).encode()))
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head else self.body})
            return
        # A log is streamed (chunked, as the real server streams `kubectl logs`), up to the size
        # it had when the request came, so a job that keeps writing cannot make it endless.
        try:
            handle = open(self.file, "rb")  # noqa: SIM115 - closed below
        except OSError:
            handle = None
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        if handle is None or head:
            await send({"type": "http.response.body", "body": b""})
            return
        with handle:
            import os

            remaining = os.fstat(handle.fileno()).st_size
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


async def _stream(stream: AsyncIterable[bytes], send: Send, receive: Receive | None) -> None:
    """Send a streamed body until it ends or the client is gone (ASGI's http.disconnect, from
    `receive`): the server drops what is sent after that, so the rest of a file would be read
    for nothing. It yields to the event loop every YIELD_EVERY bytes: a closed connection takes
    writes without ever pausing them, so without a pause the loop would not learn it is closed
    before the whole file had gone into it (a client that closes a big download early)."""
    import anyio

    failure: list[Exception] = []
    async with anyio.create_task_group() as group:
        if receive is not None:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
        since = 0
        try:
            async for chunk in stream:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    since += len(chunk)
                if since >= YIELD_EVERY:
                    since = 0
                    await anyio.lowlevel.checkpoint()
        except Exception as exc:  # raised below as it is, not grouped
            failure.append(exc)
        group.cancel_scope.cancel()
    if failure:
        raise failure[0]


YIELD_EVERY = 256 << 10


def text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, message.encode("utf-8"), TEXT, dict(headers or {}))


def error_response(error: SkahaError) -> Response:
    return text(error.status, error.message + "\n", error.headers)
