"""One supervisor per state folder: it runs every job, is started on demand, exits when idle,
is the only one (a lock), and ends the jobs of a supervisor that died before it."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import api, create, wait_for, wait_until
from tests.support.loopback import job_pids, pid_alive, supervisor_pids


def row_of(home: Any, session_id: str) -> dict[str, Any]:
    with sqlite3.connect(home / "state.db") as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone())


def test_one_supervisor_runs_every_job(serve_local: Any) -> None:
    server = serve_local(grace_seconds=1)
    with api(server) as http:
        ids = [create(http, name=f"j{i}", cmd="sleep", args="300") for i in range(6)]
        for session_id in ids:
            wait_for(http, session_id, ("Running",))
        rows = [row_of(server.home, session_id) for session_id in ids]
        supervisors = {(r["runner_pid"], r["runner_start"]) for r in rows}
        assert len(supervisors) == 1
        assert supervisor_pids(server.home) == [rows[0]["runner_pid"]]
        # Each job is a plain child of the supervisor, in a process group of its own.
        for row in rows:
            assert os.getpgid(row["job_pid"]) == row["job_pid"]
            stat = Path(f"/proc/{row['job_pid']}/stat").read_bytes().rsplit(b")", 1)[1].split()
            assert int(stat[1]) == row["runner_pid"]  # the parent
        for session_id in ids:
            assert http.delete(f"/session/{session_id}").status_code == 200
        wait_until(lambda: not any(pid_alive(r["job_pid"]) for r in rows), what="every job to end")


@pytest.mark.e2e(long=True)
def test_supervisor_exits_when_idle_and_starts_again_on_demand(serve_local: Any) -> None:
    server = serve_local(idle_seconds=2)
    with api(server) as http:
        first = create(http, cmd="true")
        assert wait_for(http, first, ("Completed", "Failed"))["status"] == "Completed"
        before = row_of(server.home, first)
        wait_until(
            lambda: not pid_alive(before["runner_pid"]), timeout=30, what="the idle supervisor"
        )
        assert supervisor_pids(server.home) == []
        second = create(http, cmd="echo", args="again")
        assert wait_for(http, second, ("Completed", "Failed"))["status"] == "Completed"
        assert http.get(f"/session/{second}?view=logs").text == "again\n"
        after = row_of(server.home, second)
        assert (after["runner_pid"], after["runner_start"]) != (
            before["runner_pid"],
            before["runner_start"],
        )


@pytest.mark.e2e(long=True)
def test_a_second_supervisor_leaves_at_once(local_server: Any) -> None:
    with api(local_server) as http:
        session_id = create(http, cmd="sleep", args="300")
        wait_for(http, session_id, ("Running",))
        first = row_of(local_server.home, session_id)["runner_pid"]
        extra = subprocess.run(
            [sys.executable, "-m", "canfar_cli.local.supervisor", "--home", str(local_server.home)],
            timeout=60,
            capture_output=True,
        )
        assert extra.returncode == 0, extra.stderr
        assert supervisor_pids(local_server.home) == [first]
        assert http.get(f"/session/{session_id}").json()["status"] == "Running"


def test_next_supervisor_ends_the_jobs_of_a_dead_one(local_server: Any) -> None:
    """No request needed: a new supervisor fails the orphaned session and kills its job (killed,
    not adopted: a process that is not its child cannot be waited for)."""
    with api(local_server) as http:
        session_id = create(http, cmd="sleep", args="300")
        wait_for(http, session_id, ("Running",))
    row = row_of(local_server.home, session_id)
    os.kill(row["runner_pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(row["runner_pid"]), what="the supervisor to die")
    local_server.stop()  # no sweep by the server either
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canfar_cli.local.supervisor",
            "--home",
            str(local_server.home),
            "--idle",
            "2",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: not pid_alive(row["job_pid"]), what="the orphaned job to be ended")
    after = row_of(local_server.home, session_id)
    assert after["status"] == "Failed"
    with sqlite3.connect(local_server.home / "state.db") as db:
        reasons = [
            r for (r,) in db.execute("SELECT reason FROM events WHERE id = ?", (session_id,))
        ]
    assert reasons[-1] == "SupervisorDied"


def test_delete_of_a_job_ignoring_sigterm_waits_the_grace_period(serve_local: Any) -> None:
    server = serve_local(grace_seconds=1)
    with api(server) as http:
        session_id = create(http, cmd="sh", args="-c trap\t''\tTERM;echo\tready;sleep\t300")
        wait_for(http, session_id, ("Running",))
        wait_until(lambda: http.get(f"/session/{session_id}?view=logs").text, what="ready")
        job = row_of(server.home, session_id)["job_pid"]
        assert http.delete(f"/session/{session_id}").status_code == 200
        assert http.get(f"/session/{session_id}").status_code == 404
        wait_until(lambda: not pid_alive(job), what="SIGKILL after the grace period")
        # The supervisor stays for other jobs.
        other = create(http, cmd="true")
        assert wait_for(http, other, ("Completed", "Failed"))["status"] == "Completed"


def test_a_stray_file_in_place_of_the_wake_fifo_is_replaced(local_server: Any) -> None:
    local_server.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (local_server.home / "supervisor.wake").write_text("not a fifo")
    with api(local_server) as http:
        session_id = create(http, cmd="echo", args="woken")
        assert wait_for(http, session_id, ("Completed", "Failed"))["status"] == "Completed"
    assert stat.S_ISFIFO((local_server.home / "supervisor.wake").lstat().st_mode)


def test_deletes_racing_the_start_leave_nothing_behind(serve_local: Any) -> None:
    """A DELETE right after the create lands before, during or after the supervisor starts the
    job: whichever, the session is gone at once and no process or file of it stays."""
    server = serve_local(grace_seconds=1)
    with api(server) as http:
        ids = []
        for index in range(20):
            session_id = create(http, name=f"r{index}", cmd="sleep", args="300")
            # Not a synchronisation: spreads the deletes over the start (any outcome must hold).
            time.sleep((index % 5) * 0.01)
            assert http.delete(f"/session/{session_id}").status_code == 200
            ids.append(session_id)
        keep = create(http, name="keep", cmd="sleep", args="300")
        wait_for(http, keep, ("Running",))
        for session_id in ids:
            assert http.get(f"/session/{session_id}").status_code == 404
        keep_pid = row_of(server.home, keep)["job_pid"]
        wait_until(lambda: job_pids(server.home) == [keep_pid], what="only the kept job")
        wait_until(
            lambda: not any((server.home / "sessions" / i).exists() for i in ids),
            what="the deleted sessions' files to go",
        )


def test_a_supervisor_starting_for_one_folder_does_not_hold_up_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One process may serve several state folders (a notebook, a test run). A supervisor on its
    # way for one folder once counted for all of them for a second: a create in a second folder
    # in that second started none, and its job waited for the next wake.
    from canfar_cli.local import procs

    started: list[Path] = []

    class Starting:
        def poll(self) -> None:
            return None  # still on its way

    def spawn(home: Path, grace: float, hostname: str, idle: float) -> Any:
        started.append(home)
        return Starting()

    monkeypatch.setattr(procs, "poke", lambda home: False)
    monkeypatch.setattr(procs, "supervisor_holds_lock", lambda home: False)
    monkeypatch.setattr(procs, "spawn_supervisor", spawn)
    starter = procs.SupervisorStarter()
    first, second = tmp_path / "first", tmp_path / "second"
    for home in (first, second, first, second):
        starter.wake(home, grace=1, hostname="h", idle=60)
    assert started == [first, second]  # one each, and the second wake of each started nothing
