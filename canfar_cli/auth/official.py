"""The official CANFAR client's `~/.canfar/config.yaml`: read, never written.

A user who switches from the official client keeps their sign-in and platform: its active
identity and server, its certificate path, SRCNet tokens and servers are used when canfar has none
of its own. Versions 1 (the 1.4 line) and 2 share the keys read here (`active.authentication`,
`active.server`, `authentication.<idp>.…`, `servers.<name>.url|idp`); any other version is
ignored with one warning (collected in canfar_cli.auth.guard, shown by the command line).

The file is a plain tree of mappings: it is read with a small reader of that subset of YAML
(no pyyaml import, ~40 ms, on a command that only needs the active server), and with pyyaml only
when the reader meets something outside the subset. Parsed once per process and modification time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canfar_cli.auth.state import SigninState

SUPPORTED_VERSIONS = (1, 2)
_cache: dict[tuple[str, int, int], SigninState] = {}


def official_path() -> Path:
    return Path.home() / ".canfar" / "config.yaml"


class _Unsupported(Exception):
    """Something the small reader does not handle: pyyaml decides."""


def _scalar(text: str) -> Any:
    text = text.strip()
    if not text or text in ("~", "null", "Null", "NULL"):
        return None
    if text[0] in "'\"":
        if len(text) < 2 or text[-1] != text[0]:
            raise _Unsupported
        if text[0] == '"':
            try:
                return json.loads(text)
            except ValueError:
                raise _Unsupported from None
        return text[1:-1].replace("''", "'")
    if text[0] in "[{&*!|>%@`":
        raise _Unsupported
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_mappings(text: str) -> dict[str, Any]:
    """Nested block mappings of scalars (what the official client writes)."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = []  # (indent of the keys, mapping)
    pending: tuple[int, dict[str, Any], str] | None = None  # a key waiting for its block
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if "\t" in raw[:indent] or stripped.startswith("- "):
            raise _Unsupported
        key, sep, rest = stripped.partition(":")
        if not sep or (rest and not rest.startswith(" ")) or key.startswith(("'", '"', "?")):
            raise _Unsupported
        if not stack:
            stack.append((indent, root))
        elif pending is not None and indent > pending[0]:
            child: dict[str, Any] = {}
            pending[1][pending[2]] = child
            stack.append((indent, child))
        else:
            while stack and indent < stack[-1][0]:
                stack.pop()
            if not stack or indent != stack[-1][0]:
                raise _Unsupported
        pending = None
        current = stack[-1][1]
        value = rest.strip()
        if value and not value.startswith("#"):
            current[key.strip()] = _scalar(value)
        else:
            current[key.strip()] = None
            pending = (indent, current, key.strip())
    return root


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return parse_mappings(text)
    except _Unsupported:
        import yaml

        return yaml.safe_load(text)


def state() -> SigninState | None:
    """The file as a sign-in state (never written back); None when there is none usable."""
    from canfar_cli.auth import guard

    path = official_path()
    try:
        info = path.stat()
    except OSError:
        return None
    key = (str(path), info.st_mtime_ns, info.st_size)
    if key not in _cache:
        try:
            data = _read(path)
        except Exception:  # unreadable or not YAML: whatever the reason, it is only ignored
            guard.notice(f"{path} (the official client's settings) cannot be read; ignored")
            data = None
        if data is not None and not isinstance(data, dict):
            guard.notice(f"{path} (the official client's settings) is not a mapping; ignored")
            data = None
        if isinstance(data, dict) and data.get("version") not in SUPPORTED_VERSIONS:
            guard.notice(
                f"{path} is of version {data.get('version')!r}, which canfar does not read"
                f" (it reads versions 1 and 2); ignored"
            )
            data = None
        _cache[key] = _state_of(data or {})
    return _cache[key]


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _state_of(data: dict[str, Any]) -> SigninState:
    from canfar_cli.auth.state import CadcSignin, Platform, SigninState, srcnet_of

    result = SigninState()
    identity = _get(data, "active", "authentication")
    result.active_identity = identity if identity in ("cadc", "srcnet") else None
    server = _get(data, "active", "server")
    result.active_platform = server if isinstance(server, str) and server else None
    entries = _get(data, "servers")
    if isinstance(entries, dict):
        for name, entry in entries.items():
            url = _get(entry, "url")
            idp = _get(entry, "idp")
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                result.platforms[str(name)] = Platform(
                    name=str(name),
                    url=url.rstrip("/"),
                    identity=idp if idp in ("cadc", "srcnet") else "",
                    detail="from ~/.canfar/config.yaml",
                )
    pem = _get(data, "authentication", "cadc", "path")
    if isinstance(pem, str) and pem:
        result.cadc = CadcSignin(str(Path(pem).expanduser()), source="official")
    srcnet = _get(data, "authentication", "srcnet")
    expiry = _get(srcnet, "expiry", "access")
    record = {
        "access_token": _get(srcnet, "token", "access"),
        "refresh_token": _get(srcnet, "token", "refresh"),
        "expires_at": expiry if isinstance(expiry, (int, float)) and expiry else time.time() - 1,
        "token_endpoint": _get(srcnet, "endpoints", "token"),
        "client_id": _get(srcnet, "client", "identity"),
        "client_secret": _get(srcnet, "client", "secret"),
    }
    result.srcnet = srcnet_of(record, "official")
    return result
