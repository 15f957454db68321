"""Node documents: written in the shape of cadc-vos's NodeWriter, read from PUT/POST bodies.

NodeWriter (JDOM, pretty format, two-space indent): `<vos:node>` with `uri`, `xsi:type` and, on a
DataNode, `busy`; a `<vos:properties>` element with the properties sorted by URI (immutable ones
`readOnly="true"`); then `<vos:nodes>` (containers), `<vos:accepts/>` `<vos:provides/>` (data) or
`<vos:target>` (links). Documents are produced piece by piece (`xml_pieces`), so a container of
ten thousand children is streamed without being built in memory first.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr as _quoteattr

from canfar_cli.local.storage import errors

VOS_NS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

CONTAINER = "vos:ContainerNode"
DATA = "vos:DataNode"
LINK = "vos:LinkNode"
TYPES = (CONTAINER, DATA, LINK)

CORE = "ivo://ivoa.net/vospace/core#"
CADC = "ivo://cadc.nrc.ca/vospace/core#"
LENGTH = CORE + "length"
DATE = CORE + "date"
MD5 = CORE + "MD5"
CREATOR = CORE + "creator"
ISPUBLIC = CORE + "ispublic"
QUOTA = CORE + "quota"
TYPE = CORE + "type"
ENCODING = CORE + "encoding"
GROUPREAD = CORE + "groupread"
GROUPWRITE = CORE + "groupwrite"
CONTENT_DATE = CORE + "content-date"
AVAILABLE_SPACE = CORE + "availableSpace"
INHERIT = CADC + "inheritPermissions"
ISLOCKED = CADC + "islocked"
READABLE = CADC + "readable"
WRITABLE = CADC + "writable"

# Cavern's IMMUTABLE_PROPS (FileSystemNodePersistence): written readOnly, ignored on update.
IMMUTABLE = frozenset(
    {AVAILABLE_SPACE, LENGTH, MD5, CONTENT_DATE, DATE, CREATOR, QUOTA, READABLE, WRITABLE}
)


@dataclass
class Node:
    path: str  # "/home/alice/x"; "/" is the root
    kind: str  # one of TYPES
    props: dict[str, str] = field(default_factory=dict)
    target: str | None = None  # LinkNode
    busy: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


# --- URIs ---------------------------------------------------------------------------------------

_SAFE = "/:@!$&'()*+,;=-._~"


def node_uri(authority: str, path: str) -> str:
    """vos://AUTH~NAME/PATH, the path percent-encoded once (the root has no trailing slash)."""
    return f"vos://{authority}" + ("" if path == "/" else quote(path, safe=_SAFE))


def path_of_uri(authority: str, uri: str) -> str:
    """The node path of a `vos://` URI of this service (`!` accepted for `~`); InvalidURI else."""
    text = uri.strip()
    if not text.startswith("vos://"):
        raise errors.invalid_uri(f"not a vos URI: {uri}")
    rest = text[len("vos://") :]
    given, slash, raw = rest.partition("/")
    if given.replace("!", "~") != authority:
        raise errors.invalid_uri(f"not a node of this service ({authority}): {uri}")
    path = "/" + unquote(raw) if slash else "/"
    return check_path(path)


def check_path(path: str) -> str:
    """A normalised node path ("/a/b"); InvalidURI for `.`, `..`, empty segments inside, NUL."""
    if "\0" in path:
        raise errors.invalid_uri("a node name cannot hold a NUL character")
    trimmed = path.strip("/")
    if not trimmed:
        return "/"
    parts = trimmed.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise errors.invalid_uri(f"invalid node path: {path}")
    return "/" + "/".join(parts)


