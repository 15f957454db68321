"""Targeted fault injection on the storage routes (CANFAR_LOCAL_FAULTS), for the client's tests:
503 with Retry-After, a connection dropped mid-body both ways, HTML and garbage answers, 500."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.support.storage import storage


def test_a_503_with_retry_after_then_success(serve_local: Any) -> None:
    server = serve_local(
        env={"CANFAR_LOCAL_FAULTS": "fault=503,path=/arc/files/,method=PUT,times=1,retry=7"}
    )
    with storage(server) as http:
        first = http.put(f"/arc/files/home/{server.user}/f", content=b"x")
        assert first.status_code == 503 and first.headers["retry-after"] == "7"
        assert first.text.startswith("temporarily unavailable")
        assert http.put(f"/arc/files/home/{server.user}/f", content=b"x").status_code == 201


def test_a_download_cut_halfway(serve_local: Any) -> None:
    server = serve_local(
        env={"CANFAR_LOCAL_FAULTS": "fault=cut,path=/arc/files/,method=GET,after=1"}
    )
    data = b"z" * 500_000
    with storage(server) as http:
        assert http.put(f"/arc/files/home/{server.user}/big", content=data).status_code == 201
        assert http.get(f"/arc/files/home/{server.user}/big").content == data  # the first passes
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"/arc/files/home/{server.user}/big")


def test_an_upload_cut_halfway_leaves_an_empty_file(serve_local: Any) -> None:
    server = serve_local(
        env={"CANFAR_LOCAL_FAULTS": "fault=cut,path=/arc/files/,method=PUT,after=1"}
    )
    target = server.home / "home" / server.user / "up"
    with storage(server) as http:
        assert http.put(f"/arc/files/home/{server.user}/up", content=b"first").status_code == 201
        with pytest.raises(httpx.TransportError):
            http.put(f"/arc/files/home/{server.user}/up", content=b"y" * 2_000_000)
    from tests.support.api import wait_until

    wait_until(lambda: target.stat().st_size == 0, what="the cut upload to leave an empty file")


@pytest.mark.parametrize(
    ("rule", "status", "content_type"),
    [
        ("fault=html,path=/arc/nodes/", 200, "text/html"),
        ("fault=html,path=/arc/nodes/,status=502", 502, "text/html"),
        ("fault=garbage,path=/arc/nodes/", 200, "text/xml"),
        ("fault=500,path=/arc/nodes/", 500, "text/plain"),
    ],
)
def test_html_garbage_and_500_answers(
    serve_local: Any, rule: str, status: int, content_type: str
) -> None:
    server = serve_local(env={"CANFAR_LOCAL_FAULTS": rule})
    with storage(server) as http:
        answer = http.get(f"/arc/nodes/home/{server.user}")
        assert answer.status_code == status
        assert answer.headers["content-type"] == content_type
        assert not answer.text.startswith("<?xml")
        assert http.get("/arc/capabilities").status_code == 200  # other paths untouched


def test_a_dropped_connection(serve_local: Any) -> None:
    server = serve_local(env={"CANFAR_LOCAL_FAULTS": "fault=drop,path=/vault/"})
    with storage(server) as http, pytest.raises(httpx.RemoteProtocolError):
        http.get("/vault/nodes/")


def test_a_bad_rule_stops_the_server_at_start(isolated: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "local", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "CANFAR_LOCAL_FAULTS": "fault=teapot"},
        check=False,
    )
    assert result.returncode != 0 and result.stdout == ""
    assert "CANFAR_LOCAL_FAULTS" in result.stderr
