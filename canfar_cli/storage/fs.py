"""An fsspec filesystem over canfar's storage: `fsspec.open("arc://home/me/t.csv")`,
`pandas.read_csv("vault://me/t.csv")` (fsspec is the optional extra `canfar-cli[fsspec]`; the
protocols are registered through the `fsspec.specs` entry point).

    arc://home/me/t.csv   the node arc:/home/me/t.csv      arc://~/t.csv   your home's t.csv
    vault://me/x.fits     the node vault:/me/x.fits

It runs the async core on a portal thread (Storage, the blocking twin), so it works in Jupyter.
Files open as streams: "rb" reads forward (seek to where it is, or back to the start, which
reads again), "wb" writes one streamed upload; nothing is staged in a temporary file. The
credential and platform are the sessions' (CANFAR_URL, CANFAR_TOKEN, sign-in); storage options
`server=`, `token=`, `certificate=`, `platform=` override them.
"""

from __future__ import annotations

import io
from typing import Any

from fsspec import AbstractFileSystem

from canfar_cli.errors import CanfarError, NotFoundError
from canfar_cli.storage.blocking import BlockingReader, BlockingWriter, Storage
from canfar_cli.storage.results import Node

__all__ = ["ArcFileSystem", "CanfarFileSystem", "VaultFileSystem"]


def _os_error(exc: CanfarError, path: str) -> OSError:
    if isinstance(exc, NotFoundError):
        return FileNotFoundError(2, exc.message, path)
    if exc.exit_code == 3:
        return PermissionError(13, exc.message, path)
    return OSError(5, exc.message, path)


class _Raw(io.RawIOBase):
    """A blocking stream as a raw file, for io.BufferedReader/BufferedWriter."""

    def __init__(self, fs: CanfarFileSystem, path: str, mode: str) -> None:
        super().__init__()
        self._fs = fs
        self._path = path
        self._mode = mode
        self._position = 0
        remote = fs._remote(path)
        self._handle: BlockingReader | BlockingWriter = (
            fs._storage.open(remote, "rb") if mode == "rb" else fs._storage.open(remote, "wb")
        )

    def readable(self) -> bool:
        return self._mode == "rb"

    def writable(self) -> bool:
        return self._mode == "wb"

    def seekable(self) -> bool:
        return self._mode == "rb"

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._mode != "rb":
            raise io.UnsupportedOperation("seek on a file open for writing")
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._position + offset}.get(whence)
        if target is None:
            size = self._fs.size(self._path)
            target = (size or 0) + offset
        if target < self._position:  # back: read again from the start (streams go forward)
            self._handle.close()
            self._handle = self._fs._storage.open(self._fs._remote(self._path), "rb")
            self._position = 0
        while self._position < target:
            step = self._handle.read(min(1 << 20, target - self._position))  # type: ignore[union-attr]
            if not step:
                break
            self._position += len(step)
        return self._position

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._handle.read(len(buffer))  # type: ignore[union-attr]
        except CanfarError as exc:
            raise _os_error(exc, self._path) from None
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def write(self, data: Any) -> int:
        try:
            written = self._handle.write(bytes(data))  # type: ignore[union-attr]
        except CanfarError as exc:
            raise _os_error(exc, self._path) from None
        self._position += written
        return written

    def close(self) -> None:
        if not self.closed:
            try:
                self._handle.close()
            except CanfarError as exc:
                raise _os_error(exc, self._path) from None
            finally:
                super().close()


class CanfarFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """The files of one storage service (`service`), by node path."""

    service = "arc"
    protocol: Any = ("arc",)
    root_marker = ""
    # Not cached by fsspec: its cache keys on the arguments only, and the settings (server,
    # credential) also come from the environment, which may have changed since.
    cachable = False

    def __init__(
        self,
        server: str | None = None,
        token: str | None = None,
        certificate: str | None = None,
        platform: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._storage = Storage(server, token=token, certificate=certificate, platform=platform)

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        for protocol in cls.protocol if isinstance(cls.protocol, tuple) else (cls.protocol,):
            for prefix in (f"{protocol}://", f"{protocol}:"):
                if text.startswith(prefix):
                    text = text[len(prefix) :]
        return text.strip("/") if not text.startswith("~") else text.rstrip("/")

    def _remote(self, path: str) -> str:
        stripped = self._strip_protocol(path)
        if stripped.startswith("~"):
            return f"{self.service}:{stripped}"
        return f"{self.service}:/{stripped}"

    def _call(self, path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._storage, method)(*args, **kwargs)
        except CanfarError as exc:
            raise _os_error(exc, path) from None

    def _info(self, node: Node) -> dict[str, Any]:
        return {
            "name": node.path.split(":", 1)[1].lstrip("/"),
            "size": node.size if node.size is not None else 0,
            "type": "directory" if node.kind == "folder" else "file",
            "md5": node.md5,
            "modified": node.modified,
            "islink": node.kind == "link",
            "target": node.target,
        }

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        nodes = self._call(path, "ls", self._remote(path), all=True)
        entries = [self._info(node) for node in nodes]
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._info(self._call(path, "stat", self._remote(path)))

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> Any:
        if mode not in ("rb", "wb"):
            raise ValueError(f"mode {mode!r}: the storage opens files 'rb' or 'wb'")
        try:
            raw = _Raw(self, path, mode)
        except CanfarError as exc:
            raise _os_error(exc, path) from None
        if mode == "rb":
            return io.BufferedReader(raw, buffer_size=1 << 20)
        return io.BufferedWriter(raw, buffer_size=1 << 20)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kw: Any
    ) -> bytes:
        with self._open(path, "rb") as handle:
            if start:
                handle.seek(start if start >= 0 else max(0, self.size(path) + start))
            data: bytes = (
                handle.read()
                if end is None
                else handle.read((end if end >= 0 else self.size(path) + end) - (start or 0))
            )
            return data

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        with self._open(path, "wb") as handle:
            handle.write(value)

    def get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        self._call(rpath, "get", self._remote(rpath), lpath)

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        self._call(rpath, "put", lpath, self._remote(rpath))

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        self._call(path, "mkdir", self._remote(path), parents=create_parents)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        if not exist_ok and self.exists(path):
            raise FileExistsError(path)
        self._call(path, "mkdir", self._remote(path), parents=True)

    def rm_file(self, path: str) -> None:
        self._call(path, "remove", self._remote(path))

    def rmdir(self, path: str) -> None:
        self._call(path, "remove", self._remote(path), recursive=False)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        paths = [path] if isinstance(path, str) else list(path)
        for one in paths:
            self._call(one, "remove", self._remote(one), recursive=recursive)

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        self._call(path1, "move", self._remote(path1), self._remote(path2))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        self._call(path1, "copy", self._remote(path1), self._remote(path2))

    def created(self, path: str) -> Any:
        return self.info(path)["modified"]

    def modified(self, path: str) -> Any:
        return self.info(path)["modified"]


class ArcFileSystem(CanfarFileSystem):
    """arc:// — CANFAR's arc (cavern), the storage mounted as /arc in every session."""

    service = "arc"
    protocol = ("arc",)


class VaultFileSystem(CanfarFileSystem):
    """vault:// — CANFAR's vault, the long-term store."""

    service = "vault"
    protocol = ("vault",)
