"""Platforms: finding those an identity may use, remembering them, and the active one.

Discovery reads the identity provider's registry (lines whose URI ends in `/skaha`), then asks
every platform for its VOSI capabilities at once, within one total time limit: each is reported
reachable, timed out or refused, and the others stay usable whatever one of them does. The list
and the active choice live in the sign-in store; the official client's `config.yaml` is read when
canfar has none of its own.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from canfar_cli.auth.state import Platform, find
from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    from canfar_cli.auth.settings import SigninSettings
    from canfar_cli.auth.state import SigninState

__all__ = ["KNOWN", "Platform", "discover", "listed", "platforms", "use_platform"]

SESSION_STANDARD = "http://www.opencadc.org/std/platform#session-"
DEFAULT_DISCOVERY_TIMEOUT = 10.0

# Short names users know the platforms by (sign-in.md §4), by registry URI.
KNOWN: dict[str, str] = {
    "canfar": "ivo://cadc.nrc.ca/skaha",
    "canSRC": "ivo://canfar.net/src/skaha",
    "sweSRC": "ivo://swesrc.chalmers.se/skaha",
    "ukCAM": "ivo://canfar.cam.uksrc.org/skaha",
    "ukRAL": "ivo://canfar.ral.uksrc.org/skaha",
    "chSRC": "ivo://src.skach.org/skaha",
    "espSRC": "ivo://espsrc.iaa.csic.es/skaha",
    "itaINAF": "ivo://canfar.itsrc.oact.inaf.it/skaha",
    "jpSRC": "ivo://shion-sp.mtk.nao.ac.jp/skaha",
    "krSRC": "ivo://canfar.krsrc.kr/skaha",
    "cnSRC": "ivo://canfar.ska.zverse.space/skaha",
    "itCINECA": "ivo://canfar.itsrc.ext.cineca.it/skaha",
    "skaSRC": "ivo://canfar.srcnet.skao.int/skaha",
    "ausSRC": "ivo://aussrc.org/skaha",
}
NAME_OF_URI = {uri: name for name, uri in KNOWN.items()}
IDENTITIES = ("cadc", "srcnet")


def name_of(uri: str) -> str:
    if uri in NAME_OF_URI:
        return NAME_OF_URI[uri]
    rest = uri.removeprefix("ivo://")
    return rest.removesuffix("/skaha") or rest


# --- remembered ---------------------------------------------------------------------------------


def _state(state: SigninState | None) -> SigninState:
    from canfar_cli.auth.state import SigninState

    return state if state is not None else SigninState.load()


def remembered(state: SigninState | None = None) -> list[Platform]:
    """The platforms canfar knows: from its last discovery, else the official client's servers."""
    return _state(state).platform_list()


def active_name(state: SigninState | None = None) -> str | None:
    return _state(state).active_platform_name()


def _lookup(name: str, settings: SigninSettings) -> Platform:
    """A platform by name straight from the registries (no capabilities asked)."""
    from canfar_cli.errors import CanfarError

    candidates = []
    for identity in IDENTITIES:
        try:
            candidates += listed(identity, settings)
        except CanfarError:  # a registry down: the other may still know it
            continue
    found = find(name, candidates)
    if found is None:
        raise UsageError(
            f"unknown platform {name!r}",
            hint="`canfar platform ls` lists the platforms (`canfar login` finds yours)",
        )
    return found


def use_platform(
    name: str, settings: SigninSettings | None = None, state: SigninState | None = None
) -> Platform:
    """Make `name` the active platform (it must be known, or listed by a registry)."""
    from canfar_cli.auth.settings import signin_settings

    state = _state(state)
    found = state.find_platform(name)
    if found is None:
        found = _lookup(name, settings or signin_settings())
    chosen = found

    def change(fresh: SigninState) -> None:
        fresh.platforms.setdefault(chosen.name, chosen)
        fresh.active_platform = chosen.name

    state.update(change)
    return chosen


def after_login(
    state: SigninState, found: list[Platform], wanted: str | None
) -> tuple[Platform | None, str]:
    """The platform to make active after a sign-in, and why (None: keep the active one).
    The active platform changes only when the user names one, there is none, or it is gone."""
    reachable = [p for p in found if p.status == "reachable"]
    if wanted is not None:
        chosen = find(wanted, found)
        if chosen is None:
            raise UsageError(
                f"platform {wanted!r} is not one of this sign-in's",
                hint="`canfar platform ls` lists them",
            )
        return chosen, "as asked"
    active = state.active_platform_name()
    if active is not None and state.find_platform(active) is not None:
        return None, "kept"
    chosen = reachable[0] if reachable else None
    if chosen is None:
        return None, "none answered"
    return chosen, "none was active" if active is None else f"{active} is gone"


