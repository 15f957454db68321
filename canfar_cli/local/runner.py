"""`python -m canfar_cli.local.runner`: the detached supervisor of one local session.

Started by the app with start_new_session, so it outlives the `canfar` process (or server) that
created the session. It:
  - starts the job (a headless session's cmd + args, or an interactive kind's placeholder) in a
    process group of its own, stdout and stderr appended to the session's log file;
  - records pid, start time and boot id, and moves the session Pending -> Running;
  - waits for the job; on SIGTERM (a DELETE) or at the expiry time it sends SIGTERM to the job's
    group, waits out the grace period, then SIGKILLs the group;
  - when the job leader ends, SIGKILLs whatever is left of its group (as a container ends with
    its main process), reaps, and records Completed or Failed with an event.
A DELETE removes the row at once; the runner then only ends the processes and the files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from canfar_cli.local import procs
from canfar_cli.local.store import Store, loads_list, session_dir

# How often the watchdog re-reads the expiry time (renew may have moved it).
EXPIRY_POLL = 30.0
_BASE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")


def _set_subreaper() -> None:
    """Become the reaper of the job's orphans, so none is left a zombie (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def job_environment(row: Any, home: Path, hostname: str) -> dict[str, str]:
    """The user's env, then what the real platform injects (after the user's, so it wins)."""
    env = {key: os.environ[key] for key in _BASE_ENV if key in os.environ}
    for key, value in loads_list(row["env"]):
        env[key] = value
    cores = row["cores"] if row["cores"] is not None else 1
    env.update(
        {
            "skaha_hostname": hostname,
            "skaha_username": row["userid"],
            "skaha_sessionid": row["id"],
            "HOME": str(home),
            "PWD": str(home),
            "OMP_NUM_THREADS": str(max(1, int(cores))),
        }
    )
    return env


def placeholder_command() -> list[str]:
    import shutil

    sleep = shutil.which("sleep")
    if sleep:
        return [sleep, "infinity"]
    return [sys.executable, "-c", "import time\nwhile True: time.sleep(3600)"]


