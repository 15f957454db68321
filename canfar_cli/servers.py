"""Which server a session talks to: the API base URL from a setting, and the local platform."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from canfar_cli.config import Settings, coerce, load_settings
from canfar_cli.errors import ConfigError
from canfar_cli.http import public_url

__all__ = ["LOCAL_BASE", "SERVER_URL_HINT", "library_settings", "resolve_server"]

# The base URL of the in-process local platform (never on the network: an ASGI transport).
LOCAL_BASE = "http://local/skaha"
SERVER_URL_HINT = (
    "check the server URL (--server, CANFAR_URL, `canfar config get server`):"
    " the skaha service, e.g. https://ws-uv.canfar.net/skaha"
)


def library_settings(
    owner: str,
    settings: Settings | None,
    *,
    server: str | None,
    token: str | None,
    certificate: str | None,
    timeout: float | None,
    concurrency: int | None,
    platform: str | None,
    poll_interval: float | None = None,
) -> Settings:
    """The settings of a library object (AsyncSession, AsyncStorage) from its arguments: the
    arguments win over `settings` (or over flag-less settings read from the environment and the
    config file), and with no server named anywhere, the platform's server is chosen. `owner`
    names the object in errors ("the arguments of AsyncStorage")."""
    given_by = f"the arguments of {owner}"
    if settings is None:
        settings = load_settings(
            platform=platform,
            server=server,
            token=token,
            certificate=certificate,
            timeout=timeout,
            concurrency=concurrency,
            poll_interval=poll_interval,
            given_by=given_by,
        )
    else:
        given: dict[str, Any] = {"server": server, "token": token, "certificate": certificate}
        for key, value in (
            ("timeout", timeout),
            ("concurrency", concurrency),
            ("poll_interval", poll_interval),
        ):
            if value is not None:
                given[key] = coerce(key, value, given_by)
        settings = dataclasses.replace(
            settings, **{k: v for k, v in given.items() if v is not None}
        )
        if certificate is not None:
            settings = dataclasses.replace(settings, certificate_explicit=True)
        if server is not None:
            settings = dataclasses.replace(settings, platform=None)
    if not settings.server:  # no server named: the platform's (canfar_cli.auth.servers)
        from canfar_cli.auth.servers import choose_server

        settings = choose_server(settings)
    return settings


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