# --- discovery ----------------------------------------------------------------------------------


def listed(identity: str, settings: SigninSettings) -> list[Platform]:
    """The platforms in an identity provider's registry (nothing asked of them yet)."""
    from canfar_cli.auth import net

    key = f"registry_{identity}"
    registry = settings.service(key)
    caps = net.resource_caps(registry, settings, key)
    # A local platform's registry names its platform as CANFAR's and SRCNet's do: "local-"
    # before the name keeps the real ones (`canfar`, `canSRC`) as they were.
    local = settings.local_base()
    prefix = "local-" if local is not None and registry.startswith(local + "/") else ""
    found = []
    for uri, url in caps.items():
        if uri.endswith("/skaha"):
            base = url.rstrip("/").removesuffix("/capabilities")
            name = prefix + name_of(uri)
            found.append(Platform(name=name, url=base, identity=identity, uri=uri))
    return found


def _credential(identity: str, settings: SigninSettings, state: SigninState) -> dict[str, str]:
    """The identity's credential for asking its platforms ({} when there is none usable)."""
    from canfar_cli.auth import oidc
    from canfar_cli.auth.credentials import usable_certificate_of
    from canfar_cli.errors import CanfarError

    try:
        if identity == "cadc":
            return {"certificate": str(usable_certificate_of(state))}
        return {"token": oidc.access_token(settings, state=state)}
    except CanfarError:
        return {}


def _probe(
    platform: Platform, settings: SigninSettings, timeout: float, credential: dict[str, str]
) -> None:
    """Ask one platform for its capabilities; set its status, version and auth methods."""
    import httpx

    from canfar_cli.auth import net
    from canfar_cli.errors import CanfarError

    try:
        root = net.capabilities(
            f"{platform.url}/capabilities", settings, timeout=timeout, **credential
        )
    except CanfarError as exc:
        platform.status, platform.detail = "refused", exc.message
        if "timed out" in exc.message:
            platform.status, platform.detail = "timed out", f"no answer within {timeout:g} s"
        return
    except httpx.HTTPError as exc:  # pragma: no cover - net.request maps these
        platform.status, platform.detail = "refused", str(exc)
        return
    interfaces = net.find_interfaces(root, SESSION_STANDARD)
    if not interfaces:
        platform.status, platform.detail = "refused", "no session API in its capabilities"
        return
    _standard, url, methods, _use = next((i for i in interfaces if i[3] == "base"), interfaces[0])
    parts = url.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-1] == "session" and parts[-2].startswith("v"):
        platform.version = parts[-2]
    platform.auth = sorted(
        {"certificate" for m in methods if m.endswith("#tls-with-certificate")}
        | {"token" for m in methods if m.endswith("#token")}
    )
    platform.status, platform.detail = "reachable", ""


def discover(
    identities: list[str] | None = None,
    settings: SigninSettings | None = None,
    timeout: float = DEFAULT_DISCOVERY_TIMEOUT,
    state: SigninState | None = None,
) -> list[Platform]:
    """Every platform of the identities' registries, each asked at once, within `timeout`
    seconds in all; remembered in the sign-in state (the active choice is kept)."""
    import threading

    from canfar_cli.auth.settings import signin_settings

    settings = settings or signin_settings()
    state = _state(state)
    found: list[Platform] = []
    for identity in identities or list(IDENTITIES):
        found += listed(identity, settings)
    deadline = time.monotonic() + timeout
    credentials = {
        identity: _credential(identity, settings, state) for identity in {p.identity for p in found}
    }
    threads = []
    for platform in found:
        args = (platform, settings, timeout, credentials[platform.identity])
        thread = threading.Thread(target=_probe, args=args, daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for platform, thread in zip(found, threads, strict=True):
        if thread.is_alive() or platform.status == "unknown":
            platform.status, platform.detail = "timed out", f"no answer within {timeout:g} s"

    def change(fresh: SigninState) -> None:
        for platform in found:
            fresh.platforms[platform.name] = platform

    state.update(change)
    return found


def platforms(
    settings: SigninSettings | None = None,
    *,
    refresh: bool = False,
    state: SigninState | None = None,
) -> list[Platform]:
    """The known platforms (discovered now when none is known, or when `refresh`)."""
    state = _state(state)
    known = [] if refresh else state.platform_list()
    return known or discover(settings=settings, state=state)
