"""Platforms: finding those an identity may use, remembering them, and the active one.

Discovery reads the identity provider's registry (lines whose URI ends in `/skaha`), then asks
every platform for its VOSI capabilities at once, within one total time limit: each is reported
reachable, timed out or refused, and the others stay usable whatever one of them does. The list
and the active choice live in the sign-in store; the official client's `config.yaml` is read when
canfar has none of its own.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    from canfar_cli.config import Settings

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


@dataclass
class Platform:
    name: str
    url: str  # the unversioned base, e.g. https://host/skaha
    identity: str  # the identity provider whose registry lists it: cadc or srcnet
    uri: str = ""
    status: str = "unknown"  # reachable, timed out, refused, unknown (not asked)
    detail: str = ""
    version: str = "v1"
    auth: list[str] = field(default_factory=list)  # certificate, token

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- remembered ---------------------------------------------------------------------------------


def remembered(values: dict[str, Any] | None = None) -> list[Platform]:
    """The platforms canfar knows: from its last discovery, else the official client's servers."""
    from canfar_cli.auth import official, store

    values = store.read_store() if values is None else values
    found = []
    for name, entry in (values.get("platforms") or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            known = {k: v for k, v in entry.items() if k in Platform.__dataclass_fields__}
            found.append(Platform(**{"identity": "", **known, "name": name}))
    if not found:
        for name, url in official.servers().items():
            found.append(
                Platform(
                    name=name,
                    url=url,
                    identity="",
                    status="unknown",
                    detail="from ~/.canfar/config.yaml",
                )
            )
    return found


def _find(name: str, platforms: list[Platform]) -> Platform | None:
    exact = [p for p in platforms if p.name == name]
    if exact:
        return exact[0]
    folded = [p for p in platforms if p.name.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def active_name(values: dict[str, Any] | None = None) -> str | None:
    from canfar_cli.auth import official, store

    values = store.read_store() if values is None else values
    name = (values.get("active") or {}).get("platform")
    return name if isinstance(name, str) and name else official.active_server()


def platform_server(
    name: str | None, services: dict[str, str], ca_bundle: str | None
) -> tuple[str | None, str]:
    """(platform name, base URL) for a named platform, or for the active one when `name` is None
    (the production URL when there is none). An unknown name is looked up in the registries."""
    from canfar_cli.config import PRODUCTION_URL

    known = remembered()
    if name is None:
        name = active_name()
        if name is None:
            return None, PRODUCTION_URL
        found = _find(name, known)
        return (found.name, found.url) if found else (None, PRODUCTION_URL)
    found = _find(name, known)
    if found is None:
        found = _lookup(name, services, ca_bundle)
    return found.name, found.url


def _lookup(name: str, services: dict[str, str], ca_bundle: str | None) -> Platform:
    """A platform by name straight from the registries (no capabilities asked)."""
    from canfar_cli.config import Settings

    settings = Settings(
        server="local",
        token=None,
        certificate=None,
        timeout=10.0,
        concurrency=1,
        ca_bundle=ca_bundle,
        services=services,
    )
    candidates = []
    for identity in IDENTITIES:
        try:
            candidates += listed(identity, settings)
        except Exception:  # a registry down: the other may still know it
            continue
    found = _find(name, candidates)
    if found is None:
        raise UsageError(
            f"unknown platform {name!r}",
            hint="`canfar platform ls` lists the platforms (`canfar login` finds yours)",
        )
    return found


def identity_of(platform_name: str | None) -> str | None:
    """Which identity provider's credential a platform takes (None when not known)."""
    if not platform_name:
        return None
    found = _find(platform_name, remembered())
    if found and found.identity:
        return found.identity
    uri = KNOWN.get(platform_name)
    if uri == KNOWN["canfar"]:
        return "cadc"
    return "srcnet" if uri else None


def use_platform(name: str, settings: Settings | None = None) -> Platform:
    """Make `name` the active platform (it must be known, or listed by a registry)."""
    from canfar_cli.auth import store

    found = _find(name, remembered())
    if found is None:
        services = settings.services if settings else {}
        found = _lookup(name, services, settings.ca_bundle if settings else None)

    def change(values: dict[str, Any]) -> None:
        values.setdefault("platforms", {}).setdefault(found.name, _entry(found))
        values.setdefault("active", {})["platform"] = found.name

    store.update_store(change)
    return found


def _entry(platform: Platform) -> dict[str, Any]:
    entry = platform.as_dict()
    entry.pop("name")
    return entry


# --- discovery ----------------------------------------------------------------------------------


def listed(identity: str, settings: Settings) -> list[Platform]:
    """The platforms in an identity provider's registry (nothing asked of them yet)."""
    from canfar_cli.auth import net

    key = f"registry_{identity}"
    caps = net.resource_caps(settings.service(key), settings, key)
    found = []
    for uri, url in caps.items():
        if uri.endswith("/skaha"):
            base = url.rstrip("/").removesuffix("/capabilities")
            found.append(Platform(name=name_of(uri), url=base, identity=identity, uri=uri))
    return found


def _credential(identity: str, settings: Settings) -> dict[str, str]:
    """The identity's credential for asking its platforms ({} when there is none usable)."""
    from canfar_cli.auth import oidc, store
    from canfar_cli.auth.certificates import usable_certificate
    from canfar_cli.auth.credentials import certificate_path
    from canfar_cli.errors import CanfarError

    try:
        if identity == "cadc":
            path = certificate_path(store.read_store())
            return {"certificate": usable_certificate(path).path} if path.is_file() else {}
        return {"token": oidc.access_token(settings)}
    except CanfarError:
        return {}


def _probe(
    platform: Platform, settings: Settings, timeout: float, credential: dict[str, str]
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
    settings: Settings | None = None,
    timeout: float = DEFAULT_DISCOVERY_TIMEOUT,
) -> list[Platform]:
    """Every platform of the identities' registries, each asked at once, within `timeout`
    seconds in all; remembered in the store (the active choice is kept)."""
    import threading

    from canfar_cli.auth import store
    from canfar_cli.config import load_settings

    settings = settings or load_settings(server="local")
    found: list[Platform] = []
    for identity in identities or list(IDENTITIES):
        found += listed(identity, settings)
    deadline = time.monotonic() + timeout
    credentials = {
        identity: _credential(identity, settings) for identity in {p.identity for p in found}
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

    def change(values: dict[str, Any]) -> None:
        entries = values.setdefault("platforms", {})
        for platform in found:
            entries[platform.name] = _entry(platform)

    store.update_store(change)
    return found


def platforms(settings: Settings | None = None, *, refresh: bool = False) -> list[Platform]:
    """The known platforms (discovered now when none is known, or when `refresh`)."""
    known = [] if refresh else remembered()
    return known or discover(settings=settings)
