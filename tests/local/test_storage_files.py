"""The local cavern's /files endpoint over a real socket (storage.md §4.4, §8 points 14-15)."""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any

from tests.support.storage import ARC, CORE, base_of, digest, mkdir, properties, storage


def test_put_then_get_and_head_with_digest(local_server: Any) -> None:
    user = local_server.user
    data = os.urandom(300_000)
    with storage(local_server) as http:
        put = http.put(
            f"/arc/files/home/{user}/d.bin",
            content=data,
            headers={"Digest": digest(data), "Content-Type": "application/fits"},
        )
        assert put.status_code == 201
        assert put.headers["digest"] == digest(data)
        assert put.headers["content-length"] == "0"
        got = http.get(f"/arc/files/home/{user}/d.bin", headers={"Range": "bytes=0-9"})
        assert got.status_code == 200  # cavern has no Range: the whole body
        assert got.content == data
        assert got.headers["digest"] == digest(data)
        assert got.headers["content-type"] == "application/fits"
        assert got.headers["content-disposition"] == 'inline; filename="d.bin"'
        assert "accept-ranges" not in got.headers
        head = http.head(f"/arc/files/home/{user}/d.bin")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(data))
        assert head.headers["digest"] == digest(data)
        # The same file the jobs see in the home.
        assert (local_server.home / "home" / user / "d.bin").read_bytes() == data


def test_empty_files_folders_and_missing_parents(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        assert http.put(f"/arc/files/home/{user}/empty", content=b"").status_code == 201
        empty = http.get(f"/arc/files/home/{user}/empty")
        assert empty.status_code == 204 and empty.content == b""
        folder = http.get(f"/arc/files/home/{user}")
        assert folder.status_code == 400
        missing = http.get(f"/arc/files/home/{user}/nope")
        assert missing.status_code == 404
        assert missing.text == f"NodeNotFound: {ARC}/home/{user}/nope\n"
        orphan = http.put(f"/arc/files/home/{user}/no/such/file", content=b"x")
        assert orphan.status_code == 404
        assert not (local_server.home / "home" / user / "no").exists()


def test_a_digest_mismatch_is_412_and_leaves_an_empty_file(local_server: Any) -> None:
    user = local_server.user
    target = local_server.home / "home" / user / "m.bin"
    with storage(local_server) as http:
        assert http.put(f"/arc/files/home/{user}/m.bin", content=b"old bytes").status_code == 201
        refused = http.put(
            f"/arc/files/home/{user}/m.bin", content=b"new", headers={"Digest": digest(b"other")}
        )
        assert refused.status_code == 412
        wanted = hashlib.md5(b"other").hexdigest()
        got = hashlib.md5(b"new").hexdigest()
        assert refused.text == f"checksum mismatch: md5:{wanted} != md5:{got}\n"
        assert target.stat().st_size == 0
        node = http.get(f"/arc/nodes/home/{user}/m.bin").text
    import xml.etree.ElementTree as ET

    props = properties(ET.fromstring(node))
    assert props[CORE + "length"] == "0" and CORE + "MD5" not in props


def test_a_client_gone_mid_body_leaves_an_empty_file(local_server: Any) -> None:
    user = local_server.user
    target = local_server.home / "home" / user / "cut.bin"
    with storage(local_server) as http:
        assert http.put(f"/arc/files/home/{user}/cut.bin", content=b"previous").status_code == 201
    host, port = base_of(local_server).removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as raw:
        head = (
            f"PUT /arc/files/home/{user}/cut.bin HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {local_server.token}\r\nContent-Length: 1000000\r\n\r\n"
        )
        raw.sendall(head.encode() + b"x" * 100_000)
    with storage(local_server) as http:
        # The server notices the disconnect; the node is then empty, with no MD5.
        from tests.support.api import wait_until

        wait_until(lambda: target.stat().st_size == 0, what="the cut upload to be truncated")
        assert "digest" not in http.head(f"/arc/files/home/{user}/cut.bin").headers


def test_a_file_changed_by_a_job_has_no_stale_md5(local_server: Any) -> None:
    user = local_server.user
    target = local_server.home / "home" / user / "j.txt"
    with storage(local_server) as http:
        assert http.put(f"/arc/files/home/{user}/j.txt", content=b"v1").status_code == 201
        assert "digest" in http.head(f"/arc/files/home/{user}/j.txt").headers
        target.write_bytes(b"v2")  # the POSIX side, as a job writes in its home
        head = http.head(f"/arc/files/home/{user}/j.txt")
        assert "digest" not in head.headers
        assert http.get(f"/arc/files/home/{user}/j.txt").content == b"v2"


def test_preauth_urls_are_bound_to_node_grant_and_signature(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        mkdir(http, "arc", f"/home/{user}/s")
        assert http.put(f"/arc/files/home/{user}/s/f", content=b"abc").status_code == 201
