"""The local platform without its Linux-only paths (CANFAR_LOCAL_PORTABLE=1: no /proc, no
CLOCK_BOOTTIME, no prctl), as it runs on macOS; and a clear refusal on a system that is not POSIX.

The server, its supervisor and the jobs all run with the switch (they inherit the environment);
the checks made from here (stray processes) may still use /proc, since this machine has it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from canfar_cli.local import portable, procs
from tests.support.api import api, create, wait_for, wait_until
from tests.support.loopback import pid_alive, supervisor_pids

PORTABLE = {"CANFAR_LOCAL_PORTABLE": "1"}


@pytest.fixture
def portable_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CANFAR_LOCAL_PORTABLE", "1")
    portable.reset()
    yield
    monkeypatch.delenv("CANFAR_LOCAL_PORTABLE")
    portable.reset()


def test_the_switch_turns_off_the_linux_paths(portable_mode: None) -> None:
    assert not portable.linux_paths()
    me = os.getpid()
    start = procs.start_ticks(me)
    assert start.startswith(procs.PS_PREFIX) and len(start) > len(procs.PS_PREFIX)
    assert procs.live_stat(me, None, None) is None  # the /proc reader is not used
    assert procs.is_alive(me, start, procs.boot_id())
    assert not procs.is_alive(me, procs.PS_PREFIX + "Thu Jan  1 00:00:00 1970", None)
    child = subprocess.Popen(["true"])
    child.wait()
    assert not procs.is_alive(child.pid, None, None)
    zombie = subprocess.Popen(["true"])
    # Wait for its end without reaping it (WNOWAIT): it is then a zombie, whatever the load.
    # (Polling ps for exactly "Z" never ended under nice, where ps says "ZN".)
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)
    # "Z", "Z+", or "ZN" under nice (ps adds the scheduling flags).
    [state] = procs.ps_fields(zombie.pid, "stat=") or ["gone"]
    assert state.startswith("Z"), state
    assert not procs.is_alive(zombie.pid, None, None)  # a zombie counts as dead
    zombie.wait()


def test_ps_times_are_read_as_seconds() -> None:
    from canfar_cli.local.metrics import ps_seconds

    assert ps_seconds("00:07") == 7
    assert ps_seconds("01:02:03") == 3723
    assert ps_seconds("2-00:00:01") == 172801
    assert ps_seconds("0:01.50") == 1.5
    with pytest.raises(ValueError):
        ps_seconds("soon")


def test_jobs_run_complete_fail_and_are_removed(serve_local: Any) -> None:
    server = serve_local(env=PORTABLE, grace_seconds=1)
    with api(server) as http:
        done = create(http, cmd="echo", args="portable hello")
        failed = create(http, cmd="false")
        # 100 MB held (no spaces in args: they split on single spaces).
        program = "-c x=bytearray(10**8);__import__('time').sleep(300)"
        long = create(http, cmd=sys.executable, args=program)
        assert wait_for(http, done, ("Completed",))["status"] == "Completed"
        assert http.get(f"/session/{done}?view=logs").text == "portable hello\n"
        assert wait_for(http, failed, ("Failed",))["status"] == "Failed"
        running = wait_for(http, long, ("Running",))

        # Usage as a metrics API gives it, from ps on this path.
        def usage() -> Any:
            body = http.get(f"/session/{long}").json()
            return body if float(body.get("ramInUse", "0")) >= 0.1 else None

        assert float(wait_until(usage, what="the job's usage")["cpuCoresInUse"]) >= 0
        assert running["type"] == "headless"
        row_pid = int(
            http.get(f"/session/{long}?view=events").text.split("Started process ")[1].split()[0]
        )
        assert pid_alive(row_pid)
        assert http.delete(f"/session/{long}").status_code == 200
        wait_until(lambda: not pid_alive(row_pid), what="the removed job to end")
        stats = http.get("/session", params={"view": "stats"}).json()
        assert float(stats["ram"]["ramAvailable"].rstrip("G")) > 0


def test_a_dead_supervisor_is_noticed_and_its_job_ended(serve_local: Any) -> None:
    server = serve_local(env=PORTABLE)
    with api(server) as http:
        session_id = create(http, cmd="sleep", args="300")
        wait_for(http, session_id, ("Running",))
        events = http.get(f"/session/{session_id}?view=events").text
        job = int(events.split("Started process ")[1].split()[0])
        (supervisor,) = supervisor_pids(server.home)
        os.kill(supervisor, signal.SIGKILL)
        wait_until(lambda: not pid_alive(supervisor), what="the supervisor to die")
        final = wait_for(http, session_id, ("Failed",))
        assert final["status"] == "Failed"
        assert "SupervisorDied" in http.get(f"/session/{session_id}?view=events").text
        wait_until(lambda: not pid_alive(job), what="the orphaned job to be ended")


# --- not POSIX (Windows) --------------------------------------------------------------------


def test_server_local_says_the_local_platform_needs_posix(monkeypatch: pytest.MonkeyPatch) -> None:
    from canfar_cli.cli.main import app

    monkeypatch.setattr(portable, "is_posix", lambda: False)
    for argv in (["--server", "local", "ps"], ["local", "serve"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert "the local platform needs a POSIX system (Linux or macOS)" in result.output
        assert "Traceback" not in result.output


def test_remote_servers_need_no_posix(monkeypatch: pytest.MonkeyPatch) -> None:
    from canfar_cli.cli.main import app

    monkeypatch.setattr(portable, "is_posix", lambda: False)
    result = CliRunner().invoke(app, ["--server", "http://127.0.0.1:9/skaha", "ps"])
    assert result.exit_code == 5  # unreachable, not refused for want of POSIX
    assert "POSIX" not in result.output


def test_supervisor_runs_as_a_module_in_portable_mode() -> None:
    # The supervisor's entry point refuses bad arguments in one line, whatever the mode.
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli.local.supervisor", "--bogus", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, **PORTABLE},
        timeout=60,
    )
    assert result.returncode != 0 and "bad argument" in result.stderr
