"""Credential files must be the user's own and private: checked each time one is used.

A file (or the folder holding it) that another user owns or can write is refused (exit 3, the
fix in the hint): whoever can write it chooses who this user acts as, and a link to another
user's file is the same thing. The user's own file that others may read is tightened to 0600
(folders 0700) with one notice. Notices are collected here and shown by the command line (the
core never prints).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from canfar_cli.errors import CredentialError

_notices: list[str] = []
_noticed: set[str] = set()


def notice(text: str) -> None:
    if text not in _noticed:
        _noticed.add(text)
        _notices.append(text)


def take_notices() -> list[str]:
    """The notices gathered since the last call (each shown once per process)."""
    taken = list(_notices)
    _notices.clear()
    return taken


def _refuse(path: Path, why: str) -> CredentialError:
    return CredentialError(
        f"refusing to use {path}: {why}",
        hint=f"make it yours and private (`chmod go-w {path}`, or remove it and sign in again:"
        " `canfar login`)",
    )


def check(path: Path, *, folder: bool = False) -> None:
    """Refuse a credential file (or folder) another user owns or can write; tighten one of
    ours that others can read. Nothing to do when it does not exist."""
    if not hasattr(os, "getuid"):
        return
    try:
        info = os.stat(path)  # follows links: what is used is the target
    except OSError:
        return
    if info.st_uid != os.getuid() and info.st_uid != 0:
        raise _refuse(path, "another user owns it")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _refuse(path, f"others can write it (mode {stat.S_IMODE(info.st_mode):04o})")
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        _tighten(path, info, 0o700 if folder else 0o600)


def _tighten(path: Path, info: os.stat_result, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except OSError:
        raise _refuse(path, f"its mode is {stat.S_IMODE(info.st_mode):04o}") from None
    notice(f"{path} was mode {stat.S_IMODE(info.st_mode):04o}; made it {mode:04o}")


def check_file(path: Path) -> None:
    """The file and the folder holding it."""
    check(path.parent, folder=True)
    check(path)
