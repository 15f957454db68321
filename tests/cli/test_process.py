"""`canfar` as a real process: stdout holds only data, stderr the messages, and every exit code of
the table comes out where it should."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import IMAGE
from tests.support.process import canfar_env, run_canfar


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_exit_0_and_stdout_holds_only_ids() -> None:
    result = run_canfar(
        ["--server", "local", "create", "headless", IMAGE, "-r", "2", "--wait", "--", "true"]
    )
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split("\n")
    assert len(ids) == 3 and ids[2] == ""
    assert all(len(i) == 8 and i.isalnum() for i in ids[:2])
    # The progress went to stderr (--wait ends at Running: `true` may or may not have ended, in
    # either replica, so the line may read "2 Running", "2 Completed" or one of each).
    done = re.search(r"done: 2 session\(s\): (.*)", result.stderr)
    assert done, result.stderr
    counts = re.findall(r"(\d+) (Running|Completed)", done.group(1))
    assert sum(int(n) for n, _ in counts) == 2, done.group(0)


def test_exit_1_when_the_server_refuses() -> None:
    result = run_canfar(
        ["--server", "local", "create", "headless", "docker.io/x/y:1", "--", "true"]
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "must come from one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_exit_2_for_usage() -> None:
    result = run_canfar(["ps", "--bogus"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "No such option" in result.stderr


def test_exit_3_for_missing_or_rejected_credentials(
    cli, serve_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Served from a state folder of its own: canfar (whose state folder is another) finds no
    # token recorded for it.
    server = serve_local(token="right-token", home=tmp_path / "served")
    missing = run_canfar(["--server", server.url, "ps"])
    assert missing.returncode == 3, missing.stderr
    assert missing.stdout == ""
    # The same exit code's other causes in-process (the process is the one above).
    token_file = tmp_path / "token"
    token_file.write_text("right-token\n")
    good = cli("--token-file", str(token_file), "ps", server=server.url)
    assert good.exit_code == 0, good.stderr
    monkeypatch.setenv("CANFAR_TOKEN", "wrong-token")
    wrong = cli("ps", server=server.url)
    assert wrong.exit_code == 3
    assert "wrong-token" not in wrong.stderr


def test_exit_4_when_nothing_was_found() -> None:
    result = run_canfar(["--server", "local", "info", "zzzzzzzz"])
    assert result.returncode == 4
    assert result.stdout == ""
    assert "zzzzzzzz" in result.stderr


def test_exit_5_when_the_server_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{closed_port()}/skaha"
    result = run_canfar(["--server", url, "--timeout", "2", "ps"])
    assert result.returncode == 5
    assert result.stdout == ""
    assert "127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the reason, and maybe a hint


def test_exit_130_when_logs_follow_is_interrupted(cli, local_server, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("echo started\nsleep 300\n")
    made = cli("create", "headless", IMAGE, "--", "sh", str(script), server=local_server.url)
    session_id = made.stdout.strip()
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canfar_cli",
            "--server",
            local_server.url,
            "logs",
            "-f",
            session_id,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=canfar_env(),
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "started\n"  # it is following now
        follower.send_signal(signal.SIGINT)
        _, stderr = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 130
    assert "Traceback" not in stderr


def test_ps_quiet_piped_into_rm(cli, local_server) -> None:
    url = local_server.url
    for name in ("p1", "p2"):  # made in-process: the pipe below is the point
        cli("create", "headless", IMAGE, "-n", name, "--", "sleep", "300", server=url)
    listed = cli("ps", "-q", server=url).stdout.split()
    assert len(listed) == 2
    pipeline = subprocess.run(
        ["sh", "-c", f"canfar --server {url} ps -q | xargs canfar --server {url} rm -f"],
        capture_output=True,
        text=True,
        env=canfar_env(),
        timeout=60,
        check=False,
    )
    assert pipeline.returncode == 0, pipeline.stderr
    assert sorted(pipeline.stdout.split()) == sorted(listed)
    assert cli("ps", "-a", "-q", server=url).stdout == ""


def test_a_closed_pipe_is_not_a_traceback() -> None:
    # The reader is gone before canfar writes a byte (`canfar ps | head -0`, in effect).
    child = subprocess.Popen(
        [sys.executable, "-m", "canfar_cli", "--server", "local", "stats"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=canfar_env(),
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    stderr = child.stderr.read()
    child.wait(timeout=60)
    assert "Traceback" not in stderr
    assert "Exception" not in stderr
    assert child.returncode == 141


def test_no_colour_when_not_a_terminal() -> None:
    result = run_canfar(["--server", "local", "ps", "-a"])
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout + result.stderr


def test_python_dash_m_and_the_script_agree() -> None:
    by_module = run_canfar(["--version"])
    by_script = subprocess.run(
        [str(Path(sys.executable).parent / "canfar"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert by_module.stdout == by_script.stdout
    assert by_module.stdout.startswith("canfar ")


def test_ps_watch_refreshes_a_terminal_until_interrupted(cli) -> None:
    assert cli("create", "headless", IMAGE, "-n", "watched", "--", "true").exit_code == 0
    primary, secondary = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "canfar_cli", "--server", "local", "ps", "-a", "-w"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=canfar_env({"TERM": "xterm"}),
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"watched" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                seen += os.read(primary, 65536)
        assert b"watched" in seen
        assert b"\x1b[" in seen  # a live, coloured display on a terminal
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 130
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(primary)
    assert b"Traceback" not in seen


def test_logs_pass_text_the_terminal_encoding_lacks(cli) -> None:
    made = cli("create", "headless", IMAGE, "--wait", "--", "echo", "héllo✓")
    session_id = made.stdout.strip()
    result = run_canfar(
        ["--server", "local", "logs", session_id], env={"PYTHONIOENCODING": "ascii"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "héllo✓\n"
