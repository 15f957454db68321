"""`canfar logs`: raw bytes, --tail, several ids, -f."""

from __future__ import annotations

from pathlib import Path

import pytest

from canfar_cli.cli.logs import tail_text
from tests.support import IMAGE, RAW_LOG, RAW_LOG_SCRIPT
from tests.support.commands import create_done


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_logs_are_raw_never_markup(cli) -> None:
    code = "import sys; print(*sys.argv[1:], chr(27) + '[31m', sep=chr(10))"
    sid = create_done(cli, "-n", "raw", "--", "python3", "-c", code, "arr[i]", "[bold]x[/bold]")[0]
    result = cli("logs", sid)
    assert result.stdout == "arr[i]\n[bold]x[/bold]\n\x1b[31m\n"


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_logs_tail_and_several_ids_are_headed(cli) -> None:
    lines = ["sh", "-c", "for a; do echo $a; done", "-", "1", "2", "3"]
    a = create_done(cli, "-n", "aa", "--", *lines)[0]
    b = create_done(cli, "-n", "bb", "--", "echo", "b")[0]
    assert cli("logs", "--tail", "2", a).stdout == "2\n3\n"
    both = cli("logs", a, b).stdout
    assert both == f"==> aa ({a}) <==\n1\n2\n3\n\n==> bb ({b}) <==\nb\n"
    unknown = cli("logs", "zzzzzzzz")
    assert unknown.exit_code == 4


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_logs_follow_exit_code_follows_the_job(cli, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("echo start\nsleep 1\necho end\nexit ${1:-0}\n")
    ok = cli("create", "headless", IMAGE, "-n", "ok", "--", "sh", str(script)).stdout.strip()
    bad = cli("create", "headless", IMAGE, "-n", "bad", "--", "sh", str(script), "3")
    followed = cli("logs", "-f", ok)
    assert followed.exit_code == 0, followed.stderr
    assert followed.stdout == "start\nend\n"
    failed = cli("logs", "-f", bad.stdout.strip())
    assert failed.exit_code == 1
    assert failed.stdout == "start\nend\n"
    assert "Failed" in failed.stderr


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_logs_follow_several_prefixes_lines(cli) -> None:
    a = create_done(cli, "-n", "one", "--", "echo", "x")[0]
    b = create_done(cli, "-n", "two", "--", "echo", "y")[0]
    result = cli("logs", "-f", a, b)
    assert result.exit_code == 0
    assert sorted(result.stdout.splitlines()) == ["one | x", "two | y"]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_logs_keep_bytes_that_are_not_utf8(cli, tmp_path: Path) -> None:
    # A job's output in Latin-1 (or binary) came out with U+FFFD in place of each odd byte.
    script = tmp_path / "latin1.sh"
    script.write_text(RAW_LOG_SCRIPT)
    made = cli("create", "headless", IMAGE, "--wait", "--", "sh", str(script))
    assert made.exit_code == 0, made.stderr
    session_id = made.stdout.strip()
    shown = cli("logs", session_id)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout_bytes == RAW_LOG
    followed = cli("logs", "-f", session_id)
    assert followed.exit_code == 0, followed.stderr
    assert followed.stdout_bytes == RAW_LOG


def test_tail_keeps_lines_exactly() -> None:
    assert tail_text("a\nb\r\nc", 2) == "b\r\nc"
    assert tail_text("a\n", 0) == ""
    assert tail_text("a\n", None) == "a\n"
