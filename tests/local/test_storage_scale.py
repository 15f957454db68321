"""Size: a 10,000-entry folder in one streamed document; big bodies streamed both ways with the
server's memory flat; the sidecar property store; the in-process app (storage.md §3.2, §8)."""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.many import ten_thousand_files
from tests.support.storage import ARC, CORE, VOS, digest, properties, storage


def test_a_ten_thousand_entry_folder_comes_whole_in_one_document(local_server: Any) -> None:
    user = local_server.user
    folder = local_server.home / "home" / user / "many"
    ten_thousand_files(folder, lambda index: f"f{index:05d}.dat")
    with (
        storage(local_server) as http,
        http.stream("GET", f"/arc/nodes/home/{user}/many", params={"limit": 2000}) as response,
    ):
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed as it is written
        count = 0
        for _event, element in ET.iterparse(_Reader(response.iter_bytes())):
            if element.tag == f"{VOS}node" and element.get("uri", "").startswith(
                f"{ARC}/home/{user}/many/"
            ):
                count += 1
                element.clear()
    assert count == 10_000


class _Reader:
    """A file-like reader over an iterator of chunks, for iterparse."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buffer = chunks, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                break
        size = len(self.buffer) if size < 0 else size
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.e2e(long=True)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_big_bodies_stream_with_the_server_memory_flat(local_server: Any) -> None:
    user = local_server.user
    size = 256 << 20
    block = os.urandom(1 << 20)
    md5 = hashlib.md5()
    for _ in range(size >> 20):
        md5.update(block)
    before = _peak_rss_kib(local_server.process.pid)

    def body() -> Iterator[bytes]:
        for _ in range(size >> 20):
            yield block

    with storage(local_server, timeout=300) as http:
        put = http.put(
            f"/arc/files/home/{user}/big.bin",
            content=body(),
            headers={"Content-Length": str(size), "Digest": "md5=" + _b64(md5.digest())},
        )
        assert put.status_code == 201, put.text
        got = hashlib.md5()
        with http.stream("GET", f"/arc/files/home/{user}/big.bin") as response:
            assert response.headers["content-length"] == str(size)
            for chunk in response.iter_bytes():
                got.update(chunk)
        assert got.digest() == md5.digest()
    grown_mib = (_peak_rss_kib(local_server.process.pid) - before) / 1024
    assert grown_mib < 64, f"the server's peak memory grew by {grown_mib:.0f} MiB"


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def test_the_sidecar_store_keeps_properties_through_moves_and_deletes(serve_local: Any) -> None:
    server = serve_local(env={"CANFAR_LOCAL_PROPS": "sidecar"})
    user = server.user
    target = server.home / "home" / user / "s.txt"
    with storage(server) as http:
        assert http.put(f"/arc/files/home/{user}/s.txt", content=b"side").status_code == 201
        assert os.listxattr(target) == []  # not on the file: in the state folder's database
        assert http.head(f"/arc/files/home/{user}/s.txt").headers["digest"] == digest(b"side")
        document = (
            '<vos:transfer xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" version="2.1">'
            f"<vos:target>{ARC}/home/{user}/s.txt</vos:target>"
            f"<vos:direction>{ARC}/home/{user}/t.txt</vos:direction>"
            "<vos:keepBytes>false</vos:keepBytes></vos:transfer>"
        )
        job = http.post("/arc/transfers", params={"PHASE": "RUN"}, content=document,
                        headers={"Content-Type": "text/xml"}).headers["location"]  # fmt: skip
        from tests.support.api import wait_until

        wait_until(lambda: http.get(f"{job}/phase").text == "COMPLETED", what="the move")
        assert http.head(f"/arc/files/home/{user}/t.txt").headers["digest"] == digest(b"side")
        assert http.delete(f"/arc/nodes/home/{user}/t.txt").status_code == 200
        assert http.put(f"/arc/files/home/{user}/t.txt", content=b"").status_code == 201
        props = properties(ET.fromstring(http.get(f"/arc/nodes/home/{user}/t.txt").text))
        assert props[CORE + "MD5"] == hashlib.md5(b"").hexdigest()


@pytest.mark.anyio
async def test_the_in_process_app_serves_the_same_storage_streamed(isolated: Path) -> None:
    from canfar_cli.servers import resolve_server

    _, transport = resolve_server("local", "v1")  # what --server local uses
    assert transport is not None
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as http:
        user = os.environ.get("CANFAR_LOCAL_USER") or __import__("getpass").getuser()
        data = os.urandom(1 << 20) * 32
        put = await http.put(f"/arc/files/home/{user}/p.bin", content=data,
                             headers={"Digest": digest(data)})  # fmt: skip
        assert put.status_code == 201
        import tracemalloc

        expected = hashlib.md5(data).hexdigest()
        del data
        got = hashlib.md5()
        tracemalloc.start()
        try:
            async with http.stream("GET", f"/arc/files/home/{user}/p.bin") as response:
                async for chunk in response.aiter_raw():
                    got.update(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got.hexdigest() == expected
        # Streamed: the 32 MiB body never sat in memory at once (httpx's ASGITransport would).
        assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB held during the download"
        caps = await http.get("/arc/capabilities")
        assert "http://local/arc/nodes" in caps.text
        missing = await http.get(f"/arc/nodes/home/{user}/none")
        assert missing.status_code == 404 and missing.text.startswith("NodeNotFound: ")
