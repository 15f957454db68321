"""The sign-in store: `auth.json` in the user config folder (CANFAR_CONFIG_DIR respected).

It holds the active identity and platform, the platforms found at sign-in, and the SRCNet client
and tokens (secrets): so it is written mode 0600 from its first byte, atomically (temporary file,
fsync, rename), and every read-modify-write holds an exclusive lock on `auth.json.lock`, so two
canfar processes (two refreshes at once) never lose each other's change.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from canfar_cli import files
from canfar_cli.config import config_dir
from canfar_cli.errors import CredentialError

VERSION = 1


def store_path() -> Path:
    return config_dir() / "auth.json"


def read_store(path: Path | None = None) -> dict[str, Any]:
    """The store as a dict; {} when there is none. A corrupt or half-written file is one clear
    error (exit 3), never a traceback."""
    path = path or store_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialError(f"cannot read the sign-in file {path}: {exc.strerror}") from None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise CredentialError(
            f"the sign-in file {path} is damaged (not the JSON canfar wrote)",
            hint="sign out and in again: `canfar auth logout` then `canfar login`",
        )
    return value


def write_store(values: dict[str, Any], path: Path | None = None) -> None:
    path = path or store_path()
    values = {**values, "version": VERSION}
    files.write_private(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def locked(path: Path | None = None) -> Iterator[None]:
    """An exclusive lock across processes on the store (`<store>.lock`)."""
    with files.locked(Path(f"{path or store_path()}.lock")):
        yield


def update_store(change: Callable[[dict[str, Any]], Any], path: Path | None = None) -> Any:
    """Read, change (in place) and write the store under the lock; returns change's result.
    A damaged store is replaced rather than kept, since the change holds what is current."""
    path = path or store_path()
    with locked(path):
        try:
            values = read_store(path)
        except CredentialError:
            values = {}
        result = change(values)
        write_store(values, path)
    return result
