"""`canfar stats`: table and JSON."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from canfar_cli.models import parse_time
from tests.support import IMAGE
from tests.support.commands import ids_of, sessions


def test_stats_table_and_json(cli) -> None:
    table = cli("stats")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["RESOURCE", "REQUESTED", "AVAILABLE"]
    assert lines[1].startswith("cores") and lines[2].startswith("RAM (GiB)")
    body = json.loads(cli("stats", "-o", "json").stdout)
    assert set(body) >= {"cores", "ram"}


@pytest.mark.e2e(long=True)  # runs jobs on the in-process platform (its supervisor)
def test_capacity_never_runs_more_than_it_has(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANFAR_LOCAL_CORES", "2")
    ids = ids_of(cli("create", "headless", IMAGE, "-r", "6", "-c", "1", "--", "sleep", "1"))
    most = 0
    started: dict[str, str] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = {s["id"]: s for s in sessions(cli)}
        running = [i for i in ids if listed[i]["status"] == "Running"]
        most = max(most, len(running))
        for i in ids:
            if "startTime" in listed[i]:
                started.setdefault(i, listed[i]["startTime"])
        if all(listed[i]["status"] == "Completed" for i in ids):
            break
        stats = json.loads(cli("stats", "-o", "json").stdout)
        assert stats["cores"]["cpuCoresAvailable"] == 2
        assert stats["cores"]["requestedCPUCores"] <= 2
        time.sleep(0.05)
    assert all(listed[i]["status"] == "Completed" for i in ids)
    assert 1 <= most <= 2
    # In creation order, and the ones that waited say why.
    # (as times: the server leaves out ":00" seconds, so the texts do not sort as times do)
    times = [parse_time(started[i]) for i in ids]
    assert times == sorted(times)
    queued = json.loads(cli("events", ids[-1], "-o", "json").stdout)
    assert any(
        e.get("reason") == "Queued" and "waiting for resources: needs 1 core" in e["message"]
        for e in queued
    )
