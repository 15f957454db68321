"""Signing in: CADC certificates, SRCNet device login with silent refresh, and platforms.

No terminal code here, and nothing heavy at import (httpx, cryptography and pyyaml are loaded by
the functions that need them):

    from canfar_cli import auth
    auth.login_cadc("alice", password, days=30)       # ~/.ssl/cadcproxy.pem
    login = auth.start_device_login()                 # SRCNet: show login.verification_uri and
    login.wait()                                      #   login.user_code, then wait
    auth.status(); auth.platforms(); auth.use_platform("ukCAM")
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Credentials",
    "DeviceLogin",
    "credentials_for",
    "discover",
    "login_cadc",
    "logout",
    "platforms",
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
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        module = importlib.import_module(f"canfar_cli.auth.{_WHERE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'canfar_cli.auth' has no attribute {name!r}")
