"""Issue 20, item 9: CPU and RAM shown one way in every table, RAM in GiB (the unit of `-m`),
the unit said once; flexible sessions show the ceiling everywhere."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cli.fakes import state_with
from tests.support import IMAGE
from tests.support.commands import create_done


def rows(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    return {line.split()[0]: line.split() for line in lines[1:]}


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_fixed_and_flexible_sessions_in_ps_wide_and_prune(cli) -> None:
    (fixed,) = create_done(cli, "-n", "fixed", "-c", "2", "-m", "8", "--", "true")
    (flexible,) = create_done(cli, "-n", "flex", "--", "true")
    for argv in (["ps", "-a"], ["ps", "-a", "-o", "wide"], ["prune", "--dry-run"]):
        result = cli(*argv)
        assert result.exit_code == 0, result.stderr
        header = result.stdout.splitlines()[0].split()
        assert header[5:7] == ["CPU", "RAM(GiB)"], argv
        table = rows(result.stdout)
        assert table[fixed][5:7] == ["2", "8"], argv  # -m 8 is 8 GiB (the server says 8.59 GB)
        assert table[flexible][5:7] == ["≤8", "≤32"], argv  # up to /context's defaultLimit


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_info_shows_ram_in_gib(cli) -> None:
    (sid,) = create_done(cli, "-m", "8", "--", "true")
    lines = cli("info", sid).stdout.splitlines()
    assert "RAM (GiB):       8" in lines
    assert not any("GB" in line for line in lines)


def test_stats_says_gib_once_and_converts_every_figure(cli) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = {
            "cores": {
                "requestedCPUCores": 12.5,
                "cpuCoresAvailable": 256.0,
                "maxCPUCores": {"cpuCores": 8.0, "withRam": "32Gi"},
            },
            "ram": {
                "requestedRAM": "12.88G",
                "ramAvailable": "1024Gi",
                "maxRAM": {"ram": "32G", "withCPUCores": 8.0},  # a LimitRange's G is GiB
            },
        }
        return httpx.Response(200, json=body)

    result = cli("stats", server="http://h/skaha", obj=state_with(handler))
    assert result.exit_code == 0, result.stderr
    table = result.stdout.splitlines()
    assert table[1].split() == ["cores", "12.5", "256", "8", "(with", "32", "GiB", "RAM)"]
    assert table[2].split() == ["RAM", "(GiB)", "12", "1024", "32", "(with", "8", "cores)"]
    assert "Gi " not in result.stdout and "G " not in result.stdout


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_the_server_json_is_left_as_it_is(cli) -> None:
    (sid,) = create_done(cli, "-m", "8", "--", "true")
    result = cli("info", sid, "-o", "json")
    assert '"requestedRAM": "8.59"' in result.stdout  # data is the server's, only tables convert
    assert cli("create", "headless", IMAGE, "--dry-run", "-m", "8", "--", "true").exit_code == 0
