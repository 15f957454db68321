"""`canfar stats`: table and JSON."""

from __future__ import annotations

import json


def test_stats_table_and_json(cli) -> None:
    table = cli("stats")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["RESOURCE", "REQUESTED", "AVAILABLE"]
    assert lines[1].startswith("cores") and lines[2].startswith("RAM (GiB)")
    body = json.loads(cli("stats", "-o", "json").stdout)
    assert set(body) >= {"cores", "ram"}
