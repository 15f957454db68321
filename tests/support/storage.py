"""Helpers for the storage tests: the local platform's services (tests/local/test_storage_*) and
the library's transfers (tests/core/test_storage_*)."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from canfar_cli.storage import TransferInterrupted

VOS = "{http://www.ivoa.net/xml/VOSpace/v2.0}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
ARC = "vos://cadc.nrc.ca~arc"
VAULT = "vos://cadc.nrc.ca~vault"
CORE = "ivo://ivoa.net/vospace/core#"


def base_of(server: Any) -> str:
    """scheme://host:port of a loopback server (its URL without /skaha)."""
    return str(server.url).rsplit("/skaha", 1)[0]


def storage(server: Any, **kwargs: Any) -> httpx.Client:
    """A client of the server's host (paths such as /arc/nodes/...), with its token."""
    headers = dict(kwargs.pop("headers", {}))
    if getattr(server, "token", None):
        headers.setdefault("Authorization", f"Bearer {server.token}")
    kwargs.setdefault("timeout", 60)
    return httpx.Client(base_url=base_of(server), headers=headers, **kwargs)


def anonymous(server: Any) -> httpx.Client:
    return httpx.Client(base_url=base_of(server), timeout=60)


def digest(data: bytes) -> str:
    return "md5=" + base64.b64encode(hashlib.md5(data).digest()).decode()


def node_xml(
    uri: str,
    kind: str = "ContainerNode",
    props: dict[str, str | None] | None = None,
    target: str | None = None,
) -> str:
    properties = ""
    for key, value in (props or {}).items():
        if value is None:
            properties += f'<vos:property uri="{key}" xsi:nil="true"/>'
        else:
            properties += f'<vos:property uri="{key}">{value}</vos:property>'
    body = f"<vos:properties>{properties}</vos:properties>" if properties else ""
    if target is not None:
        body += f"<vos:target>{target}</vos:target>"
    return (
        '<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' uri="{uri}" xsi:type="vos:{kind}" version="2.1">{body}</vos:node>'
    )


def mkdir(http: httpx.Client, service: str, path: str) -> httpx.Response:
    authority = ARC if service == "arc" else VAULT
    return http.put(f"/{service}/nodes{path}", content=node_xml(authority + path))


def properties(element: ET.Element) -> dict[str, str]:
    found = element.find(f"{VOS}properties")
    if found is None:
        return {}
    return {p.get("uri", ""): p.text or "" for p in found.findall(f"{VOS}property")}


def children(document: str) -> list[ET.Element]:
    root = ET.fromstring(document)
    nodes = root.find(f"{VOS}nodes")
    return [] if nodes is None else nodes.findall(f"{VOS}node")


def names(document: str) -> list[str]:
    return [child.get("uri", "").rsplit("/", 1)[-1] for child in children(document)]


def transfer_xml(target: str, direction: str, protocol: str, methods: tuple[str, ...] = ()) -> str:
    security = "".join(f'<vos:securityMethod uri="{m}"/>' for m in methods)
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<vos:transfer xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" version="2.1">'
        f"<vos:target>{target}</vos:target><vos:direction>{direction}</vos:direction>"
        f'<vos:protocol uri="ivo://ivoa.net/vospace/core#{protocol}">{security}</vos:protocol>'
        "</vos:transfer>"
    )


class CancelOnFirstBytes:
    """A transfer's progress that cancels `scope` as the first bytes move (a Ctrl-C mid-body)."""

    def __init__(self, scope: anyio.CancelScope) -> None:
        self.scope = scope

    def start(self, total_files: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        if nbytes > 0:
            self.scope.cancel()

    def file_done(self, path: str, ok: bool) -> None:
        pass


async def interrupted_mid_body(
    transfer: Callable[[CancelOnFirstBytes], Awaitable[object]],
) -> TransferInterrupted | None:
    """Run `transfer(progress)` and cancel it as its first bytes move (a Ctrl-C mid-body): the
    TransferInterrupted it raised, or None when it ended without one."""
    with anyio.CancelScope() as scope:
        try:
            await transfer(CancelOnFirstBytes(scope))
        except TransferInterrupted as exc:
            return exc
    return None
