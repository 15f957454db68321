"""The sign-in services over HTTP: registries, VOSI capabilities, and plain requests.

Blocking httpx (a sign-in is a handful of requests, one after another), imported inside the
functions so that commands needing no network never load it. What it shares with the core's
client (User-Agent, how URLs and failures are shown, TLS failures) is in canfar_cli.wire; each
request is logged as the core's are (`-v`), credentials hidden. Every failure becomes a
CanfarError whose message and hint name the URL (never with a secret in it): unreachable or
5xx → exit 5, an answer that is not what the service should send → exit 1.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from canfar_cli.errors import ServerError, UnreachableError

if TYPE_CHECKING:
    import httpx

    from canfar_cli.auth.settings import SigninSettings

log = logging.getLogger("canfar_cli.auth")

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
    settings: SigninSettings,
    what: str,
    timeout: float | None = None,
    certificate: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request; any answer is returned (the caller reads 4xx), but a connection failure,
    a timeout or a 5xx is an UnreachableError naming `what` and the URL."""
    import httpx

    from canfar_cli.wire import USER_AGENT, describe, public_url, redact_headers, tls_hint
    from canfar_cli.wire import tls_verification_failed as untrusted

    shown = public_url(url)
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    if kwargs.get("auth") is not None:  # as a header, so that the log can hide it
        headers["Authorization"] = basic(*kwargs.pop("auth"))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s headers=%s", method, shown, redact_headers(headers))
    started = time.perf_counter()
    try:
        verify = verify_of(settings.ca_for(url), certificate)
        with httpx.Client(
            verify=verify, timeout=timeout or settings.timeout, trust_env=True
        ) as client:
            response = client.request(method, url, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        log.info("%s %s %s", method, shown, describe(exc))
        if untrusted(exc):
            raise UnreachableError(
                f"cannot reach the {what} at {shown}: its certificate could not be verified",
                hint=tls_hint(url),
            ) from None
        raise UnreachableError(
            f"cannot reach the {what}: {describe(exc)}", hint=f"is {shown} right and up?"
        ) from None
    log.info(
        "%s %s %d %.3fs retries=0",
        method,
        shown,
        response.status_code,
        time.perf_counter() - started,
    )
    if response.status_code >= 500:
        raise UnreachableError(
            f"the {what} failed: HTTP {response.status_code}",
            hint=f"{shown} is in trouble; try again later",
        )
    return response


def basic(user: str, password: str) -> str:
    """HTTP Basic credentials (RFC 7617, UTF-8)."""
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def garbage(what: str, url: str, detail: str, setting: str | None = None) -> ServerError:
    from canfar_cli.wire import public_url

    where = f" (set by {SETTING_OF[setting]})" if setting in SETTING_OF else ""
    return ServerError(
        f"the {what} answered something unexpected: {detail}",
        status=200,
        hint=f"check the URL {public_url(url)}{where}",
    )


def resource_caps(url: str, settings: SigninSettings, setting: str | None = None) -> dict[str, str]:
    """A registry's `resource-caps`: {URI: capabilities URL}."""
    response = request("GET", url, settings=settings, what="registry")
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
    settings: SigninSettings,
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
        settings=settings,
        timeout=timeout,
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
