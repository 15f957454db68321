"""`canfar events`: table, JSON, unknown ids, -w."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.commands import create_done


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_events_table_json_and_unknown(cli) -> None:
    sid = create_done(cli, "-n", "ev", "--", "true")[0]
    table = cli("events", sid)
    assert table.exit_code == 0
    assert table.stdout.split("\n", 1)[0].split() == [
        "TYPE",
        "REASON",
        "MESSAGE",
        "FIRST-TIME",
        "LAST-TIME",
    ]
    assert "Completed" in table.stdout
    objects = json.loads(cli("events", sid, "--json").stdout)
    assert isinstance(objects, list) and {"type", "reason", "message"} <= set(objects[0])
    assert cli("events", "zzzzzzzz").exit_code == 4


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_events_watch_ends_with_the_session(cli) -> None:
    sid = create_done(cli, "-n", "evw", "--", "true")[0]
    result = cli("events", "-w", sid)
    assert result.exit_code == 0
    assert "Completed" in result.stdout


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_events_of_several_sessions_are_headed_with_names(cli: Any) -> None:
    a = create_done(cli, "-n", "alpha", "--", "true")[0]
    b = create_done(cli, "-n", "beta", "--", "true")[0]
    result = cli("events", a, b)
    assert f"==> alpha ({a}) <==" in result.stdout
    assert f"==> beta ({b}) <==" in result.stdout


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_events_watch_rows_are_aligned(cli: Any) -> None:
    sid = create_done(cli, "--", "true")[0]
    lines = cli("events", "-w", sid).stdout.splitlines()
    assert lines[0].split() == ["TYPE", "REASON", "FIRST-TIME", "LAST-TIME", "MESSAGE"]
    column = lines[0].index("FIRST-TIME")
    assert len(lines) >= 4
    for line in lines[1:]:
        assert line[column - 3 : column] == "   "
        assert line[column : column + 20].endswith("Z")  # a time starts in every row's column
