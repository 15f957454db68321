"""Node and transfer documents, digests and refusals (canfar_cli.storage.nodes / wire): pure."""

from __future__ import annotations

import base64
import hashlib
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from canfar_cli.errors import AuthError, NotFoundError, ServerError
from canfar_cli.storage import nodes as docs
from canfar_cli.storage.nodes import DocumentError, NodeParser, parse_nodes
from canfar_cli.storage.wire import (
    QuotaError,
    digest_header,
    md5_of_digest,
    refusal,
    with_subject,
)

NS = 'xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
CORE = "ivo://ivoa.net/vospace/core#"
MD5 = "0f343b0931126a20f133d67c2b018a3b"


def child(name: str, size: int) -> str:
    return (
        f'<vos:node uri="vos://cadc.nrc.ca~arc/home/alice/big/{name}" xsi:type="vos:DataNode"'
        ' busy="false"><vos:properties>'
        f'<vos:property uri="{CORE}MD5" readOnly="true">{MD5}</vos:property>'
        f'<vos:property uri="{CORE}date" readOnly="true">2025-03-04T05:06:07.089</vos:property>'
        f'<vos:property uri="{CORE}length" readOnly="true">{size}</vos:property>'
        "</vos:properties><vos:accepts/><vos:provides/></vos:node>"
    )


def listing(count: int) -> Iterator[bytes]:
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?><vos:node {NS}'
        ' uri="vos://cadc.nrc.ca~arc/home/alice/big" xsi:type="vos:ContainerNode">'
        f'<vos:properties><vos:property uri="{CORE}quota">1000</vos:property>'
        f'<vos:property uri="{CORE}length">600</vos:property>'
        f'<vos:property uri="{CORE}ispublic">false</vos:property>'
        f'<vos:property uri="{CORE}groupread">ivo://cadc.nrc.ca/gms?a ivo://cadc.nrc.ca/gms?b</vos:property>'
        "</vos:properties><vos:nodes>"
    ).encode()
    for i in range(count):
        yield child(f"f{i:05d}.fits", i).encode()
    yield b"</vos:nodes></vos:node>"


def test_a_node_with_its_properties() -> None:
    node, children = parse_nodes("arc", listing(2))
    assert node.kind == "folder" and node.path == "arc:/home/alice/big" and node.name == "big"
    assert node.quota == 1000 and node.used == 600 and node.public is False
    assert node.group_read == ("ivo://cadc.nrc.ca/gms?a", "ivo://cadc.nrc.ca/gms?b")
    first = children[0]
    assert (
        first.kind == "file" and first.size == 0 and first.md5 == "0f343b0931126a20f133d67c2b018a3b"
    )
    assert first.modified == datetime(2025, 3, 4, 5, 6, 7, 89000, tzinfo=timezone.utc)
    assert first.to_json()["modified"] == "2025-03-04T05:06:07.089Z"


def test_ten_thousand_children_fed_in_small_chunks_with_bounded_memory() -> None:
    document = b"".join(listing(10_000))
    assert len(document) > 3_000_000  # the size at which a capped reader would have failed
    parser = NodeParser("arc")
    tracemalloc.start()
    try:
        for start in range(0, len(document), 8192):
            parser.feed(document[start : start + 8192])
        parser.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parser.children) == 10_000
    assert parser.children[-1].name == "f09999.fits" and parser.children[-1].size == 9999
    # The Nodes are kept, not the document nor a tree of it (the document alone is 3.6 MB).
    per_node = peak / 10_000
    assert per_node < 2000, per_node


