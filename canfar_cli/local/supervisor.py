"""`python -m canfar_cli.local.supervisor`: the one process that runs a state folder's jobs.

Started on demand (procs.STARTER.wake) by whoever creates a headless session, with
start_new_session and its output to `supervisor.log`, so it outlives the `canfar` process or the
server that started it. Exactly one serves a state folder: it holds an exclusive flock on
`supervisor.lock`, and listens on the FIFO `supervisor.wake` (see procs.py for the protocol).

Its loop, woken by SIGCHLD, by a byte on the FIFO (a create or a DELETE), or by a timer:
  - claims the unclaimed Pending headless sessions that fit the capacity (in creation order;
    the others get a `Queued` event and wait), fork/execs each job in a process group of its
    own (stdout and stderr to the session's log, HOME the user's persistent home), records
    pid and start time, and moves them Pending -> Running, a batch per transaction;
  - reaps ended jobs: SIGKILLs what is left of the group (a container ends with its main process),
    then records Completed (exit 0) or Failed (with the code or the signal) and the end time;
  - carries out stop requests (the `kills` table, written by a DELETE): SIGTERM to the group, then
    SIGKILL after the request's grace period; the session's files go when the job has ended;
  - ends a job that outlives its deadline (Failed, DeadlineExceeded);
  - exits after `idle` seconds with no job and nothing to claim. On SIGTERM (a shutdown, not a
    DELETE) it stops its jobs the same way, records each as Failed saying so, and exits.
Interactive sessions need no process: the app keeps them Running until their expiry time.

If the supervisor dies, nobody can record its jobs' exits: the next sweep (app.py) or the next
supervisor marks its sessions Failed and SIGKILLs their groups (housekeeping.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import stat
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canfar_cli.errors import ConfigError
from canfar_cli.local import portable, procs, resources, statedir
from canfar_cli.local.settings import DEFAULT_CONTEXT, capacity, tick, user_home
from canfar_cli.local.store import Change, Store, loads_list, session_dir

# The idle delay has a floor: procs.SupervisorStarter counts a supervisor it started less than a
# second ago as on its way, which holds only if none can go idle and exit that fast.
MIN_IDLE = 2.0
# Longest sleep without a wake-up: a safety net only (every create and DELETE pokes, every
# end of a job is a SIGCHLD); CANFAR_LOCAL_TICK sets it.
POLL = 1.0
# How often the jobs' rows are read again: a renew may have moved a deadline, and a row deleted
# without a stop request (by an older version, say) still ends its job.
REFRESH = 30.0
# Rounds of the loop failing in a row (one a second) before the supervisor gives up.
MAX_FAILURES = 60
# How long a new supervisor waits for the lock: the previous one may be on its way out.
LOCK_WAIT = 3.0
# After a poke, wait until no poke has come for GATHER_QUIET (at most GATHER_MAX) before claiming.
GATHER_QUIET = 0.01
GATHER_MAX = 0.1
# Jobs started between two commits of their Running status.
BATCH = 25
_BASE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")
# A job's first program: wait for the gate's line on stdin (end-of-file: the supervisor died
# before it recorded the job, so exit without running it), then become the command, with
# /dev/null for stdin as before.
_GATE = 'read -r go || exit 111; exec "$@" </dev/null'


def resolve_command(cmd: str, env: dict[str, str], cwd: Path) -> str:
    """The file `cmd` names, found as execvpe would (PATH of the job's environment, a path with
    a '/' from the job's folder); FileNotFoundError or PermissionError as exec would give."""
    if "\0" in cmd:
        raise ValueError("embedded null byte")
    if "/" in cmd:
        candidates = [cwd / cmd]
    else:
        candidates = [Path(d or ".") / cmd for d in os.get_exec_path(env)]
    denied = False
    for candidate in candidates:
        if candidate.is_file():
            if os.access(candidate, os.X_OK):
                return str(candidate)
            denied = True
    if denied:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), cmd)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cmd)


