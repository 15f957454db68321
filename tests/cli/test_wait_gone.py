"""Issue 20, item 2: a waited-for session that disappears is not Completed. `wait`, `create
--wait` and `run` exit 1 naming it as gone, with its last known status (one rule)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.cli.fakes import RECORD, state_with
from tests.support import IMAGE
from tests.support.commands import sessions
from tests.support.process import canfar_env


def vanishing(
    after: int, status: str = "Running"
) -> tuple[dict[str, int], Callable[[httpx.Request], httpx.Response]]:
    """A server whose listing shows abc12345 (in `status`) for `after` listings, then nothing
    (it was removed), as the real server's does once a Job is deleted."""
    seen = {"listings": 0}
    record = RECORD | {"status": status}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            return httpx.Response(200, text="abc12345\n")
        if path.endswith("/session") and request.url.params.get("view") is None:
            seen["listings"] += 1
            return httpx.Response(200, json=[record] if seen["listings"] <= after else [])
        if path.endswith("/session/abc12345"):
            if seen["listings"] > after:
                return httpx.Response(404, text="session abc12345 not found\n")
            if request.url.params.get("view") == "logs":
                return httpx.Response(200, text="")
            return httpx.Response(200, json=record)
        if path.endswith("/context") or path.endswith("/image"):
            return httpx.Response(200, json={} if path.endswith("/context") else [])
        return httpx.Response(404, text="not found\n")

    return seen, handler


def test_wait_on_a_session_removed_meanwhile_exits_1_naming_it_gone(cli) -> None:
    _, handler = vanishing(after=2)
    result = cli("wait", "abc12345", server="http://h/skaha", obj=state_with(handler))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "done: 1 session(s): 1 gone" in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error == ["error: 1 of 1 session(s) gone before they ended: job (abc12345, last seen"
                     " Running)"]  # fmt: skip


def test_create_wait_follows_the_same_rule(cli) -> None:
    _, handler = vanishing(after=3, status="Pending")  # --wait: until Running
    result = cli("create", "headless", IMAGE, "-n", "job", "--wait", "--", "true",
                 server="http://h/skaha", obj=state_with(handler))  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout == "abc12345\n"  # the id made is printed, as always
    assert "gone before they ended: job (abc12345, last seen Pending)" in result.stderr


@pytest.mark.e2e  # real processes (Watched), jobs on the in-process platform
def test_wait_and_run_against_the_local_platform_when_jobs_are_removed(cli) -> None:
    """Real processes: `canfar wait` and `canfar run` are waiting while `canfar rm` removes
    their sessions."""
    made = cli("create", "headless", IMAGE, "-n", "long", "-r", "2", "--", "sleep", "60")
    ids = made.stdout.split()
    env = canfar_env({"CANFAR_URL": "local"})
    # -v: each request answered is a line on stderr, which tells when a waiter has looked.
    canfar = [sys.executable, "-m", "canfar_cli", "-v"]
    waiter = Watched([*canfar, "wait", *ids], env)
    runner = Watched([*canfar, "run", "-n", "solo", IMAGE, "--", "sleep", "60"], env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = {s["name"]: s["status"] for s in sessions(cli)}
        if running.get("solo") == "Running" and set(running.values()) == {"Running"}:
            break
        time.sleep(0.05)
    # Both have seen them Running: two answers each from now on (the second was asked after).
    for watched in (waiter, runner):
        watched.wait_for_answers(2)
    assert cli("rm", "-f", *[s["id"] for s in sessions(cli)]).exit_code == 0
    waited = waiter.finish()
    assert waiter.process.returncode == 1, waited
    assert "2 of 2 session(s) gone before they ended" in waited
    assert "long-1 (" in waited and "last seen Running" in waited
    ran = runner.finish()
    assert runner.process.returncode == 1, ran
    assert "1 of 1 session(s) gone before they ended" in ran


class Watched:
    """A `canfar -v` process whose stderr is read as it comes (its answered requests counted)."""

    ANSWERED = re.compile(r"canfar_cli\.http: \w+ \S+ \d{3} ")

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def answers(self) -> int:
        return sum(1 for line in self.lines if self.ANSWERED.match(line))

    def wait_for_answers(self, more: int) -> None:
        with self.changed:
            target = self.answers() + more
            assert self.changed.wait_for(lambda: self.answers() >= target, timeout=60), self.lines

    def finish(self) -> str:
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return "".join(self.lines)
