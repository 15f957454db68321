"""Lazy housekeeping of the local platform's state, shared by the app and the supervisor.

Nothing runs on a timer: the app sweeps at most once per `sweep_interval` when a request comes,
and a supervisor sweeps orphans once when it starts. Every change is a conditional UPDATE, so
two processes sweeping at once cannot both act on the same session.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from canfar_cli.local import procs
from canfar_cli.local.settings import INTERACTIVE_TTL, LocalSettings
from canfar_cli.local.store import Store, session_dir

# An unclaimed headless session older than the sweep interval (CANFAR_LOCAL_TICK) gets the
# supervisor woken (or started) again.
# ... and one older than this is given up on.
GIVE_UP_AFTER = 120.0


def fail_orphaned(store: Store, wall: float, rows: list[Any] | None = None) -> None:
    """Headless sessions whose supervisor died, or whose machine rebooted, end Failed.

    Their jobs are killed, not adopted: a process that is not our child cannot be waited for, so
    nobody could ever record how it ended.
    """
    boot = procs.boot_id()
    alive: dict[tuple[int, str | None], bool] = {}  # one /proc read per supervisor, not per row
    for row in store.active() if rows is None else rows:
        if row["type"] != "headless" or not row["runner_pid"]:
            continue
        supervisor = (row["runner_pid"], row["runner_start"])
        if supervisor not in alive:
            alive[supervisor] = procs.is_alive(*supervisor, row["boot_id"])
        if row["boot_id"] and boot and row["boot_id"] != boot:
            store.transition(
                row["id"],
                row["appid"],
                status="Failed",
                event=(
                    "Warning",
                    "NodeRebooted",
                    "The machine rebooted while the session was active; its processes are gone",
                ),
                end_time=wall,
            )
        elif not alive[supervisor] and store.transition(
            row["id"],
            row["appid"],
            status="Failed",
            event=("Warning", "SupervisorDied", _died(row)),
            end_time=wall,
        ):
            # (Conditional: a supervisor that ended normally wrote its final status first.)
            procs.terminate_job_directly(row["job_pid"], row["job_start"], row["boot_id"])


def _died(row: Any) -> str:
    said = f"The local platform's supervisor (pid {row['runner_pid']}) died"
    if not row["job_pid"]:
        # Its jobs wait behind a gate until their pid is recorded (supervisor.py): this one
        # ended at that gate without running anything.
        return f"{said} before it started the session's command, which never ran"
    return f"{said}; the session's processes were ended, as nobody could record their exit"


def sweep(store: Store, settings: LocalSettings) -> bool:
    """One round of housekeeping; True when the supervisor should be woken (or started)."""
    wall = time.time()
    active = store.active()
    fail_orphaned(store, wall, active)
    wake = False
    for row in active:
        if row["type"] == "headless":
            if row["status"] == "Pending" and not row["runner_pid"]:
                age = wall - row["created"]
                if age > GIVE_UP_AFTER:
                    store.transition(
                        row["id"],
                        row["appid"],
                        status="Failed",
                        event=(
                            "Warning",
                            "FailedCreate",
                            "The local platform's supervisor never started the session",
                        ),
                        only_from=("Pending",),
                        end_time=wall,
                    )
                elif age > settings.sweep_interval:
                    wake = True
        elif row["status"] == "Running" and row["start_time"] is not None:
            # Interactive sessions run no process: they end when their time is up.
            expiry = row["start_time"] + row["deadline"]
            if wall >= expiry:
                store.transition(
                    row["id"],
                    row["appid"],
                    status="Failed",
                    event=(
                        "Warning",
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    ),
                    end_time=expiry,
                )
    removed = store.remove_ended(
        wall - settings.cleanup_seconds,
        wall - max(settings.cleanup_seconds, INTERACTIVE_TTL),
    )
    for row in removed:
        shutil.rmtree(session_dir(settings.home, row["id"], row["appid"]), ignore_errors=True)
    return wake
