"""Storage over HTTPS (`canfar local serve --tls`) with the sign-in services' credentials: a
client certificate of the platform's CA, and an OIDC access token. `~` is the certificate's CN,
or the user the server says a token is."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canfar_cli import AsyncStorage
from canfar_cli.errors import AuthError
from tests.support.signin import point_canfar_at, start_signin_platform, stop_signin_platform
from tests.support.storage import interrupted_mid_body

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing"),
]


@pytest.fixture
def tls_platform(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    platform = start_signin_platform(isolated, tls=True)
    point_canfar_at(platform, monkeypatch)
    yield platform
    stop_signin_platform(platform)


async def round_trip(storage: AsyncStorage, tmp_path: Path) -> None:
    data = b"over TLS\n" * 5000
    (tmp_path / "f").write_bytes(data)
    for service in ("arc", "vault"):
        await storage.put(str(tmp_path / "f"), f"{service}:~/f")
        await storage.get(f"{service}:~/f", str(tmp_path / f"{service}.back"))
        assert (tmp_path / f"{service}.back").read_bytes() == data


async def test_https_with_a_certificate(tls_platform: Any, tmp_path: Path) -> None:
    pem = tmp_path / "alice.pem"
    pem.write_bytes(tls_platform.issue_certificate("alice", expired_seconds_ago=-3600))
    async with AsyncStorage(tls_platform.server.url, certificate=str(pem)) as storage:
        assert await storage.user() == "alice"
        assert (await storage.stat("arc:~")).path == "arc:/home/alice"
        await round_trip(storage, tmp_path)


async def test_https_with_a_token(tls_platform: Any, tmp_path: Path) -> None:
    token = tls_platform.tokens("alice")["access_token"]
    async with AsyncStorage(tls_platform.server.url, token=token) as storage:
        assert await storage.user() == "alice"
        await round_trip(storage, tmp_path)


async def test_https_without_a_credential_is_refused_with_exit_3(
    tls_platform: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    pem = tmp_path / "alice.pem"
    pem.write_bytes(tls_platform.issue_certificate("alice", expired_seconds_ago=-3600))
    async with AsyncStorage(tls_platform.server.url, certificate=str(pem)) as storage:
        await storage.stat("arc:~")  # alice's home exists
    async with AsyncStorage(tls_platform.server.url, user="alice") as storage:
        with pytest.raises(AuthError) as caught:
            await storage.put(str(tmp_path / "f"), "arc:~/f")
    assert caught.value.exit_code == 3


@pytest.mark.parametrize("credential", ["certificate", "token"])
async def test_a_big_body_on_its_own_connection_uses_the_same_tls_and_credential(
    tls_platform: Any,
    tmp_path: Path,
    credential: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection a big download's body comes on (storage/direct.py) verifies the server
    with the platform's CA bundle and presents the certificate, or sends the token, as the
    pooled connections do."""
    import logging
    import os

    from canfar_cli.storage import direct

    monkeypatch.setattr(direct, "DIRECT_MIN", 1 << 20)
    caplog.set_level(logging.INFO, logger="canfar_cli.http")
    if credential == "certificate":
        pem = tmp_path / "alice.pem"
        pem.write_bytes(tls_platform.issue_certificate("alice", expired_seconds_ago=-3600))
        storage = AsyncStorage(tls_platform.server.url, certificate=str(pem))
    else:
        token = tls_platform.tokens("alice")["access_token"]
        storage = AsyncStorage(tls_platform.server.url, token=token)
    data = os.urandom(2_500_000)
    (tmp_path / "f").write_bytes(data)
    async with storage:
        for service in ("arc", "vault"):
            await storage.put(str(tmp_path / "f"), f"{service}:~/f")
            await storage.get(f"{service}:~/f", str(tmp_path / f"{service}.back"))
            assert (tmp_path / f"{service}.back").read_bytes() == data
    own = [r.getMessage() for r in caplog.records if "(own connection)" in r.getMessage()]
    assert len(own) == 2 and all(" 200 " in line for line in own), own
    assert all(line.startswith("GET https://") for line in own), own


async def test_cancelling_a_big_body_mid_read_over_tls(
    tls_platform: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the reading thread is receiving: the socket is shut under it, the TLS read
    fails, and that is a cancellation (TransferInterrupted, nothing left), not an error."""
    import os
    import threading

    from canfar_cli.storage import direct

    monkeypatch.setattr(direct, "DIRECT_MIN", 1 << 20)
    stopped = threading.Event()
    real_stop, real_fill = direct.Direct.stop, direct._fill
    calls: list[int] = []

    def stop(self: direct.Direct) -> None:
        real_stop(self)
        stopped.set()

    def fill(answer: Any, view: memoryview) -> int:
        calls.append(len(view))
        if len(calls) > 1:  # the next receive comes after the socket was shut
            stopped.wait(30)
        return real_fill(answer, view)

    monkeypatch.setattr(direct.Direct, "stop", stop)
    monkeypatch.setattr(direct, "_fill", fill)

    pem = tmp_path / "alice.pem"
    pem.write_bytes(tls_platform.issue_certificate("alice", expired_seconds_ago=-3600))
    (tmp_path / "f").write_bytes(os.urandom(6 << 20))
    async with AsyncStorage(tls_platform.server.url, certificate=str(pem)) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        caught = await interrupted_mid_body(
            lambda progress: storage.get("arc:~/f", str(tmp_path / "back"), progress=progress)
        )
    assert caught is not None and caught.report.exit_code == 130
    assert len(calls) == 2
    assert not (tmp_path / "back").exists() and not (tmp_path / "back.part").exists()
