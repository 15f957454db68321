"""Crashes and restarts: a dead supervisor or a reboot leaves a session Failed, never stuck
Running; sessions outlive the process that created them and the server that served them."""

from __future__ import annotations

import os
import signal
import sqlite3
from typing import Any

import httpx

from tests.support.api import api, create, wait_for, wait_until
from tests.support.loopback import pid_alive


def pids_of(home: Any, session_id: str) -> tuple[int, int]:
    """(supervisor pid, job pid) recorded for a headless session."""
    with sqlite3.connect(home / "state.db") as db:
        return db.execute(
            "SELECT runner_pid, job_pid FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()


def test_dead_supervisor_fails_the_session_and_ends_the_job(
    client: httpx.Client, local_server: Any
) -> None:
    session_id = create(client, cmd="sleep", args="300")
    wait_for(client, session_id, ("Running",))
    supervisor, job = pids_of(local_server.home, session_id)
    assert pid_alive(supervisor) and pid_alive(job)
    os.kill(supervisor, signal.SIGKILL)
    record = wait_for(client, session_id, ("Failed",))
    assert record["status"] == "Failed"
    events = client.get(f"/session/{session_id}?view=events").text
    assert "SupervisorDied" in events and f"pid {supervisor}" in events
    wait_until(lambda: not pid_alive(job), what="the orphaned job to be ended")


def test_reboot_fails_active_sessions(client: httpx.Client, local_server: Any) -> None:
    session_id = create(client, cmd="sleep", args="300")
    wait_for(client, session_id, ("Running",))
    supervisor, job = pids_of(local_server.home, session_id)
    # A reboot changes the boot id; pretend the session was recorded in an earlier boot.
    with sqlite3.connect(local_server.home / "state.db") as db:
        db.execute("UPDATE sessions SET boot_id = 'an-earlier-boot' WHERE id = ?", (session_id,))
    wait_for(client, session_id, ("Failed",))
    assert "NodeRebooted" in client.get(f"/session/{session_id}?view=events").text
    # (After a real reboot nothing of it runs; here the processes are still ours to end.)
    os.killpg(job, signal.SIGKILL)
    os.kill(supervisor, signal.SIGKILL)


def test_sessions_outlive_the_server(serve_local: Any) -> None:
    first = serve_local()
    with api(first) as http:
        session_id = create(http, cmd="sh", args="-c sleep\t1;echo\tdone")
        wait_for(http, session_id, ("Running",))
    first.stop()  # killed outright while the job runs
    second = serve_local()
    with api(second) as http:
        record = wait_for(http, session_id, ("Completed", "Failed"))
        assert record["status"] == "Completed"
        assert http.get(f"/session/{session_id}?view=logs").text == "done\n"


def test_sessions_outlive_the_in_process_client(local_server: Any) -> None:
    """The supervisor is detached: a client process that creates a job in-process and exits at once
    leaves the job running to its end."""
    import subprocess
    import sys

    code = (
        "import anyio, httpx\n"
        "from canfar_cli.local.app import create_app\n"
        "async def main():\n"
        "    t = httpx.ASGITransport(app=create_app())\n"
        "    async with httpx.AsyncClient(transport=t, base_url='http://local/skaha') as c:\n"
        "        r = await c.post('/v1/session', data={'name': 'x', 'cmd': 'sh',\n"
        "            'args': '-c sleep\\t1;echo\\tlater',\n"
        "            'image': 'images.canfar.net/skaha/terminal:1.1.1'})\n"
        "        print(r.text, end='')\n"
        "anyio.run(main)\n"
    )
    env = dict(os.environ, CANFAR_LOCAL_HOME=str(local_server.home))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    session_id = result.stdout.strip()
    with api(local_server) as http:
        assert wait_for(http, session_id, ("Completed", "Failed"))["status"] == "Completed"
        assert http.get(f"/session/{session_id}?view=logs").text == "later\n"


def test_supervisor_stopped_by_a_signal_ends_the_job_and_says_so(serve_local: Any) -> None:
    server = serve_local(grace_seconds=1)
    with api(server) as http:
        session_id = create(http, cmd="sleep", args="300")
        wait_for(http, session_id, ("Running",))
        supervisor, job = pids_of(server.home, session_id)
        os.kill(supervisor, signal.SIGTERM)  # e.g. a shutdown, not a DELETE: the session stays
        wait_for(http, session_id, ("Failed",))
        events = http.get(f"/session/{session_id}?view=events").text
        assert "killed by SIGTERM (the supervisor was asked to stop)" in events
        assert not pid_alive(job)
        wait_until(lambda: not pid_alive(supervisor), what="the supervisor to exit")
        # The next create starts a new supervisor.
        later = create(http, cmd="true")
        assert wait_for(http, later, ("Completed", "Failed"))["status"] == "Completed"
        assert pids_of(server.home, later)[0] != supervisor
