"""The official CANFAR client's `~/.canfar/config.yaml`: read, never written.

A user who switches from the official client keeps their sign-in and platform: its active
identity and server, its SRCNet tokens and its servers are used when canfar has none of its own.
Only "version: 2" is understood; any other version is ignored with one warning (collected here,
shown by the command line: the core never prints). `pyyaml` is imported only when the file exists.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SUPPORTED_VERSION = 2
_warnings: list[str] = []
_warned: set[str] = set()
_cache: dict[tuple[str, int, int], dict[str, Any]] = {}


def official_path() -> Path:
    return Path.home() / ".canfar" / "config.yaml"


def _warn(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        _warnings.append(text)


def take_warnings() -> list[str]:
    """The warnings gathered since the last call (each shown once per process)."""
    taken = list(_warnings)
    _warnings.clear()
    return taken


def read_official() -> dict[str, Any]:
    """The file's contents when it is a version this client understands; {} otherwise."""
    path = official_path()
    try:
        stat = path.stat()
    except OSError:
        return {}
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _cache:
        return _cache[key]
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # unreadable or not YAML: whatever the reason, it is only ignored
        _warn(f"{path} (the official client's settings) cannot be read; ignored")
        data = None
    if data is not None and not isinstance(data, dict):
        _warn(f"{path} (the official client's settings) is not a mapping; ignored")
        data = None
    if isinstance(data, dict) and data.get("version") != SUPPORTED_VERSION:
        _warn(
            f"{path} is of version {data.get('version')!r}, which canfar does not read"
            f" (it reads version {SUPPORTED_VERSION}); ignored"
        )
        data = None
    _cache[key] = data or {}
    return _cache[key]


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def active_identity() -> str | None:
    value = _get(read_official(), "active", "authentication")
    return value if value in ("cadc", "srcnet") else None


def active_server() -> str | None:
    value = _get(read_official(), "active", "server")
    return value if isinstance(value, str) and value else None


def servers() -> dict[str, str]:
    """{name: unversioned base URL} of the servers the official client knows."""
    found = {}
    entries = _get(read_official(), "servers")
    if isinstance(entries, dict):
        for name, entry in entries.items():
            url = _get(entry, "url")
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                found[str(name)] = url.rstrip("/")
    return found


def certificate_path() -> str | None:
    value = _get(read_official(), "authentication", "cadc", "path")
    return str(Path(value).expanduser()) if isinstance(value, str) and value else None


def srcnet_identity() -> dict[str, Any] | None:
    """Its SRCNet tokens as canfar's own record (source "official"), or None."""
    srcnet = _get(read_official(), "authentication", "srcnet")
    access = _get(srcnet, "token", "access")
    if not isinstance(access, str) or not access:
        return None
    try:
        expires_at = float(_get(srcnet, "expiry", "access") or 0)
    except (TypeError, ValueError):
        expires_at = 0.0
    return {
        "source": "official",
        "access_token": access,
        "refresh_token": _get(srcnet, "token", "refresh") or None,
        "expires_at": expires_at or time.time() - 1,
        "token_endpoint": _get(srcnet, "endpoints", "token"),
        "client_id": _get(srcnet, "client", "identity") or "",
        "client_secret": _get(srcnet, "client", "secret") or "",
        "user": "",
    }