def job_command(row: Any, home: Path, hostname: str) -> tuple[list[str], dict[str, str]]:
    """The job's argv and environment as CANFAR and Kubernetes make them (local/jobspec.py):
    the user's env, then what the real platform injects (after the user's, so it wins), with
    `$(NAME)` expanded; the process also gets a few of this host's variables (PATH, locale).
    Raises jobspec.JobSpecError when the stored values cannot make a job."""
    from canfar_cli.local import jobspec

    cores = row["cores"] if row["cores"] is not None else 1
    injected = [
        ("skaha_hostname", hostname),
        ("skaha_username", row["userid"]),
        ("skaha_sessionid", row["id"]),
        ("HOME", str(home)),
        ("PWD", str(home)),
        ("OMP_NUM_THREADS", str(max(1, int(cores)))),
    ]
    argv, container = jobspec.build(row["cmd"], row["args"], loads_list(row["env"]), injected)
    env = {key: os.environ[key] for key in _BASE_ENV if key in os.environ}
    env.update(container)
    return argv, env


def _context() -> dict[str, Any]:
    """/context as the app serves it ($CANFAR_LOCAL_CONTEXT, else the shipped file): its
    default requests are what a session without -c/-m takes of the capacity."""
    import json

    raw = os.environ.get("CANFAR_LOCAL_CONTEXT", "").strip()
    try:
        value = json.loads(Path(raw or DEFAULT_CONTEXT).expanduser().read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _set_subreaper() -> None:
    """Become the reaper of the jobs' orphans, so none is left a zombie (Linux only)."""
    if not portable.linux_paths():
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


@dataclass
class Job:
    session_id: str
    appid: str
    process: subprocess.Popen[bytes]
    deadline: float  # wall clock
    # Why it is being stopped: "deleted", "deadline" or "shutdown"; None while it runs freely.
    stop: str | None = None
    kill_at: float | None = None  # monotonic time of the SIGKILL after the grace period
    cores: float = 0.0  # what it takes of the capacity until it ends
    ram: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid


class Supervisor:
    def __init__(self, home: Path, grace: float, hostname: str, idle: float) -> None:
        self.home = home
        self.grace = grace
        self.hostname = hostname
        self.idle = max(idle, MIN_IDLE)
        try:
            self.poll = tick()
        except ConfigError:
            self.poll = POLL
        self.store = Store(home)
        self.pid = os.getpid()
        self.start = procs.start_ticks(self.pid)
        self.jobs: dict[int, Job] = {}
        self.unrecorded: list[tuple[Job, int]] = []  # reaped, end not yet committed
        # Stop requests for groups that are not our children (their supervisor died): pgid ->
        # (job start, boot id, SIGKILL time).
        self.strays: dict[int, tuple[str | None, str | None, float]] = {}
        self.shutdown = False
        self.lock_fd = -1
        self.wake_fd = -1
        self.signal_r, self.signal_w = os.pipe()
        self.last_refresh = time.monotonic()
        self.cores, self.ram = capacity()
        self.context = _context()
        self.queued: dict[tuple[str, str], str] = {}  # the Queued event's text last written
        self.notes: list[tuple[Any, str]] = []  # Queued events to write after a claim

    # --- lifecycle -------------------------------------------------------------------------

    def acquire(self) -> bool:
        self.lock_fd = os.open(self.home / procs.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)

    def listen(self) -> None:
        path = self.home / procs.WAKE_FIFO
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISFIFO(path.lstat().st_mode):
                path.unlink()  # a stray file in its place (we hold the lock: it is ours to fix)
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        # O_RDWR: we count as a writer too, so the FIFO never reads as end-of-file.
        self.wake_fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def run(self) -> int:
        if not self.acquire():
            return 0  # another supervisor serves this folder
        for fd in (self.signal_r, self.signal_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.signal_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop)
        self.listen()
        from canfar_cli.local import housekeeping

        # Sessions of a supervisor that died before us: nobody can record their end.
        housekeeping.fail_orphaned(self.store, time.time())
        idle_since: float | None = None
        failures = 0
        while True:
            try:
                done, idle_since = self.step(idle_since)
                failures = 0
            except Exception:
                # A busy or broken database, say: the jobs still need us, so log it (stderr is
                # supervisor.log), wait a little and try again; give up only if it persists.
                failures += 1
                traceback.print_exc()
                if failures >= MAX_FAILURES:
                    return 1
                self.wait(1.0)
                continue
            if done:
                return 0

    def step(self, idle_since: float | None) -> tuple[bool, float | None]:
        """One round of the loop: (whether to exit, the new idle-since moment)."""
        self.reap()
        now = time.monotonic()
        if self.shutdown:
            if self.wake_fd >= 0:
                # Let a new supervisor take new sessions while we stop ours.
                os.close(self.wake_fd)
                self.wake_fd = -1
                fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            self.stop_all(now)
            if not self.jobs and not self.unrecorded:
                return True, idle_since
        else:
            self.take_kills(now)
            self.start_pending()
            self.check_deadlines(now)
        self.escalate(now)
        if self.jobs or self.strays or self.unrecorded or self.shutdown:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= self.idle:
            if self.leave():
                return True, idle_since
            idle_since = None
        self.wait(self.timeout(now, idle_since))
        return False, idle_since

    def _on_stop(self, _signum: int, _frame: object) -> None:
        self.shutdown = True

    def leave(self) -> bool:
        """Stop listening, release the lock, then look for work once more: a creator that
        found us listening committed its row before, one that found the lock free starts a new
        supervisor. True to exit; False when there was work and we kept the lock."""
        if self.wake_fd >= 0:
            os.close(self.wake_fd)
            self.wake_fd = -1
        fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
        try:
            if not self.store.has_work():
                return True
        except Exception:  # (a broken database: a new supervisor will find out)
            traceback.print_exc()
            return True
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True  # a new supervisor has it, and the work
        self.listen()
        return False

    def timeout(self, now: float, idle_since: float | None) -> float:
        moments = [now + self.poll]
        moments += [job.kill_at for job in self.jobs.values() if job.kill_at is not None]
        moments += [kill_at for _, _, kill_at in self.strays.values()]
        if idle_since is not None:
            moments.append(idle_since + self.idle)
        running = [job.deadline for job in self.jobs.values() if job.stop is None]
        if running:
            moments.append(now + max(0.0, min(running) - time.time()))
        return max(0.0, min(moments) - now)

    def wait(self, timeout: float) -> None:
        fds = [self.signal_r] + ([self.wake_fd] if self.wake_fd >= 0 else [])
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            ready = []
        for fd in ready:
            self.drain(fd)
        if self.wake_fd in ready:
            self.gather()

    @staticmethod
    def drain(fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(fd, 4096):
                pass

    def gather(self) -> None:
        """After a poke, let a burst of creates finish before claiming: one claim and one
        commit for many sessions, instead of a write transaction racing each create for the
        database lock (the loser sleeps in SQLite's busy handler)."""
        until = time.monotonic() + GATHER_MAX
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            try:
                ready, _, _ = select.select([self.wake_fd], [], [], min(GATHER_QUIET, left))
            except InterruptedError:
                continue
            if not ready:
                return  # quiet: the burst (if any) is over
            self.drain(self.wake_fd)

    # --- starting jobs ---------------------------------------------------------------------

    def start_pending(self) -> None:
        self.notes = []
        rows = self.store.claim(self.pid, self.start, self.fitting)
        for row, text in self.notes:  # after the claim's transaction
            self.store.note_queued(row["id"], row["appid"], text)
            self.queued[(row["id"], row["appid"])] = text
        # In batches: the first jobs show Running while the later ones are still starting.
        for first in range(0, len(rows), BATCH):
            self.start_batch(rows[first : first + BATCH])

    def fitting(self, rows: list[Any]) -> list[Any]:
        """Of the waiting sessions (creation order), those that fit what the running jobs leave
        of the capacity, taken in order; the others stay Pending with a `Queued` event saying
        why (as Kueue holds a job), and start as others end. A session larger than the whole
        capacity waits for ever without holding up those behind it."""
        used_cores = sum(job.cores for job in self.jobs.values())
        used_ram = sum(job.ram for job in self.jobs.values())
        chosen: list[Any] = []
        blocked = False
        for row in rows:
            cores, ram = resources.request_of(row, self.context)
            free_cores = self.cores - used_cores
            free_ram = self.ram - used_ram
            too_big = cores > self.cores or ram > self.ram
            if not blocked and not too_big and cores <= free_cores and ram <= free_ram:
                chosen.append(row)
                used_cores += cores
                used_ram += ram
                continue
            if not too_big:
                blocked = True  # in order: nothing behind it jumps the queue
            self.note_queued(row, cores, ram, free_cores, free_ram)
        return chosen

    def note_queued(
        self, row: Any, cores: float, ram: float, free_cores: float, free_ram: float
    ) -> None:
        def n(value: float) -> str:
            return f"{value:g}"

        def unit(value: float, one: str) -> str:
            return f"{n(value)} {one}" + ("" if value == 1 else "s")

        if cores > free_cores or cores > self.cores:
            need = f"needs {unit(cores, 'core')}, {n(max(0.0, free_cores))} of {n(self.cores)} free"
        else:
            need = f"needs {n(ram)} GiB RAM, {n(max(0.0, free_ram))} of {n(self.ram)} free"
        text = f"waiting for resources: {need}"
        if cores > self.cores or ram > self.ram:
            text += " (more than this platform has: set CANFAR_LOCAL_CORES / CANFAR_LOCAL_RAM)"
        if self.queued.get((row["id"], row["appid"])) != text:
            self.notes.append((row, text))

    def start_batch(self, rows: list[Any]) -> None:
        """Fork/exec the batch's jobs behind a gate, commit their pids, then open the gate.

        Each job starts as `sh` blocked on reading the gate (a pipe whose only write end is
        ours) and execs the command only after a byte arrives, which we write once the pids are
        committed. If we die before that (kill -9), the gate reads end-of-file and every waiting
        job exits (code 111) without running anything: no job runs that the state does not
        know about, on any POSIX system (no prctl needed)."""
        changes: list[Change] = []
        started: list[Job] = []
        gate_r, gate_w = os.pipe()
        try:
            try:
                for row in rows:
                    job, change = self.spawn(row, gate_r)
                    changes.append(change)
                    if job is not None:
                        started.append(job)
                        self.jobs[job.pid] = job
            finally:
                os.close(gate_r)
            try:
                made = self.store.transitions(changes)
            except BaseException:
                # Not recorded: they must not run. Released, so a later round starts them.
                for job in started:
                    job.stop = "unrecorded"
                    procs.signal_group(job.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    self.store.release([(row["id"], row["appid"]) for row in rows], self.pid)
                raise
            by_key = {(c.session_id, c.appid): ok for c, ok in zip(changes, made, strict=True)}
            opened = 0
            for job in started:
                if by_key[(job.session_id, job.appid)]:
                    opened += 1
                else:
                    # Deleted while we started it: it never gets to run its command.
                    job.stop = "deleted"
                    procs.signal_group(job.pid, signal.SIGKILL)
            if opened:
                os.write(gate_w, b"\n" * opened)  # one line each; a pipe holds 64 KiB
        finally:
            os.close(gate_w)
        for change, ok in zip(changes, made, strict=True):
            if change.status == "Failed" and not ok:
                self.forget_files(change.session_id, change.appid)

    def spawn(self, row: Any, gate: int) -> tuple[Job | None, Change]:
        session_id, appid = row["id"], row["appid"]

        def failed(message: str) -> Change:
            return Change(
                session_id,
                appid,
                "Failed",
                ("Warning", "Failed", message),
                ("Pending",),
                {"end_time": time.time()},
            )

        if not row["cmd"]:
            return None, failed(
                "no cmd given: the local platform runs a headless session's command on this"
                " host and cannot run the image's default entrypoint"
            )
        from canfar_cli.local.jobspec import JobSpecError

        folder = session_dir(self.home, session_id, appid)
        # The user's persistent home, shared by all their sessions (CANFAR's /arc/home/<user>);
        # the session's own folder keeps only its log.
        job_home = user_home(self.home, row["userid"])
        try:
            argv, env = job_command(row, job_home, self.hostname)
        except JobSpecError as exc:
            return None, failed(f"cannot build the job: {exc}")
        try:
            statedir.private_dirs(folder)
            statedir.private_dirs(job_home.parent.parent, job_home.parent, job_home)
            os.chmod(job_home, 0o700)
            log = os.fdopen(statedir.open_private_log(folder / "log"), "ab")
        except OSError as exc:
            return None, failed(f"cannot prepare the session's folder: {exc.strerror or exc}")
        with log:
            try:
                program = resolve_command(argv[0], env, job_home)
                if any("\0" in arg for arg in argv):
                    raise ValueError("embedded null byte")
                process = subprocess.Popen(
                    ["/bin/sh", "-c", _GATE, argv[0], program, *argv[1:]],
                    stdin=gate,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(job_home),
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                text = f"cannot start {row['cmd']!r}: {reason}"
                log.write(f"canfar local: {text}\n".encode())
                return None, failed(text)
        started = time.time()
        cores, ram = resources.request_of(row, self.context)
        job = Job(session_id, appid, process, deadline=started + row["deadline"])
        job.cores, job.ram = cores, ram
        self.queued.pop((session_id, appid), None)
        change = Change(
            session_id,
            appid,
            "Running",
            ("Normal", "Started", f"Started process {process.pid} ({Path(row['cmd']).name})"),
            ("Pending",),
            {
                "start_time": started,
                "job_pid": process.pid,
                "job_start": procs.start_ticks(process.pid),
                "boot_id": procs.boot_id(),
            },
        )
        return job, change

    # --- ending jobs -----------------------------------------------------------------------

    def reap(self) -> None:
        """Collect every child that ended; record the jobs among them in one transaction
        (kept until recorded: a failed commit is tried again on the next round)."""
        ended = self.unrecorded
        while True:
            pid = self._next_exited()
            if not pid:
                break
            job = self.jobs.pop(pid, None)
            if job is not None:
                # The leader is a zombie until reaped, so its pid (= the group id) cannot have
                # been reused: what is left of its group ends with it.
                procs.signal_group(pid, signal.SIGKILL)
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                continue
            if job is not None:
                code = os.waitstatus_to_exitcode(status)
                job.process.returncode = code  # so Popen never waits for it again
                if job.stop != "unrecorded":  # (never started: its row is Pending again)
                    ended.append((job, code))
        if ended:
            self.finish(ended)
            self.unrecorded = []

    @staticmethod
    def _next_exited() -> int:
        """The pid of a child that ended, without reaping it (0: none)."""
        try:
            if hasattr(os, "waitid"):
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                return info.si_pid if info is not None else 0
            pid, _ = os.waitpid(-1, os.WNOHANG | getattr(os, "WNOWAIT", 0))
            return pid
        except ChildProcessError:
            return 0

    def finish(self, ended: list[tuple[Job, int]]) -> None:
        now = time.time()
        changes = [self.outcome(job, code, now) for job, code in ended]
        made = self.store.transitions(changes)
        for (job, _), ok in zip(ended, made, strict=True):
            if not ok and self.store.get(job.session_id, job.appid) is None:
                self.forget_files(job.session_id, job.appid)  # deleted

    def outcome(self, job: Job, code: int, now: float) -> Change:
        values = {"end_time": now, "exit_code": code}
        if job.stop == "deadline":
            return Change(
                job.session_id,
                job.appid,
                "Failed",
                ("Warning", "DeadlineExceeded", "Job was active longer than specified deadline"),
                values=values,
            )
        if code == 0 and job.stop is None:
            return Change(
                job.session_id,
                job.appid,
                "Completed",
                ("Normal", "Completed", "Job completed: the process exited with code 0"),
                values=values,
            )
        asked = " (the supervisor was asked to stop)" if job.stop == "shutdown" else ""
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            text = f"the process was killed by {name}{asked}"
        else:
            text = f"the process exited with code {code}"
            if asked:
                text += " after the supervisor was asked to stop"
        return Change(
            job.session_id,
            job.appid,
            "Failed",
            (
                "Warning",
                "BackoffLimitExceeded",
                f"Job has reached the specified backoff limit: {text}",
            ),
            values=values,
        )

    def forget_files(self, session_id: str, appid: str) -> None:
        """The session was deleted: its folder (log, home) goes too."""
        import shutil

        shutil.rmtree(session_dir(self.home, session_id, appid), ignore_errors=True)

    # --- stopping jobs -----------------------------------------------------------------------

    def signal_stop(self, job: Job, reason: str, grace: float, now: float) -> None:
        """SIGTERM to the job's group now, SIGKILL after `grace` (a shorter wait already set
        stays: a DELETE during a shutdown must not wait longer)."""
        if job.stop is None or reason == "deleted":
            job.stop = reason
        procs.signal_group(job.pid, signal.SIGTERM)
        kill_at = now + grace
        job.kill_at = kill_at if job.kill_at is None else min(job.kill_at, kill_at)

    def take_kills(self, now: float) -> None:
        for request in self.store.take_kills():
            pgid = request["job_pid"]
            job = self.jobs.get(pgid)
            if job is not None:
                self.signal_stop(job, "deleted", request["grace"], now)
            elif procs.is_alive(pgid, request["job_start"], request["boot_id"]):
                procs.signal_group(pgid, signal.SIGTERM)
                self.strays[pgid] = (
                    request["job_start"],
                    request["boot_id"],
                    now + request["grace"],
                )
                self.forget_files(request["id"], request["appid"])
            else:
                self.forget_files(request["id"], request["appid"])

    def stop_all(self, now: float) -> None:
        for job in self.jobs.values():
            if job.kill_at is None:
                self.signal_stop(job, "shutdown", self.grace, now)

    def check_deadlines(self, now: float) -> None:
        if not self.jobs:
            return
        if now - self.last_refresh >= REFRESH:
            self.refresh()
        wall = time.time()
        for job in self.jobs.values():
            if job.stop is None and wall >= job.deadline:
                self.store.transition(
                    job.session_id, job.appid, status="Terminating", only_from=("Running",)
                )
                self.signal_stop(job, "deadline", self.grace, now)

    def refresh(self) -> None:
        """Read the jobs' rows again: deadlines moved by renew, rows deleted behind our back."""
        self.last_refresh = time.monotonic()
        rows = {
            (row["id"], row["appid"]): row
            for row in self.store.query(
                "SELECT id, appid, start_time, deadline FROM sessions WHERE runner_pid = ?",
                (self.pid,),
            )
        }
        for job in self.jobs.values():
            row = rows.get((job.session_id, job.appid))
            if row is None:
                if job.stop is None:
                    self.signal_stop(job, "deleted", self.grace, self.last_refresh)
            elif row["start_time"] is not None:
                job.deadline = row["start_time"] + row["deadline"]

    def escalate(self, now: float) -> None:
        for job in self.jobs.values():
            if job.kill_at is not None and now >= job.kill_at:
                procs.signal_group(job.pid, signal.SIGKILL)
        for pgid, (start, boot, kill_at) in list(self.strays.items()):
            if now >= kill_at:
                if procs.is_alive(pgid, start, boot):
                    procs.signal_group(pgid, signal.SIGKILL)
                del self.strays[pgid]


def parse_arguments(argv: list[str]) -> dict[str, str]:
    """`--name value` pairs (not argparse: nothing here needs it, and it costs start-up time)."""
    known = {"--home", "--grace", "--hostname", "--idle"}
    values = {"--grace": "10", "--hostname": "localhost", "--idle": "30"}
    pairs = iter(argv)
    for flag in pairs:
        value = next(pairs, None)
        if flag not in known or value is None:
            raise SystemExit(f"canfar_cli.local.supervisor: bad argument {flag!r}")
        values[flag] = value
    if "--home" not in values:
        raise SystemExit("canfar_cli.local.supervisor: --home is required")
    return values


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    _set_subreaper()
    supervisor = Supervisor(
        Path(args["--home"]),
        float(args["--grace"]),
        args["--hostname"],
        float(args["--idle"]),
    )
    try:
        return supervisor.run()
    finally:
        supervisor.store.close()


if __name__ == "__main__":
    sys.exit(main())
