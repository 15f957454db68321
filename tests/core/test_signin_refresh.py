"""Two canfar processes refreshing the same SRCNet sign-in at once keep the newest tokens.

The fake sign-in service rotates refresh tokens (each works once), so a process that refreshed
with a token another had already used would be refused: both succeeding, with one refresh in
all and the stored refresh token still valid, shows the lock and the re-read under it work.
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
from tests.support_signin import FakeSignin, point_canfar_at, run_fake

SCRIPT = """
import os, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.005)
from canfar_cli.auth.oidc import access_token
from canfar_cli.config import load_settings
print(access_token(load_settings(server="local")))
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSignin]:
    for started in run_fake(tmp_path):
        point_canfar_at(started, monkeypatch)
        yield started


def _signed_in_with_expired_access(fake: FakeSignin) -> dict:
    from canfar_cli.auth.store import write_store

    fake.clients["c1"] = "s1"
    tokens = fake._tokens("alice")
    record = {
        "source": "canfar",
        "issuer": f"{fake.base}/oidc",
        "token_endpoint": f"{fake.base}/oidc/token",
        "userinfo_endpoint": f"{fake.base}/oidc/userinfo",
        "client_id": "c1",
        "client_secret": "s1",
        "user": "alice",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": time.time() - 10,
    }
    write_store({"active": {"identity": "srcnet"}, "identities": {"srcnet": record}})
    return record


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_refreshing_at_once_never_lose_the_newer_token(
    fake: FakeSignin, tmp_path: Path, processes: int
) -> None:
    from canfar_cli.auth.store import read_store

    old = _signed_in_with_expired_access(fake)
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
    assert fake.refresh_count == 1
    stored = read_store()["identities"]["srcnet"]
    assert stored["access_token"] in tokens
    assert stored["refresh_token"] in fake.refresh  # the newest one, still good
    assert json.dumps(stored).count(old["refresh_token"]) == 0


def test_a_refused_refresh_is_exit_3_with_the_fix(fake: FakeSignin) -> None:
    from canfar_cli.auth.oidc import access_token
    from canfar_cli.config import load_settings
    from canfar_cli.errors import CredentialError

    _signed_in_with_expired_access(fake)
    fake.revoke_refresh_tokens()
    with pytest.raises(CredentialError) as caught:
        access_token(load_settings(server="local"))
    assert caught.value.exit_code == 3 and "canfar login srcnet" in (caught.value.hint or "")
