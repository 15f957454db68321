"""Settings of the local sign-in services, read from the environment when the server starts.

CANFAR_LOCAL_ACCESS_TOKEN_SECONDS   lifetime of an access token (3600)
CANFAR_LOCAL_REFRESH_TOKEN_SECONDS  lifetime of a refresh token (30 days)
CANFAR_LOCAL_DEVICE_CODE_SECONDS    lifetime of a device code (600)
CANFAR_LOCAL_DEVICE_INTERVAL        polling interval of the device flow, seconds (5; 0 allowed)
CANFAR_LOCAL_CERT_SECONDS           when set, the lifetime of every certificate the credential
                                    service issues, whatever daysValid asks (for tests)
CANFAR_LOCAL_SLOW_SECONDS           how long `/slow/...` takes to answer (30)
CANFAR_LOCAL_EXTRA_PLATFORMS        more `URI = URL` entries for the srcnet registry, separated
                                    by newlines or ';'. A URL starting with `BASE/` gets the
                                    server's own base (`http://127.0.0.1:PORT`) instead, e.g.
                                    `ivo://slow.example/skaha = BASE/slow/skaha/capabilities`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from canfar_cli.errors import ConfigError

MAX_DAYS_VALID = 30
MIN_SECONDS_VALID = 3600.0  # the credential service's shortest certificate (1 hour)


def _seconds(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"${name} must be a number >= {minimum:g}, got {raw!r}")
    return value


def parse_extra_platforms(raw: str) -> list[tuple[str, str]]:
    """`URI = URL` pairs from CANFAR_LOCAL_EXTRA_PLATFORMS (newline or ';' separated)."""
    pairs = []
    for item in raw.replace(";", "\n").splitlines():
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        uri, sep, url = item.partition("=")
        if not sep or not uri.strip() or not url.strip():
            raise ConfigError(
                f"$CANFAR_LOCAL_EXTRA_PLATFORMS: {item!r} is not of the form 'URI = URL'"
            )
        pairs.append((uri.strip(), url.strip()))
    return pairs


@dataclass(frozen=True)
class SigninSettings:
    access_token_seconds: float = 3600.0
    refresh_token_seconds: float = 30 * 86400.0
    device_code_seconds: float = 600.0
    device_interval: int = 5
    cert_seconds: float | None = None
    slow_seconds: float = 30.0
    extra_platforms: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_env(cls) -> SigninSettings:
        cert = os.environ.get("CANFAR_LOCAL_CERT_SECONDS", "").strip()
        return cls(
            access_token_seconds=_seconds("CANFAR_LOCAL_ACCESS_TOKEN_SECONDS", 3600.0, 1),
            refresh_token_seconds=_seconds("CANFAR_LOCAL_REFRESH_TOKEN_SECONDS", 30 * 86400.0, 1),
            device_code_seconds=_seconds("CANFAR_LOCAL_DEVICE_CODE_SECONDS", 600.0, 1),
            device_interval=int(_seconds("CANFAR_LOCAL_DEVICE_INTERVAL", 5, 0)),
            cert_seconds=_seconds("CANFAR_LOCAL_CERT_SECONDS", 0, 1) if cert else None,
            slow_seconds=_seconds("CANFAR_LOCAL_SLOW_SECONDS", 30.0, 0),
            extra_platforms=tuple(
                parse_extra_platforms(os.environ.get("CANFAR_LOCAL_EXTRA_PLATFORMS", ""))
            ),
        )
