"""Node properties kept with the files, as cavern keeps them (§7).

Each property is a Linux user xattr named by its URI (`user.ivo://ivoa.net/vospace/core#MD5`),
so properties travel with the file through renames and show through the POSIX side. Where the
filesystem has no user xattrs (tmpfs on some kernels, some containers, macOS), a sidecar SQLite
database in the state folder keeps the same names per path; the API's moves and deletes keep it
in step (a POSIX rename through a job loses them, as it would lose nothing with xattrs).

Keys starting with INTERNAL are our own bookkeeping, never shown as properties. The one that
matters: the MD5 is stored with the size and mtime of the file it was computed for
(`MD5_STAMP`), and a file changed since (a job writing in its home) has no MD5 any more. Cavern
would go on serving the stale one (§7); serving none is as faithful as it can be while safe: a
client must never skip a transfer because of an MD5 that no longer describes the bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

INTERNAL = "canfar-local#"
MD5_STAMP = INTERNAL + "md5-stamp"
STORAGE_ID = INTERNAL + "storage-id"  # vault: the artifact holding a DataNode's bytes
_PREFIX = "user."


def stamp(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}"


class PropertyStore(Protocol):
    def read(self, path: Path | str) -> dict[str, str]: ...

    def write(self, path: Path, values: dict[str, str | None]) -> None: ...

    def moved(self, old: Path, new: Path) -> None: ...

    def removed(self, path: Path) -> None: ...


class XattrStore:
    """Properties as `user.<URI>` extended attributes (symlinks carry none, as in cavern)."""

    def read(self, path: Path | str) -> dict[str, str]:
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError:
            return {}
        values = {}
        for name in names:
            if not name.startswith(_PREFIX):
                continue
            try:
                raw = os.getxattr(path, name, follow_symlinks=False)
            except OSError:
                continue
            values[name[len(_PREFIX) :]] = raw.decode("utf-8", "replace")
        return values

    def write(self, path: Path, values: dict[str, str | None]) -> None:
        for key, value in values.items():
            name = _PREFIX + key
            if value is None:
                try:
                    os.removexattr(path, name, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno not in (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA)):
                        raise
            else:
                os.setxattr(path, name, value.encode("utf-8"), follow_symlinks=False)

    def moved(self, old: Path, new: Path) -> None:
        pass

    def removed(self, path: Path) -> None:
        pass


class SidecarStore:
    """The same, in a SQLite database keyed by the file's path."""

    def __init__(self, database: Path) -> None:
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS props (path TEXT, key TEXT, value TEXT,"
            " PRIMARY KEY (path, key))"
        )
        self._lock = threading.Lock()

    def read(self, path: Path | str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM props WHERE path = ?", (str(path),))
            return dict(rows.fetchall())

    def write(self, path: Path, values: dict[str, str | None]) -> None:
        with self._lock:
            for key, value in values.items():
                if value is None:
                    self._db.execute(
                        "DELETE FROM props WHERE path = ? AND key = ?", (str(path), key)
                    )
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO props VALUES (?, ?, ?)", (str(path), key, value)
                    )

    def moved(self, old: Path, new: Path) -> None:
        o, n = str(old), str(new)
        with self._lock:
            self._db.execute(
                "DELETE FROM props WHERE path = ? OR substr(path, 1, ?) = ?",
                (n, len(n) + 1, n + "/"),
            )
            self._db.execute(
                "UPDATE props SET path = ? || substr(path, ?)"
                " WHERE path = ? OR substr(path, 1, ?) = ?",
                (n, len(o) + 1, o, len(o) + 1, o + "/"),
            )

    def removed(self, path: Path) -> None:
        p = str(path)
        with self._lock:
            self._db.execute(
                "DELETE FROM props WHERE path = ? OR substr(path, 1, ?) = ?",
                (p, len(p) + 1, p + "/"),
            )


def xattrs_work(folder: Path) -> bool:
    """Whether `folder`'s filesystem keeps user xattrs (probed on a scratch file)."""
    probe = folder / f".canfar-xattr-probe-{os.getpid()}"
    try:
        probe.touch()
        os.setxattr(probe, _PREFIX + INTERNAL + "probe", b"1")
        return True
    except (OSError, AttributeError):
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def store_for(folder: Path, sidecar: Path) -> PropertyStore:
    """xattrs where they work (CANFAR_LOCAL_PROPS=sidecar forces the sidecar, for tests)."""
    forced = os.environ.get("CANFAR_LOCAL_PROPS", "").strip().lower()
    if forced != "sidecar" and xattrs_work(folder):
        return XattrStore()
    return SidecarStore(sidecar)
