"""Process helpers for the local platform (Linux first; other POSIX systems degrade gracefully).

A pid alone does not identify a process: pids are recycled. So every process the platform records
is recorded with its start time (field 22 of /proc/PID/stat, in clock ticks since boot) and the
boot id, and a process counts as alive only when all three still match. Then a runner that died,
or a machine that rebooted, can never be mistaken for one still at work, and a recycled pid is
never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

_BOOT_ID: str | None = None


def boot_id() -> str:
    """This boot's id (changes at every reboot); "" where the system does not say."""
    global _BOOT_ID
    if _BOOT_ID is None:
        try:
            _BOOT_ID = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            _BOOT_ID = ""
    return _BOOT_ID


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    end = raw.rfind(b")")
    return raw[end + 2 :].decode("ascii", "replace").split()


def start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot; "" if unknown or gone."""
    fields = _stat_fields(pid)
    # After the name: state is index 0, starttime (field 22) is index 19.
    return fields[19] if fields and len(fields) > 19 else ""


def is_alive(pid: int | None, start: str | None, boot: str | None) -> bool:
    """True when the recorded process still runs (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    if boot and boot_id() and boot != boot_id():
        return False
    fields = _stat_fields(pid)
    if fields is None:
        if Path("/proc/self/stat").exists():
            return False  # a Linux /proc that no longer has it
        try:  # no /proc at all: fall back to a signal probe
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False
    return not start or fields[19] == start


def signal_group(pgid: int | None, sig: int) -> bool:
    """Send `sig` to a process group; False when no such group exists."""
    if not pgid or pgid <= 1:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid` (Linux only; [] elsewhere)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


# Runners started by this process. A runner is our child until it exits, so it must be reaped
# (waited for) or it stays a zombie as long as this process lives. The app polls them on requests.
_CHILDREN: list[subprocess.Popen[bytes]] = []
_CHILDREN_LOCK = threading.Lock()  # runners are started from worker threads


def spawn_runner(
    home: Path, session_id: str, appid: str, grace: float, hostname: str
) -> subprocess.Popen[bytes]:
    """Start the detached supervisor of one session (own session and process group)."""
    reap_children()
    args = [
        sys.executable,
        "-m",
        "canfar_cli.local.runner",
        "--home",
        str(home),
        "--id",
        session_id,
        "--grace",
        repr(grace),
        "--hostname",
        hostname,
    ]
    if appid:
        args += ["--appid", appid]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
        cwd=str(home),
    )
    with _CHILDREN_LOCK:
        _CHILDREN.append(proc)
    return proc


def reap_children() -> None:
    """Collect the exit status of runners that ended (cheap: one waitpid(WNOHANG) each)."""
    with _CHILDREN_LOCK:
        for proc in list(_CHILDREN):
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    continue
            _CHILDREN.remove(proc)


def terminate_job_directly(job_pid: int | None, job_start: str | None, boot: str | None) -> None:
    """End a job whose runner is gone: nobody is left to wait out a grace period, so SIGKILL."""
    if job_pid and is_alive(job_pid, job_start, boot):
        signal_group(job_pid, signal.SIGKILL)
