"""Interactive sessions against the live platform's rules, through the real command and the
local platform on a loopback socket: image names, flexible sizes, sizes checked against
/context, private images, open, renew, images, limits (issue 10)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx

from tests.support import IMAGE, SMALL_CONTEXT

SECRET = "s3cr3t-do-not-show"


def test_create_notebook_sends_latest_and_is_flexible(cli: Any, local_server: Any) -> None:
    url = local_server.url
    plan = cli("create", "notebook", "skaha/astroml", "--dry-run", server=url)
    assert plan.exit_code == 0, plan.stderr
    assert "image=images.canfar.net/skaha/astroml:latest\n" in plan.stdout
    assert "cores=" not in plan.stdout and "ram=" not in plan.stdout
    made = cli("create", "notebook", "skaha/astroml", server=url)
    assert made.exit_code == 0, made.stderr
    session_id = made.stdout.strip()
    [record] = json.loads(cli("info", session_id, "-o", "json", server=url).stdout)
    assert record["image"] == "images.canfar.net/skaha/astroml:latest"
    assert record["isFixedResources"] is False
    assert "requestedRAM" not in record and "requestedCPUCores" not in record
    # -c/-m given: fixed, as before.
    fixed = cli("create", "headless", IMAGE, "-c", "2", "-m", "4", "--", "true", server=url)
    assert fixed.exit_code == 0, fixed.stderr
    [again] = json.loads(cli("info", fixed.stdout.strip(), "-o", "json", server=url).stdout)
    assert again["isFixedResources"] is True and again["requestedRAM"] == "4.29"
    # ps tells the two apart.
    listing = cli("ps", "-a", "-o", "wide", server=url)
    assert "FIXED" in listing.stdout.splitlines()[0]
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows[session_id][5:7] == ["≤8", "≤32"]  # up to the context's defaultLimit (GiB)
    assert rows[fixed.stdout.strip()][5:7] == ["2", "4"]  # -m 4: 4 GiB (4.29 decimal GB)


def test_a_digest_and_a_tag_are_kept(cli: Any) -> None:
    digest = "images.canfar.net/skaha/terminal@sha256:" + "a" * 64
    for given, sent in (
        (digest, digest),
        ("skaha/terminal:1.1.1", IMAGE),
        ("localhost:5000/x/y", "localhost:5000/x/y:latest"),
    ):
        plan = cli("create", "headless", given, "-n", "x", "--dry-run", "--", "true")
        assert plan.exit_code == 0, plan.stderr
        assert f"image={sent}\n" in plan.stdout


def test_ram_3_is_refused_before_sending(cli: Any, local_server: Any, isolated: Path) -> None:
    url = local_server.url
    refused = cli("create", "notebook", "skaha/astroml", "-m", "3", server=url)
    assert refused.exit_code == 2
    assert "ram=3" in refused.stderr
    assert "hint: ram may be one of: 1-2, 4, 6, 8" in refused.stderr
    assert cli("ps", "-a", "-q", server=url).stdout == ""  # nothing was created
    gpus = cli("create", "headless", IMAGE, "-g", "99", "--", "true", server=url)
    assert gpus.exit_code == 2 and "1-28" in gpus.stderr
    # The context came from one request and is cached, private to the user.
    cached = list((isolated / "cache").glob("context-*.json"))
    assert len(cached) == 1
    assert stat.S_IMODE(cached[0].stat().st_mode) == 0o600
    assert json.loads(cached[0].read_text())["memoryGB"]["defaultLimit"] == 32


def test_a_broken_cached_context_is_read_again(cli: Any, local_server: Any) -> None:
    from canfar_cli import cache

    cache.write("context", local_server.url + "/v1", ["not", "a", "context"])
    refused = cli("create", "headless", IMAGE, "-c", "99", "--", "true", server=local_server.url)
    assert refused.exit_code == 2 and "cores may be one of: 1-16" in refused.stderr
    assert cache.read("context", local_server.url + "/v1", 60)["cores"]["defaultLimit"] == 8


def test_private_image_needs_registry_credentials(
    cli: Any, local_server: Any, isolated: Path, monkeypatch: Any
) -> None:
    url = local_server.url
    private = "images.canfar.net/skaha/astroml-private:1"
    refused = cli("create", "headless", private, "--", "true", server=url)
    assert refused.exit_code == 1
    assert "No authentication provided for unknown or private image." in refused.stderr
    assert "skaha/astroml:latest" in refused.stderr  # the closest public image
    assert "--registry-user" in refused.stderr and "CANFAR_LOCAL_IMAGES" in refused.stderr
    secret_file = isolated / "secret"
    secret_file.write_text(SECRET + "\n")
    args = ["create", "headless", private, "--registry-user", "bob"]
    shown = cli(*args, "--registry-secret-file", str(secret_file), "--dry-run", "--", "true")
    assert shown.exit_code == 0 and "X-Skaha-Registry-Auth: <hidden>" in shown.stdout
    made = cli("-v", *args, "--registry-secret-file", str(secret_file), "--", "true", server=url)
    assert made.exit_code == 0, made.stderr
    # From the environment and from the config file as well.
    monkeypatch.setenv("CANFAR_REGISTRY_SECRET", SECRET)
    from_env = cli(*args, "--", "true", server=url)
    assert from_env.exit_code == 0, from_env.stderr
    monkeypatch.delenv("CANFAR_REGISTRY_SECRET")
    cli("config", "set", "registry_user", "bob")
    cli("config", "set", "registry_secret_file", str(secret_file))
    from_config = cli("create", "headless", private, "--", "true", server=url)
    assert from_config.exit_code == 0, from_config.stderr
    config = cli("config", "show")
    assert "registry_user" in config.stdout and str(secret_file) not in config.stdout
    encoded = base64.b64encode(f"bob:{SECRET}".encode()).decode()
    for result in (refused, shown, made, from_env, from_config, config):
        assert SECRET not in result.stdout + result.stderr
        assert encoded not in result.stdout + result.stderr
    assert "POST" in made.stderr  # -v logged the request, without the header's value
    # A user with no secret anywhere is a setting error, refused before sending.
    cli("config", "unset", "registry_secret_file")
    lonely = cli("create", "headless", private, "--", "true", server=url)
    assert lonely.exit_code == 2 and "has no secret" in lonely.stderr


def test_open_print_on_a_running_notebook(cli: Any, local_server: Any) -> None:
    url = local_server.url
    session_id = cli("create", "notebook", "skaha/astroml", server=url).stdout.strip()
    opened = cli("open", "--print", "--wait", session_id, server=url)
    assert opened.exit_code == 0, opened.stderr
    link = opened.stdout.strip()
    host = url.removesuffix("/skaha")
    path = f"/session/notebook/{session_id}/lab/tree/home/{local_server.user}"
    assert link == f"{host}{path}?token={session_id}"
    page = httpx.get(link, timeout=30)
    assert page.status_code == 200 and "emulated" in page.text.lower()
    # A headless session has no URL: one line, exit 1; an unknown id: exit 4.
    job = cli("create", "headless", IMAGE, "--", "sleep", "30", server=url).stdout.strip()
    none = cli("open", "--print", job, server=url)
    assert none.exit_code == 1 and none.stderr.count("error:") == 1
    assert cli("open", "--print", "zzzzzzzz", server=url).exit_code == 4
    cli("rm", "-f", job, server=url)


def test_renew_prints_the_renewed_and_reports_failures(cli: Any, local_server: Any) -> None:
    url = local_server.url
    session_id = cli("create", "desktop", "skaha/desktop", server=url).stdout.strip()
    assert cli("open", "--print", "--wait", session_id, server=url).exit_code == 0
    before = json.loads(cli("info", session_id, "-o", "json", server=url).stdout)[0]
    renewed = cli("renew", session_id, "-o", "json", server=url)
    assert renewed.exit_code == 0, renewed.stderr
    assert json.loads(renewed.stdout) == [{"id": session_id, "renewed": True}]
    after = json.loads(cli("info", session_id, "-o", "json", server=url).stdout)[0]
    assert after["expiryTime"] >= before["expiryTime"]
    table = cli("renew", "--all", server=url)
    assert table.exit_code == 0 and table.stdout.split() == [session_id]
    partial = cli("renew", session_id, "zzzzzzzz", server=url)
    assert partial.exit_code == 1
    assert "No active job for user" in partial.stderr and session_id in partial.stdout
    assert cli("renew", server=url).exit_code == 2


def test_images_and_limits(cli: Any, local_server: Any) -> None:
    url = local_server.url
    ids = cli("images", "-q", server=url).stdout.split()
    assert IMAGE in ids and "images.canfar.net/skaha/astroml:latest" in ids
    notebooks = cli("images", "-k", "notebook", "-o", "json", server=url)
    assert all("notebook" in image["types"] for image in json.loads(notebooks.stdout))
    table = cli("images", server=url).stdout
    assert table.startswith("IMAGE") and "headless" in table
    limits = json.loads(cli("limits", "-o", "json", server=url).stdout)
    assert limits["flexible"]["cores"] == {"request": 1.0, "limit": 8.0}
    assert limits["flexible"]["ramGiB"]["limit"] == 32.0
    assert 3 not in limits["fixed"]["ramGiB"] and limits["maxInteractiveSessions"] == 5
    shown = cli("limits", server=url).stdout
    assert "4 GiB up to 32 GiB" in shown and "at most 5 at once" in shown


def test_the_interactive_limit_is_the_servers(cli: Any, serve_local: Any, tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    path.write_text(json.dumps(SMALL_CONTEXT))
    server = serve_local(env={"CANFAR_LOCAL_CONTEXT": str(path)})
    assert "at most 1 at once" in cli("limits", server=server.url).stdout
    assert cli("create", "carta", "skaha/carta:4.1", server=server.url).exit_code == 0
    second = cli("create", "carta", "skaha/carta:4.1", server=server.url)
    assert second.exit_code == 1 and "maximum of 1 active sessions" in second.stderr
    assert os.path.exists(path)


def test_open_and_renew_take_a_session_name(cli: Any, local_server: Any) -> None:
    url = local_server.url
    made = cli("create", "notebook", "skaha/astroml", "-n", "mynb", server=url)
    session_id = made.stdout.strip()
    opened = cli("open", "--print", "--wait", "mynb", server=url)
    assert opened.exit_code == 0, opened.stderr
    assert f"/session/notebook/{session_id}/" in opened.stdout
    renewed = cli("renew", "mynb", "-o", "json", server=url)
    assert renewed.exit_code == 0, renewed.stderr
    assert [entry["id"] for entry in json.loads(renewed.stdout)] == [session_id]


def test_interactive_limit_has_a_hint(cli: Any) -> None:
    for _ in range(5):
        assert cli("create", "notebook", IMAGE).exit_code == 0
    result = cli("create", "notebook", IMAGE)
    assert result.exit_code == 1
    assert "maximum of 5" in result.stderr
    assert "hint:" in result.stderr and "canfar rm" in result.stderr
