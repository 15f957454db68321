"""TAB offers session ids/names and image names from a cache in the user cache folder, which
the script refreshes in the background (`canfar completion-refresh`) when over a minute old."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import IMAGE
from tests.support.process import bash_complete

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def test_tab_offers_ids_names_and_images_refreshed_in_the_background(
    cli: Any, local_server: Any, isolated: Path
) -> None:
    made = cli("create", "notebook", "skaha/astroml", "-n", "mynb", server=local_server.url)
    session_id = made.stdout.strip()
    cache = isolated / "cache"
    env = {
        **os.environ,
        "CANFAR_URL": local_server.url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    # No cache yet: nothing offered now, and a refresh starts in the background.
    assert bash_complete("canfar info ", env) == []
    deadline = time.monotonic() + 60
    while not (cache / "complete-images").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (cache / "complete-ids").exists(), "the background refresh did not write the cache"
    assert set(bash_complete("canfar info ", env)) >= {session_id, "mynb"}
    assert bash_complete("canfar open my", env) == ["mynb"]
    assert IMAGE in bash_complete("canfar run images", env)
    assert "images.canfar.net/skaha/astroml:latest" in bash_complete(
        "canfar create notebook images.canfar.net/skaha/a", env
    )
    assert bash_complete("canfar create note", env) == ["notebook"]
    assert oct((cache / "complete-ids").stat().st_mode & 0o777) == "0o600"


def test_refresh_writes_the_cache_files(cli: Any, local_server: Any, isolated: Path) -> None:
    made = cli("create", "headless", IMAGE, "-n", "job", "--", "true", server=local_server.url)
    assert cli("completion-refresh", server=local_server.url).exit_code == 0
    words = (isolated / "cache" / "complete-ids").read_text().split()
    assert made.stdout.strip() in words and "job" in words
    assert "completion-refresh" not in cli("--help").stdout  # hidden
