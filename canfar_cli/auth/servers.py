"""Choosing the server, where it is chosen: a platform's URL, the registries of what is in use.

`load_settings` (canfar_cli.config) resolves every setting but the server when none is named:
then a platform (named with --platform or CANFAR_PLATFORM, else the active one) is looked up in
the sign-in state here, which is read once and handed down with the settings (`settings.signin`),
so choosing the credential later reads nothing again.

For storage and other services of the same identity:
    registry_of_identity(identity)  the registry that identity signed in with (else the set one)
    registry_of_server(settings, identity)  the registry of the server in use: for `--server
        local` and a loopback server, that server's own (BASE/reg/cadc|srcnet/resource-caps)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from canfar_cli.auth.state import Platform, SigninState
    from canfar_cli.config import Settings


def choose_server(settings: Settings, state: SigninState | None = None) -> Settings:
    """`settings` with its server chosen (unchanged when one was named): the named platform's
    URL, else the active platform's, else the production server. The sign-in state read for it
    travels with the result. An unknown platform name is looked up in the registries."""
    from canfar_cli.auth.state import SigninState
    from canfar_cli.config import PRODUCTION_URL, with_local_server

    if settings.server == "local":
        return settings
    if settings.server:
        # Named: nothing to read (the state is read when the credential is chosen, which an
        # explicit token never needs).
        return settings if state is None else dataclasses.replace(settings, signin=state)
    state = state or SigninState.load()
    name = settings.platform
    found: Platform | None
    if name is None:
        active = state.active_platform_name()
        found = state.find_platform(active) if active else None
        url = found.url if found else PRODUCTION_URL
    else:
        found = state.find_platform(name)
        if found is None:
            from canfar_cli.auth.discovery import _lookup
            from canfar_cli.auth.settings import SigninSettings

            found = _lookup(name, SigninSettings.of(settings))
        url = found.url
    chosen = dataclasses.replace(
        settings, server=url, platform=found.name if found else None, signin=state
    )
    return with_local_server(chosen)


def registry_of_identity(identity: str, state: SigninState | None = None) -> str:
    """The registry (resource-caps URL) the identity (cadc, srcnet) signed in with; the one
    set (or the public one) when it has not signed in through canfar."""
    from canfar_cli.auth.settings import signin_settings
    from canfar_cli.auth.state import SigninState

    state = state or SigninState.load()
    record = state.certificate() if identity == "cadc" else state.tokens()
    registry = getattr(record, "registry", "") if record is not None else ""
    return registry or signin_settings().service(f"registry_{identity}")


def registry_of_server(settings: Settings, identity: str) -> str:
    """The registry of the server in use for an identity: a local platform's own (for
    `--server local`, the running `canfar local serve`), else the one set, else the public."""
    from canfar_cli.auth.settings import SigninSettings

    return SigninSettings.of(settings).service(f"registry_{identity}")
