"""Interactive kinds: emulated (no process) until expiry; renew; limit; desktop-apps."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support import IMAGE
from tests.support.api import api, create, wait_for, wait_until
from tests.support.loopback import supervisor_pids

NOTEBOOK = "images.canfar.net/skaha/astroml:latest"


def parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


@pytest.mark.parametrize("kind", ["notebook", "desktop", "carta", "firefly", "contributed"])
def test_interactive_kind_runs_emulated(shared_client: httpx.Client, kind: str) -> None:
    # Each kind once, on the shared server (5 kinds = the per-user limit); removed at the end.
    session_id = create(shared_client, type=kind, name=f"My-{kind}", cmd="ignored")
    try:
        record = wait_for(shared_client, session_id, ("Running",))
        assert record["type"] == kind
        # The server's URL shape for the kind, on this server's own host; it opens a page.
        shapes = {
            "notebook": f"/session/notebook/{session_id}/lab/tree/home/",
            "desktop": f"/session/desktop/{session_id}/?password={session_id}",
            "carta": f"/session/carta/{session_id}/",
            "firefly": f"/session/firefly/{session_id}/firefly/",
            "contributed": f"/session/contrib/{session_id}/",
        }
        url = record["connectURL"]
        assert url.startswith(str(shared_client.base_url).split("/skaha")[0] + shapes[kind])
        page = shared_client.get(url)
        assert page.status_code == 200 and "emulated" in page.text
        assert record["name"] == f"my-{kind}"
        # Expiry = start + 4 days (skaha.sessionexpiry).
        lifetime = parse(record["expiryTime"]) - parse(record["startTime"])
        assert lifetime.total_seconds() == 345600
        events = shared_client.get(f"/session/{session_id}?view=events").text
        assert "emulated locally" in events
        log = shared_client.get(f"/session/{session_id}?view=logs").text
        assert "emulated" in log
    finally:
        shared_client.delete(f"/session/{session_id}")


def test_interactive_views_and_limit(client: httpx.Client) -> None:
    ids = [create(client, type="notebook", name=f"nb{i}", image=NOTEBOOK) for i in range(5)]
    response = client.post("/session", data={"type": "carta", "name": "x", "image": IMAGE})
    assert response.status_code == 400
    user = response.headers["x-vo-authenticated"]
    assert response.text == f"User {user} has reached the maximum of 5 active sessions.\n"
    # Headless jobs are not limited.
    job = create(client, cmd="true")
    interactive = client.get("/session", params={"view": "interactive"}).json()
    assert {s["id"] for s in interactive} == set(ids)
    assert job in {s["id"] for s in client.get("/session").json()}
    # Ending one frees a place.
    client.delete(f"/session/{ids[0]}")
    create(client, type="carta", name="x", image=IMAGE)


def test_renew_moves_the_expiry(serve_local: Any) -> None:
    server = serve_local(expiry_seconds=600)
    with api(server) as http:
        session_id = create(http, type="notebook", name="nb", image=NOTEBOOK)
        before = wait_for(http, session_id, ("Running",))["expiryTime"]

        def renewed() -> bool:
            response = http.post(f"/session/{session_id}", data={"action": "renew"})
            assert response.status_code == 200 and response.content == b""
            return http.get(f"/session/{session_id}").json()["expiryTime"] > before

        # Renew sets expiry = now + 600 s once at least a second has passed since the start.
        wait_until(renewed, what="a later expiry")


def test_expiry_ends_the_session(serve_local: Any) -> None:
    server = serve_local(expiry_seconds=2, grace_seconds=1)
    with api(server) as http:
        session_id = create(http, type="desktop", name="short", image=IMAGE)
        record = wait_for(http, session_id, ("Running",))
        assert (parse(record["expiryTime"]) - parse(record["startTime"])).total_seconds() == 2
        record = wait_for(http, session_id, ("Failed",))
        assert "DeadlineExceeded" in http.get(f"/session/{session_id}?view=events").text


def test_desktop_apps(client: httpx.Client) -> None:
    desktop = create(client, type="desktop", name="desk", image=IMAGE)
    wait_for(client, desktop, ("Running",))
    # Apps need a running desktop of the caller.
    missing = client.post("/session/zzzzzzzz/app", data={"image": IMAGE})
    assert missing.status_code == 404 and missing.text == "session zzzzzzzz not found\n"
    no_image = client.post(f"/session/{desktop}/app", data={})
    assert no_image.status_code == 400 and no_image.text == "Missing parameter 'image'\n"
    response = client.post(
        f"/session/{desktop}/app", data={"image": "images.canfar.net/skaha/ds9:8.6"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain"
    appid = response.text.strip()
    assert re.fullmatch(r"[a-z0-9]{3}", appid) and response.text == appid + "\n"
    app = client.get(f"/session/{desktop}/app/{appid}")
    assert app.status_code == 200
    body = app.json()
    assert body["id"] == desktop and body["appid"] == appid and body["type"] == "desktop-app"
    assert body["name"] == "ds9-8-6" and body["connectURL"] == ""
    wait_until(lambda: client.get(f"/session/{desktop}/app/{appid}").json()["status"] == "Running")
    # The app collection is every desktop-app of the caller, whatever the id in the path.
    assert [a["appid"] for a in client.get("/session/whatever/app").json()] == [appid]
    # Desktop-apps are left out of the default list, shown with type=desktop-app.
    assert [s["id"] for s in client.get("/session").json()] == [desktop]
    apps = client.get("/session", params={"type": "desktop-app"}).json()
    assert [a.get("appid") for a in apps] == [appid]
    # view=interactive keeps them.
    assert len(client.get("/session?view=interactive").json()) == 2
    unknown = client.get(f"/session/{desktop}/app/zzz")
    assert unknown.status_code == 404
    assert unknown.text == f"desktop app with session {desktop} and app ID zzz was not found\n"
    assert client.delete(f"/session/{desktop}/app/zzz").status_code == 200
    # Deleting the desktop takes its apps along.
    second = client.post(f"/session/{desktop}/app", data={"image": IMAGE}).text.strip()
    assert client.delete(f"/session/{desktop}/app/{appid}").status_code == 200
    assert client.get(f"/session/{desktop}/app/{appid}").status_code == 404
    assert client.delete(f"/session/{desktop}").status_code == 200
    assert client.get(f"/session/{desktop}/app/{second}").status_code == 404
    assert client.get("/session/x/app").json() == []


def test_interactive_sessions_run_no_process(client: httpx.Client, local_server: Any) -> None:
    """Emulated kinds are rows only: no job, no supervisor started for them; delete works."""
    import sqlite3

    session_id = create(client, type="firefly", name="ff", image=IMAGE)
    record = client.get(f"/session/{session_id}").json()
    assert record["status"] == "Running"  # at once: nothing to start
    with sqlite3.connect(local_server.home / "state.db") as db:
        job_pid, runner_pid = db.execute(
            "SELECT job_pid, runner_pid FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
    assert job_pid is None and runner_pid is None
    assert supervisor_pids(local_server.home) == []
    assert client.delete(f"/session/{session_id}").status_code == 200
    assert client.get(f"/session/{session_id}").status_code == 404
    assert not (local_server.home / "sessions" / session_id).exists()
