"""VOSpace XML documents: node documents read as a stream, and the few documents we write.

A cavern listing comes as one document however large the folder (storage.md §3.2: `limit` is
ignored and there is no paging), so it is parsed as it arrives with expat, chunk by chunk, and
only the Node values are kept: no size cap, no tree of the whole document. DTDs (and so entity
declarations) are refused: no server of ours sends one.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from canfar_cli.errors import ServerError, UsageError
from canfar_cli.storage.paths import resource_of
from canfar_cli.storage.results import Node, NodeKind

__all__ = [
    "NodeParser",
    "container_document",
    "move_document",
    "parse_document",
    "parse_nodes",
    "transfer_document",
]

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CORE = "ivo://ivoa.net/vospace/core#"
CADC_CORE = "ivo://cadc.nrc.ca/vospace/core#"
_SEP = "\x1f"  # expat's namespace separator: a character no namespace or name holds

_KINDS: dict[str, NodeKind] = {
    "ContainerNode": "folder",
    "DataNode": "file",
    "StructuredDataNode": "file",
    "UnstructuredDataNode": "file",
    "LinkNode": "link",
}


class DocumentError(ServerError):
    """The server's answer is not the XML document it should be."""


def _refuse(what: str) -> DocumentError:
    return DocumentError(
        f"the storage service sent a document that cannot be read: {what}",
        status=200,
        hint="the server may not be a VOSpace service, or is in trouble",
    )


def parse_date(text: str | None) -> datetime | None:
    """`2025-03-04T05:06:07.089` (UTC, no zone: DateUtil's format), with or without a Z."""
    if not text:
        return None
    value = text.strip().removesuffix("Z")
    try:  # the usual form, a tenth of strptime's cost (a listing parses one per child)
        when = datetime.fromisoformat(value) if "T" in value else None
    except ValueError:
        when = None
    if when is not None:
        if when.tzinfo is None:
            return when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    for layout in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


@dataclass
class _Pending:
    uri: str
    kind: NodeKind
    properties: dict[str, str] = field(default_factory=dict)
    target: str | None = None

    def node(self, service: str) -> Node:
        props = self.properties
        _resource, path = resource_of(self.uri)
        md5 = props.get(CORE + "MD5")
        if md5:
            md5 = md5.strip().lower().removeprefix("md5:") or None
        size = _int(props.get(CORE + "length"))
        quota = _int(props.get(CORE + "quota"))
        public = props.get(CORE + "ispublic")
        return Node(
            path=f"{service}:{path}",
            uri=self.uri,
            name=path.rsplit("/", 1)[-1],
            kind=self.kind,
            size=size,
            md5=md5,
            modified=parse_date(props.get(CORE + "date")),
            owner=props.get(CORE + "creator") or None,
            public=None if public is None else public.strip().lower() == "true",
            group_read=tuple((props.get(CORE + "groupread") or "").split()),
            group_write=tuple((props.get(CORE + "groupwrite") or "").split()),
            quota=quota,
            used=size if quota is not None and self.kind == "folder" else None,
            target=self.target,
            content_type=props.get(CORE + "type") or None,
        )


