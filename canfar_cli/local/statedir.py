"""The state folder's privacy: created 0700/0600 whatever the umask, checked at every start.

The state folder holds what nobody else may read: the database (jobs' environment values, which
may be tokens), the jobs' logs and homes, and the tokens of `canfar local serve`. So:
  - folders are made with mode 0700 and files opened with mode 0600 (`private_file`), which a
    umask can only narrow; the database file is made 0600 before SQLite opens it, and SQLite gives
    its -wal and -shm files the database's mode;
  - at every start (`check`), the folder and what sits directly in it are looked at: a folder
    that belongs to another user is refused (PermissionError, one line saying why); group or
    other permission bits on ours are removed, with a warning on the log.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("canfar_cli.local")

DB_FILE = "state.db"


def private_file(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open (creating 0600 if needed) and return a file descriptor (close it yourself)."""
    return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)


def open_private_log(path: Path) -> int:
    """A log for appending, created 0600."""
    return private_file(path, os.O_WRONLY | os.O_APPEND)


def private_dirs(*paths: Path) -> None:
    """Make each folder (in order, parents first) with mode 0700 where it does not exist yet.
    (Path.mkdir(parents=True) gives the parents it makes the umask's mode, not 0700.)"""
    for path in paths:
        path.mkdir(mode=0o700, exist_ok=True)


def _make_home(home: Path) -> None:
    missing = []
    folder = home
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    private_dirs(*reversed(missing))


def _owner_ok(info: os.stat_result) -> bool:
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


def _fix(path: Path, info: os.stat_result, private: int) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077 | private)
        log.warning(
            "the local platform's %s was open to other users (mode %04o): now %04o",
            path,
            mode,
            stat.S_IMODE(os.stat(path).st_mode),
        )


def check(home: Path) -> None:
    """Make (0700) or check the state folder at `home`; PermissionError when it is not ours."""
    _make_home(home)
    info = os.stat(home)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "it is not a folder", str(home))
    if not _owner_ok(info):
        raise PermissionError(
            errno.EPERM,
            f"it belongs to another user (uid {info.st_uid}); the local platform uses only a"
            " folder of its own",
            str(home),
        )
    _fix(home, info, 0o700)
    private_dirs(home / "sessions", home / "serve")
    with os.scandir(home) as entries:
        for entry in entries:
            try:
                entry_info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(entry_info.st_mode) or not _owner_ok(entry_info):
                continue
            _fix(Path(entry.path), entry_info, 0o700 if entry.is_dir() else 0o600)
            if entry.name == "serve" and entry.is_dir(follow_symlinks=False):
                for token_file in Path(entry.path).iterdir():
                    try:
                        token_info = token_file.lstat()
                    except OSError:
                        continue
                    if stat.S_ISREG(token_info.st_mode) and _owner_ok(token_info):
                        _fix(token_file, token_info, 0o600)
    # The database is made private before SQLite opens it: its -wal and -shm take its mode.
    # Only when it is new (O_EXCL): an existing one was fixed above, and opening and closing a
    # file SQLite has open in this process drops every POSIX lock the process holds on it (the
    # shared lock of a WAL database), so another process could checkpoint and delete the WAL
    # under a connection still using it: "database disk image is malformed", seen when a
    # long-lived process (a notebook, a test run) makes many in-process platforms on one home.
    with contextlib.suppress(FileExistsError):
        os.close(private_file(home / DB_FILE, os.O_RDWR | os.O_EXCL))
