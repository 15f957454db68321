"""The VOSI capabilities documents of the storage services (§1.3), CADC's layout."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

COOKIE = "ivo://ivoa.net/sso#cookie"
CERT = "ivo://ivoa.net/sso#tls-with-certificate"
TOKEN = "ivo://ivoa.net/sso#token"
ANON = ""  # an empty <securityMethod/>
ALL = (ANON, COOKIE, CERT, TOKEN)
SIGNED = (COOKIE, CERT, TOKEN)

NODES = "ivo://ivoa.net/std/VOSpace/v2.0#nodes"
SYNC = "ivo://ivoa.net/std/VOSpace#sync-2.1"
TRANSFERS = "ivo://ivoa.net/std/VOSpace/v2.0#transfers"
FILES = "ivo://ivoa.net/std/VOSpace#files-proto"
RECURSIVE_DELETE = "ivo://ivoa.net/std/VOSpace#recursive-delete-proto"
RECURSIVE_PROPS = "ivo://ivoa.net/std/VOSpace#recursive-nodeprops-proto"
PKG = "vos://cadc.nrc.ca~vospace/CADC/std/Pkg-1.0"
VIEWS = "ivo://ivoa.net/std/VOSpace/v2.0#views"
VOSI_CAPABILITIES = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY = "ivo://ivoa.net/std/VOSI#availability"


def _capability(standard_id: str, url: str, use: str, methods: tuple[str, ...]) -> str:
    security = "".join(
        f"\n      <securityMethod standardID={quoteattr(m)} />"
        if m
        else "\n      <securityMethod />"
        for m in methods
    )
    return (
        f"  <capability standardID={quoteattr(standard_id)}>\n"
        '    <interface xsi:type="vs:ParamHTTP" role="std">\n'
        f'      <accessURL use="{use}">{escape(url)}</accessURL>{security}\n'
        "    </interface>\n"
        "  </capability>\n"
    )


def document(service: str, *, vault: bool = False) -> str:
    """`service` is the service's base URL (BASE/arc, BASE/vault)."""
    parts = [
        _capability(VOSI_CAPABILITIES, f"{service}/capabilities", "full", ()),
        _capability(VOSI_AVAILABILITY, f"{service}/availability", "full", ()),
        _capability(NODES, f"{service}/nodes", "base", ALL),
        _capability(SYNC, f"{service}/synctrans", "full", ALL),
        _capability(TRANSFERS, f"{service}/transfers", "full", ALL),
        _capability(FILES, f"{service}/files", "base", ALL),
        _capability(RECURSIVE_DELETE, f"{service}/async-delete", "full", SIGNED),
        _capability(RECURSIVE_PROPS, f"{service}/async-setprops", "full", SIGNED),
        _capability(PKG, f"{service}/pkg", "full", ALL),
    ]
    if vault:
        parts.append(_capability(VIEWS, f"{service}/views", "full", ALL))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"'
        ' xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"'
        ' xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "".join(parts)
        + "</vosi:capabilities>\n"
    )


def availability() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">\n'
        "  <vosi:available>true</vosi:available>\n"
        "  <vosi:note>the local platform's storage is serving</vosi:note>\n"
        "</vosi:availability>\n"
    )
