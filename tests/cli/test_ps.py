"""`canfar ps`: filters, formats and columns."""

from __future__ import annotations

import json
from typing import Any

from canfar_cli.cli.present import span
from tests.support import IMAGE
from tests.support.api import wait_until
from tests.support.commands import create_done


def test_ps_filters_and_formats(cli, local_server) -> None:
    url = local_server.url
    done = create_done(cli, "-n", "done", "--", "true", server=url)[0]
    running = cli("create", "headless", IMAGE, "-n", "long", "--", "sleep", "300", server=url)
    long_id = running.stdout.strip()
    wait_until(lambda: cli("ps", "-q", server=url).stdout.split() == [long_id])

    table = cli("ps", server=url)
    header = table.stdout.splitlines()[0].split()
    assert header == [
        "ID",
        "NAME",
        "KIND",
        "STATUS",
        "IMAGE",
        "CPU",
        "RAM(GiB)",
        "GPU",
        "AGE",
        "EXPIRES",
    ]
    assert long_id in table.stdout and done not in table.stdout
    # EXPIRES: time left for a live session, nothing for one that has finished.
    rows = {
        line.split()[0]: line.split() for line in cli("ps", "-a", server=url).stdout.splitlines()
    }
    assert rows[long_id][-2:] == ["in", "13d"]  # a headless job's 14 days, less a moment
    assert rows[done][-1] == "-"

    assert set(cli("ps", "-a", "-q", server=url).stdout.split()) == {done, long_id}
    assert cli("ps", "-s", "completed", "-q", server=url).stdout.split() == [done]
    assert cli("ps", "-a", "--name", "do*", "-q", server=url).stdout.split() == [done]
    assert cli("ps", "-a", "-k", "notebook", "-q", server=url).stdout == ""
    objects = json.loads(cli("ps", "-a", "-o", "json", server=url).stdout)
    assert {o["id"] for o in objects} == {done, long_id}
    assert all("startTime" in o for o in objects)
    wide = cli("ps", "-a", "-o", "wide", server=url).stdout.splitlines()[0].split()
    assert wide[:10] == header and "USER" in wide

    assert cli("rm", "-f", long_id, server=url).exit_code == 0


def test_ps_refuses_contradicting_formats_and_watch_without_terminal(cli) -> None:
    assert cli("ps", "-q", "--json").exit_code == 2
    assert cli("ps", "-o", "table", "--json").exit_code == 2
    watch = cli("ps", "-w")
    assert watch.exit_code == 2
    assert "terminal" in watch.stderr


def test_spans() -> None:
    assert [span(s) for s in (5, 600, 3600 * 3 + 60 * 20, 86400 * 3 + 3600 * 4, 86400 * 13)] == [
        "5s",
        "10m",
        "3h20m",
        "3d4h",
        "13d",
    ]


def test_global_options_after_the_subcommand(cli: Any) -> None:
    result = cli("ps", "-a", "--server", "local", "-v", server=None)
    assert result.exit_code == 0, result.stderr
    assert "GET" in result.stderr  # -v took effect
    # After the subcommand wins over before it.
    assert cli("ps", "--server", "local", server="http://127.0.0.1:9/skaha").exit_code == 0
    assert "--server" in cli("ps", "--help").stdout
