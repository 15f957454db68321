"""The sign-in services over HTTP: registries, VOSI capabilities, and plain requests.

Blocking httpx (a sign-in is a handful of requests, one after another), imported inside the
functions so that commands needing no network never load it. Every failure becomes a CanfarError
whose message and hint name the URL (never with a secret in it): unreachable or 5xx → exit 5,
an answer that is not what the service should send → exit 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from canfar_cli.errors import ServerError, UnreachableError

if TYPE_CHECKING:
    import httpx

    from canfar_cli.config import Settings

SETTING_OF = {
    "registry_cadc": "CANFAR_REGISTRY_CADC or config key registry_cadc",
    "registry_srcnet": "CANFAR_REGISTRY_SRCNET or config key registry_srcnet",
    "oidc_issuer_srcnet": "CANFAR_OIDC_ISSUER_SRCNET or config key oidc_issuer_srcnet",
}


def verify_of(ca_bundle: str | None, certificate: str | None = None) -> Any:
    """httpx's `verify=`: a TLS context trusting the CA bundle (when set) and presenting the
    client certificate (when given); True (the system's trust) when neither."""
    if not ca_bundle and not certificate:
        return True
    import ssl

    context = ssl.create_default_context(cafile=ca_bundle or None)
    if certificate:
        context.load_cert_chain(certificate)
    return context


def request(
    method: str,
    url: str,
    *,
    ca_bundle: str | None,
    timeout: float,
    what: str,
    certificate: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request; any answer is returned (the caller reads 4xx), but a connection failure,
    a timeout or a 5xx is an UnreachableError naming `what` and the URL."""
    import httpx

    from canfar_cli.http import USER_AGENT, describe, public_url

    shown = public_url(url)
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    try:
        verify = verify_of(ca_bundle, certificate)
        with httpx.Client(verify=verify, timeout=timeout, trust_env=True) as client:
            response = client.request(method, url, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise UnreachableError(
            f"cannot reach the {what}: {describe(exc)}", hint=f"is {shown} right and up?"
        ) from None
    if response.status_code >= 500:
        raise UnreachableError(
            f"the {what} failed: HTTP {response.status_code}",
            hint=f"{shown} is in trouble; try again later",
        )
    return response


def garbage(what: str, url: str, detail: str, setting: str | None = None) -> ServerError:
    from canfar_cli.http import public_url

    where = f" (set by {SETTING_OF[setting]})" if setting in SETTING_OF else ""
    return ServerError(
        f"the {what} answered something unexpected: {detail}",
        status=200,
        hint=f"check the URL {public_url(url)}{where}",
    )


def resource_caps(url: str, settings: Settings, setting: str | None = None) -> dict[str, str]:
    """A registry's `resource-caps`: {URI: capabilities URL}."""
    response = request(
        "GET", url, ca_bundle=settings.ca_bundle, timeout=settings.timeout, what="registry"
    )
    if response.status_code != 200:
        raise garbage("registry", url, f"HTTP {response.status_code}", setting)
    entries: dict[str, str] = {}
    for line in response.text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        uri, sep, target = (part.strip() for part in line.partition("="))
        if sep and uri.startswith("ivo://") and target.startswith(("http://", "https://")):
            entries[uri] = target
    if not entries:
        raise garbage("registry", url, "no `ivo://… = URL` line", setting)
    return entries


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def capabilities(
    url: str,
    settings: Settings,
    *,
    timeout: float | None = None,
    certificate: str | None = None,
    token: str | None = None,
) -> Any:
    """A VOSI capabilities document, parsed (xml.etree root element)."""
    import xml.etree.ElementTree as ET

    response = request(
        "GET",
        url,
        ca_bundle=settings.ca_bundle,
        timeout=timeout or settings.timeout,
        what="capabilities service",
        certificate=certificate,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    if response.status_code != 200:
        raise garbage("capabilities service", url, f"HTTP {response.status_code}")
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        raise garbage("capabilities service", url, "not XML") from None
    if _local(root.tag) != "capabilities":
        raise garbage("capabilities service", url, "not a VOSI capabilities document")
    return root


def find_interfaces(root: Any, standard_prefix: str) -> list[tuple[str, str, list[str], str]]:
    """(standardID, accessURL, securityMethods, accessURL use) of each interface of each
    capability whose standardID starts with `standard_prefix` (namespaces matched loosely)."""
    found = []
    for capability in root.iter():
        if _local(capability.tag) != "capability":
            continue
        standard = capability.get("standardID") or ""
        if not standard.startswith(standard_prefix):
            continue
        for interface in capability:
            if _local(interface.tag) != "interface":
                continue
            url, use, methods = "", "", []
            for child in interface:
                name = _local(child.tag)
                if name == "accessURL":
                    url, use = (child.text or "").strip(), child.get("use") or ""
                elif name == "securityMethod":
                    methods.append(child.get("standardID") or "")
            if url:
                found.append((standard, url, methods, use))
    return found
