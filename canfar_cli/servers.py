"""Which server a session talks to: the API base URL from a setting, and the local platform."""

from __future__ import annotations

import httpx

from canfar_cli.errors import ConfigError
from canfar_cli.http import public_url

__all__ = ["LOCAL_BASE", "SERVER_URL_HINT", "resolve_server"]

# The base URL of the in-process local platform (never on the network: an ASGI transport).
LOCAL_BASE = "http://local/skaha"
SERVER_URL_HINT = (
    "check the server URL (--server, CANFAR_URL, `canfar config get server`):"
    " the skaha service, e.g. https://ws-uv.canfar.net/skaha"
)


def resolve_server(server: str, version: str) -> tuple[str, httpx.AsyncBaseTransport | None]:
    """The API base URL (ending in /<version>) and, for "local", the in-process transport."""
    if not isinstance(version, str) or not version.strip("/"):
        raise ConfigError(f"API version {version!r} is not usable", hint="use 'v1'")
    version = version.strip("/")
    if server.strip().lower() == "local":
        try:
            from canfar_cli.local.app import create_app
            from canfar_cli.local.transport import StreamingASGITransport
        except ImportError as exc:  # pragma: no cover - only when the package is broken
            raise ConfigError(f"the local platform cannot be loaded: {exc}") from None
        # Streaming both ways (httpx.ASGITransport would collect a whole response body first).
        transport: httpx.AsyncBaseTransport = StreamingASGITransport(create_app(in_process=True))
        return f"{LOCAL_BASE}/{version}", transport
    try:
        url: httpx.URL | None = httpx.URL(server.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"server {server!r} is not a URL",
            hint="use e.g. https://ws-uv.canfar.net/skaha, or 'local' for the local platform",
        )
    if url.userinfo:
        # httpx would send it as Basic auth in place of the token; skaha does not take passwords.
        raise ConfigError(
            f"server URL {public_url(url)} must not hold a user name or password",
            hint="leave them out of the URL; use a token or a certificate",
        )
    base = str(url.copy_with(query=None, fragment=None)).rstrip("/")
    if base.endswith(f"/{version}"):
        base = base[: -len(version) - 1]
    return f"{base}/{version}", None
