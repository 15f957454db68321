"""The in-process transport and the loopback server give the same answers to the same requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from canfar_cli.local.app import create_app
from tests.support import FORM, IMAGE
from tests.support.api import api, create, wait_for

COMPARED_HEADERS = (
    "content-type",
    "allow",
    "www-authenticate",
    "retry-after",
    "x-vo-authenticated",
)


def requests_for(ids: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/context", {}),
        ("GET", "/image", {}),
        ("GET", "/image", {"params": {"type": "notebook"}}),
        ("GET", "/image", {"params": {"type": "Notebook"}}),
        ("GET", "/repository", {}),
        ("GET", "/session", {}),
        ("GET", "/session", {"params": {"view": "all"}}),
        ("GET", "/session", {"params": {"view": "interactive"}}),
        ("GET", "/session", {"params": {"status": "completed"}}),
        ("GET", "/session", {"params": {"type": "HEADLESS", "status": "Failed"}}),
        ("GET", "/session/", {}),
        ("GET", "/session/zzzzzzzz", {}),
        ("GET", "/session/zzzzzzzz", {"params": {"view": "events"}}),
        ("GET", "/session/zzzzzzzz", {"params": {"view": "logs"}}),
        ("GET", "/session/" + "a" * 70, {}),
        ("GET", "/session/a/b/c/d", {}),
        ("GET", "/session/x/app", {}),
        ("GET", "/session/x/app/abc", {}),
        ("DELETE", "/session", {}),
        ("DELETE", "/session/zzzzzzzz", {}),
        ("DELETE", "/session/x/app", {}),
        ("PUT", "/session", {}),
        ("PATCH", "/context", {}),
        ("GET", "/nowhere", {}),
        ("POST", "/session", {"data": {"name": "x"}}),
        ("POST", "/session", {"data": {"name": "x", "image": "evil.org/x"}}),
        ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "cores": "99"}}),
        ("POST", "/session", {"data": {"name": "x_y", "image": IMAGE}}),
        ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "gpus": "0"}}),
        ("POST", "/session", {"content": b'{"name": "x"}', "headers": {"content-type": "a/b"}}),
        ("POST", "/session/zzzzzzzz", {"data": {"action": "renew"}}),
        ("POST", "/session/zzzzzzzz", {"content": b"action=other", "headers": FORM}),
        ("POST", "/session/zzzzzzzz/app", {"data": {"image": IMAGE}}),
        ("POST", "/session/a/app/b", {}),
    ]
    for session_id in ids:
        requests += [
            ("GET", f"/session/{session_id}", {}),
            ("GET", f"/session/{session_id}", {"params": {"view": "events"}}),
            ("GET", f"/session/{session_id}", {"params": {"view": "logs"}}),
        ]
    return requests


def shape(response: httpx.Response) -> tuple[Any, ...]:
    headers = tuple(response.headers.get(name) for name in COMPARED_HEADERS)
    return (response.status_code, headers, response.content)


@pytest.mark.anyio
async def test_in_process_and_loopback_agree(local_server: Any) -> None:
    with api(local_server) as http:
        done = create(http, name="Done", cmd="echo", args="out put")
        failed = create(http, name="Bad", cmd="false")
        wait_for(http, done, ("Completed",))
        wait_for(http, failed, ("Failed",))
    ids = [done, failed]
    transport = httpx.ASGITransport(app=create_app())  # same CANFAR_LOCAL_HOME, same user
    async with (
        httpx.AsyncClient(
            base_url=local_server.url + "/v1", headers=local_server.headers
        ) as loopback,
        httpx.AsyncClient(transport=transport, base_url="http://local/skaha/v1") as in_process,
    ):
        for method, path, options in requests_for(ids):
            over_socket = await loopback.request(method, path, **options)
            in_memory = await in_process.request(method, path, **options)
            assert shape(in_memory) == shape(over_socket), (method, path, options)
            assert over_socket.status_code < 500


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
@pytest.mark.anyio
async def test_in_process_runs_jobs_too() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://local/skaha/v1") as http:
        response = await http.post(
            "/session", data={"name": "x", "image": IMAGE, "cmd": "echo", "args": "hi"}
        )
        assert response.status_code == 200
        session_id = response.text.strip()
        import anyio

        with anyio.fail_after(60):
            while (await http.get(f"/session/{session_id}")).json()["status"] != "Completed":
                await anyio.sleep(0.05)
        assert (await http.get(f"/session/{session_id}?view=logs")).text == "hi\n"
        assert (await http.delete(f"/session/{session_id}")).status_code == 200
