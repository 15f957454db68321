"""`canfar wait`: exit codes naming the failed sessions, ids from a pipe, --until, --timeout."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import IMAGE
from tests.support.commands import ids_of, sessions
from tests.support.process import run_canfar


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_wait_exits_1_naming_each_failed_session_with_its_exit_code(cli: Any) -> None:
    script = "exit $(( REPLICA_ID == 2 ? 3 : REPLICA_ID == 4 ? 5 : 0 ))"
    ids = ids_of(
        cli("create", "headless", IMAGE, "-n", "sweep", "-r", "5", "--", "sh", "-c", script)
    )
    result = cli("wait", *ids)
    assert result.exit_code == 1, result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "2 of 5" in error[0]
    assert f"sweep-2 ({ids[1]}, exit code 3)" in error[0]
    assert f"sweep-4 ({ids[3]}, exit code 5)" in error[0]
    assert "sweep-1" not in error[0]
    states = {s["id"]: s["status"] for s in sessions(cli)}
    assert [states[i] for i in ids] == ["Completed", "Failed", "Completed", "Failed", "Completed"]
    assert result.stdout == ""


def test_wait_exits_0_when_all_completed_and_reads_ids_from_a_pipe(cli: Any) -> None:
    create = cli("create", "headless", IMAGE, "-r", "2", "--", "sh", "-c", "sleep 0.3")
    assert create.exit_code == 0, create.stderr
    waited = run_canfar(["wait", "--server", "local"], input=create.stdout)  # ids on stdin
    assert waited.returncode == 0, waited.stderr
    assert "done: 2 session(s): 2 Completed" in waited.stderr
    assert {s["status"] for s in sessions(cli)} == {"Completed"}


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_wait_until_running_returns_while_the_job_runs(cli: Any) -> None:
    ids = ids_of(cli("create", "headless", IMAGE, "--", "sleep", "30"))
    result = cli("wait", "--until", "running", ids[0])
    assert result.exit_code == 0, result.stderr
    assert {s["id"]: s["status"] for s in sessions(cli)}[ids[0]] == "Running"
    timed = cli("wait", "--timeout", "0.3", ids[0])
    assert timed.exit_code == 1
    assert "timed out" in timed.stderr
    assert cli("rm", "-f", ids[0]).exit_code == 0


def test_wait_for_unknown_ids_exits_4(cli: Any) -> None:
    result = cli("wait", "nosuchid", "nosuchtoo")
    assert result.exit_code == 4
    assert "nosuchid" in result.stderr
