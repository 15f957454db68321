"""Helpers of the local platform's tests: plain httpx against a loopback server."""

from __future__ import annotations

import time
from typing import Any

import httpx

IMAGE = "images.canfar.net/skaha/terminal:1.1.1"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def api(server: Any, **kwargs: Any) -> httpx.Client:
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


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def supervisor_pids(home: Any) -> list[int]:
    """Live supervisor processes of the platform at `home` (found through /proc)."""
    from pathlib import Path

    marker = str(home).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"canfar_cli.local.supervisor" in argv and marker in argv and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found
