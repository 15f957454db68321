"""Process helpers for the local platform, on any POSIX system (Linux has a fast path).

A pid alone does not identify a process: pids are recycled. So every process the platform records
is recorded with its start time and the boot id, and a process counts as alive only when all
three still match. Then a supervisor that died, or a machine that rebooted, can never be mistaken
for one still at work, and a recycled pid is never signalled.

Where those come from (portable.linux_paths() decides): on Linux, /proc/PID/stat (the start
time in clock ticks since boot) and /proc/sys/kernel/random/boot_id, read without a process;
elsewhere (macOS), or with CANFAR_LOCAL_PORTABLE=1, `ps -o stat=,lstart=` (the start time to
the second, prefixed "ps:") and `sysctl -n kern.boottime`. A start time recorded one way is not
compared with one read the other way (liveness alone decides then).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from canfar_cli.local import portable

_BOOT_ID: dict[bool, str] = {}
PS_PREFIX = "ps:"


def boot_id() -> str:
    """This boot's id (changes at every reboot); "" where the system does not say."""
    linux = portable.linux_paths()
    if linux not in _BOOT_ID:
        if linux:
            try:
                _BOOT_ID[linux] = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
            except OSError:
                _BOOT_ID[linux] = ""
        else:
            found = run_tool(["sysctl", "-n", "kern.boottime"])  # macOS, the BSDs
            _BOOT_ID[linux] = f"boottime:{' '.join(found.split())}" if found else ""
    return _BOOT_ID[linux]


def run_tool(argv: list[str]) -> str | None:
    """The stdout of a small system tool (ps, sysctl), or None when it fails or is missing."""
    env = {"PATH": os.environ.get("PATH") or os.defpath, "LC_ALL": "C"}
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = result.stdout.strip()
    return out if result.returncode == 0 and out else None


def ps_fields(pid: int, columns: str) -> list[str] | None:
    """`ps -o COLUMNS -p PID` split on blanks (portable path); None when it has no such process."""
    out = run_tool(["ps", "-o", columns, "-p", str(pid)])
    return out.split() if out else None


def _stat_fields(pid: int) -> list[str] | None:
    # os.open/os.read: a listing reads this for every running job, and io's layers cost more
    # than the read itself.
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    end = raw.rfind(b")")
    return raw[end + 2 :].decode("ascii", "replace").split()


def start_ticks(pid: int) -> str:
    """The process's start time (identity with the pid); "" if unknown or gone."""
    if portable.linux_paths():
        fields = _stat_fields(pid)
        # After the name: state is index 0, starttime (field 22) is index 19.
        return fields[19] if fields and len(fields) > 19 else ""
    fields = ps_fields(pid, "stat=,lstart=")
    return PS_PREFIX + " ".join(fields[1:]) if fields and len(fields) > 1 else ""


def _same_start(recorded: str | None, current: str) -> bool:
    if not recorded or recorded.startswith(PS_PREFIX) != current.startswith(PS_PREFIX):
        return True  # not recorded, or recorded the other way: liveness alone decides
    return recorded == current


def live_stat(pid: int | None, start: str | None, boot: str | None) -> list[str] | None:
    """The /proc stat fields (after the name) of the recorded process when it still runs
    (Linux path only; None when it is gone, a zombie, another process, or not on that path)."""
    if not portable.linux_paths():
        return None
    if not pid or pid <= 0 or (boot and boot_id() and boot != boot_id()):
        return None
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X") or not _same_start(start, fields[19]):
        return None
    return fields


