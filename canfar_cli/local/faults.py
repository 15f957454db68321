"""Fault injection for `canfar local serve` (never used in-process): latency, failures, drops.

Wrapped around the app only when serving, so the core's retry and timeout logic can be tested
(and benchmarked) against a server that misbehaves on purpose:
  latency_ms   added before every response
  fail_rate    the share of requests answered with `fail_status` instead (503 carries Retry-After)
  drop_rate    the share of requests whose connection is closed with no response at all

and, for tests that need one fault at one place, targeted rules (CANFAR_LOCAL_FAULTS): rules
separated by `;`, each `key=value` pairs separated by `,`:
  fault=   a status (400-599: answered instead, text/plain; 503 with Retry-After), `drop` (the
           connection closed with no response), `cut` (the body cut halfway and the connection
           closed: a response's for GET and the like, the request's for PUT and POST: the app
           then sees its client gone), `html` (an HTML error page, status 200 unless status=
           says otherwise), `garbage` (bytes that are no document, with the Content-Type
           text/xml, status 200 unless status= says otherwise)
  path=    the path prefix it applies to (default: every path), e.g. /arc/files/
  method=  the method it applies to (default: any)
  times=   how many matching requests get it (default: all of them)
  after=   how many matching requests pass before (default 0)
  retry=   Retry-After of a 503 (default: --retry-after)
  status=  the status of an html or garbage answer
e.g. CANFAR_LOCAL_FAULTS="fault=503,path=/arc/files/,method=PUT,times=2;fault=cut,path=/vault/"
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from canfar_cli.errors import ConfigError
from canfar_cli.local.asgi import Receive, Response, Scope, Send, text

KINDS = ("drop", "cut", "html", "garbage")
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an"
    b" upstream server.</p></body></html>\n"
)
GARBAGE = b"\x00\x9f<vos:node \xff\xfe garbage \x01\x02 not a document }{\n"


def path_info(path: str) -> str:
    """The servlet pathInfo cadc-rest prints: what follows `/skaha/v1/<resource>`, or null."""
    parts = path.split("/", 4)  # "", "skaha", "v1", resource, rest
    return "/" + parts[4] if len(parts) > 4 and parts[4] else "null"


@dataclass
class Rule:
    fault: str  # a status as text, or one of KINDS
    path: str = "/"
    method: str | None = None
    times: int | None = None
    after: int = 0
    retry: int | None = None
    status: int | None = None
    seen: int = field(default=0, compare=False)

    def take(self, method: str, path: str) -> bool:
        """Whether this request gets the fault (counting it when it matches)."""
        if not path.startswith(self.path) or (self.method and self.method != method):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        return self.times is None or self.seen - self.after <= self.times


def parse_rules(raw: str) -> tuple[Rule, ...]:
    """CANFAR_LOCAL_FAULTS as rules; ConfigError naming what is wrong."""
    rules = []
    for spec in raw.split(";"):
        if not spec.strip():
            continue
        values: dict[str, str] = {}
        for pair in spec.split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"$CANFAR_LOCAL_FAULTS: {pair.strip()!r} is not key=value")
            values[key.strip().lower()] = value.strip()
        fault = values.pop("fault", "")
        if fault not in KINDS and not (fault.isdigit() and 400 <= int(fault) <= 599):
            raise ConfigError(
                f"$CANFAR_LOCAL_FAULTS: fault={fault!r} is not a status (400-599) or one of"
                f" {', '.join(KINDS)}"
            )
        rule = Rule(fault=fault)
        try:
            for key, value in values.items():
                if key == "path":
                    rule.path = value or "/"
                elif key == "method":
                    rule.method = value.upper() or None
                elif key in ("times", "after", "retry", "status"):
                    number = int(value)
                    if number < 0:
                        raise ValueError
                    setattr(rule, key, number)
                else:
                    raise ConfigError(f"$CANFAR_LOCAL_FAULTS: unknown key {key!r}")
        except ValueError:
            raise ConfigError(
                f"$CANFAR_LOCAL_FAULTS: {spec.strip()!r}: times, after, retry and status are"
                " whole numbers >= 0"
            ) from None
        rules.append(rule)
    return tuple(rules)


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    fail_status: int = 503
    drop_rate: float = 0.0
    retry_after: int = 1
    rules: tuple[Rule, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.fail_rate or self.drop_rate or self.rules)


class FaultInjection:
    def __init__(self, app: object, faults: Faults, seed: int | None = None) -> None:
        self.app = app
        self.faults = faults
        self.random = random.Random(seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[operator]
            return
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        method = str(scope.get("method", "")).upper()
        path = str(scope.get("path") or "")
        rule = next((r for r in faults.rules if r.take(method, path)), None)
        if rule is not None:
            await self.targeted(rule, scope, receive, send)
            return
        if faults.drop_rate and self.random.random() < faults.drop_rate:
            await self.drop(send)
            return
        if faults.fail_rate and self.random.random() < faults.fail_rate:
            await self.fail(faults.fail_status, faults.retry_after, path, send)
            return
        await self.app(scope, receive, send)  # type: ignore[operator]

    async def fail(self, status: int, retry_after: int, path: str, send: Send) -> None:
        headers = {"Retry-After": str(retry_after)} if status == 503 else {}
        if status == 503:
            body = f"temporarily unavailable: {path_info(path)}\n"
        else:
            body = f"injected failure (HTTP {status})\n"
        await text(status, body, headers).send(send)

    async def targeted(self, rule: Rule, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path") or "")
        if rule.fault == "drop":
            await self.drop(send)
        elif rule.fault == "html":
            await Response(rule.status or 200, HTML_PAGE, "text/html").send(send)
        elif rule.fault == "garbage":
            await Response(rule.status or 200, GARBAGE, "text/xml").send(send)
        elif rule.fault == "cut":
            if str(scope.get("method", "")).upper() in ("PUT", "POST"):
                await self.app(scope, self.cut_request(scope, receive, send), send)  # type: ignore[operator]
            else:
                await self.app(scope, receive, self.cut_response(send))  # type: ignore[operator]
        else:
            retry = rule.retry if rule.retry is not None else self.faults.retry_after
            await self.fail(int(rule.fault), retry, path, send)

    def cut_request(self, scope: Scope, receive: Receive, send: Send) -> Receive:
        """The request body stops halfway (at least one chunk): the connection is closed and
        the app told its client is gone."""
        declared = 0
        for key, value in scope.get("headers") or []:
            if key.lower() == b"content-length" and value.strip().isdigit():
                declared = int(value)
        state = {"got": 0, "cut": False}

        async def cut_receive() -> MutableMapping[str, Any]:
            if state["cut"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            state["got"] += len(message.get("body", b""))
            if state["got"] >= max(1, declared // 2) or not message.get("more_body", False):
                state["cut"] = True
                await self.drop(send)
                return {"type": "http.disconnect"}
            return message

        return cut_receive

    def cut_response(self, send: Send) -> Send:
        """The response goes out until half its body (Content-Length, else the first chunk),
        then the connection is closed."""
        state: dict[str, Any] = {"length": None, "sent": 0, "cut": False}

        async def cut_send(message: MutableMapping[str, Any]) -> None:
            if state["cut"]:
                return
            if message["type"] == "http.response.start":
                for key, value in message.get("headers") or []:
                    if key.lower() == b"content-length" and value.strip().isdigit():
                        state["length"] = int(value)
                await send(message)
                return
            body = message.get("body", b"")
            limit = state["length"] // 2 if state["length"] else len(body) // 2
            room = max(0, limit - state["sent"])
            if len(body) < room and message.get("more_body", False):
                state["sent"] += len(body)
                await send(message)
                return
            if room:
                await send({"type": "http.response.body", "body": body[:room], "more_body": True})
            state["cut"] = True
            await self.drop(send)

        return cut_send

    @staticmethod
    async def drop(send: Send) -> None:
        """Close the connection without a response.

        ASGI has no message for that, so reach the transport of uvicorn's request cycle (the
        object `send` is bound to); the server then sees a disconnected client and stays quiet.
        """
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:  # not uvicorn's h11/httptools cycle: the nearest thing is a reset
            raise ConnectionResetError("injected drop")
        transport.close()
        if cycle is not None and hasattr(cycle, "disconnected"):
            cycle.disconnected = True
        await asyncio.sleep(0)
