"""`canfar info`: blocks, JSON, unknown ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import IMAGE
from tests.support.commands import create_done
from tests.support.process import run_canfar


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_info_blocks_json_and_unknown_ids(cli) -> None:
    sid = create_done(cli, "-n", "inf", "--", "true")[0]
    block = cli("info", sid)
    assert block.exit_code == 0
    assert "ID:" in block.stdout and sid in block.stdout
    # A finished job has nothing left to expire (issue 13).
    assert "Expires:" in block.stdout and "(in " not in block.stdout
    assert "- (ended)" in block.stdout

    # One id: still an array (issue 13).
    [single] = json.loads(cli("info", sid, "-o", "json").stdout)
    assert single["id"] == sid and single["status"] == "Completed"

    partial = cli("info", sid, "zzzzzzzz")
    assert partial.exit_code == 1
    assert sid in partial.stdout
    assert "zzzzzzzz" in partial.stderr and "not found" in partial.stderr

    missing = cli("info", "zzzzzzzz", "yyyyyyyy")
    assert missing.exit_code == 4
    assert missing.stdout == ""


def test_an_id_with_a_line_break_is_refused_not_an_internal_error(cli) -> None:
    # Found by the property test: "0\n" passed the id pattern and httpx refused the URL;
    # now it is refused before anything is sent.
    result = cli("info", "0\n")
    assert result.exit_code == 2, result.stderr
    assert "is not a session id" in result.stderr
    assert "internal error" not in result.stderr


def test_info_json_is_an_array_for_one_id(cli: Any) -> None:
    created = cli("create", "headless", IMAGE, "--", "true")
    session_id = created.stdout.strip()
    info = run_canfar(["info", session_id, "-o", "json", "--server", "local"])  # a real process
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)[0]["id"] == session_id
    logs = cli("logs", session_id, "-o", "json")
    assert [set(item) for item in json.loads(logs.stdout)] == [{"id", "name", "log"}]
    events = cli("events", session_id, "--json")
    assert all(event["id"] == session_id for event in json.loads(events.stdout))