class Runner:
    def __init__(
        self, home: Path, session_id: str, appid: str, grace: float, hostname: str
    ) -> None:
        self.home = home
        self.hostname = hostname
        self.id = session_id
        self.appid = appid
        self.grace = grace
        self.store = Store(home)
        self.stop = threading.Event()
        self.stop_reason = "signal"
        self.exited = threading.Event()
        self.pgid = 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop_reason = "signal"
        self.stop.set()

    def fail(self, reason: str, message: str) -> None:
        failed = self.store.transition(
            self.id,
            self.appid,
            status="Failed",
            event=("Warning", reason, message),
            end_time=time.time(),
        )
        if not failed and self.store.get(self.id, self.appid) is None:
            self.forget_files()

    def forget_files(self) -> None:
        """The session was deleted: its folder (log, home) goes too."""
        import shutil

        shutil.rmtree(session_dir(self.home, self.id, self.appid), ignore_errors=True)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        row = self.store.get(self.id, self.appid)
        if row is None or row["status"] != "Pending":
            return 0
        me = os.getpid()
        self.store.update(
            self.id,
            self.appid,
            runner_pid=me,
            runner_start=procs.start_ticks(me),
            boot_id=procs.boot_id(),
        )
        folder = session_dir(self.home, self.id, self.appid)
        job_home = folder / "home"
        job_home.mkdir(parents=True, exist_ok=True)
        log_path = folder / "log"

        if row["type"] == "headless":
            if not row["cmd"]:
                self.fail(
                    "Failed",
                    "no cmd given: the local platform runs a headless session's command on this"
                    " host and cannot run the image's default entrypoint",
                )
                return 0
            from canfar_cli.local.skaha import java_split

            argv = [row["cmd"], *java_split(row["args"], " ")] if row["args"] else [row["cmd"]]
        else:
            argv = placeholder_command()
        if self.stop.is_set():
            return 0

        with open(log_path, "ab") as log:
            if row["type"] != "headless":
                log.write(
                    f"canfar local: this {row['type']} session is emulated; no {row['type']}"
                    f" server runs on the local platform.\n".encode()
                )
                log.flush()
            try:
                job = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(job_home),
                    env=job_environment(row, job_home, self.hostname),
                    start_new_session=True,
                    close_fds=True,
                )
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                text = f"cannot start {row['cmd'] or argv[0]!r}: {reason}"
                log.write(f"canfar local: {text}\n".encode())
                self.fail("Failed", text)
                return 0
        self.pgid = job.pid
        started = time.time()
        moved = self.store.transition(
            self.id,
            self.appid,
            status="Running",
            only_from=("Pending",),
            event=("Normal", "Started", f"Started process {job.pid} ({Path(argv[0]).name})"),
            start_time=started,
            job_pid=job.pid,
            job_start=procs.start_ticks(job.pid),
        )
        if not moved:  # deleted (or failed by a sweep) while we were starting it
            self.stop.set()
        watchdog = threading.Thread(target=self.watch, args=(started,), daemon=True)
        watchdog.start()

        # Wait for the leader without reaping it, so its pid (= the group id) cannot be reused
        # while we sweep the group.
        info = None
        while info is None:
            try:
                info = os.waitid(os.P_PID, job.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                break
        self.exited.set()
        procs.signal_group(self.pgid, signal.SIGKILL)
        job.wait()
        self.reap_orphans()
        self.finish(job.returncode)
        return 0

    def watch(self, started: float) -> None:
        """Ends the job on request (signal, deletion) or at its expiry time."""
        while not self.exited.is_set():
            row = self.store.get(self.id, self.appid)
            if row is None:
                self.stop_reason = "deleted"
                break
            expiry = (row["start_time"] or started) + row["deadline"]
            wait = min(EXPIRY_POLL, max(0.0, expiry - time.time()))
            if self.stop.wait(wait):
                if self.store.get(self.id, self.appid) is None:
                    self.stop_reason = "deleted"
                break
            if time.time() >= expiry:
                self.stop_reason = "deadline"
                self.store.transition(
                    self.id, self.appid, status="Terminating", only_from=("Running", "Pending")
                )
                break
        if self.exited.is_set():
            return
        procs.signal_group(self.pgid, signal.SIGTERM)
        if not self.exited.wait(self.grace):
            procs.signal_group(self.pgid, signal.SIGKILL)

    def reap_orphans(self) -> None:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.05)

    def finish(self, code: int) -> None:
        row = self.store.get(self.id, self.appid)
        if row is None:  # deleted: the session is already gone; take its files too
            self.forget_files()
            return
        now = time.time()
        if self.stop_reason == "deadline":
            self.store.transition(
                self.id,
                self.appid,
                status="Failed",
                event=(
                    "Warning",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                ),
                end_time=now,
                exit_code=code,
            )
        elif code == 0 and not self.stop.is_set():
            self.store.transition(
                self.id,
                self.appid,
                status="Completed",
                event=("Normal", "Completed", "Job completed: the process exited with code 0"),
                end_time=now,
                exit_code=0,
            )
        else:
            if code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"signal {-code}"
                text = f"the process was killed by {name}"
                if self.stop.is_set():
                    text += " (the runner was asked to stop)"
            else:
                text = f"the process exited with code {code}"
                if self.stop.is_set():
                    text += " after the runner was asked to stop"
            self.store.transition(
                self.id,
                self.appid,
                status="Failed",
                event=(
                    "Warning",
                    "BackoffLimitExceeded",
                    f"Job has reached the specified backoff limit: {text}",
                ),
                end_time=now,
                exit_code=code,
            )


def parse_arguments(argv: list[str]) -> dict[str, str]:
    """`--name value` pairs. (Not argparse: a runner starts per session, and its import costs
    ~10 ms of the runner's start-up, paid 100 times over by 100 replicas.)"""
    known = {"--home", "--id", "--appid", "--grace", "--hostname"}
    values = {"--appid": "", "--grace": "10", "--hostname": "localhost"}
    pairs = iter(argv)
    for flag in pairs:
        value = next(pairs, None)
        if flag not in known or value is None:
            raise SystemExit(f"canfar_cli.local.runner: bad argument {flag!r}")
        values[flag] = value
    if "--home" not in values or "--id" not in values:
        raise SystemExit("canfar_cli.local.runner: --home and --id are required")
    return values


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    _set_subreaper()
    runner = Runner(
        Path(args["--home"]),
        args["--id"],
        args["--appid"],
        float(args["--grace"]),
        args["--hostname"],
    )
    try:
        return runner.run()
    finally:
        runner.store.close()


if __name__ == "__main__":
    sys.exit(main())
