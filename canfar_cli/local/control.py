"""Process control as the app does it: wake (or start) the supervisor after a create, and end
a removed session's processes (through the supervisor when it lives, directly otherwise)."""

from __future__ import annotations

import shutil
import time
from typing import Any

import anyio.to_thread

from canfar_cli.local import procs
from canfar_cli.local.settings import LocalSettings
from canfar_cli.local.store import Store, session_dir


async def wake_supervisor(store: Store, settings: LocalSettings) -> None:
    """Poke the supervisor (a write to its FIFO, microseconds), or start one in a worker
    thread (fork+exec; the event loop keeps serving meanwhile). If none can be started, the
    sessions waiting for it end Failed, saying why."""
    if procs.poke(settings.home):
        return
    try:
        await anyio.to_thread.run_sync(
            procs.STARTER.wake,
            settings.home,
            settings.grace_seconds,
            settings.hostname,
            settings.supervisor_idle,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail_unclaimed(store, f"cannot start the local platform's supervisor: {reason}")


def fail_unclaimed(store: Store, reason: str) -> None:
    for row in store.active():
        if row["type"] == "headless" and row["status"] == "Pending" and not row["runner_pid"]:
            store.transition(
                row["id"],
                row["appid"],
                status="Failed",
                event=("Warning", "FailedCreate", reason),
                only_from=("Pending",),
                end_time=time.time(),
            )


def end_processes(store: Store, settings: LocalSettings, row: Any) -> None:
    """End a removed session's job (if any), then its files."""
    home = settings.home
    if row["job_pid"] and procs.is_alive(row["job_pid"], row["job_start"], row["boot_id"]):
        if procs.is_alive(row["runner_pid"], row["runner_start"], row["boot_id"]):
            # SIGTERM, the grace period, SIGKILL: the supervisor's to carry out (a request
            # answers at once), and it removes the files once the job has ended.
            store.request_kill(row, settings.grace_seconds)
            if procs.poke(home):
                return
        # No supervisor: nobody is left to wait out a grace period.
        procs.terminate_job_directly(row["job_pid"], row["job_start"], row["boot_id"])
    elif row["runner_pid"] and row["status"] == "Pending":
        # Claimed and perhaps being started this very moment: the supervisor finds the row
        # gone when it records the start, ends the job (it never passes its gate) and removes
        # the files itself.
        return
    shutil.rmtree(session_dir(home, row["id"], row["appid"]), ignore_errors=True)
