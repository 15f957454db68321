"""`canfar local serve`: its first line, clean stops, credentials and fault injection."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.support import IMAGE
from tests.support.api import api, create
from tests.support.commands import serve_refused_in_process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_line_is_the_url_and_a_signal_stops_cleanly(serve_local: Any, sig: int) -> None:
    server = serve_local()
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/skaha")
    with api(server) as http:
        assert http.get("/context").status_code == 200
    server.process.send_signal(sig)
    assert server.process.wait(timeout=20) == 0
    assert server.process.stdout is not None
    assert server.process.stdout.read() == b""  # nothing but the URL on stdout
    assert "Traceback" not in server.stderr_path.read_text()


def test_port_in_use_is_one_clear_line(local_server: Any) -> None:
    port = local_server.url.split(":")[2].split("/")[0]
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "local", "serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot listen on 127.0.0.1:" in result.stderr and "Traceback" not in result.stderr


def test_bad_options_are_usage_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "local", "serve", "--fail-rate", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--fail-rate must be between 0 and 1" in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--retry-after", "-3"], "--retry-after must be between 0 and 86400"),
        (["--user", " "], "--user must not be empty"),
    ],
)
def test_bad_serve_values_are_refused_before_serving(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], message: str
) -> None:
    # In-process; the refusal as a real process is test_bad_options_are_usage_errors'.
    result = serve_refused_in_process(monkeypatch, "--port", "0", *flags)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stdout == ""  # no URL: nothing was served


def test_unusable_state_folder_is_a_start_up_error(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    home = str(blocker / "state")
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "local", "serve", "--port", "0", "--home", home],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""  # no URL printed for a server that could only answer 500
    assert "cannot use its state folder" in result.stderr and "--home" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_required_when_given(serve_local: Any) -> None:
    server = serve_local(token="s3cret", user="alice")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        response = httpx.get(server.url + "/v1/session", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "text/plain"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "s3cret" not in response.text
    with api(server) as http:  # sends the right token
        assert http.get("/session").status_code == 200
        session_id = create(http, cmd="true")
        assert http.get(f"/session/{session_id}").json()["userid"] == "alice"
        assert http.get("/session").headers["x-vo-authenticated"] == "alice"


def test_no_auth_means_no_credentials_needed(serve_local: Any) -> None:
    server = serve_local(no_auth=True)
    response = httpx.get(server.url + "/v1/session", headers={"Authorization": "Bearer x"})
    assert response.status_code == 200


def test_latency_is_added_to_every_response(serve_local: Any) -> None:
    server = serve_local(latency_ms=300)
    with api(server) as http:
        http.get("/context")  # connection set up
        started = time.monotonic()
        assert http.get("/context").status_code == 200
        assert time.monotonic() - started >= 0.3


def test_fail_rate_one_fails_everything_with_retry_after(serve_local: Any) -> None:
    server = serve_local(fail_rate=1.0, retry_after=7)
    with api(server) as http:
        for _ in range(5):
            response = http.get("/session")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "7"
            assert response.text == "temporarily unavailable: null\n"
        assert http.get("/session/abc").text == "temporarily unavailable: /abc\n"
        # Nothing was created by a refused POST.
        assert http.post("/session", data={"name": "x", "image": IMAGE}).status_code == 503
    assert not list((server.home / "sessions").glob("*"))


def test_fail_status_and_partial_rate(serve_local: Any) -> None:
    server = serve_local(fail_rate=0.5, fail_status=500)
    with api(server) as http:
        codes = [http.get("/context").status_code for _ in range(80)]
    assert set(codes) == {200, 500}
    assert 10 < codes.count(500) < 70  # about half (binomial, n=80: far outside is ~impossible)


def test_drop_rate_closes_connections_without_response(serve_local: Any) -> None:
    server = serve_local(drop_rate=1.0)
    with api(server) as http:
        for _ in range(3):
            with pytest.raises(httpx.TransportError):
                http.get("/context")
    partial = serve_local(drop_rate=0.5)
    outcomes: list[int | str] = []
    with api(partial) as http:
        for _ in range(40):
            try:
                outcomes.append(http.get("/context").status_code)
            except httpx.TransportError:
                outcomes.append("dropped")
    assert 200 in outcomes and "dropped" in outcomes
    assert set(outcomes) <= {200, "dropped"}


def test_no_token_only_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process; the refusal as a real process is test_bad_options_are_usage_errors'.
    result = serve_refused_in_process(monkeypatch, "--host", "0.0.0.0", "--no-auth")
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without a token" in result.stderr
