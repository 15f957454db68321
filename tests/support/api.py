"""Plain httpx against a loopback server of the local platform (the local platform's tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from . import IMAGE

T = TypeVar("T")


def api(server: Any, **kwargs: Any) -> httpx.Client:
    """A client of `server`'s /v1 API, with its token if it has one."""
    headers = dict(kwargs.pop("headers", {}))
    if getattr(server, "token", None):
        headers.setdefault("Authorization", f"Bearer {server.token}")
    return httpx.Client(base_url=server.url + "/v1", timeout=30, headers=headers, **kwargs)


def create(http: httpx.Client, **params: Any) -> str:
    """POST /session form-encoded; the new id (asserts 200 and the `<id>\\n` body)."""
    params.setdefault("name", "job")
    params.setdefault("image", IMAGE)
    response = http.post("/session", data=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain"
    assert response.text.endswith("\n")
    return response.text.strip()


def wait_for(
    http: httpx.Client, session_id: str, statuses: tuple[str, ...], timeout: float = 30.0
) -> dict[str, Any]:
    """Poll GET /session/{id} until its status is one of `statuses` (deadline, no fixed sleep)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        response = http.get(f"/session/{session_id}")
        if response.status_code == 200:
            last = response.json()
            if last["status"] in statuses:
                return last
        else:
            last = (response.status_code, response.text)
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} never reached {statuses}: last {last}")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """The first true value of `predicate()`, polled every 0.05 s until the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