class NodeParser:
    """A node document fed in chunks: `feed(chunk)` as bytes arrive, `close()` at the end;
    then `node` is the document's node and `children` its children (a container's), in the
    order sent. Memory: the Nodes, not the document."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.node: Node | None = None
        self.children: list[Node] = []
        self._parser = xml.parsers.expat.ParserCreate(namespace_separator=_SEP)
        self._parser.buffer_text = True
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._text
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._parser.EntityDeclHandler = self._entity
        self._stack: list[str] = []  # local names of the open elements
        self._top: _Pending | None = None
        self._child: _Pending | None = None
        self._property: str | None = None
        self._nil = False
        self._chars: list[str] = []
        self._seen_root = False

    @staticmethod
    def _doctype(*_args: Any) -> None:
        raise _refuse("it declares a DTD")

    @staticmethod
    def _entity(*_args: Any) -> None:
        raise _refuse("it declares an entity")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(_SEP)
        depth = len(self._stack)
        self._stack.append(local)
        if depth == 0:
            if local != "node" or namespace != VOS:
                raise _refuse(f"its root is <{local}>, not a VOSpace node")
            self._seen_root = True
            self._top = self._pending(attrs)
        elif local == "node" and self._stack[-2:-1] == ["nodes"] and depth == 2:
            self._child = self._pending(attrs)
        elif local == "property":
            self._property = attrs.get("uri")
            self._nil = attrs.get(f"{XSI}{_SEP}nil") == "true"
            self._chars = []
        elif local == "target":
            self._chars = []

    def _pending(self, attrs: dict[str, str]) -> _Pending:
        uri = attrs.get("uri") or ""
        kind_name = (attrs.get(f"{XSI}{_SEP}type") or "").rpartition(":")[2]
        kind = _KINDS.get(kind_name)
        if not uri.startswith("vos://") or kind is None:
            raise _refuse(f"a node with uri {uri!r} and type {kind_name!r}")
        return _Pending(uri, kind)

    def _text(self, data: str) -> None:
        if self._property is not None or (self._stack and self._stack[-1] == "target"):
            self._chars.append(data)

    def _end(self, name: str) -> None:
        local = self._stack.pop()
        current = self._child if self._child is not None else self._top
        if local == "property" and self._property is not None:
            if current is not None and not self._nil:
                current.properties[self._property] = "".join(self._chars)
            self._property = None
        elif local == "target" and current is not None:
            current.target = "".join(self._chars).strip() or None
        elif local == "node" and self._child is not None and len(self._stack) == 2:
            self.children.append(self._child.node(self.service))
            self._child = None
        elif local == "node" and not self._stack and self._top is not None:
            self.node = self._top.node(self.service)

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.Parse(chunk, False)
        except xml.parsers.expat.ExpatError as exc:
            raise _refuse(f"not XML ({exc})") from None
        except UsageError as exc:  # a vos:// URI that names no service
            raise _refuse(exc.message) from None

    def close(self) -> None:
        try:
            self._parser.Parse(b"", True)
        except xml.parsers.expat.ExpatError as exc:
            raise _refuse(f"not XML ({exc})") from None
        if self.node is None:
            raise _refuse("no node in it" if not self._seen_root else "it ends too soon")


def parse_nodes(service: str, chunks: Iterable[bytes]) -> tuple[Node, list[Node]]:
    """A whole node document (for tests and small answers): (node, children)."""
    parser = NodeParser(service)
    for chunk in chunks:
        parser.feed(chunk)
    parser.close()
    assert parser.node is not None
    return parser.node, parser.children


def parse_document(data: bytes, what: str) -> ET.Element:
    """A small XML document (a transfer document, a UWS job) as an element tree; DTDs and
    entities refused."""
    builder = ET.TreeBuilder()
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_qualified(name), {_qualified(k): v for k, v in attrs.items()})

    def end(name: str) -> None:
        builder.end(_qualified(name))

    def refuse(*_args: Any) -> None:
        raise _refuse(f"the {what} declares a DTD or an entity")

    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
        return builder.close()
    except (xml.parsers.expat.ExpatError, AssertionError) as exc:
        raise _refuse(f"the {what} is not XML ({exc})") from None


def _qualified(name: str) -> str:
    return "{" + name if "}" in name else name


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def endpoints(root: ET.Element) -> list[tuple[str, str, list[str]]]:
    """(protocol URI, endpoint URL, security method URIs) of a transfer document, in order."""
    found = []
    for protocol in root.iter():
        if local_name(protocol.tag) != "protocol":
            continue
        url = ""
        methods = []
        for child in protocol:
            name = local_name(child.tag)
            if name == "endpoint":
                url = (child.text or "").strip()
            elif name == "securityMethod":
                methods.append(child.get("uri") or child.get("standardID") or "")
        if url:
            found.append((protocol.get("uri") or "", url, methods))
    return found


# --- documents we send --------------------------------------------------------------------------


def container_document(uri: str) -> bytes:
    return (
        f'<vos:node xmlns:vos="{VOS}" xmlns:xsi="{XSI}" uri={quoteattr(uri)}'
        ' xsi:type="vos:ContainerNode" version="2.1"><vos:nodes/></vos:node>'
    ).encode()


def transfer_document(
    uri: str, direction: str, protocol: str, security_methods: Iterable[str]
) -> bytes:
    """A synctrans request: one protocol with our security methods (a credentialed endpoint),
    then the same protocol with none (a pre-authorized one)."""
    methods = "".join(f"<vos:securityMethod uri={quoteattr(m)}/>" for m in security_methods)
    credentialed = f"<vos:protocol uri={quoteattr(protocol)}>{methods}</vos:protocol>"
    anonymous = f"<vos:protocol uri={quoteattr(protocol)}/>"
    return (
        "<?xml version='1.0' encoding='utf-8'?>"
        f'<vos:transfer xmlns:vos="{VOS}" version="2.1">'
        f"<vos:target>{escape(uri)}</vos:target><vos:direction>{escape(direction)}</vos:direction>"
        f"{credentialed if methods else ''}{anonymous}</vos:transfer>"
    ).encode()


def move_document(source_uri: str, dest_uri: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?>"
        f'<vos:transfer xmlns:vos="{VOS}" version="2.1">'
        f"<vos:target>{escape(source_uri)}</vos:target>"
        f"<vos:direction>{escape(dest_uri)}</vos:direction>"
        "<vos:keepBytes>false</vos:keepBytes></vos:transfer>"
    ).encode()
