"""Which storage services the identity in use has, and where their endpoints are (storage.md §1).

The registry of the identity in use (CANFAR_REGISTRY_CADC / CANFAR_REGISTRY_SRCNET, as sign-in)
lists `resourceID = capabilities URL` lines. CANFAR's are `arc` (ivo://cadc.nrc.ca/arc) and
`vault` (ivo://cadc.nrc.ca/vault); an SRCNet platform's storage is paired with its `/skaha`
record by namespace (§1.1: same part before the last `/`, leaf `cavern` for SRCNet, `arc` for
CADC) and named by the platform's name (`ukCAM`). `--server local` and a server on loopback use
the local platform's own registry. Each service's capabilities say where its nodes, files,
synctrans, transfers and async-delete endpoints are. Everything found is cached (cache.py, a
day; `refresh=True` asks again), as the platforms are remembered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from canfar_cli.errors import ServerError

if TYPE_CHECKING:
    from canfar_cli.http import HttpClient

__all__ = ["Service", "discover", "registry_url"]

CACHE_KIND = "storage"
CACHE_MAX_AGE = 24 * 3600.0
NODES = "ivo://ivoa.net/std/VOSpace/v2.0#nodes"
FILES = "ivo://ivoa.net/std/VOSpace#files-proto"
SYNC = "ivo://ivoa.net/std/VOSpace#sync-2.1"
TRANSFERS = "ivo://ivoa.net/std/VOSpace/v2.0#transfers"
ASYNC_DELETE = "ivo://ivoa.net/std/VOSpace#recursive-delete-proto"
CADC_ARC = "ivo://cadc.nrc.ca/arc"
CADC_VAULT = "ivo://cadc.nrc.ca/vault"
LOCAL_ORIGIN = "http://local"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True)
class Service:
    """One storage service: its name as users write it, resource ID, and endpoints (None when
    the capabilities do not list one)."""

    name: str
    resource_id: str
    capabilities: str
    nodes: str = ""
    files: str | None = None
    synctrans: str | None = None
    transfers: str | None = None
    async_delete: str | None = None

    @property
    def vos_base(self) -> str:
        from canfar_cli.storage.paths import vos_base

        return vos_base(self.resource_id)

    @property
    def is_vault(self) -> bool:
        """A vault-like service: bytes only through negotiation (its /files serves GET/HEAD by
        a redirect, never PUT)."""
        return self.resource_id.rstrip("/").rsplit("/", 1)[-1] == "vault"

    @property
    def resolved(self) -> bool:
        return bool(self.nodes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def is_loopback(server: str) -> bool:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(server).hostname or ""
    except ValueError:
        return False
    return host in LOOPBACK or host.startswith("127.")


def registry_url(server: str, identity: str | None, services: dict[str, str]) -> str:
    """The registry to read: the local platform's own for "local" and loopback servers, else
    the identity's (CADC unless the identity in use is SRCNet's)."""
    from canfar_cli.config import SERVICE_DEFAULTS

    kind = "srcnet" if identity == "srcnet" else "cadc"
    if server.strip().lower() == "local":
        return f"{LOCAL_ORIGIN}/reg/{kind}/resource-caps"
    if is_loopback(server):
        return f"{_origin(server)}/reg/{kind}/resource-caps"
    key = f"registry_{kind}"
    return services.get(key) or SERVICE_DEFAULTS[key]


def parse_resource_caps(text: str) -> dict[str, str]:
    """`resourceID = capabilities URL` lines ({} when none)."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        uri, sep, target = (part.strip() for part in line.partition("="))
        if sep and uri.startswith("ivo://") and target.startswith(("http://", "https://")):
            entries[uri] = target
    return entries


def pair(caps: dict[str, str], identity: str | None) -> dict[str, tuple[str, str]]:
    """{name: (resource ID, capabilities URL)} of the storage services in a registry."""
    from canfar_cli.auth.discovery import name_of

    found: dict[str, tuple[str, str]] = {}
    for uri, name in ((CADC_ARC, "arc"), (CADC_VAULT, "vault")):
        if uri in caps:
            found[name] = (uri, caps[uri])
    leaves = ("cavern", "arc") if identity == "srcnet" else ("arc", "cavern")
    for uri in caps:
        if not uri.endswith("/skaha") or uri == "ivo://cadc.nrc.ca/skaha":
            continue
        namespace = uri.rsplit("/", 1)[0]
        for leaf in leaves:
            storage = f"{namespace}/{leaf}"
            if storage in caps:
                name = name_of(uri)
                if name not in found and ":" not in name and "/" not in name:
                    found[name] = (storage, caps[storage])
                break
    return found


def read_capabilities(name: str, resource_id: str, url: str, body: bytes) -> Service:
    from canfar_cli.auth.net import find_interfaces
    from canfar_cli.storage.nodes import parse_document

    root = parse_document(body, f"capabilities of {name}")

    def access(standard: str) -> str | None:
        interfaces = [i for i in find_interfaces(root, standard) if i[0] == standard]
        return interfaces[0][1].rstrip("/") if interfaces else None

    nodes = access(NODES)
    if not nodes:
        raise ServerError(
            f"the storage service {name} ({url}) offers no VOSpace nodes endpoint",
            status=200,
            hint="it may not be a VOSpace service; check the registry",
        )
    return Service(
        name=name,
        resource_id=resource_id,
        capabilities=url,
        nodes=nodes,
        files=access(FILES),
        synctrans=access(SYNC),
        transfers=access(TRANSFERS),
        async_delete=access(ASYNC_DELETE),
    )


async def discover(
    http: HttpClient,
    server: str,
    identity: str | None,
    services: dict[str, str],
    *,
    refresh: bool = False,
) -> dict[str, Service]:
    """The storage services of the identity in use, by name (endpoints resolved later, by
    `resolve`). From the cache when fresh (not for the in-process local platform)."""
    from canfar_cli import cache

    url = registry_url(server, identity, services)
    cacheable = not url.startswith(LOCAL_ORIGIN)
    if cacheable and not refresh:
        cached = cache.read(CACHE_KIND, url, CACHE_MAX_AGE)
        if isinstance(cached, dict) and cached:
            try:
                return {name: Service(**entry) for name, entry in cached.items()}
            except TypeError:
                pass  # an older shape: ask again
    response = await http.request("GET", url, headers={"Accept": "text/plain"})
    found = pair(parse_resource_caps(response.text), identity)
    if not found:
        raise ServerError(
            f"the registry {url} lists no storage service",
            status=response.status_code,
            hint="set CANFAR_REGISTRY_CADC / CANFAR_REGISTRY_SRCNET to a registry that does",
        )
    result = {name: Service(name, rid, caps) for name, (rid, caps) in found.items()}
    if cacheable:
        cache.write(CACHE_KIND, url, {n: s.as_dict() for n, s in result.items()})
    return result


async def resolve(http: HttpClient, service: Service) -> Service:
    """The service with its endpoints read from its capabilities."""
    if service.resolved:
        return service
    response = await http.request("GET", service.capabilities, headers={"Accept": "text/xml"})
    return read_capabilities(
        service.name, service.resource_id, service.capabilities, response.content
    )


def remember(
    server: str, identity: str | None, services: dict[str, str], found: dict[str, Service]
) -> None:
    """Store resolved services back in the cache (so the next command needs no capabilities)."""
    from canfar_cli import cache

    url = registry_url(server, identity, services)
    if not url.startswith(LOCAL_ORIGIN):
        cache.write(CACHE_KIND, url, {n: s.as_dict() for n, s in found.items()})
