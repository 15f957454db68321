"""Headless jobs really run: output and env in the log, exit codes to statuses, events, DELETE."""

from __future__ import annotations

import re
import sys
from typing import Any

import httpx

from tests.support.api import api, create, wait_for, wait_until
from tests.support.loopback import pid_alive


def test_job_log_holds_output_and_env(client: httpx.Client, local_server: Any) -> None:
    session_id = create(
        client,
        name="EnvJob",
        cmd="sh",
        args="-c env;echo;echo;echo",
        env=["FOO=bar", "REPLICA_ID=3", "DROPPED=a=b"],
    )
    assert re.fullmatch(r"[a-z][a-z0-9]{7}", session_id)
    record = wait_for(client, session_id, ("Completed", "Failed"))
    assert record["status"] == "Completed"
    assert record["name"] == "envjob"
    log = client.get(f"/session/{session_id}", params={"view": "logs"})
    assert log.status_code == 200
    assert log.headers["content-type"] == "text/plain"
    lines = set(log.text.splitlines())
    assert {"FOO=bar", "REPLICA_ID=3", f"skaha_sessionid={session_id}"} <= lines
    assert f"skaha_username={local_server.user}" in lines
    assert "OMP_NUM_THREADS=1" in lines
    assert any(line.startswith("skaha_hostname=") for line in lines)
    home = f"HOME={local_server.home}/home/{local_server.user}"
    assert home in lines
    assert not any(line.startswith("DROPPED=") for line in lines)


def test_exit_zero_completes_with_events(client: httpx.Client) -> None:
    session_id = create(client, cmd="echo", args="hello world")
    record = wait_for(client, session_id, ("Completed", "Failed"))
    assert record["status"] == "Completed"
    assert "startTime" in record and "expiryTime" in record
    assert client.get(f"/session/{session_id}?view=logs").text == "hello world\n"
    events = client.get(f"/session/{session_id}", params={"view": "events"})
    assert events.status_code == 200
    lines = events.text.splitlines()
    assert lines[0].split() == ["TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME"]
    reasons = [line.split()[1] for line in lines[1:]]
    assert reasons[0] == "Scheduled" and "Started" in reasons and reasons[-1] == "Completed"
    assert re.search(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", lines[1]
    )


def test_exit_three_fails_with_the_code_in_an_event(client: httpx.Client) -> None:
    session_id = create(client, cmd=sys.executable, args="-c raise(SystemExit(3))")
    record = wait_for(client, session_id, ("Completed", "Failed"))
    assert record["status"] == "Failed"
    events = client.get(f"/session/{session_id}?view=events").text
    assert "exited with code 3" in events
    assert events.splitlines()[-1].split()[0] == "Warning"


def test_headless_without_cmd_fails_saying_why(client: httpx.Client) -> None:
    session_id = create(client)
    wait_for(client, session_id, ("Failed",))
    assert "no cmd given" in client.get(f"/session/{session_id}?view=events").text


def test_delete_ends_the_whole_process_group(serve_local: Any) -> None:
    server = serve_local(grace_seconds=1)
    # The job starts a child, and a grandchild that ignores SIGTERM, prints the three pids and
    # waits. (args is split on single spaces, so the script goes in a file.)
    script = server.home / "spawn.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        "sleep 300 & a=$!\nsh -c 'trap \"\" TERM; sleep 300; :' & b=$!\necho $$ $a $b\nwait\n"
    )
    with api(server) as client:
        session_id = create(client, cmd="sh", args=str(script))
        wait_for(client, session_id, ("Running",))
        log = wait_until(
            lambda: client.get(f"/session/{session_id}?view=logs").text.strip(), what="pids"
        )
        pids = [int(p) for p in log.split()]
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
        response = client.delete(f"/session/{session_id}")
        assert response.status_code == 200 and response.text == ""
        # Gone at once; every process of the group ends, the one ignoring SIGTERM after the
        # grace period.
        assert client.get(f"/session/{session_id}").status_code == 404
        wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=30, what="the group")
        wait_until(
            lambda: not (server.home / "sessions" / session_id).exists(), what="files removed"
        )


def test_a_running_job_reports_its_usage(client: httpx.Client) -> None:
    session_id = create(client, cmd="sleep", args="300")
    record = wait_for(client, session_id, ("Running",))
    assert float(record["ramInUse"]) >= 0 and float(record["cpuCoresInUse"]) >= 0
    listed = {s["id"]: s for s in client.get("/session").json()}
    assert "ramInUse" in listed[session_id]
    done = create(client, cmd="true")
    record = wait_for(client, done, ("Completed",))
    assert "ramInUse" not in record and "cpuCoresInUse" not in record
    client.delete(f"/session/{session_id}")
