"""`canfar events`: table, JSON, unknown ids, -w."""

from __future__ import annotations

import json

from tests.support.commands import create_done


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


def test_events_watch_ends_with_the_session(cli) -> None:
    sid = create_done(cli, "-n", "evw", "--", "true")[0]
    result = cli("events", "-w", sid)
    assert result.exit_code == 0
    assert "Completed" in result.stdout
