"""`canfar run`: one headless job, its log on stdout, its outcome as the exit code; as a real
process against the local platform on a loopback socket."""

from __future__ import annotations

import json
from typing import Any

from tests.support import IMAGE
from tests.support.process import run_canfar


def test_run_streams_the_log_and_exits_with_the_outcome(cli: Any, local_server: Any) -> None:
    env = {"CANFAR_URL": local_server.url}
    done = run_canfar(["run", IMAGE, "--", "sh", "-c", "echo one; echo two"], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "one\ntwo\n"
    assert done.stderr.startswith("session ")
    # A failed job in-process (a failed `run` as a real process, exit 1, is
    # test_run_rm_removes_the_session_whatever_happened's).
    failed = cli("run", "skaha/terminal:1.1.1", "--", "sh", "-c", "echo x; exit 3",
                 server=local_server.url)  # fmt: skip
    assert failed.exit_code == 1
    assert failed.stdout == "x\n"
    assert "Failed (exit code 3)" in failed.stderr
    assert failed.stderr.count("error:") == 1 and "Traceback" not in failed.stderr
    # Both sessions are still there (no --rm).
    listing = json.loads(cli("ps", "-a", "--json", server=local_server.url).stdout)
    assert len(listing) == 2


def test_run_rm_removes_the_session_whatever_happened(cli: Any, local_server: Any) -> None:
    env = {"CANFAR_URL": local_server.url}
    failed = run_canfar(["run", "--rm", IMAGE, "-n", "gone", "--", "false"], env=env)
    assert failed.returncode == 1 and "Failed (exit code 1)" in failed.stderr
    assert cli("ps", "-a", "-q", server=local_server.url).stdout == ""
    # A refusal in-process (exit 2 as a real process: tests/cli/test_process.py's
    # test_exit_2_for_usage).
    refused = cli("run", IMAGE, "-m", "3", "--", "true", server=local_server.url)
    assert refused.exit_code == 2 and "ram may be one of" in refused.stderr


def test_run_interrupted_with_rm_removes_the_session(cli: Any, local_server: Any) -> None:
    import signal
    import subprocess
    import sys

    from tests.support.process import canfar_env

    env = canfar_env({"CANFAR_URL": local_server.url})
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canfar_cli",
            "run",
            "--rm",
            IMAGE,
            "--",
            "sh",
            "-c",
            "echo up; sleep 60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "up\n"  # the job runs and its log streams
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert "removed" in err and "Traceback" not in err
    assert cli("ps", "-a", "-q", server=local_server.url).stdout == ""  # checked in-process
