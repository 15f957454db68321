"""Small files in the user cache folder (platformdirs, or $CANFAR_CACHE_DIR): the server's
/context per server URL, kept for an hour, so that `create` can check -c/-m/-g before sending
without asking the server every time. Mode 0600, written atomically; never a credential."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

CONTEXT_MAX_AGE = 3600.0


def cache_dir() -> Path:
    override = os.environ.get("CANFAR_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("canfar", appauthor=False))


def _path(kind: str, server: str) -> Path:
    key = hashlib.sha256(server.encode("utf-8")).hexdigest()[:20]
    return cache_dir() / f"{kind}-{key}.json"


def read(kind: str, server: str, max_age: float) -> Any:
    """The cached value, or None when absent, older than max_age seconds, or unreadable."""
    path = _path(kind, server)
    try:
        if time.time() - path.stat().st_mtime > max_age:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write(kind: str, server: str, value: Any) -> None:
    """Store the value (best effort: a cache that cannot be written is no error)."""
    write_file(_path(kind, server), json.dumps(value, separators=(",", ":")))


def write_file(path: Path, text: str) -> None:
    from canfar_cli.files import write_private

    with contextlib.suppress(OSError):
        write_private(path, text)
