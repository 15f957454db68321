"""The local cavern's nodes API over a real socket: capabilities, registries, node documents,
listing rules, create/update/delete (storage.md §1.3, §3, §8 points 1-8)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx

from tests.support.storage import (
    ARC,
    CORE,
    VOS,
    XSI,
    anonymous,
    base_of,
    children,
    mkdir,
    names,
    node_xml,
    properties,
    storage,
)

NODES = "ivo://ivoa.net/std/VOSpace/v2.0#nodes"


def _capabilities(document: str) -> dict[str, tuple[str, str, list[str]]]:
    found = {}
    for cap in ET.fromstring(document):
        interface = next(e for e in cap if e.tag.endswith("interface"))
        assert interface.get(XSI + "type") == "vs:ParamHTTP"
        assert interface.get("role") == "std"
        url = next(e for e in interface if e.tag.endswith("accessURL"))
        methods = [e.get("standardID", "") for e in interface if e.tag.endswith("securityMethod")]
        found[cap.get("standardID", "")] = (url.text or "", url.get("use", ""), methods)
    return found


def test_capabilities_and_registries_lead_to_arc_and_vault(local_server: Any) -> None:
    base = base_of(local_server)
    with httpx.Client(timeout=30) as http:
        caps = http.get(f"{base}/reg/cadc/resource-caps").text
        pairs: dict[str, str] = {}
        for line in caps.splitlines():
            if line.strip() and not line.startswith("#"):
                uri, url = line.split("=", 1)
                pairs[uri.strip()] = url.strip()
        assert pairs["ivo://cadc.nrc.ca/arc"] == f"{base}/arc/capabilities"
        assert pairs["ivo://cadc.nrc.ca/vault"] == f"{base}/vault/capabilities"
        srcnet = http.get(f"{base}/reg/srcnet/resource-caps").text
        assert f"ivo://canfar.net/src/cavern = {base}/cavern/capabilities" in srcnet
        for name in ("arc", "vault", "cavern"):
            response = http.get(f"{base}/{name}/capabilities")  # no credential needed
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/xml")
            found = _capabilities(response.text)
            root = f"{base}/{name}"
            all_methods = [
                "",
                "ivo://ivoa.net/sso#cookie",
                "ivo://ivoa.net/sso#tls-with-certificate",
                "ivo://ivoa.net/sso#token",
            ]
            assert found[NODES] == (f"{root}/nodes", "base", all_methods)
            assert found["ivo://ivoa.net/std/VOSpace#sync-2.1"] == (
                f"{root}/synctrans",
                "full",
                all_methods,
            )
            assert found["ivo://ivoa.net/std/VOSpace/v2.0#transfers"][:2] == (
                f"{root}/transfers",
                "full",
            )
            assert found["ivo://ivoa.net/std/VOSpace#files-proto"][:2] == (f"{root}/files", "base")
            assert found["ivo://ivoa.net/std/VOSpace#recursive-delete-proto"] == (
                f"{root}/async-delete",
                "full",
                all_methods[1:],
            )
            assert http.get(f"{root}/availability").status_code == 200


def test_the_home_is_a_node_and_the_document_has_cavern_s_shape(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        response = http.get("/arc/nodes/home")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert f'uri="{ARC}/home/{user}"' in response.text
        assert mkdir(http, "arc", f"/home/{user}/obs").status_code == 201
        payload = b"0123456789"
        assert http.put(f"/arc/files/home/{user}/obs/a.fits", content=payload).status_code == 201
        response = http.get(f"/arc/nodes/home/{user}/obs")
    text = response.text
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<vos:node xmlns:vos=')
    assert "version=" not in text.split("\n")[1]
    root = ET.fromstring(text)
    assert root.get(XSI + "type") == "vos:ContainerNode"
    assert root.get("uri") == f"{ARC}/home/{user}/obs"
    (child,) = children(text)
    assert child.get(XSI + "type") == "vos:DataNode" and child.get("busy") == "false"
    assert child.find(f"{VOS}accepts") is not None and child.find(f"{VOS}provides") is not None
    props = properties(child)
    assert props[CORE + "length"] == "10"
    assert props[CORE + "MD5"] == "781e5e245d69b566979b86e28d23f2c7"
    assert props[CORE + "ispublic"] == "false"
    assert props[CORE + "creator"] == user
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", props[CORE + "date"])
    # Properties come sorted by URI, the immutable ones flagged readOnly.
    uris = [p.get("uri", "") for p in child.iter(f"{VOS}property")]
    assert uris == sorted(uris)
    flags = {p.get("uri"): p.get("readOnly") for p in child.iter(f"{VOS}property")}
    assert flags[CORE + "length"] == "true" and flags[CORE + "ispublic"] is None


def test_cavern_listing_ignores_limit_and_refuses_a_resume_cursor(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        for index in range(5):
            http.put(f"/arc/files/home/{user}/f{index}", content=b"x")
        everything = http.get(f"/arc/nodes/home/{user}?limit=2")
        assert sorted(names(everything.text)) == [f"f{i}" for i in range(5)]
        assert names(http.get(f"/arc/nodes/home/{user}?limit=0").text) == []
        resumed = http.get(f"/arc/nodes/home/{user}", params={"uri": f"{ARC}/home/{user}/f1"})
        assert resumed.status_code == 400
        assert resumed.text == (
            "OptionNotSupported: batch container node listing: limit ignored,"
            " resume not implemented\n"
        )
        assert resumed.headers["content-type"] == "text/plain"
        assert http.get(f"/arc/nodes/home/{user}?limit=-1").status_code == 400
        assert http.get(f"/arc/nodes/home/{user}?sort=name").status_code == 400
        data = http.get(f"/arc/nodes/home/{user}/f1?view=data", follow_redirects=False)
        assert data.status_code == 303
        assert data.headers["location"].endswith(f"/arc/files/home/{user}/f1")
        as_json = http.get(f"/arc/nodes/home/{user}", params={"Accept": "application/json"})
        assert as_json.headers["content-type"] == "application/json"
        assert len(as_json.json()["node"]["nodes"]) == 5


def test_create_rules(local_server: Any) -> None:
    user = local_server.user
    home = f"/home/{user}"
    with storage(local_server) as http:
        assert mkdir(http, "arc", f"{home}/a").status_code == 201
        again = mkdir(http, "arc", f"{home}/a")
        assert (again.status_code, again.text) == (409, f"DuplicateNode: {ARC}{home}/a\n")
        orphan = mkdir(http, "arc", f"{home}/missing/b")  # no implicit parents
        assert orphan.status_code == 404
        assert orphan.text.startswith("ContainerNotFound: ")
        mismatch = http.put(f"/arc/nodes{home}/c", content=node_xml(f"{ARC}{home}/d"))
        assert mismatch.status_code == 400 and mismatch.text.startswith("InvalidURI: ")
        assert http.put(f"/arc/nodes{home}/c", content=b"<not xml").status_code == 400
        # Nobody creates allocations or nodes outside them.
        assert mkdir(http, "arc", "/home/someone-else").status_code == 403
        assert mkdir(http, "arc", "/stray").status_code in (403, 404)
    assert (local_server.home / "home" / user / "a").is_dir()


def test_properties_update_and_delete(local_server: Any) -> None:
    user = local_server.user
    path = f"/home/{user}/p"
    with storage(local_server) as http:
        assert mkdir(http, "arc", path).status_code == 201
        title = "ivo://example.org/title"
        body = node_xml(f"{ARC}{path}", props={title: "first", CORE + "ispublic": "true"})
        response = http.post(f"/arc/nodes{path}", content=body)
        assert response.status_code == 200
        props = properties(ET.fromstring(response.text))
        assert props[title] == "first" and props[CORE + "ispublic"] == "true"
        assert os.stat(local_server.home / "home" / user / "p").st_mode & 0o004
        # Read-only properties are ignored; xsi:nil deletes.
        body = node_xml(f"{ARC}{path}", props={title: None, CORE + "length": "5"})
        props = properties(ET.fromstring(http.post(f"/arc/nodes{path}", content=body).text))
        assert title not in props and CORE + "length" not in props
        wrong_type = http.post(f"/arc/nodes{path}", content=node_xml(f"{ARC}{path}", "DataNode"))
        assert wrong_type.status_code == 400
        missing = http.post(f"/arc/nodes{path}x", content=node_xml(f"{ARC}{path}x"))
        assert missing.status_code == 404


def test_delete_is_not_recursive_and_needs_the_parent(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        mkdir(http, "arc", f"/home/{user}/full")
        http.put(f"/arc/files/home/{user}/full/x", content=b"1")
        refused = http.delete(f"/arc/nodes/home/{user}/full")
        assert (refused.status_code, refused.text) == (400, "container node 'full' is not empty\n")
        assert http.delete(f"/arc/nodes/home/{user}/full/x").status_code == 200
        assert http.delete(f"/arc/nodes/home/{user}/full").status_code == 200
        gone = http.delete(f"/arc/nodes/home/{user}/full")
        assert gone.status_code == 404 and gone.text.startswith("NodeNotFound: ")
        assert http.delete(f"/arc/nodes/home/{user}").status_code == 403  # the allocation


def test_other_homes_and_anonymous_callers_are_refused(serve_local: Any, tmp_path: Path) -> None:
    server = serve_local(user="alice")
    other = server.home / "home" / "bob"
    other.mkdir(parents=True)
    other.chmod(0o700)  # as the jobs make homes: not public
    (other / "secret").write_bytes(b"s")
    with storage(server) as http:
        listing = http.get("/arc/nodes/home/bob")  # the node itself, but no children
        assert listing.status_code == 200 and names(listing.text) == []
        refused = http.get("/arc/files/home/bob/secret")
        assert refused.status_code == 403 and refused.text.startswith("PermissionDenied: ")
        assert http.put("/arc/files/home/bob/new", content=b"x").status_code == 403
        assert mkdir(http, "arc", "/home/bob/d").status_code == 403
    with anonymous(server) as http:
        assert http.get("/arc/nodes/home").status_code == 200
        assert http.get("/arc/files/home/alice/x").status_code in (403, 404)
        assert http.put("/arc/files/home/alice/x", content=b"x").status_code == 403
        assert mkdir(http, "arc", "/home/alice/d").status_code == 403
    with storage(server, headers={"Authorization": "Bearer not-ours"}) as http:
        assert http.get("/arc/nodes/home/alice").status_code == 401


def test_the_state_folder_is_not_a_node(local_server: Any) -> None:
    with storage(local_server) as http:
        root = http.get("/arc/nodes/")
        assert root.status_code == 200
        assert names(root.text) == ["home"]
        for hidden in ("/serve", "/state.db", "/sessions", "/vault"):
            assert http.get(f"/arc/nodes{hidden}").status_code == 404


def test_links_are_symlinks_and_bytes_follow_them_inside_the_tree(serve_local: Any) -> None:
    server = serve_local(user="alice")
    home = server.home / "home" / "alice"
    with storage(server) as http:
        assert http.put("/arc/files/home/alice/real.txt", content=b"real").status_code == 201
        link = node_xml(f"{ARC}/home/alice/ln", "LinkNode", target=f"{ARC}/home/alice/real.txt")
        made = http.put("/arc/nodes/home/alice/ln", content=link)
        assert made.status_code == 201, made.text
        assert os.readlink(home / "ln") == "real.txt"
        node = ET.fromstring(http.get("/arc/nodes/home/alice/ln").text)
        assert node.get(XSI + "type") == "vos:LinkNode"
        assert node.findtext(f"{VOS}target") == f"{ARC}/home/alice/real.txt"
        assert http.get("/arc/files/home/alice/ln").content == b"real"
        # A link a job makes to somewhere outside the tree: a file:// target, never followed.
        os.symlink("/etc/hostname", home / "out")
        outside = ET.fromstring(http.get("/arc/nodes/home/alice/out").text)
        assert outside.findtext(f"{VOS}target") == "file:///etc/hostname"
        refused = http.get("/arc/files/home/alice/out")
        assert refused.status_code == 404 and refused.text.startswith("UnreadableLinkTarget: ")
        # Nor is a folder reached through a link, nor a PUT written through one.
        os.symlink("/tmp", home / "tmpdir")
        assert http.get("/arc/nodes/home/alice/tmpdir/x").status_code == 404
        assert http.put("/arc/files/home/alice/out", content=b"x").status_code == 400
        # `!` is read as `~`; `~` is what comes back.
        old_form = http.put(
            "/arc/nodes/home/alice/bang", content=node_xml("vos://cadc.nrc.ca!arc/home/alice/bang")
        )
        assert old_form.status_code == 201
        assert f'uri="{ARC}/home/alice/bang"' in old_form.text
        assert old_form.headers["x-vo-authenticated"] == "alice"
