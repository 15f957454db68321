"""Negotiation, pre-authorized URLs, quota and the UWS jobs of the local storage services over a
real socket (storage.md §2.3, §3.5, §3.6, §4.1-§4.3, §5; §8 points 9-13, 16)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from tests.support.storage import (
    ARC,
    CORE,
    VOS,
    anonymous,
    children,
    mkdir,
    properties,
    storage,
    transfer_xml,
)

TOKEN = "ivo://ivoa.net/sso#token"
XML = {"Content-Type": "text/xml"}


def endpoints(document: str) -> list[tuple[str, str | None]]:
    root = ET.fromstring(document)
    found = []
    for protocol in root.findall(f"{VOS}protocol"):
        endpoint = protocol.findtext(f"{VOS}endpoint") or ""
        method = protocol.find(f"{VOS}securityMethod")
        found.append((endpoint, None if method is None else method.get("uri")))
    return found


def negotiate_xml(http: httpx.Client, document: str) -> tuple[str, httpx.Response]:
    """POST synctrans → 303 → transferDetails → 303 → xfer; (job URL part, xfer response)."""
    first = http.post("/arc/synctrans", content=document, headers=XML)
    assert first.status_code == 303
    details = first.headers["location"]
    assert details.endswith("/results/transferDetails")
    second = http.get(details)
    assert second.status_code == 303
    assert "/arc/xfer/" in second.headers["location"]
    third = http.get(second.headers["location"])
    assert third.status_code == 200
    return details.rsplit("/results/", 1)[0], third


def wait_phase(http: httpx.Client, job: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        phase = http.get(f"{job}/phase").text.strip()
        if phase in ("COMPLETED", "ERROR", "ABORTED"):
            return phase
        time.sleep(0.02)
    raise AssertionError(f"job {job} did not end")


def test_xml_pull_lists_the_preauth_url_first(local_server: Any) -> None:
    user = local_server.user
    uri = f"{ARC}/home/{user}/r.txt"
    with storage(local_server) as http:
        http.put(f"/arc/files/home/{user}/r.txt", content=b"read me")
        _, xfer = negotiate_xml(http, transfer_xml(uri, "pullFromVoSpace", "httpsget"))
        found = endpoints(xfer.text)
        assert len(found) == 2
        assert "/arc/files/preauth:" in found[0][0] and found[0][1] is None
        assert found[1][0].endswith(f"/arc/files/home/{user}/r.txt")
        # Asked with a security method: the plain URL, with the method the server writes.
        _, xfer = negotiate_xml(http, transfer_xml(uri, "pullFromVoSpace", "httpsget", (TOKEN,)))
        assert endpoints(xfer.text) == [(found[1][0], TOKEN)]
        assert f'<vos:securityMethod uri="{TOKEN}" />' in xfer.text
    with anonymous(local_server) as http:  # the preauth URL needs no credential
        assert http.get(found[0][0]).content == b"read me"
        assert http.get(found[1][0]).status_code == 403


def test_push_creates_the_empty_node_and_only_preauth_for_anonymous_protocols(
    local_server: Any,
) -> None:
    user = local_server.user
    uri = f"{ARC}/home/{user}/w.bin"
    target = local_server.home / "home" / user / "w.bin"
    with storage(local_server) as http:
        _, xfer = negotiate_xml(http, transfer_xml(uri, "pushToVoSpace", "httpsput"))
        (only,) = endpoints(xfer.text)
        assert "/arc/files/preauth:" in only[0]
        assert target.exists() and target.stat().st_size == 0  # made by the negotiation
        with anonymous(local_server) as anon:
            put = anon.put(only[0], content=b"pushed")
            assert put.status_code == 201
            # A write token is not a read token, nor one for another node.
            assert anon.get(only[0]).status_code == 403
            other = only[0].replace("/w.bin", "/x.bin")
            assert anon.put(other, content=b"x").status_code == 403
            token_start = only[0].index("preauth:") + len("preauth:")
            forged = only[0][:token_start] + "A" + only[0][token_start + 1 :]
            assert anon.put(forged, content=b"x").status_code == 403
        assert target.read_bytes() == b"pushed"
        folder = transfer_xml(f"{ARC}/home/{user}", "pushToVoSpace", "httpsput")
        job, xfer = negotiate_xml(http, folder)
        assert endpoints(xfer.text) == []
        assert http.get(f"{job}/phase").text == "ERROR"
        assert http.get(f"{job}/error").text == "transfer destination is not a data node\n"


def test_xml_negotiation_errors_are_in_the_job(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        missing = transfer_xml(f"{ARC}/home/{user}/none", "pullFromVoSpace", "httpsget")
        job, xfer = negotiate_xml(http, missing)
        assert endpoints(xfer.text) == []
        assert http.get(f"{job}/phase").text == "ERROR"
        assert http.get(f"{job}/error").text == f"NodeNotFound: {ARC}/home/{user}/none\n"
        document = http.get(job).text
        assert "<uws:phase>ERROR</uws:phase>" in document
        assert "NodeNotFound" in document
        elsewhere = transfer_xml(f"{ARC}/home/nobody/x", "pushToVoSpace", "httpsput")
        job, _ = negotiate_xml(http, elsewhere)
        assert http.get(f"{job}/error").text.startswith("ContainerNotFound: ")


def test_parameter_form_redirects_to_the_bytes_or_answers_the_error(local_server: Any) -> None:
    user = local_server.user
    with storage(local_server) as http:
        http.put(f"/arc/files/home/{user}/p.txt", content=b"param")
        params = {
            "TARGET": f"{ARC}/home/{user}/p.txt",
            "DIRECTION": "pullFromVoSpace",
            "PROTOCOL": "ivo://ivoa.net/vospace/core#httpsget",
        }
        for response in (
            http.get("/arc/synctrans", params=params),
            http.post("/arc/synctrans", params=params),
        ):
            assert response.status_code == 303
            assert "/arc/files/preauth:" in response.headers["location"]
        assert http.get(response.headers["location"]).content == b"param"
        missing = http.get("/arc/synctrans", params={**params, "TARGET": f"{ARC}/home/{user}/no"})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "text/plain"
        assert missing.text == f"NodeNotFound: {ARC}/home/{user}/no\n"
        folder = http.get("/arc/synctrans", params={**params, "TARGET": f"{ARC}/home/{user}"})
        assert (folder.status_code, folder.text) == (400, "target is not a data node\n")
        unknown = http.get("/arc/synctrans", params={**params, "PROTOCOL": "ivo://x#ftp"})
        assert unknown.status_code == 400


@pytest.mark.parametrize("quota", ["1K"])
def test_quota_is_enforced_and_shown(serve_local: Any, quota: str) -> None:
    server = serve_local(env={"CANFAR_LOCAL_QUOTA": quota})
    user = server.user
    with storage(server) as http:
        assert http.put(f"/arc/files/home/{user}/a", content=b"a" * 600).status_code == 201
        over = http.put(f"/arc/files/home/{user}/b", content=b"b" * 600)
        assert (over.status_code, over.text) == (413, "limit: 424\n")
        assert (server.home / "home" / user / "b").stat().st_size == 0
        # Overwriting counts the old size as free.
        assert http.put(f"/arc/files/home/{user}/a", content=b"a" * 1000).status_code == 201
        home = properties(ET.fromstring(http.get(f"/arc/nodes/home/{user}").text))
        assert home[CORE + "quota"] == "1024" and home[CORE + "length"] == "1000"
        assert http.put(f"/arc/files/home/{user}/c", content=b"c" * 24).status_code == 201
        full = transfer_xml(f"{ARC}/home/{user}/d", "pushToVoSpace", "httpsput")
        job, _ = negotiate_xml(http, full)
        assert http.get(f"{job}/error").text.startswith("QuotaExceeded: ")
        params = {
            "TARGET": f"{ARC}/home/{user}/e",
            "DIRECTION": "pushToVoSpace",
            "PROTOCOL": "ivo://ivoa.net/vospace/core#httpsput",
        }
        refused = http.post("/arc/synctrans", params=params)
        assert refused.status_code == 413 and refused.text.startswith("QuotaExceeded: ")


def _job(http: httpx.Client, resource: str, **kwargs: Any) -> str:
    created = http.post(f"/arc/{resource}", **kwargs)
    assert created.status_code == 303, created.text
    job = created.headers["location"]
    assert http.get(f"{job}/phase").text == "PENDING"
    run = http.post(f"{job}/phase", data={"PHASE": "RUN"})
    assert run.status_code == 303 and run.headers["location"] == job
    return job


def _move(http: httpx.Client, source: str, destination: str) -> tuple[str, str]:
    document = (
        '<vos:transfer xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" version="2.1">'
        f"<vos:target>{ARC}{source}</vos:target><vos:direction>{ARC}{destination}</vos:direction>"
        "<vos:keepBytes>false</vos:keepBytes></vos:transfer>"
    )
    job = _job(http, "transfers", content=document, headers=XML)
    phase = wait_phase(http, job)
    return phase, http.get(f"{job}/error").text


def test_move_jobs_rename_and_move_into_folders(local_server: Any) -> None:
    user = local_server.user
    home = f"/home/{user}"
    folder = local_server.home / "home" / user
    with storage(local_server) as http:
        http.put(f"/arc/files{home}/old", content=b"m")
        mkdir(http, "arc", f"{home}/box")
        assert _move(http, f"{home}/old", f"{home}/new") == ("COMPLETED", "\n")
        assert (folder / "new").read_bytes() == b"m" and not (folder / "old").exists()
        assert _move(http, f"{home}/new", f"{home}/box")[0] == "COMPLETED"  # into the folder
        assert (folder / "box" / "new").exists()
        http.put(f"/arc/files{home}/other", content=b"o")
        phase, error = _move(http, f"{home}/other", f"{home}/box/new")
        assert (phase, error) == ("ERROR", f"DuplicateNode: {ARC}{home}/box/new\n")
        phase, error = _move(http, f"{home}/box", f"{home}/box/inner")
        assert phase == "ERROR" and error.startswith("InvalidArgument: ")
        phase, error = _move(http, f"{home}/other", f"{home}/nowhere/x")
        assert phase == "ERROR" and error.startswith("NodeNotFound: ")
        # Moving the whole folder keeps the MD5 with the file.
        assert _move(http, f"{home}/box", f"{home}/crate")[0] == "COMPLETED"
        assert "digest" in http.head(f"/arc/files{home}/crate/new").headers


def test_recursive_delete_job(local_server: Any) -> None:
    user = local_server.user
    home = f"/home/{user}"
    with storage(local_server) as http:
        mkdir(http, "arc", f"{home}/tree")
        mkdir(http, "arc", f"{home}/tree/sub")
        for name in ("a", "sub/b", "sub/c"):
            http.put(f"/arc/files{home}/tree/{name}", content=b"x")
        job = _job(http, "async-delete", data={"target": f"{ARC}{home}/tree"})
        assert wait_phase(http, job) == "COMPLETED"
        assert http.get(f"/arc/nodes{home}/tree").status_code == 404
        job = _job(http, "async-delete", data={"target": f"{ARC}{home}/tree"})
        assert wait_phase(http, job) == "ERROR"
        assert http.get(f"{job}/error").text.startswith("NodeNotFound: ")


def test_recursive_properties_job(local_server: Any) -> None:
    user = local_server.user
    home = f"/home/{user}"
    with storage(local_server) as http:
        mkdir(http, "arc", f"{home}/pub")
        http.put(f"/arc/files{home}/pub/a", content=b"x")
        document = (
            '<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            f' uri="{ARC}{home}/pub" xsi:type="vos:ContainerNode"><vos:properties>'
            f'<vos:property uri="{CORE}ispublic">true</vos:property>'
            "</vos:properties></vos:node>"
        )
        job = _job(http, "async-setprops", content=document, headers=XML)
        assert wait_phase(http, job) == "COMPLETED"
        listing = http.get(f"/arc/nodes{home}/pub").text
        assert properties(ET.fromstring(listing))[CORE + "ispublic"] == "true"
        assert [properties(c)[CORE + "ispublic"] for c in children(listing)] == ["true"]