def parent_of(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or "/"


# --- writing ----------------------------------------------------------------------------------

_SPECIAL = frozenset('&<>"\n\r\t')


def escape(text: str) -> str:
    """Element text, escaped; most values need nothing (a listing writes a hundred thousand)."""
    return _escape(text) if not _SPECIAL.isdisjoint(text) else text


def quoteattr(text: str) -> str:
    return _quoteattr(text) if not _SPECIAL.isdisjoint(text) else f'"{text}"'


def _property_line(uri: str, value: str, indent: str) -> str:
    flag = ' readOnly="true"' if uri in IMMUTABLE else ""
    return f"{indent}  <vos:property uri={quoteattr(uri)}{flag}>{escape(value)}</vos:property>\n"


def _properties(node: Node, indent: str) -> str:
    if not node.props:
        return f"{indent}<vos:properties />\n"
    props = node.props
    lines = "".join(_property_line(uri, props[uri], indent) for uri in sorted(props))
    return f"{indent}<vos:properties>\n{lines}{indent}</vos:properties>\n"


def _node_text(node: Node, uri: str, indent: str, detail: str, root: bool = False) -> str:
    """One node element, opened and with its content; a container's `<vos:nodes>` and its
    closing tag are the caller's."""
    spaces = f' xmlns:vos="{VOS_NS}" xmlns:xsi="{XSI_NS}"' if root else ""
    busy = f' busy="{str(node.busy).lower()}"' if node.kind == DATA and detail != "min" else ""
    inner = indent + "  "
    parts = [f'{indent}<vos:node{spaces} uri={quoteattr(uri)} xsi:type="{node.kind}"{busy}>\n']
    if detail != "min":
        parts.append(_properties(node, inner))
    if node.kind == DATA:
        parts.append(f"{inner}<vos:accepts />\n{inner}<vos:provides />\n")
    elif node.kind == LINK:
        parts.append(f"{inner}<vos:target>{escape(node.target or '')}</vos:target>\n")
    return "".join(parts)


def xml_pieces(
    authority: str, node: Node, children: Iterable[Node] | None, detail: str = "max"
) -> Iterator[str]:
    """The document of `node` (children: the container's listing, None for no `<vos:nodes>`
    content), piece by piece: one piece per child."""
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield _node_text(node, node_uri(authority, node.path), "", detail, root=True)
    if node.kind == CONTAINER:
        empty = True
        for child in children or ():
            if empty:
                yield "  <vos:nodes>\n"
                empty = False
            text = _node_text(child, node_uri(authority, child.path), "    ", detail)
            yield text + "    </vos:node>\n"
        yield "  <vos:nodes />\n" if empty else "  </vos:nodes>\n"
    yield "</vos:node>\n"


def _json_node(authority: str, node: Node, detail: str) -> dict[str, object]:
    value: dict[str, object] = {"uri": node_uri(authority, node.path), "type": node.kind}
    if node.kind == DATA:
        value["busy"] = node.busy
    if detail != "min":
        value["properties"] = [
            {
                "uri": uri,
                "value": node.props[uri],
                **({"readOnly": True} if uri in IMMUTABLE else {}),
            }
            for uri in sorted(node.props)
        ]
    if node.kind == LINK:
        value["target"] = node.target
    return value


def json_pieces(
    authority: str, node: Node, children: Iterable[Node] | None, detail: str = "max"
) -> Iterator[str]:
    """The same document as JSON (`?Accept=application/json`), streamed the same way."""
    head = _json_node(authority, node, detail)
    text = json.dumps({"node": head})
    if node.kind != CONTAINER:
        yield text + "\n"
        return
    yield text[:-2] + ', "nodes": ['
    first = True
    for child in children or ():
        yield ("" if first else ", ") + json.dumps(_json_node(authority, child, detail))
        first = False
    yield "]}}\n"


# --- reading ----------------------------------------------------------------------------------


@dataclass
class NodeDocument:
    uri: str
    kind: str
    props: dict[str, str | None]  # None: xsi:nil (delete)
    target: str | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes, what: str = "node document") -> ET.Element:
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise errors.invalid_argument(f"invalid {what}: DTDs are not accepted")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise errors.invalid_argument(f"invalid {what}: {exc}") from None


def read_node(body: bytes) -> NodeDocument:
    root = parse_xml(body)
    if _local(root.tag) != "node":
        raise errors.invalid_argument("invalid node document: the root element is not vos:node")
    uri = root.get("uri")
    if not uri:
        raise errors.invalid_argument("invalid node document: no uri attribute")
    raw_type = root.get(f"{{{XSI_NS}}}type", "")
    kind = "vos:" + raw_type.rsplit(":", 1)[-1] if raw_type else ""
    if kind in ("vos:UnstructuredDataNode", "vos:StructuredDataNode"):
        kind = DATA
    if kind not in TYPES:
        raise errors.fault(400, "TypeNotSupported", raw_type or "(no xsi:type)")
    props: dict[str, str | None] = {}
    target = None
    for element in root:
        name = _local(element.tag)
        if name == "properties":
            for prop in element:
                key = prop.get("uri")
                if _local(prop.tag) != "property" or not key:
                    continue
                nil = prop.get(f"{{{XSI_NS}}}nil", "false").lower() == "true"
                props[key] = None if nil else (prop.text or "")
        elif name == "target":
            target = (element.text or "").strip()
    return NodeDocument(uri=uri, kind=kind, props=props, target=target)
