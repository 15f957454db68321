"""The fsspec filesystem (arc://, vault://) read and written through a plain `fsspec.open`,
against the local platform on a loopback socket."""

from __future__ import annotations

from typing import Any

import pytest

fsspec = pytest.importorskip("fsspec")


@pytest.fixture
def pointed(local_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CANFAR_URL", local_server.url)
    monkeypatch.setenv("CANFAR_TOKEN", local_server.token)
    return local_server


def test_the_protocols_are_registered_by_entry_point() -> None:
    from canfar_cli.storage.fs import ArcFileSystem, VaultFileSystem

    assert fsspec.get_filesystem_class("arc") is ArcFileSystem
    assert fsspec.get_filesystem_class("vault") is VaultFileSystem


def test_write_then_read_with_plain_fsspec_open(pointed: Any) -> None:
    user = pointed.user
    with fsspec.open(f"arc://home/{user}/t.csv", "wb") as handle:
        handle.write(b"a,b\n1,2\n3,4\n")
    with fsspec.open("arc://~/t.csv", "rb") as handle:
        assert handle.read() == b"a,b\n1,2\n3,4\n"
    with fsspec.open("arc://~/t.csv", "rt") as handle:  # text mode, line by line
        assert [line.strip() for line in handle] == ["a,b", "1,2", "3,4"]
    fs = fsspec.filesystem("arc")
    assert fs.cat_file(f"home/{user}/t.csv", start=4, end=7) == b"1,2"
    assert [entry["name"] for entry in fs.ls(f"home/{user}")] == [f"home/{user}/t.csv"]
    assert fs.info(f"home/{user}/t.csv")["size"] == 12
    with pytest.raises(FileNotFoundError):
        fs.info(f"home/{user}/nope")
    fsspec.filesystem("vault").pipe_file(f"vault://{user}/v.bin", b"vault")
    assert fsspec.open(f"vault://{user}/v.bin").open().read() == b"vault"


def test_pandas_reads_arc(pointed: Any) -> None:
    pandas = pytest.importorskip("pandas")
    fs = fsspec.filesystem("arc")
    fs.pipe_file("arc://~/t.csv", b"a,b\n1,2\n3,4\n")
    frame = pandas.read_csv("arc://~/t.csv")
    assert frame["b"].tolist() == [2, 4]
