"""Bad input never hurts the local platform: 4xx (or 405), never a 500, nothing lost."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from tests.support import FORM, IMAGE
from tests.support.api import api, create, wait_for

MULTI = "multipart/form-data"
BAD_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/session", {"content": b"name=%zz&image=%ff%fe", "headers": FORM}),
    ("POST", "/session", {"content": b"\xff\xfe\x00garbage=\x80", "headers": FORM}),
    ("POST", "/session", {"content": b"name=a%00b&image=" + IMAGE.encode(), "headers": FORM}),
    ("POST", "/session", {"content": b"&&&===&", "headers": FORM}),
    ("POST", "/session", {"content": b"--x\r\n\r\n", "headers": {"content-type": MULTI}}),
    ("POST", "/session", {"content": b"zz", "headers": {"content-type": MULTI + "; boundary=z"}}),
    ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "cores": "1e309"}}),
    ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "cores": "NaN"}}),
    ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "ram": "-Infinity"}}),
    ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "gpus": "99999999999999999999"}}),
    ("POST", "/session", {"data": {"name": "x" * 64, "image": IMAGE}}),
    ("POST", "/session", {"data": {"name": "x-", "image": IMAGE}}),
    ("POST", "/session", {"data": {"name": "é", "image": IMAGE}}),
    ("POST", "/session", {"data": {"name": "x", "image": IMAGE, "type": "\x00"}}),
    ("POST", "/session", {"content": b"a" * (2 * 1024 * 1024), "headers": FORM}),
    ("GET", "/session/%00", {}),
    ("GET", "/session/%ff%fe", {}),
    ("GET", "/session/abc%2Fdef%2Fghi%2Fjkl", {}),
    ("GET", "/image?type=%00", {}),
    ("GET", "/session/a/b/c/d/e/f", {}),
    ("DELETE", "/session/%00/app", {}),
    ("POST", "/session/abc/app", {"data": {"image": IMAGE, "cores": "x"}}),
    ("POST", "/session/abc", {"data": {"action": "\x00"}}),
    ("OPTIONS", "/session", {}),
    ("TRACE", "/context", {}),
    ("FOO", "/session", {}),
    ("GET", "/" + "a" * 4000, {}),
]  # fmt: skip


def test_bad_requests_get_4xx_and_lose_nothing(local_server: Any) -> None:
    with api(local_server) as http:
        keep = create(http, name="keep", cmd="echo", args="kept")
        wait_for(http, keep, ("Completed",))
        before = http.get(f"/session/{keep}").json()

    async def blast() -> list[tuple[str, str, int]]:
        results: list[tuple[str, str, int]] = []
        async with httpx.AsyncClient(
            base_url=local_server.url + "/v1", timeout=60, headers=local_server.headers
        ) as client:

            async def one(method: str, path: str, options: dict[str, Any]) -> None:
                response = await client.request(method, path, **options)
                results.append((method, path[:40], response.status_code))
                assert response.headers["content-type"].startswith("text/")

            async with anyio.create_task_group() as group:
                for _ in range(3):  # at once, several times over
                    for method, path, options in BAD_REQUESTS:
                        group.start_soon(one, method, path, options)
        return results

    results = anyio.run(blast)
    assert len(results) == 3 * len(BAD_REQUESTS)
    failures = [r for r in results if not 400 <= r[2] < 500]
    assert failures == []
    assert {r[2] for r in results if r[1].startswith("/session") and r[0] == "FOO"} == {405}
    with api(local_server) as http:
        assert http.get(f"/session/{keep}").json() == before
        assert http.get(f"/session/{keep}?view=logs").text == "kept\n"
        assert [s["id"] for s in http.get("/session").json()] == [keep]
        # Filters are not validated (as on the real server): odd values just match nothing.
        odd = http.get("/session?view=%ff&type=%00&status=" + "x" * 5000)
        assert odd.status_code == 200 and odd.json() == []


def test_huge_body_is_413(shared_client: httpx.Client) -> None:
    response = shared_client.post("/session", content=b"x" * (3 << 20), headers=FORM)
    assert response.status_code == 413
    assert response.headers["content-type"] == "text/plain"


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /skaha/v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS hello
        b"GARBAGE\r\n\r\n",
    ],
)
def test_malformed_http_does_not_hurt(local_server: Any, raw: bytes) -> None:
    address = urlsplit(local_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(raw)
        answer = sock.recv(1024)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    assert (
        httpx.get(local_server.url + "/v1/context", headers=local_server.headers).status_code == 200
    )


def test_command_that_cannot_start_fails_with_an_event(client: httpx.Client) -> None:
    missing = create(client, cmd="/no/such/program")
    wait_for(client, missing, ("Failed",))
    assert "cannot start" in client.get(f"/session/{missing}?view=events").text
    # A NUL cannot even be written into the job's YAML: the create fails, as on CANFAR.
    nul = client.post(
        "/session", data={"name": "nul", "image": IMAGE, "cmd": "echo", "args": "a\x00b"}
    )
    assert nul.status_code == 500 and "special characters" in nul.text
