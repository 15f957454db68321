"""A big download's body read on a socket of its own (canfar_cli/storage/direct.py), against
`canfar local serve` over a real socket: the same bytes, checks and retries as the usual way,
faults survived or reported, cancellation and a full disk leaving nothing half-done, and the
usual way kept where there is no socket of our own (the in-process platform, a proxy).

DIRECT_MIN is lowered so that files of a few MB take that way."""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from canfar_cli import AsyncStorage
from canfar_cli.errors import CanfarError, UnreachableError
from canfar_cli.http import RetryPolicy
from canfar_cli.storage import direct
from tests.support.storage import interrupted_mid_body

pytestmark = pytest.mark.anyio
QUICK = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.02, retry_after_cap=0.05)
DATA = os.urandom(3_000_000)
OWN = "(own connection)"


@pytest.fixture(autouse=True)
def small_direct_min(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(direct, "DIRECT_MIN", 1 << 20)
    caplog.set_level(logging.INFO, logger="canfar_cli.http")


def own_connections(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if OWN in r.getMessage()]


def served(serve_local: Any, faults: str = "") -> AsyncStorage:
    server = serve_local(env={"CANFAR_LOCAL_FAULTS": faults} if faults else {})
    return AsyncStorage(server.url, token=server.token, retry=QUICK)


async def test_arc_and_vault_bodies_come_on_their_own_connection(
    serve_local: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local) as storage:
        for service in ("arc", "vault"):
            await storage.put(str(tmp_path / "f"), f"{service}:~/f")
            report = await storage.get(f"{service}:~/f", str(tmp_path / f"{service}.back"))
            assert report.exit_code == 0
            assert (tmp_path / f"{service}.back").read_bytes() == DATA
            assert not (tmp_path / f"{service}.back.part").exists()
    lines = own_connections(caplog)
    assert len(lines) == 2, lines
    # Vault's byte URL is pre-authorized: its token never reaches a log line.
    assert any("/minoc/" in line for line in lines)
    assert all("preauth" not in line or "***" in line for line in lines), lines


async def test_a_small_body_still_comes_the_usual_way(
    serve_local: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(DATA[:500_000])
    async with served(serve_local) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        await storage.get("arc:~/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == DATA[:500_000]
    assert own_connections(caplog) == []


@pytest.mark.parametrize(
    "faults",
    [
        "fault=503,path=/arc/files/,method=GET,times=2,retry=0",
        "fault=drop,path=/arc/files/,method=GET,times=3",
        # Every other request cut: the one read on its own connection is cut at least once.
        "fault=cut,path=/arc/files/,method=GET,times=3",
        # Vault honours Range: the .part continues from where the cut left it (206).
        "fault=cut,path=/minoc/,method=GET,times=3",
    ],
)
async def test_a_big_download_survives_what_may_be_retried(
    serve_local: Any, tmp_path: Path, faults: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    service = "vault" if "minoc" in faults else "arc"
    async with served(serve_local, faults) as storage:
        await storage.put(str(tmp_path / "f"), f"{service}:~/f")
        await storage.get(f"{service}:~/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == DATA
    assert not (tmp_path / "back.part").exists()
    lines = own_connections(caplog)
    assert lines
    if service == "vault":  # asked again from where the cut left the .part
        assert any(" 206 " in line for line in lines), lines


async def test_a_resumed_vault_download_asks_for_the_rest_on_its_own_connection(
    serve_local: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    (tmp_path / "back.part").write_bytes(DATA[:700_000])
    async with served(serve_local) as storage:
        await storage.put(str(tmp_path / "f"), "vault:~/f")
        await storage.get("vault:~/f", str(tmp_path / "back"), resume=True)
    assert (tmp_path / "back").read_bytes() == DATA
    assert any(" 206 " in line for line in own_connections(caplog))


async def test_a_big_download_that_keeps_breaking_keeps_its_part_and_says_so(
    serve_local: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, "fault=cut,path=/arc/files/,method=GET") as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        with pytest.raises(UnreachableError) as caught:
            await storage.get("arc:~/f", str(tmp_path / "back"))
    assert caught.value.exit_code == 5
    assert "back.part is kept" in caught.value.message
    assert "--continue" in (caught.value.hint or "")
    assert not (tmp_path / "back").exists()


async def test_other_bytes_than_the_digest_says_are_not_kept(
    serve_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MD5 of what came on the own connection is checked like any other."""
    (tmp_path / "f").write_bytes(DATA)
    real = direct.Direct.receive

    def corrupting(self: direct.Direct, handle: Any, hasher: Any) -> None:
        real(self, handle, hasher)
        hasher.update(b"one byte too many")

    monkeypatch.setattr(direct.Direct, "receive", corrupting)
    async with served(serve_local) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        with pytest.raises(CanfarError, match="checksum"):
            await storage.get("arc:~/f", str(tmp_path / "back"))
    assert not (tmp_path / "back").exists() and not (tmp_path / "back.part").exists()


async def test_a_full_disk_is_one_error_not_retried_and_leaves_no_part(
    serve_local: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    real = direct.fetch

    class Full:
        def __init__(self, handle: Any) -> None:
            self.handle, self.writes = handle, 0

        def write(self, data: Any) -> int:
            self.writes += 1
            if self.writes > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            return int(self.handle.write(data))

    async def filling(body: direct.Direct, handle: Any, hasher: Any, progress: Any) -> None:
        await real(body, Full(handle), hasher, progress)

    monkeypatch.setattr(direct, "fetch", filling)
    async with served(serve_local) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        with pytest.raises(CanfarError) as caught:
            await storage.get("arc:~/f", str(tmp_path / "back"))
    assert caught.value.exit_code == 1
    assert "cannot write" in caught.value.message and "No space" in caught.value.message
    assert not (tmp_path / "back").exists() and not (tmp_path / "back.part").exists()
    assert len(own_connections(caplog)) == 1  # a full disk is not asked again


async def test_cancelling_stops_the_threads_and_removes_the_part(
    serve_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C mid-body: the reading thread stops at its next block (the socket is shut), the
    .part is removed and the batch reports the file as not done."""
    data = os.urandom(24 << 20)
    (tmp_path / "f").write_bytes(data)
    blocks: list[int] = []
    real = direct._fill

    def slow(answer: Any, view: memoryview) -> int:
        blocks.append(len(view))
        time.sleep(0.02)
        return real(answer, view)

    monkeypatch.setattr(direct, "_fill", slow)

    async with served(serve_local) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        caught = await interrupted_mid_body(
            lambda progress: storage.get("arc:~/f", str(tmp_path / "back"), progress=progress)
        )
    assert caught is not None and caught.report.exit_code == 130
    assert not (tmp_path / "back").exists() and not (tmp_path / "back.part").exists()
    assert 0 < len(blocks) < len(data) // direct.BLOCK, "the reading went on after the cancellation"


async def test_behind_a_proxy_the_body_comes_the_usual_way(
    serve_local: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A proxy is honoured by the usual way only: no connection of our own goes around it."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        await storage.get("arc:~/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == DATA
    assert own_connections(caplog) == []


async def test_the_in_process_platform_has_no_socket_and_keeps_the_usual_way(
    isolated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with AsyncStorage("local") as storage:
        await storage.mkdir("arc:~", parents=True)
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        await storage.get("arc:~/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == DATA
    assert own_connections(caplog) == []
