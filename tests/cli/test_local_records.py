"""Issue 20, item 1: `-m` without `-c` is stored and listed as skaha does it, and one damaged
record never fails a listing (nor the `rm` that removes it); the in-process platform's own log
goes to server.log, never the user's stderr."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from canfar_cli.local.app import LocalApp
from tests.support import IMAGE
from tests.support.commands import create_done, sessions


def state_db() -> Path:
    return Path(os.environ["CANFAR_LOCAL_HOME"]) / "state.db"


def damage(session_id: str, **columns: Any) -> None:
    """Write raw values into a session's row, as a bug or an older version might have."""
    db = sqlite3.connect(state_db())
    try:
        with db:
            for column, value in columns.items():
                db.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?", (value, session_id))
    finally:
        db.close()


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_ram_alone_is_fixed_ram_with_the_default_cores_request(cli) -> None:
    (sid,) = create_done(cli, "-m", "4", "--", "true")
    (record,) = sessions(cli)
    # PostAction.ResourceSpecification: RAM request = limit = 4 GiB (fixed, shown in decimal
    # GB), cores keep their flexible default request (/context defaultRequest), shown as such.
    assert record["isFixedResources"] is True
    assert record["requestedRAM"] == "4.29"
    assert record["requestedCPUCores"] == "1"
    for argv in (["ps"], ["info", sid], ["logs", sid], ["events", sid], ["wait", sid]):
        result = cli(*argv)
        assert result.exit_code == 0, (argv, result.stderr)
        assert "Traceback" not in result.stderr
    assert cli("rm", "-f", sid).stdout == f"{sid}\n"
    assert sessions(cli) == []


def test_ram_alone_over_a_real_socket(cli, local_server) -> None:
    """The same through `canfar local serve` (a real HTTP server, its token required)."""
    result = cli("create", "headless", IMAGE, "-m", "4", "--wait", "--", "true",
                 server=local_server.url)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (record,) = sessions(cli, local_server.url)
    assert (record["requestedRAM"], record["requestedCPUCores"]) == ("4.29", "1")
    assert cli("prune", "-f", server=local_server.url).exit_code == 0


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_row_of_an_older_version_without_cores_lists_with_the_default(cli) -> None:
    (sid,) = create_done(cli, "-m", "8", "--", "true")
    damage(sid, cores=None)  # what the version before this fix stored for `-m 8` alone
    (record,) = sessions(cli)
    assert (record["requestedRAM"], record["requestedCPUCores"]) == ("8.59", "1")


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_damaged_record_is_named_in_the_log_and_never_fails_a_listing(cli) -> None:
    bad, good = create_done(cli, "-r", "2", "--", "true")
    damage(bad, start_time="not a time")
    result = cli("ps", "-a", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    listed = {s["id"]: s for s in json.loads(result.stdout)}
    assert set(listed) == {bad, good}
    assert "startTime" in listed[good] and "startTime" not in listed[bad]
    assert listed[bad]["status"] == "Completed"  # what could be read of it is shown
    log = (Path(os.environ["CANFAR_LOCAL_HOME"]) / "server.log").read_text()
    assert f"session {bad}" in log and "damaged" in log
    assert cli("info", bad).exit_code == 0
    # ... and it can be removed, which needs a look-up first.
    assert cli("rm", "-f", bad).stdout == f"{bad}\n"
    assert [s["id"] for s in sessions(cli)] == [good]


def test_an_in_process_server_error_keeps_its_traceback_off_the_users_stderr(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: LocalApp) -> dict[str, Any]:
        raise TypeError("a bug in the platform")

    monkeypatch.setattr(LocalApp, "stats", broken)
    result = cli("stats")
    assert result.exit_code == 5
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and "server.log" in lines[0]
    log = Path(os.environ["CANFAR_LOCAL_HOME"]) / "server.log"
    assert "Traceback" in log.read_text() and "a bug in the platform" in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
