"""Memory stays flat whatever the size: 200 MB up and down through a real socket with the
Python heap's peak bounded far below the file's size (no staging copy, no whole body held)."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from canfar_cli import AsyncStorage

pytestmark = [pytest.mark.anyio, pytest.mark.e2e(long=True)]
SIZE = 200 * 1024 * 1024
PEAK_LIMIT = 32 * 1024 * 1024


def make_file(path: Path) -> str:
    hasher = hashlib.md5()
    block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
    with open(path, "wb") as handle:
        for i in range(SIZE // len(block)):
            chunk = block[i % 256 :] + block[: i % 256]
            hasher.update(chunk)
            handle.write(chunk)
    return hasher.hexdigest()


async def test_200_mb_up_and_down_with_flat_memory(local_server: Any, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    md5 = make_file(source)
    async with AsyncStorage(local_server.url, token=local_server.token) as storage:
        await storage.stat("arc:~")  # discovery done before measuring
        tracemalloc.start()
        try:
            await storage.put(str(source), "arc:~/big.bin")
            _now, up_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            await storage.get("arc:~/big.bin", str(tmp_path / "back.bin"))
            _now, down_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        node = await storage.stat("arc:~/big.bin")
    assert node.size == SIZE and node.md5 == md5
    assert (tmp_path / "back.bin").stat().st_size == SIZE
    assert up_peak < PEAK_LIMIT, f"upload peak {up_peak / 2**20:.1f} MiB"
    assert down_peak < PEAK_LIMIT, f"download peak {down_peak / 2**20:.1f} MiB"
