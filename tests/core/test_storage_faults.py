"""Faults at one place (CANFAR_LOCAL_FAULTS of `canfar local serve`): each is retried where it
may be, or becomes one clear error with the right exit code, and nothing is left half-done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from canfar_cli import AsyncStorage
from canfar_cli.errors import CanfarError, ServerError, UnreachableError
from canfar_cli.http import RetryPolicy

pytestmark = pytest.mark.anyio
QUICK = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.02, retry_after_cap=0.05)
DATA = os.urandom(3_000_000)


def served(serve_local: Any, faults: str) -> AsyncStorage:
    server = serve_local(env={"CANFAR_LOCAL_FAULTS": faults})
    return AsyncStorage(server.url, token=server.token, retry=QUICK)


@pytest.mark.parametrize(
    "faults",
    [
        "fault=503,path=/arc/files/,method=PUT,times=2,retry=0",
        "fault=drop,path=/arc/files/,method=PUT,times=2",
        "fault=cut,path=/arc/files/,method=PUT,times=1",
        "fault=412,path=/arc/files/,method=PUT,times=1",
    ],
)
async def test_an_upload_survives_what_may_be_retried(
    serve_local: Any, tmp_path: Path, faults: str
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, faults) as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        node = await storage.stat("arc:~/f")
    assert node.size == len(DATA)


async def test_a_remote_copy_refused_once_with_412_is_sent_again_and_arrives_whole(
    serve_local: Any, tmp_path: Path
) -> None:
    """vault to arc, streamed through this machine: the arc PUT's first 412 (the bytes changed
    on the way) is tried once more, as an upload's is."""
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, "fault=412,path=/arc/files/,method=PUT,times=1") as storage:
        await storage.put(str(tmp_path / "f"), "vault:~/f")
        await storage.copy("vault:~/f", "arc:~/f")
        await storage.get("arc:~/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == DATA


async def test_a_remote_copy_refused_with_412_each_time_ends_with_that_error(
    serve_local: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, "fault=412,path=/arc/files/,method=PUT") as storage:
        await storage.put(str(tmp_path / "f"), "vault:~/f")
        with pytest.raises(ServerError) as caught:
            await storage.copy("vault:~/f", "arc:~/f")
        assert caught.value.status == 412
        with pytest.raises(CanfarError) as missing:
            await storage.stat("arc:~/f")
    assert missing.value.exit_code == 4


@pytest.mark.parametrize(
    "faults",
    [
        "fault=503,path=/arc/files/,method=GET,times=2,retry=0",
        "fault=drop,path=/arc/files/,method=GET,times=2",
        "fault=cut,path=/arc/files/,method=GET,times=2",
        "fault=cut,path=/minoc/,method=GET,times=2",
    ],
)
async def test_a_download_survives_what_may_be_retried(
    serve_local: Any, tmp_path: Path, faults: str
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, faults) as storage:
        for service in ("arc", "vault"):
            await storage.put(str(tmp_path / "f"), f"{service}:~/f")
            await storage.get(f"{service}:~/f", str(tmp_path / f"{service}.back"))
            assert (tmp_path / f"{service}.back").read_bytes() == DATA
            assert not (tmp_path / f"{service}.back.part").exists()


async def test_a_download_that_keeps_breaking_keeps_its_part_and_says_so(
    serve_local: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, "fault=cut,path=/arc/files/,method=GET") as storage:
        await storage.put(str(tmp_path / "f"), "arc:~/f")
        with pytest.raises(UnreachableError) as caught:
            await storage.get("arc:~/f", str(tmp_path / "back"))
    assert caught.value.exit_code == 5
    assert "--continue" in (caught.value.hint or "")
    assert not (tmp_path / "back").exists()


async def test_413_is_not_retried_and_the_empty_remote_file_is_removed(
    serve_local: Any, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(DATA)
    async with served(serve_local, "fault=413,path=/arc/files/,method=PUT") as storage:
        with pytest.raises(ServerError) as caught:
            await storage.put(str(tmp_path / "f"), "arc:~/f")
        assert caught.value.status == 413 and caught.value.exit_code == 1
        assert not await storage.exists("arc:~/f")


@pytest.mark.parametrize("kind", ["html", "garbage"])
async def test_an_answer_that_is_no_document_is_one_clear_error(
    serve_local: Any, kind: str
) -> None:
    async with served(serve_local, f"fault={kind},path=/arc/nodes/,method=GET") as storage:
        with pytest.raises(CanfarError) as caught:
            await storage.ls("arc:~")
    assert caught.value.exit_code in (1, 5)
    assert "\n" not in caught.value.message and "Traceback" not in caught.value.message