def test_a_link_and_its_target() -> None:
    text = (
        f'<vos:node {NS} uri="vos://cadc.nrc.ca~arc/home/alice/latest" xsi:type="vos:LinkNode">'
        "<vos:properties/><vos:target>vos://cadc.nrc.ca~arc/home/alice/a.fits</vos:target>"
        "</vos:node>"
    )
    node, children = parse_nodes("arc", [text.encode()])
    assert node.kind == "link" and node.target == "vos://cadc.nrc.ca~arc/home/alice/a.fits"
    assert children == []


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b"<html><body>Service Unavailable</body></html>",
        b"not xml at all",
        b"",
        f'<vos:node {NS} uri="vos://cadc.nrc.ca~arc/x" xsi:type="vos:DataNode">'.encode(),
        f'<vos:node {NS} uri="http://x/y" xsi:type="vos:DataNode"/>'.encode(),
    ],
)
def test_documents_that_are_refused(document: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_nodes("arc", [document])
    assert caught.value.exit_code == 1
    assert "cannot be read" in caught.value.message


def test_transfer_document_endpoints_in_order() -> None:
    text = (
        '<vos:transfer xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" version="2.1">'
        "<vos:target>vos://cadc.nrc.ca~arc/home/alice/x</vos:target>"
        "<vos:direction>pushToVoSpace</vos:direction>"
        '<vos:protocol uri="ivo://ivoa.net/vospace/core#httpsput">'
        "<vos:endpoint>https://h/arc/files/preauth:abc/home/alice/x</vos:endpoint></vos:protocol>"
        '<vos:protocol uri="ivo://ivoa.net/vospace/core#httpsput">'
        "<vos:endpoint>https://h/arc/files/home/alice/x</vos:endpoint>"
        '<vos:securityMethod uri="ivo://ivoa.net/sso#token"/></vos:protocol>'
        "</vos:transfer>"
    )
    found = docs.endpoints(docs.parse_document(text.encode(), "transfer document"))
    assert [url for _p, url, _m in found] == [
        "https://h/arc/files/preauth:abc/home/alice/x",
        "https://h/arc/files/home/alice/x",
    ]
    assert found[1][2] == ["ivo://ivoa.net/sso#token"]


def test_documents_we_send_are_well_formed() -> None:
    for data in (
        docs.container_document("vos://cadc.nrc.ca~arc/home/a&b"),
        docs.transfer_document(
            "vos://x~arc/a", "pushToVoSpace", docs.VOS + "#x", ["ivo://ivoa.net/sso#token"]
        ),
        docs.move_document("vos://x~arc/a", "vos://x~arc/b"),
    ):
        docs.parse_document(data, "ours")


def test_digest_both_ways() -> None:
    raw = hashlib.md5(b"hello").digest()
    header = digest_header(raw)
    assert header == "md5=" + base64.b64encode(raw).decode()
    assert md5_of_digest(header) == raw.hex()
    assert md5_of_digest(f"sha-256=abc, md5={base64.b64encode(raw).decode()}") == raw.hex()
    assert md5_of_digest(raw.hex()) == raw.hex()  # hex, as some servers send
    assert md5_of_digest("md5=!!!") is None
    assert md5_of_digest(None) is None


def _response(status: int, text: str, kind: str = "text/plain") -> httpx.Response:
    return httpx.Response(status, text=text, headers={"content-type": kind})


def test_refusals_map_to_exit_codes_with_reasons() -> None:
    quota = refusal("PUT", "u", _response(413, "limit: 1048576\n"), 0)
    assert isinstance(quota, QuotaError) and quota.left == 1048576 and quota.exit_code == 1
    named = with_subject(quota, "arc:/home/alice/big.fits")
    assert named.message == "arc:/home/alice/big.fits: over quota: 1.0 MiB left in the allocation"
    parent = refusal("PUT", "u", _response(404, "ContainerNotFound: vos://x~arc/home/a/b"), 0)
    assert isinstance(parent, NotFoundError) and "mkdir -p" in (parent.hint or "")
    assert isinstance(refusal("GET", "u", _response(403, "PermissionDenied: x"), 0), AuthError)
    assert refusal("GET", "u", _response(401, "NotAuthenticated: x"), 0).exit_code == 3  # type: ignore[union-attr]
    busy = refusal("PUT", "u", _response(409, "DuplicateNode: vos://x"), 0)
    assert isinstance(busy, ServerError) and busy.message == "already exists"
    html = refusal("GET", "u", _response(400, "<html>oops</html>", "text/html"), 0)
    assert html is not None and "web page" in html.message
    assert refusal("GET", "u", _response(503, "later"), 0) is None  # the client retries these


def test_registry_pairing_names_an_srcnet_storage_by_its_platform() -> None:
    from canfar_cli.storage.services import pair, parse_resource_caps

    caps = parse_resource_caps(
        "# a registry\n"
        "ivo://cadc.nrc.ca/skaha = https://ws-uv.canfar.net/skaha/capabilities\n"
        "ivo://cadc.nrc.ca/arc = https://ws-uv.canfar.net/arc/capabilities\n"
        "ivo://cadc.nrc.ca/vault = https://ws.cadc.net/vault/capabilities\n"
        "ivo://canfar.cam.uksrc.org/skaha = https://cam.example/skaha/capabilities\n"
        "ivo://canfar.cam.uksrc.org/cavern = https://cam.example/cavern/capabilities\n"
        "ivo://lonely.example/skaha = https://lonely.example/skaha/capabilities\n"
        "not a line\n"
    )
    found = pair(caps, "srcnet")
    assert found["arc"] == ("ivo://cadc.nrc.ca/arc", "https://ws-uv.canfar.net/arc/capabilities")
    assert found["vault"][0] == "ivo://cadc.nrc.ca/vault"
    assert found["ukCAM"] == (
        "ivo://canfar.cam.uksrc.org/cavern",
        "https://cam.example/cavern/capabilities",
    )
    assert len(found) == 3  # a platform without storage in its namespace gets none
