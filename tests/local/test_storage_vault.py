"""The local vault over a real socket: paging with an inclusive cursor, bytes only through
negotiation and a separate byte host with Range, empty nodes, listing lag (storage.md §3.2,
§4.5; §8 points 6, 17)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx

from tests.support.storage import (
    CORE,
    VAULT,
    VOS,
    anonymous,
    children,
    digest,
    mkdir,
    names,
    properties,
    storage,
    transfer_xml,
)

XML = {"Content-Type": "text/xml"}


def push(http: httpx.Client, path: str, data: bytes, **headers: str) -> httpx.Response:
    """Negotiate a push (XML form) and PUT the bytes to the endpoint it names."""
    document = transfer_xml(
        VAULT + path, "pushToVoSpace", "httpsput", ("ivo://ivoa.net/sso#token",)
    )
    xfer = http.get(
        http.get(
            http.post("/vault/synctrans", content=document, headers=XML).headers["location"]
        ).headers["location"]
    )
    endpoint = ET.fromstring(xfer.text).find(f"{VOS}protocol/{VOS}endpoint")
    assert endpoint is not None and endpoint.text
    # Vault answers its byte host's pre-authorized URL whatever method was asked for.
    assert "/minoc/files/" in endpoint.text
    assert ET.fromstring(xfer.text).find(f"{VOS}protocol/{VOS}securityMethod") is None
    with anonymous_for(http) as anon:
        return anon.put(endpoint.text, content=data, headers=headers)


def anonymous_for(http: httpx.Client) -> httpx.Client:
    return httpx.Client(base_url=str(http.base_url), timeout=60)


def test_vault_pages_with_an_inclusive_cursor(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        assert mkdir(http, "vault", f"/{user}/many").status_code == 201
        for name in ("c", "a", "e", "b", "d"):
            assert mkdir(http, "vault", f"/{user}/many/{name}").status_code == 201
        first = http.get(f"/vault/nodes/{user}/many", params={"limit": 2})
        assert names(first.text) == ["a", "b"]
        cursor = f"{VAULT}/{user}/many/b"
        second = http.get(f"/vault/nodes/{user}/many", params={"limit": 2, "uri": cursor})
        assert names(second.text) == ["b", "c"]  # starts with the cursor again
        rest = http.get(f"/vault/nodes/{user}/many", params={"uri": f"{VAULT}/{user}/many/d"})
        assert names(rest.text) == ["d", "e"]
        stranger = http.get(f"/vault/nodes/{user}/many", params={"uri": f"{VAULT}/{user}/x/y"})
        assert stranger.status_code == 400


def test_vault_bytes_go_through_negotiation_and_a_byte_host(local_server: Any) -> None:
    user = local_server.user
    data = bytes(range(256)) * 40
    with storage(local_server) as http:
        put = push(http, f"/{user}/data.bin", data, Digest=digest(data))
        assert put.status_code == 201 and put.headers["digest"] == digest(data)
        node = properties(ET.fromstring(http.get(f"/vault/nodes/{user}/data.bin").text))
        assert node[CORE + "length"] == str(len(data))
        assert node[CORE + "MD5"] and len(node[CORE + "MD5"]) == 32
        redirect = http.get(f"/vault/files/{user}/data.bin")
        assert redirect.status_code == 303
        location = redirect.headers["location"]
        assert "/minoc/files/" in location and location.endswith(":fo/data.bin")
        with anonymous(local_server) as anon:
            whole = anon.get(location)
            assert whole.status_code == 200 and whole.content == data
            assert whole.headers["digest"] == digest(data)
            assert whole.headers["accept-ranges"] == "bytes"
            part = anon.get(location, headers={"Range": "bytes=10-19"})
            assert part.status_code == 206 and part.content == data[10:20]
            assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
            tail = anon.get(location, headers={"Range": "bytes=10000-"})
            assert tail.status_code == 206 and tail.content == data[10000:]
            several = anon.get(location, headers={"Range": "bytes=0-1,5-6"})
            assert several.status_code == 416
            # The token is for reading: no writes with it.
            assert anon.put(location, content=b"x").status_code in (403, 404)
        assert http.put(f"/vault/files/{user}/data.bin", content=b"x").status_code == 405
        assert http.delete(f"/vault/nodes/{user}/data.bin").status_code == 200
        artifacts = list((local_server.home / "vault" / "artifacts").iterdir())
        assert artifacts == []


def test_a_node_without_bytes_is_204_and_a_failed_put_leaves_it_so(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        refused = push(http, f"/{user}/empty.bin", b"payload", Digest=digest(b"else"))
        assert refused.status_code == 412
        empty = http.get(f"/vault/files/{user}/empty.bin")
        assert empty.status_code == 204
        node = properties(ET.fromstring(http.get(f"/vault/nodes/{user}/empty.bin").text))
        assert node[CORE + "length"] == "0"


def test_listing_sizes_lag_behind_a_completed_put(serve_local: Any) -> None:
    server = serve_local(env={"CANFAR_LOCAL_VAULT_LAG": "600"})
    user = server.user
    with storage(server) as http:
        assert push(http, f"/{user}/late.bin", b"12345").status_code == 201
        listing = http.get(f"/vault/nodes/{user}")
        (child,) = [c for c in children(listing.text) if c.get("uri", "").endswith("/late.bin")]
        assert properties(child)[CORE + "length"] == "0"  # the size worker has not run yet
        single = properties(ET.fromstring(http.get(f"/vault/nodes/{user}/late.bin").text))
        assert single[CORE + "length"] == "5"


def test_vault_files_take_no_cavern_style_preauth_path(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        assert push(http, f"/{user}/v.bin", b"bytes").status_code == 201
        odd = http.get(f"/vault/files/preauth:abc~def/{user}/v.bin")
        assert odd.status_code == 404  # no node of that name: vault serves no bytes itself
