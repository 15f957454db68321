"""`canfar local serve` is closed to other users by default: a random token, recorded 0600 in the
state folder, required on every request, never on argv, found by canfar for that URL by itself."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from canfar_cli import serve_tokens as tokens
from tests.support.api import api
from tests.support.commands import serve_refused_in_process


def _port(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


def test_default_server_refuses_a_request_without_its_token(local_server: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer guess"}):
        response = httpx.get(local_server.url + "/v1/session", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        # A create (what would run a command as us) is refused as well, and makes nothing.
        posted = httpx.post(
            local_server.url + "/v1/session",
            data={"name": "x", "image": "images.canfar.net/skaha/terminal:1.1.1", "cmd": "id"},
            headers=headers,
        )
        assert posted.status_code == 401
    with api(local_server) as http:
        assert http.get("/session").json() == []


def test_token_file_is_private_and_the_token_never_on_argv_or_stdout(serve_local: Any) -> None:
    local_server = serve_local(forked=False)  # a process of its own: its argv is the point
    path = tokens.token_path(local_server.home, _port(local_server.url))
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    record = json.loads(path.read_text())
    assert record["url"] == local_server.url and record["pid"] == local_server.process.pid
    token = record["token"]
    assert len(token) >= 32 and token == local_server.token
    cmdline = Path(f"/proc/{local_server.process.pid}/cmdline").read_bytes()
    assert token.encode() not in cmdline
    assert local_server.token.encode() not in os.environ.get("CANFAR_LOCAL_TOKEN", "").encode()
    # Stderr is a file here, not a terminal: the token is named by its file, not shown.
    assert token not in local_server.stderr_path.read_text()
    assert str(path) in local_server.stderr_path.read_text()


def test_canfar_finds_the_token_by_itself(local_server: Any) -> None:
    env = dict(os.environ)
    for name in ("CANFAR_TOKEN", "CANFAR_URL"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "--server", local_server.url, "ps", "-a"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ID") or result.stdout == ""
    # Another state folder holds no token for that port: refused as unauthenticated (exit 3).
    # In-process (exit 3 as a real process: tests/cli/test_process.py's
    # test_exit_3_for_missing_or_rejected_credentials).
    from typer.testing import CliRunner

    from canfar_cli.cli.main import app

    elsewhere = {"CANFAR_LOCAL_HOME": str(local_server.home.parent / "elsewhere")}
    other = CliRunner().invoke(app, ["--server", local_server.url, "ps"], env=elsewhere)
    assert other.exit_code == 3 and other.stdout == ""


def test_the_token_file_goes_when_the_server_stops(local_server: Any) -> None:
    path = tokens.token_path(local_server.home, _port(local_server.url))
    assert path.exists()
    local_server.stop(graceful=True)
    assert local_server.process.returncode == 0
    assert not path.exists()


def test_token_from_the_environment_is_required_and_recorded(serve_local: Any) -> None:
    server = serve_local(env={"CANFAR_LOCAL_TOKEN": "env-token-123"})
    assert server.token == "env-token-123"  # found in the state folder by find_token
    assert httpx.get(server.url + "/v1/session").status_code == 401
    ok = httpx.get(server.url + "/v1/session", headers={"Authorization": "Bearer env-token-123"})
    assert ok.status_code == 200


def test_no_auth_warns_and_is_loopback_only(serve_local: Any) -> None:
    server = serve_local(no_auth=True)
    assert server.token is None
    assert httpx.get(server.url + "/v1/session").status_code == 200
    assert "warning: serving without a token" in server.stderr_path.read_text()
    # recorded (so `--server local` sign-ins find it) but with no token for clients to send
    assert tokens.find_token(server.url, server.home) is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--token", "visible"], "--token is not accepted"),
        (["--host", "0.0.0.0", "--no-auth"], "refusing to serve on 0.0.0.0 without a token"),
        (["--token-file", "/nonexistent/token"], "cannot read --token-file"),
    ],
)
def test_token_options_refused_before_serving(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], message: str
) -> None:
    # In-process; a refusal as a real process is test_serve.py's
    # test_bad_options_are_usage_errors.
    result = serve_refused_in_process(monkeypatch, *flags)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


# --- find_token, the one function the core calls --------------------------------------------


def _record(home: Path, port: int, token: str = "tok") -> Path:
    return tokens.write_token(home, port, f"http://127.0.0.1:{port}/skaha", token)


def test_find_token_reads_only_loopback_http_urls_of_this_state_folder(tmp_path: Path) -> None:
    home = tmp_path / "state"
    home.mkdir(mode=0o700)
    _record(home, 8123)
    for url in (
        "http://127.0.0.1:8123/skaha",
        "http://localhost:8123/skaha/v1",
        "http://[::1]:8123/skaha",
    ):
        assert tokens.find_token(url, home) == "tok", url
    for url in (
        "https://127.0.0.1:8123/skaha",  # not what a local server speaks
        "http://example.org:8123/skaha",  # not loopback: never sent anywhere else
        "http://127.0.0.1:8124/skaha",  # another port
        "http://127.0.0.1/skaha",
        "local",
        "http://127.0.0.1:99999/skaha",
    ):
        assert tokens.find_token(url, home) is None, url


def test_find_token_ignores_a_file_others_could_read(tmp_path: Path) -> None:
    home = tmp_path / "state"
    home.mkdir(mode=0o700)
    path = _record(home, 8123)
    path.chmod(0o644)
    assert tokens.find_token("http://127.0.0.1:8123/skaha", home) is None
    path.write_text("not json")
    path.chmod(0o600)
    assert tokens.find_token("http://127.0.0.1:8123/skaha", home) is None


def test_load_settings_picks_the_local_token_only_without_one_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from canfar_cli.config import load_settings

    home = Path(os.environ["CANFAR_LOCAL_HOME"])
    home.mkdir(mode=0o700, exist_ok=True)
    _record(home, 8123, "found")
    url = "http://127.0.0.1:8123/skaha"
    assert load_settings(server=url).token == "found"
    monkeypatch.setenv("CANFAR_TOKEN", "mine")
    assert load_settings(server=url).token == "mine"
