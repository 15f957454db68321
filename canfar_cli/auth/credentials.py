"""Which credential a request carries, chosen once before anything is sent.

1. Explicit ones win: a token (--token-file, CANFAR_TOKEN, config) or a certificate (--cert,
   CANFAR_CERTIFICATE, config). A stored credential is then not even looked at, so an expired one
   can never block them.
2. Otherwise the identity of the platform in use (or the active identity): SRCNet → the stored
   access token, refreshed first when it has expired or has under a minute left; CADC → the
   stored certificate, which must be readable and unexpired.
3. With no identity chosen: ~/.ssl/cadcproxy.pem when it exists (as always), else SRCNet tokens
   when there are some, else nothing.
A credential that cannot be used is a CredentialError (exit 3) naming the command that fixes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canfar_cli.config import Settings
from canfar_cli.errors import CanfarError, CredentialError

WARN_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Credentials:
    token: str | None = field(default=None, repr=False)
    certificate: str | None = None
    identity: str | None = None  # "cadc", "srcnet", "explicit" or None (anonymous)
    # rejected token -> a new one (SRCNet only); CredentialError when it cannot be renewed
    refresh: Callable[[str], str] | None = field(default=None, repr=False, compare=False)


def _active_identity(values: dict[str, Any]) -> str | None:
    from canfar_cli.auth import official

    active = (values.get("active") or {}).get("identity")
    return active if active in ("cadc", "srcnet") else official.active_identity()


def certificate_path(values: dict[str, Any]) -> Path:
    """Where the CADC certificate is: canfar's sign-in, the official client's, or the default."""
    from canfar_cli.auth import official
    from canfar_cli.auth.certificates import default_path

    stored = (values.get("identities") or {}).get("cadc") or {}
    path = stored.get("certificate") if isinstance(stored, dict) else None
    return Path(path or official.certificate_path() or default_path())


def credentials_for(settings: Settings) -> Credentials:
    """The credential for `settings` (see the module's rules); may refresh a token (network)."""
    from canfar_cli.auth import oidc, store
    from canfar_cli.auth.certificates import check_given_certificate, usable_certificate
    from canfar_cli.auth.discovery import identity_of

    if settings.server.strip().lower() == "local":  # in-process: no credential is checked
        return Credentials(settings.token, None, "explicit" if settings.token else None)
    if settings.token:
        certificate = settings.certificate if settings.certificate_explicit else None
        return Credentials(settings.token, certificate, "explicit")
    if settings.certificate and settings.certificate_explicit:
        check_given_certificate(settings.certificate)
        return Credentials(None, settings.certificate, "explicit")
    values = store.read_store()
    identity = identity_of(settings.platform) or _active_identity(values)
    if identity is None:
        if settings.certificate:  # ~/.ssl/cadcproxy.pem, picked up as always
            identity = "cadc"
        elif oidc.stored_identity(values) is not None:
            identity = "srcnet"
        else:
            return Credentials()
    if identity == "srcnet":
        token = oidc.access_token(settings)
        return Credentials(
            token, None, "srcnet", lambda rejected: oidc.access_token(settings, rejected)
        )
    path = certificate_path(values)
    if not path.is_file():
        raise CredentialError(f"no CADC certificate at {path}", hint="sign in: `canfar login cadc`")
    usable_certificate(path)
    return Credentials(None, str(path), "cadc")


def status(settings: Settings | None = None) -> dict[str, Any]:
    """Who is signed in, with what, until when, and the platform in use. No network.

    {"active": identity or None, "platform": {"name", "url"}, "usable": bool,
     "identities": [{"identity", "credential", "path", "user", "expires", "seconds_left",
                     "usable", "source", "problem"}], "explicit": "token"|"certificate"|None}
    """
    from canfar_cli.auth import oidc, store
    from canfar_cli.auth.certificates import read_certificate
    from canfar_cli.config import load_settings

    settings = settings or load_settings()
    identities = []
    problems: list[str] = []
    try:
        values = store.read_store()
    except CredentialError as exc:
        values = {}
        problems.append(exc.message)
    path = certificate_path(values)
    if path.is_file():
        entry: dict[str, Any] = {
            "identity": "cadc",
            "credential": "certificate",
            "path": str(path),
            "source": "certificate file",
        }
        try:
            info = read_certificate(path)
            entry.update(
                user=info.user,
                expires=_iso(info.not_after),
                seconds_left=int(info.seconds_left),
                usable=not info.expired,
            )
            if info.expired:
                entry["problem"] = "expired: `canfar login cadc`"
        except CanfarError as exc:
            entry.update(usable=False, problem=exc.message)
        identities.append(entry)
    record = oidc.stored_identity(values)
    if record is not None:
        expires_at = float(record.get("expires_at") or 0)
        renewable = bool(record.get("refresh_token") and record.get("token_endpoint"))
        entry = {
            "identity": "srcnet",
            "credential": "token",
            "path": str(store.store_path()) if record.get("source") == "canfar" else None,
            "source": "canfar" if record.get("source") == "canfar" else "~/.canfar/config.yaml",
            "user": record.get("user") or "",
            "expires": _iso(expires_at),
            "seconds_left": int(expires_at - time.time()),
            "renewable": renewable,
            "usable": renewable or expires_at > time.time(),
        }
        if not entry["usable"]:
            entry["problem"] = "expired: `canfar login srcnet`"
        identities.append(entry)
    explicit = "token" if settings.token else None
    if explicit is None and settings.certificate and settings.certificate_explicit:
        explicit = "certificate"
    active = _active_identity(values)
    usable = explicit is not None or any(
        e["usable"] for e in identities if active is None or e["identity"] == active
    )
    return {
        "active": active,
        "platform": {"name": settings.platform, "url": settings.server},
        "explicit": explicit,
        "identities": identities,
        "usable": usable,
        "problems": problems,
    }


def _iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
