"""Which credential a request carries, chosen once before anything is sent.

1. Explicit ones win: a token (--token-file, CANFAR_TOKEN, config) or a certificate (--cert,
   CANFAR_CERTIFICATE, config). The sign-in state is then not even read (nor this package's
   other modules imported), so an expired stored credential can never block them.
2. Otherwise the identity of the platform in use (or the active identity): SRCNet → the stored
   access token, refreshed first when it has expired or has under a minute left; CADC → the
   stored certificate, which must be readable, private and unexpired. For a `canfar local serve`
   of this state folder, a sign-in made to that server wins over the token the server recorded
   (found by itself); with no such sign-in, that token is used.
3. With no identity chosen: ~/.ssl/cadcproxy.pem when it exists (as always), else SRCNet tokens
   when there are some, else nothing.
A credential that cannot be used is a CredentialError (exit 3) naming the command that fixes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canfar_cli.errors import CanfarError, CredentialError

if TYPE_CHECKING:
    from canfar_cli.auth.state import SigninState
    from canfar_cli.config import Settings

WARN_SECONDS = 24 * 3600
# Where a credential came from, as `auth status` says it.
SOURCES = {
    "flag": "the token you gave (--token-file)",
    "environment": "the token in $CANFAR_TOKEN",
    "config file": "the token in the config file",
    "serve": "the token `canfar local serve` recorded for this server (found by itself)",
    "certificate": "the certificate you gave (--cert, $CANFAR_CERTIFICATE or the config file)",
    "cadc": "your CADC sign-in (certificate)",
    "srcnet": "your SRCNet sign-in (token)",
}


@dataclass(frozen=True)
class Credentials:
    token: str | None = field(default=None, repr=False)
    certificate: str | None = None
    identity: str | None = None  # "cadc", "srcnet", "explicit" or None (anonymous)
    # rejected token -> a new one (SRCNet only); CredentialError when it cannot be renewed
    refresh: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    source: str | None = None  # a key of SOURCES


def credentials_for(settings: Settings, state: SigninState | None = None) -> Credentials:
    """The credential for `settings` (see the module's rules); may refresh a token (network).
    `state`: the sign-in state already read (else settings.signin, else read now)."""
    if settings.server.strip().lower() == "local":  # in-process: no credential is checked
        return Credentials(settings.token, None, "explicit" if settings.token else None)
    explicit_token = settings.token if settings.token_source != "serve" else None
    if explicit_token:
        certificate = settings.certificate if settings.certificate_explicit else None
        return Credentials(explicit_token, certificate, "explicit", None, settings.token_source)
    if settings.certificate and settings.certificate_explicit:
        from canfar_cli.auth.certificates import check_given_certificate

        check_given_certificate(settings.certificate)
        return Credentials(None, settings.certificate, "explicit", None, "certificate")
    from canfar_cli.auth.settings import SigninSettings

    state = state or _state_of(settings)
    signin = SigninSettings.of(settings)
    identity = state.identity_of(settings.platform) or state.identity()
    # The local server's own token, unless a sign-in was made to that server (which wins).
    if settings.token and (identity is None or not signed_in_here(state, identity, signin)):
        return Credentials(settings.token, None, "explicit", None, "serve")
    if identity is None:
        if settings.certificate:  # ~/.ssl/cadcproxy.pem, picked up as always
            identity = "cadc"
        elif state.tokens() is not None:
            identity = "srcnet"
        else:
            return Credentials()
    if identity == "srcnet":
        from canfar_cli.auth import oidc

        token = oidc.access_token(signin, state=state)
        return Credentials(
            token,
            None,
            "srcnet",
            lambda rejected: oidc.access_token(signin, rejected),
            "srcnet",
        )
    return Credentials(None, str(usable_certificate_of(state)), "cadc", None, "cadc")


def _state_of(settings: Settings) -> SigninState:
    from canfar_cli.auth.state import SigninState

    handed = settings.signin
    return handed if isinstance(handed, SigninState) else SigninState.load()


def signed_in_here(state: SigninState, identity: str, signin: Any) -> bool:
    """Whether the identity's sign-in was made with the registry of the server in use."""
    record = state.certificate() if identity == "cadc" else state.tokens()
    registry = getattr(record, "registry", "") if record is not None else ""
    try:
        return bool(registry) and registry == signin.service(f"registry_{identity}")
    except CanfarError:
        return False


def usable_certificate_of(state: SigninState) -> Path:
    """The CADC certificate to send: present, private, unexpired; else CredentialError."""
    from canfar_cli.auth import guard
    from canfar_cli.auth.certificates import usable_certificate

    path = state.certificate_path()
    if not path.is_file():
        raise CredentialError(f"no CADC certificate at {path}", hint="sign in: `canfar login cadc`")
    guard.check_file(path)
    usable_certificate(path)
    return path


def status(settings: Settings | None = None, state: SigninState | None = None) -> dict[str, Any]:
    """Who is signed in, with what, until when, the platform and the credential in use. No
    network (a token is not refreshed to say so).

    {"active": identity or None, "platform": {"name", "url"}, "usable": bool,
     "identities": [{"identity", "credential", "path", "user", "expires", "seconds_left",
                     "usable", "source", "problem"}],
     "explicit": "token"|"certificate"|None, "in_use": {"identity", "source", "says"}}
    """
    from canfar_cli.auth.certificates import read_certificate
    from canfar_cli.auth.settings import SigninSettings
    from canfar_cli.auth.state import SigninState

    if settings is None:
        from canfar_cli.auth.servers import choose_server
        from canfar_cli.config import load_settings

        settings = choose_server(load_settings(), state)
    identities = []
    problems: list[str] = []
    if state is None:
        try:
            state = _state_of(settings)
        except CredentialError as exc:
            state = SigninState()
            problems.append(exc.message)
    path = state.certificate_path()
    cadc = state.certificate()
    if path.is_file():
        entry: dict[str, Any] = {
            "identity": "cadc",
            "credential": "certificate",
            "path": str(path),
            "source": "~/.canfar/config.yaml"
            if cadc and cadc.source == "official"
            else ("canfar" if cadc and cadc.written else "certificate file"),
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
    record = state.tokens()
    if record is not None:
        entry = {
            "identity": "srcnet",
            "credential": "token",
            "path": str(state.path) if record.source == "canfar" and state.path else None,
            "source": "canfar" if record.source == "canfar" else "~/.canfar/config.yaml",
            "user": record.user,
            "expires": _iso(record.expires_at),
            "seconds_left": int(record.expires_at - time.time()),
            "renewable": record.renewable,
            "usable": record.renewable or record.expires_at > time.time(),
        }
        if not entry["usable"]:
            entry["problem"] = "expired: `canfar login srcnet`"
        identities.append(entry)
    explicit = "token" if settings.token and settings.token_source != "serve" else None
    if explicit is None and settings.certificate and settings.certificate_explicit:
        explicit = "certificate"
    active = state.identity()
    in_use = _in_use(settings, state, SigninSettings.of(settings), explicit)
    usable = (
        explicit is not None
        or in_use.get("source") == "serve"
        or any(e["usable"] for e in identities if active is None or e["identity"] == active)
    )
    return {
        "active": active,
        "platform": {"name": settings.platform, "url": settings.server},
        "explicit": explicit,
        "in_use": in_use,
        "identities": identities,
        "usable": usable,
        "problems": problems,
    }


def _in_use(
    settings: Settings, state: SigninState, signin: Any, explicit: str | None
) -> dict[str, Any]:
    """Which credential a request to the server in use would carry, and where it came from."""
    if explicit == "token":
        source = settings.token_source or "flag"
        return {"identity": "explicit", "source": source, "says": SOURCES[source]}
    if explicit == "certificate":
        return {"identity": "explicit", "source": "certificate", "says": SOURCES["certificate"]}
    identity = state.identity_of(settings.platform) or state.identity()
    if settings.token and (identity is None or not signed_in_here(state, identity, signin)):
        return {"identity": "explicit", "source": "serve", "says": SOURCES["serve"]}
    if identity is None:
        if settings.certificate:
            identity = "cadc"
        elif state.tokens() is not None:
            identity = "srcnet"
        else:
            return {"identity": None, "source": None, "says": "nothing (anonymous)"}
    return {"identity": identity, "source": identity, "says": SOURCES[identity]}


def _iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_in_use(settings: Settings, state: SigninState | None = None) -> str | None:
    """The user name of the sign-in whose credential a request to the server in use would carry
    (the certificate's CN, the SRCNet user); None for any other credential or none. No network."""
    from canfar_cli.auth.certificates import read_certificate

    report = status(settings, state)
    identity = report["in_use"]["identity"]
    for entry in report["identities"]:
        if entry["identity"] == identity and entry.get("user"):
            return str(entry["user"])
    if identity == "cadc":
        try:
            return read_certificate(settings.certificate or "").user
        except CanfarError:
            return None
    return None
