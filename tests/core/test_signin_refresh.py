"""Two canfar processes refreshing the same SRCNet sign-in at once keep the newest tokens.

The local platform's OIDC provider (`canfar local serve`) rotates refresh tokens (each works
once), so a process that refreshed with a token another had already used would be refused: all
succeeding, with one refresh in all and the stored refresh token still valid, shows the lock and
the re-read under it work.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.process import canfar_env
from tests.support.signin import (
    SigninPlatform,
    point_canfar_at,
    start_signin_platform,
    stop_signin_platform,
)

SCRIPT = """
import os, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.005)
from canfar_cli.auth.oidc import access_token
from canfar_cli.auth.settings import signin_settings
print(access_token(signin_settings()))
"""


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SigninPlatform]:
    started = start_signin_platform(tmp_path)
    point_canfar_at(started, monkeypatch)
    yield started
    stop_signin_platform(started)


def _signed_in_with_expired_access(services: SigninPlatform) -> dict:
    from tests.support.signin import write_auth as write_store

    tokens = services.tokens("alice")  # a client registered, and a device login through it
    record = {
        "source": "canfar",
        "issuer": f"{services.base}/oidc",
        "token_endpoint": f"{services.base}/oidc/token",
        "userinfo_endpoint": f"{services.base}/oidc/userinfo",
        "client_id": tokens["client_id"],
        "client_secret": tokens["client_secret"],
        "user": "alice",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": time.time() - 10,
    }
    write_store({"active": {"identity": "srcnet"}, "identities": {"srcnet": record}})
    return record


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_refreshing_at_once_never_lose_the_newer_token(
    services: SigninPlatform, tmp_path: Path, processes: int
) -> None:
    from tests.support.signin import read_auth as read_store

    old = _signed_in_with_expired_access(services)
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=canfar_env(),
        )
        for _ in range(processes)
    ]
    go.touch()
    results = [child.communicate(timeout=60) for child in children]
    assert all(child.returncode == 0 for child in children), results
    tokens = {out.strip() for out, _err in results}
    assert len(tokens) == 1 and old["access_token"] not in tokens
    assert services.refresh_count() == 1
    stored = read_store()["identities"]["srcnet"]
    assert stored["access_token"] in tokens
    assert services.refresh_token_good(stored["refresh_token"])  # the newest one, still good
    assert json.dumps(stored).count(old["refresh_token"]) == 0


def test_a_refused_refresh_is_exit_3_with_the_fix(services: SigninPlatform) -> None:
    from canfar_cli.auth.oidc import access_token
    from canfar_cli.auth.settings import signin_settings
    from canfar_cli.errors import CredentialError

    record = _signed_in_with_expired_access(services)
    services.revoke(record["refresh_token"], record["client_id"], record["client_secret"])
    with pytest.raises(CredentialError) as caught:
        access_token(signin_settings())
    assert caught.value.exit_code == 3 and "canfar login srcnet" in (caught.value.hint or "")
