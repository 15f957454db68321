"""Issue 20, items 10 and 12: what `images` says of desktop-app, the warning of `create` for an
image published for other kinds (the server starts it anyway), and the public image list of the
local platform as CANFAR publishes it."""

from __future__ import annotations

import json

import pytest

from tests.support import IMAGE


def test_images_shows_desktop_app_as_an_app_inside_a_desktop(cli) -> None:
    result = cli("images")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "KINDS", "IN", "DESKTOP"]
    table = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert table[IMAGE] == ["headless", "yes"]
    assert table["images.canfar.net/skaha/ds9:8.6"] == ["-", "yes"]
    assert "desktop-app" not in result.stdout  # a kind create does not take is not listed as one
    raw = json.loads(cli("images", "-o", "json").stdout)  # the data stays the server's
    assert {"headless", "desktop-app"} <= set(next(i for i in raw if i["id"] == IMAGE)["types"])
    apps = set(cli("images", "-k", "desktop-app", "-q").stdout.split())
    assert apps == {"images.canfar.net/skaha/ds9:8.6", IMAGE}


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_create_of_an_image_published_for_other_kinds_warns_and_sends(cli) -> None:
    result = cli("create", "notebook", "skaha/terminal:1.1.1")
    assert result.exit_code == 0  # PostAction checks the registry host only, so canfar too
    assert len(result.stdout.split()) == 1
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: images.canfar.net/skaha/terminal:1.1.1 is published")
    assert "for headless (and as a desktop app), not for notebook" in warning
    app = cli("create", "notebook", "skaha/ds9:8.6")
    assert "only as an app inside a desktop session" in app.stderr
    quiet = cli("create", "headless", "skaha/terminal:1.1.1", "--", "true")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    ran = cli("run", "skaha/base-notebook:latest", "--", "true")
    assert "published for notebook, not for headless" in ran.stderr


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_images_the_official_client_uses_are_public_locally(cli) -> None:
    listed = set(cli("images", "-q").stdout.split())
    # The official client's live tests create terminal:1.1.2; its docs list the others.
    for image in ("skaha/terminal:1.1.2", "skaha/lensfit:22.11", "uvickbos/swarp:0.1"):
        assert f"images.canfar.net/{image}" in listed
    made = cli("create", "headless", "images.canfar.net/skaha/terminal:1.1.2", "--", "true")
    assert made.exit_code == 0, made.stderr
    private = cli("create", "headless", "images.canfar.net/skaha/terminal:9.9.9", "--", "true")
    assert private.exit_code == 1 and "unknown or private image" in private.stderr
