"""Fault injection for `canfar local serve` (never used in-process): latency, failures, drops.

Wrapped around the app only when serving, so the core's retry and timeout logic can be tested
(and benchmarked) against a server that misbehaves on purpose:
  latency_ms   added before every response
  fail_rate    the share of requests answered with `fail_status` instead (503 carries Retry-After)
  drop_rate    the share of requests whose connection is closed with no response at all
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from canfar_cli.local.asgi import Receive, Scope, Send, text


def path_info(path: str) -> str:
    """The servlet pathInfo cadc-rest prints: what follows `/skaha/v1/<resource>`, or null."""
    parts = path.split("/", 4)  # "", "skaha", "v1", resource, rest
    return "/" + parts[4] if len(parts) > 4 and parts[4] else "null"


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    fail_status: int = 503
    drop_rate: float = 0.0
    retry_after: int = 1

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.fail_rate or self.drop_rate)


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
        if faults.drop_rate and self.random.random() < faults.drop_rate:
            await self.drop(send)
            return
        if faults.fail_rate and self.random.random() < faults.fail_rate:
            status = faults.fail_status
            headers = {"Retry-After": str(faults.retry_after)} if status == 503 else {}
            if status == 503:
                body = f"temporarily unavailable: {path_info(scope.get('path') or '')}\n"
            else:
                body = f"injected failure (HTTP {status})\n"
            await text(status, body, headers).send(send)
            return
        await self.app(scope, receive, send)  # type: ignore[operator]

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
