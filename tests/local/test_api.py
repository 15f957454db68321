"""Each endpoint, and each quirk of section 6 of skaha-api.md, over a real loopback socket."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from tests.support import FORM, IMAGE, SMALL_CONTEXT
from tests.support.api import create, wait_for

ID_RULE = re.compile(r"[a-z][a-z0-9]{7}")


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/plain"
    assert response.text == message + "\n"
    assert response.headers["content-length"] == str(len(response.content))


# --- quirk 1: parameters --------------------------------------------------------------------


def test_post_params_read_from_form_body_and_query(client: httpx.Client) -> None:
    # Query string and body are both read when the body is form-urlencoded.
    response = client.post(
        "/session", params={"image": IMAGE}, content=b"name=q&cmd=true", headers=FORM
    )
    assert response.status_code == 200 and ID_RULE.fullmatch(response.text.strip())


def test_post_params_ignored_without_form_content_type(shared_client: httpx.Client) -> None:
    body = json.dumps({"name": "x", "image": IMAGE}).encode()
    response = shared_client.post(
        "/session", params={"image": IMAGE, "name": "x"}, content=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert_error(response, 400, "Missing parameter 'image'")
    assert_error(shared_client.post("/session", params={"image": IMAGE, "name": "x"}), 400,
                 "Missing parameter 'image'")  # fmt: skip


def test_multipart_parts_are_read_but_not_the_query(client: httpx.Client) -> None:
    files = {"image": (None, IMAGE), "name": (None, "mp"), "cmd": (None, "true")}
    response = client.post("/session", files=files)
    assert response.status_code == 200, response.text
    response = client.post("/session", params={"image": IMAGE}, files={"name": (None, "mp")})
    assert_error(response, 400, "Missing parameter 'image'")


def test_parameter_names_are_case_insensitive(client: httpx.Client) -> None:
    session_id = create(client, IMAGE=IMAGE, NaMe="Upper", CMD="true", TYPE="HeadLess")
    record = client.get(f"/session/{session_id}").json()
    assert record["name"] == "upper" and record["type"] == "headless"


def test_env_is_repeatable_and_bad_entries_dropped(client: httpx.Client) -> None:
    session_id = create(
        client, cmd="env", env=["ONE=1", "TWO=2", "THREE=3=3", "FOUR=", "=5", "SIX"]
    )
    wait_for(client, session_id, ("Completed",))
    lines = client.get(f"/session/{session_id}?view=logs").text.splitlines()
    assert "ONE=1" in lines and "TWO=2" in lines
    assert not any(line.startswith(("THREE=", "FOUR=", "SIX")) for line in lines)


def test_args_split_on_single_spaces(client: httpx.Client) -> None:
    session_id = create(client, cmd="printf", args="[%s]\\n a  b")
    wait_for(client, session_id, ("Completed",))
    # "a  b" splits into "a", "", "b": the empty argument survives, the space does not.
    assert client.get(f"/session/{session_id}?view=logs").text == "[a]\n[]\n[b]\n"


# --- quirks 2-3: error bodies, create answers --------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "x"}, "Missing parameter 'image'"),
        ({"name": "x", "image": " "}, "image is required"),
        (
            {"name": "x", "image": "docker.io/library/ubuntu"},
            "session image 'docker.io/library/ubuntu' must come from one of [images.canfar.net]",
        ),
        ({"name": "x", "image": IMAGE, "type": "jupyter"}, "Invalid session type: jupyter"),
        ({"name": "x", "image": IMAGE, "type": "desktop-app"}, "Invalid session type: desktop-app"),
        ({"name": "x", "image": IMAGE, "cores": "lots"}, "Invalid value for 'cores': lots"),
        ({"name": "x", "image": IMAGE, "cores": "17"}, "Invalid value for 'cores': 17"),
        ({"name": "x", "image": IMAGE, "cores": "0.5"}, "Invalid value for 'cores': 0.5"),
        ({"name": "x", "image": IMAGE, "ram": "3"}, "Invalid value for 'ram': 3"),
        ({"image": IMAGE}, "Missing parameter 'name'"),
        ({"image": IMAGE, "name": "  "}, "Missing parameter 'name'"),
        ({"image": IMAGE, "name": "a_b"}, "name can only contain alpha-numeric chars and '-'"),
        ({"image": IMAGE, "name": "x", "gpus": "0"}, "Invalid value for 'gpus': 0"),
        ({"image": IMAGE, "name": "x", "gpus": "1.0"}, "Invalid value for 'gpus': 1.0"),
        ({"image": IMAGE, "name": "x", "gpus": "29"}, "Invalid value for 'gpus': 29"),
        ({"image": IMAGE, "name": "-x"}, "canfar.net/name label value cannot be blank"),
        # validation order: image before type before cores before name before gpus
        ({"type": "bad", "cores": "x"}, "Missing parameter 'image'"),
        ({"image": IMAGE, "type": "bad", "cores": "x"}, "Invalid session type: bad"),
        ({"image": IMAGE, "cores": "x", "name": "a_b"}, "Invalid value for 'cores': x"),
        ({"image": IMAGE, "name": "a_b", "gpus": "0"},
         "name can only contain alpha-numeric chars and '-'"),
    ],
)  # fmt: skip
def test_create_refusals(shared_client: httpx.Client, params: dict[str, str], message: str) -> None:
    assert_error(shared_client.post("/session", data=params), 400, message)


def test_create_answers_id_and_newline(client: httpx.Client) -> None:
    response = client.post("/session", data={"name": "a", "image": IMAGE, "cmd": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert ID_RULE.fullmatch(response.text[:-1]) and response.text.endswith("\n")


def test_cores_and_ram_must_be_whole_numbers(client: httpx.Client) -> None:
    # Integer.valueOf in science-platform 1.4.0: a fraction is an invalid value.
    answer = client.post("/session", data={"name": "x", "image": IMAGE, "cores": "2.5"})
    assert_error(answer, 400, "Invalid value for 'cores': 2.5")
    answer = client.post("/session", data={"name": "x", "image": IMAGE, "ram": "8.0"})
    assert_error(answer, 400, "Invalid value for 'ram': 8.0")


# --- quirk 4: the session object ---------------------------------------------------------------


def test_session_object_fields_and_formats(client: httpx.Client, local_server: Any) -> None:
    fixed = create(client, name="Fixed-ONE", cmd="true", cores="2", ram="8", gpus="1")
    flexible = create(client, name="flex", cmd="true")
    record = wait_for(client, fixed, ("Completed",))
    assert record["name"] == "fixed-one"
    assert record["requestedRAM"] == "8.59" and record["requestedCPUCores"] == "2"
    assert record["requestedGPUCores"] == "0"
    assert record["isFixedResources"] is True
    assert isinstance(record["runAsUID"], str) and isinstance(record["runAsGID"], str)
    assert record["supplementalGroups"] == []
    assert record["userid"] == local_server.user
    assert record["connectURL"] == ""
    assert "gpuRAMInUse" not in record and "gpuUtilization" not in record and "appid" not in record
    keys = list(record)
    assert keys[:5] == ["id", "userid", "runAsUID", "runAsGID", "supplementalGroups"]
    assert keys[-1] == "isFixedResources"
    other = wait_for(client, flexible, ("Completed",))
    assert "requestedRAM" not in other and "requestedCPUCores" not in other
    assert other["isFixedResources"] is False
    # Gson pretty printing, no charset on the content type.
    response = client.get(f"/session/{fixed}")
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith('{\n  "id": ')
    # startTime: OffsetDateTime (seconds dropped when :00); expiryTime: Instant, whole seconds.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z", record["startTime"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["expiryTime"])


# --- quirk 5: delete, renew, get, logs of unknown ids ---------------------------------------


def test_unknown_ids(shared_client: httpx.Client) -> None:
    response = shared_client.delete("/session/zzzzzzzz")
    assert response.status_code == 200 and response.content == b""
    assert_error(shared_client.get("/session/zzzzzzzz"), 404, "session zzzzzzzz not found")
    assert_error(
        shared_client.post("/session/zzzzzzzz", data={"action": "renew"}),
        400,
        "No active job for user " + shared_client.get("/context").headers["x-vo-authenticated"]
        + " with session zzzzzzzz",
    )  # fmt: skip
    logs = shared_client.get("/session/zzzzzzzz", params={"view": "logs"})
    assert logs.status_code == 200 and logs.content == b""
    assert_error(
        shared_client.get("/session/zzzzzzzz?view=events"), 404, "session zzzzzzzz not found."
    )


def test_bad_ids_and_paths(shared_client: httpx.Client) -> None:
    assert_error(
        shared_client.get("/session/" + "a" * 64),
        400,
        "canfar.net/id label value exceeds 63 characters",
    )
    assert_error(
        shared_client.get("/session/bad!id"),
        400,
        "canfar.net/id label value must match Kubernetes label value syntax",
    )
    assert_error(shared_client.get("/session/a/b/c/d"), 400, "Invalid request: /a/b/c/d")
    assert_error(shared_client.delete("/session"), 400, "Cannot kill all sessions.")
    assert_error(shared_client.delete("/session/abc/app"), 400, "Missing app ID")
    assert_error(shared_client.post("/session/abc/app/xyz"), 400, "Cannot modify an existing app.")


def test_renew_needs_an_action(client: httpx.Client) -> None:
    session_id = create(client, cmd="sleep", args="30")
    assert_error(client.post(f"/session/{session_id}", data={}), 400,
                 "Cannot modify an existing session")  # fmt: skip
    assert_error(client.post(f"/session/{session_id}", data={"action": "extend"}), 400,
                 "unrecognized action")  # fmt: skip
    # Without the form content type the action is not read at all.
    assert_error(client.post(f"/session/{session_id}", params={"action": "renew"}), 400,
                 "Cannot modify an existing session")  # fmt: skip
    response = client.post(f"/session/{session_id}", data={"ACTION": "ReNeW"})
    assert response.status_code == 200 and response.content == b""
    client.delete(f"/session/{session_id}")


# --- quirk 6: listing --------------------------------------------------------------------------


def test_listing_views_and_filters(client: httpx.Client) -> None:
    done = create(client, name="one", cmd="true")
    failed = create(client, name="two", cmd="false")
    wait_for(client, done, ("Completed",))
    wait_for(client, failed, ("Failed",))
    listed = client.get("/session").json()
    assert {s["id"] for s in listed} == {done, failed}
    assert [s["id"] for s in client.get("/session?status=COMPLETED").json()] == [done]
    assert [s["id"] for s in client.get("/session?type=HEADLESS&status=failed").json()] == [failed]
    assert client.get("/session?type=notebook").json() == []
    assert client.get("/session?type=whatever").json() == []
    public = client.get("/session?view=all").json()
    assert len(public) == 2
    assert all(set(p) == {"userid", "type", "status", "startTime"} for p in public)
    assert client.get("/session?view=interactive").json() == []
    assert client.get("/session?view=INTERACTIVE").json() == []
    empty = client.get("/session?status=Running")
    assert empty.status_code == 200 and empty.text == "[]"


def test_get_session_slash_gives_first_session(client: httpx.Client) -> None:
    assert_error(client.get("/session/"), 404, "session  not found")
    first = create(client, cmd="true")
    create(client, cmd="true")
    assert client.get("/session/").json()["id"] == first


# --- quirk 7: default type, per-user limit --------------------------------------------------------


def test_missing_or_blank_type_means_headless(client: httpx.Client) -> None:
    a = create(client, cmd="true")
    b = create(client, cmd="true", type=" ")
    assert client.get(f"/session/{a}").json()["type"] == "headless"
    assert client.get(f"/session/{b}").json()["type"] == "headless"


# --- quirk 11 and cleanup ------------------------------------------------------------------


def test_headless_sessions_vanish_after_the_cleanup_delay(serve_local: Any) -> None:
    from tests.support.api import api, wait_until

    server = serve_local(cleanup_seconds=1)
    with api(server) as http:
        session_id = create(http, cmd="echo", args="bye")
        wait_for(http, session_id, ("Completed",))
        folder = server.home / "sessions" / session_id
        assert (folder / "log").read_text() == "bye\n"
        wait_until(lambda: http.get(f"/session/{session_id}").status_code == 404, what="cleanup")
        assert http.get(f"/session/{session_id}?view=logs").content == b""
        wait_until(lambda: not folder.exists(), what="files removed")


# --- other endpoints ------------------------------------------------------------------------------


def test_context_image_repository(shared_client: httpx.Client) -> None:
    context = shared_client.get("/context")
    assert context.headers["content-type"] == "application/json"
    assert "\n" not in context.text and " " not in context.text  # compact (org.json)
    body = context.json()
    assert body["cores"]["options"] == list(range(1, 17))
    assert body["gpus"]["options"] == list(range(1, 29))
    assert body["maxInteractiveSessions"] == "5"
    assert 8 in body["memoryGB"]["options"] and 3 not in body["memoryGB"]["options"]
    images = shared_client.get("/image").json()
    assert any(i["id"] == IMAGE for i in images)
    # The digest where the shipped list knows it (Gson leaves out a null: images added from the
    # official client's docs, which name no digest).
    assert all(set(i) in ({"id", "types", "digest"}, {"id", "types"}) for i in images)
    assert next(i for i in images if i["id"] == IMAGE)["digest"].startswith("sha256:")
    headless = shared_client.get("/image", params={"type": "headless"}).json()
    assert headless and all("headless" in i["types"] for i in headless)
    assert_error(
        shared_client.get("/image", params={"type": "Headless"}), 400, "unknown type: Headless"
    )
    repository = shared_client.get("/repository")
    assert repository.text == '["images.canfar.net"]'


def test_stats_shape(client: httpx.Client) -> None:
    session_id = create(client, cmd="sleep", args="30", cores="2", ram="4")
    wait_for(client, session_id, ("Running",))
    response = client.get("/session", params={"view": "stats", "type": "ignored"})
    assert response.status_code == 200
    stats = response.json()
    quantity = re.compile(r"^[0-9]+(\.[0-9]+)?(Ei|Pi|Ti|Gi|Mi|Ki|E|P|T|G|M|K)?$")
    assert stats["cores"]["requestedCPUCores"] == 2.0
    assert isinstance(stats["cores"]["cpuCoresAvailable"], float)
    assert stats["cores"]["maxCPUCores"] == {"cpuCores": 8.0, "withRam": "32Gi"}
    assert quantity.match(stats["ram"]["requestedRAM"]) and quantity.match(
        stats["ram"]["ramAvailable"]
    )
    assert stats["ram"]["maxRAM"] == {"ram": "32Gi", "withCPUCores": 8.0}
    client.delete(f"/session/{session_id}")


def test_unsupported_methods_and_unknown_paths(shared_client: httpx.Client) -> None:
    response = shared_client.put("/session")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, DELETE"
    assert response.text.startswith("unsupported: HTTP PUT")
    response = shared_client.post("/context")
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert shared_client.get("/nothing").status_code == 404
    assert shared_client.get("/../v2/session").status_code == 404
    head = shared_client.head("/context")
    assert head.status_code == 200 and head.content == b""


def test_registry_auth_header_checked_when_given(client: httpx.Client) -> None:
    good = base64.b64encode(b"me:secret").decode()
    response = client.post(
        "/session",
        data={"name": "x", "image": IMAGE, "cmd": "true"},
        headers={"x-skaha-registry-auth": good},
    )
    assert response.status_code == 200
    bad = base64.b64encode(b"no-colon").decode()
    response = client.post(
        "/session",
        data={"name": "x", "image": IMAGE, "cmd": "true"},
        headers={"x-skaha-registry-auth": bad},
    )
    assert_error(response, 400, "Invalid input.  Must be in form of username:secret")


def test_authenticated_header(client: httpx.Client, local_server: Any) -> None:
    assert client.get("/session").headers["x-vo-authenticated"] == local_server.user


def test_context_and_registry_hosts_are_overridable(serve_local: Any, tmp_path: Any) -> None:
    path = tmp_path / "context.json"
    path.write_text(json.dumps(SMALL_CONTEXT))
    images = tmp_path / "images.json"  # extends the shipped list: a.org/nb is then public
    images.write_text(json.dumps([{"id": "a.org/nb", "types": ["notebook"]}]))
    env = {
        "CANFAR_LOCAL_CONTEXT": str(path),
        "CANFAR_LOCAL_REGISTRY_HOSTS": "a.org b.org",
        "CANFAR_LOCAL_IMAGES": str(images),
    }
    server = serve_local(env=env)
    from tests.support.api import api

    with api(server) as http:
        assert http.get("/context").json() == SMALL_CONTEXT
        assert http.get("/repository").json() == ["a.org", "b.org"]
        listed = [image["id"] for image in http.get("/image").json()]
        assert "a.org/nb" in listed and IMAGE in listed
        refused = http.post("/session", data={"name": "x", "image": IMAGE})
        assert refused.text == f"session image '{IMAGE}' must come from one of [a.org, b.org]\n"
        cores = http.post("/session", data={"name": "x", "image": "b.org/x", "cores": "3"})
        assert cores.text == "Invalid value for 'cores': 3\n"
        gpus = http.post("/session", data={"name": "x", "image": "b.org/x", "gpus": "1"})
        assert gpus.text == "Invalid value for 'gpus': 1\n"
        create(http, image="a.org/nb", type="notebook")
        second = http.post("/session", data={"name": "x", "image": "a.org/nb", "type": "carta"})
        assert second.status_code == 400 and "maximum of 1 active sessions." in second.text