def is_alive(pid: int | None, start: str | None, boot: str | None) -> bool:
    """True when the recorded process still runs (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    if boot and boot_id() and boot != boot_id():
        return False
    if portable.linux_paths():
        fields = _stat_fields(pid)
        if fields is None:
            return False
        return fields[0] not in ("Z", "X") and _same_start(start, fields[19])
    fields = ps_fields(pid, "stat=,lstart=")
    if fields is not None:
        current = PS_PREFIX + " ".join(fields[1:])
        return not fields[0].startswith("Z") and _same_start(start, current)
    try:  # no such process for ps, or no ps at all: a signal probe says which
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return run_tool(["ps", "-p", "1"]) is None  # alive only if ps itself is what failed


def signal_group(pgid: int | None, sig: int) -> bool:
    """Send `sig` to a process group; False when no such group exists."""
    if not pgid or pgid <= 1:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --- the supervisor, as seen by those who create sessions ------------------------------------
#
# One supervisor runs per state folder. It holds an exclusive flock on LOCK_FILE for as long as it
# serves and keeps WAKE_FIFO open for reading; a writer can open a FIFO without blocking only while
# some process has it open for reading, so a successful open both proves that a supervisor is there
# and, with one byte written, wakes it. The order of operations on both sides makes a lost
# wake-up impossible: a creator commits its row before it pokes; a supervisor that goes idle
# closes the FIFO, then releases the lock, then looks for work once more (see supervisor.py).

LOCK_FILE = "supervisor.lock"
WAKE_FIFO = "supervisor.wake"
LOG_FILE = "supervisor.log"


def poke(home: Path) -> bool:
    """Wake the supervisor of `home`; False when none is listening."""
    try:
        fd = os.open(home / WAKE_FIFO, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # ENXIO: no reader; ENOENT: never started here
        return False
    try:
        # Whatever else sits at that path (a stray file) wakes nobody: start a supervisor.
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        os.write(fd, b"!")
    except OSError:  # EAGAIN: a full pipe already holds plenty of wake-ups
        pass
    finally:
        os.close(fd)
    return True


def supervisor_holds_lock(home: Path) -> bool:
    """True while a supervisor holds the lock (starting up, serving, or about to look for work
    one last time before it exits): it will see a row committed before this call."""
    import fcntl

    try:
        fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases our shared lock
    return False


class SupervisorStarter:
    """Starts the supervisor on demand, at most one at a time from this process.

    A supervisor takes ~100 ms to start, during which it neither holds the lock nor listens; a
    burst of creates in that window must not start one supervisor each, so a supervisor started
    by us less than `STARTING` seconds ago and still alive counts as on its way. (It cannot have
    gone idle and exited in that time: the idle delay is longer, see supervisor.MIN_IDLE.)
    """

    STARTING = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The last supervisor started for each state folder, and when: one process (a test run,
        # a notebook) may serve several folders, and a start in one must not hold up another's.
        self._last: dict[Path, tuple[subprocess.Popen[bytes], float]] = {}
        # Supervisors are our children until they exit; kept to be reaped (no zombies).
        self._children: list[subprocess.Popen[bytes]] = []

    def wake(self, home: Path, grace: float, hostname: str, idle: float) -> None:
        """Make sure a supervisor will see the rows committed so far (poke it, or start one)."""
        if poke(home):
            return
        with self._lock:
            self._reap()
            last = self._last.get(home)
            if (
                last is not None
                and last[0].poll() is None
                and time.monotonic() - last[1] < self.STARTING
            ):
                return
            if supervisor_holds_lock(home):
                return
            started = spawn_supervisor(home, grace, hostname, idle)
            self._last[home] = (started, time.monotonic())
            self._children.append(started)

    def _reap(self) -> None:
        for proc in list(self._children):
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    continue
            self._children.remove(proc)
        for home, (proc, _) in list(self._last.items()):
            if proc not in self._children:
                del self._last[home]


STARTER = SupervisorStarter()


def spawn_supervisor(
    home: Path, grace: float, hostname: str, idle: float
) -> subprocess.Popen[bytes]:
    """Start a detached supervisor for `home` (own session; outlives this process)."""
    args = [
        sys.executable,
        "-m",
        "canfar_cli.local.supervisor",
        "--home",
        str(home),
        "--grace",
        repr(grace),
        "--hostname",
        hostname,
        "--idle",
        repr(idle),
    ]
    from canfar_cli.local.statedir import open_private_log

    with os.fdopen(open_private_log(home / LOG_FILE), "ab") as log:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            close_fds=True,
            start_new_session=True,
            cwd=str(home),
        )


def terminate_job_directly(job_pid: int | None, job_start: str | None, boot: str | None) -> None:
    """End a job whose supervisor is gone: nobody is left to wait out a grace period, so SIGKILL."""
    if job_pid and is_alive(job_pid, job_start, boot):
        signal_group(job_pid, signal.SIGKILL)
