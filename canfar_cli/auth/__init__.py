"""Signing in: CADC certificates, SRCNet device login with silent refresh, and platforms.

No terminal code here, and nothing heavy at import (httpx, cryptography and pyyaml are loaded by
the functions that need them):

    from canfar_cli import auth
    auth.login_cadc("alice", password, days=30)       # ~/.ssl/cadcproxy.pem
    login = auth.start_device_login()                 # SRCNet: show login.verification_uri and
    login.wait()                                      #   login.user_code, then wait
    auth.status(settings); auth.platforms(); auth.use_platform("ukCAM")

The sign-in state (`auth.SigninState.load()`) is the one reader and writer of the sign-in store.
For other services of an identity (storage): `auth.registry_of_identity("cadc")`, and
`auth.registry_of_server(settings, "cadc")` for the server in use.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Credentials",
    "DeviceLogin",
    "SigninSettings",
    "SigninState",
    "choose_server",
    "credentials_for",
    "discover",
    "login_cadc",
    "logout",
    "platforms",
    "registry_of_identity",
    "registry_of_server",
    "signin_settings",
    "start_device_login",
    "status",
    "use_platform",
]

_WHERE = {
    "Credentials": "credentials",
    "credentials_for": "credentials",
    "status": "credentials",
    "login_cadc": "cadc",
    "DeviceLogin": "oidc",
    "start_device_login": "oidc",
    "discover": "discovery",
    "platforms": "discovery",
    "use_platform": "discovery",
    "logout": "signout",
    "SigninState": "state",
    "SigninSettings": "settings",
    "signin_settings": "settings",
    "choose_server": "servers",
    "registry_of_identity": "servers",
    "registry_of_server": "servers",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        module = importlib.import_module(f"canfar_cli.auth.{_WHERE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'canfar_cli.auth' has no attribute {name!r}")
