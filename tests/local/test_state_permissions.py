"""The state folder is private whatever the umask: folders 0700, files 0600 (the database and its
WAL/SHM, logs, tokens); a folder opened to others is fixed with a warning, one that belongs to
another user is refused in one line."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from canfar_cli.local.app import create_app
from canfar_cli.local.settings import LocalSettings
from canfar_cli.local.store import Store
from tests.support import IMAGE


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _everything(home: Path) -> list[Path]:
    return [home, *home.rglob("*")]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
@pytest.mark.anyio
async def test_everything_is_private_under_a_permissive_umask(
    tmp_path: Path, permissive_umask: None
) -> None:
    import anyio

    home = tmp_path / "deep" / "state"  # parents made by us are private too
    app = create_app(LocalSettings.from_env(home=home))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://local/skaha/v1"
        ) as client:
            made = await client.post(
                "/session",
                data={"name": "j", "image": IMAGE, "cmd": "echo", "args": "hi"},
            )
            assert made.status_code == 200, made.text
            session_id = made.text.strip()
            desk = await client.post(
                "/session", data={"name": "d", "image": IMAGE, "type": "desktop"}
            )
            app_made = await client.post(f"/session/{desk.text.strip()}/app", data={"image": IMAGE})
            assert app_made.status_code == 200
            with anyio.fail_after(30):
                while (await client.get(f"/session/{session_id}")).json()["status"] != "Completed":
                    await anyio.sleep(0.02)
        assert (home / "sessions" / session_id / "log").read_bytes() == b"hi\n"
        assert (home / "state.db-wal").exists()
        for path in [tmp_path / "deep", *_everything(home)]:
            if path.is_dir():
                assert _mode(path) == 0o700, path
            else:
                assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))
    finally:
        from tests.support.loopback import kill_platform_processes

        kill_platform_processes(home)


def test_a_folder_opened_to_others_is_fixed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "state"
    Store(home).close()
    home.chmod(0o755)
    (home / "state.db").chmod(0o644)
    (home / "sessions").chmod(0o777)
    (home / "supervisor.log").write_text("")
    (home / "supervisor.log").chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="canfar_cli.local"):
        Store(home).close()
    assert _mode(home) == 0o700
    assert _mode(home / "sessions") == 0o700
    assert _mode(home / "state.db") == 0o600
    assert _mode(home / "supervisor.log") == 0o600
    warned = [r.getMessage() for r in caplog.records if "open to other users" in r.getMessage()]
    assert len(warned) == 4 and any("0755" in text for text in warned)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="canfar_cli.local"):
        Store(home).close()
    assert not caplog.records  # nothing left to fix


def test_a_folder_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "state"
    home.mkdir(mode=0o700)
    real_uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 4242)
    with pytest.raises(PermissionError, match="belongs to another user"):
        Store(home)
    assert not (home / "state.db").exists()  # nothing made in someone else's folder


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_serve_refuses_a_folder_of_another_user_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "theirs"
    home.mkdir(mode=0o700)
    os.chown(home, 4242, 4242)
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "local", "serve", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and "belongs to another user" in lines[0]
    assert "Traceback" not in result.stderr
