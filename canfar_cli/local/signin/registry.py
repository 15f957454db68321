"""The registry (`resource-caps`) and the VOSI capabilities documents of the local platform.

Documents follow CADC's: a `vosi:capabilities` root with unqualified `capability` elements, each
with `standardID`, and `interface xsi:type="vs:ParamHTTP"` holding an `accessURL` and its
`securityMethod`s. `BASE` is the server's own scheme://host:port.
"""

from __future__ import annotations

from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

VOSI_CAPABILITIES = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY = "ivo://ivoa.net/std/VOSI#availability"
SESSION_API = "http://www.opencadc.org/std/platform#session-1"
CDP_PROXY = "ivo://ivoa.net/std/CDP#proxy-1.0"
VOSPACE_NODES = "ivo://ivoa.net/std/VOSpace/v2.0#nodes"
SSO_CERT = "ivo://ivoa.net/sso#tls-with-certificate"
SSO_TOKEN = "ivo://ivoa.net/sso#token"
SSO_BASIC = "ivo://ivoa.net/sso#BasicAA"
SSO_ANON = "ivo://ivoa.net/sso#anon"


def resource_caps(entries: list[tuple[str, str]], title: str) -> str:
    lines = [f"# {title} (the local platform's registry)", "# URI = capabilities URL"]
    lines += [f"{uri} = {url}" for uri, url in entries]
    return "\n".join(lines) + "\n"


def cadc_entries(base: str) -> list[tuple[str, str]]:
    return [
        ("ivo://cadc.nrc.ca/cred", f"{base}/cred/capabilities"),
        ("ivo://cadc.nrc.ca/skaha", f"{base}/skaha/capabilities"),
        ("ivo://cadc.nrc.ca/arc", f"{base}/arc/capabilities"),
        ("ivo://cadc.nrc.ca/vault", f"{base}/vault/capabilities"),
    ]


def srcnet_entries(base: str, extra: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    entries = [
        ("ivo://canfar.net/src/skaha", f"{base}/skaha/capabilities"),
        # its storage, paired by namespace (§1.1): the same tree as /arc, served as a cavern
        ("ivo://canfar.net/src/cavern", f"{base}/cavern/capabilities"),
    ]
    for uri, url in extra:
        if url == "BASE" or url.startswith("BASE/"):
            url = base + url[len("BASE") :]
        entries.append((uri, url))
    return entries


def _capability(standard_id: str, url: str, use: str, methods: tuple[str, ...]) -> str:
    security = "".join(f"\n      <securityMethod standardID={quoteattr(m)}/>" for m in methods)
    return (
        f"  <capability standardID={quoteattr(standard_id)}>\n"
        '    <interface xsi:type="vs:ParamHTTP" role="std">\n'
        f'      <accessURL use="{use}">{xml_escape(url)}</accessURL>{security}\n'
        "    </interface>\n"
        "  </capability>\n"
    )


def _document(service: str, capabilities: list[str]) -> str:
    vosi = [
        _capability(VOSI_CAPABILITIES, f"{service}/capabilities", "full", ()),
        _capability(VOSI_AVAILABILITY, f"{service}/availability", "full", ()),
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"'
        ' xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"'
        ' xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "".join(vosi + capabilities)
        + "</vosi:capabilities>\n"
    )


def skaha_capabilities(service: str) -> str:
    """`service` is the platform's base (BASE/skaha)."""
    return _document(
        service,
        [_capability(SESSION_API, f"{service}/v1/session", "base", (SSO_CERT, SSO_TOKEN))],
    )


def cred_capabilities(service: str) -> str:
    return _document(
        service, [_capability(CDP_PROXY, f"{service}/priv/proxy", "base", (SSO_BASIC,))]
    )
