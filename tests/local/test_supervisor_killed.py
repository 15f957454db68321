"""kill -9 of the supervisor while it starts a batch leaves no job running that the state does not
know about: after recovery no process of those sessions is left, and every session says
truthfully what happened (a session said never to have run has an empty log)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from canfar_cli.local import housekeeping, portable, procs
from canfar_cli.local.store import Store, session_dir
from tests.support import IMAGE
from tests.support.loopback import job_pids

JOBS = 30  # two batches of the supervisor (25 + 5)


def _insert_jobs(store: Store, script: Path) -> list[str]:
    ids = []
    now = time.time()
    for index in range(JOBS):
        session_id = f"k{index:07d}"
        row = {
            "id": session_id,
            "appid": "",
            "userid": "tester",
            "type": "headless",
            "status": "Pending",
            "name": "k",
            "image": IMAGE,
            "cmd": str(script),
            "created": now + index * 1e-6,
            "deadline": 3600,
            "boot_id": procs.boot_id(),
        }
        assert store.insert(row, [("Normal", "Scheduled", "test")])
        ids.append(session_id)
    return ids


@pytest.mark.parametrize("mode", ["linux", "portable"])
@pytest.mark.parametrize("trial", range(5))
def test_kill_9_during_a_batch_leaves_no_stray_job(
    tmp_path: Path, trial: int, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "portable":  # the supervisor inherits it; recovery here reads it too
        monkeypatch.setenv("CANFAR_LOCAL_PORTABLE", "1")
    portable.reset()
    home = tmp_path / "state"
    store = Store(home)
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho ran\nexec sleep 60\n")
    script.chmod(0o755)
    ids = _insert_jobs(store, script)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "canfar_cli.local.supervisor", "--home", str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Kill it at a chosen moment of the start: as soon as it claimed the rows, once the
        # first job (or ten, or one of the second batch) exists, or at a random moment.
        deadline = time.monotonic() + 30
        while not store.query("SELECT 1 FROM sessions WHERE runner_pid IS NOT NULL LIMIT 1"):
            assert time.monotonic() < deadline, "the supervisor never claimed the batch"
            time.sleep(0.001)
        wanted = (0, 1, 10, 26, 0)[trial]
        while len(job_pids(home)) < wanted and time.monotonic() < deadline:
            pass
        if trial == 4:
            time.sleep(random.uniform(0, 0.05))
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(timeout=10)
        # The recovery that the next request or the next supervisor runs.
        housekeeping.fail_orphaned(store, time.time())
        deadline = time.monotonic() + 10
        while (left := job_pids(home)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert left == [], f"jobs the state does not know about still run: {left}"
        rows = {row["id"]: row for row in store.sessions()}
        for session_id in ids:
            row = rows[session_id]
            log = session_dir(home, session_id) / "log"
            output = log.read_bytes() if log.exists() else b""
            if row["status"] == "Pending":
                # Never claimed before the kill: nothing started, and the app would wake a new
                # supervisor for it.
                assert row["runner_pid"] is None and output == b""
                continue
            assert row["status"] == "Failed", dict(row)
            message = store.events(session_id)[-1]["message"]
            if "never ran" in message:
                assert row["job_pid"] is None and output == b"", (dict(row), output)
            else:
                assert "processes were ended" in message and row["job_pid"]
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        for pid in job_pids(home):
            os.killpg(pid, signal.SIGKILL)
        store.close()
        monkeypatch.delenv("CANFAR_LOCAL_PORTABLE", raising=False)
        portable.reset()
