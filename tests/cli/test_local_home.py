"""`canfar local home`: the folder every job of the local platform starts in, shared by the
user's jobs, kept by `rm`, moved by CANFAR_LOCAL_ARC."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.commands import create_done, sessions


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_file_written_by_one_job_is_read_by_the_next(cli: Any, isolated: Path) -> None:
    home = cli("local", "home")
    assert home.exit_code == 0, home.stderr
    path = Path(home.stdout.strip())
    assert path == isolated / "local" / "home" / os.environ.get("USER", path.name)
    assert path.is_dir() and (path.stat().st_mode & 0o777) == 0o700
    # The guide's way (docs/guide.md, create): put the script in the home first, then run it
    # by its bare name.
    (path / "fit.py").write_text("open('result.txt', 'w').write('42\\n')\n")
    first = create_done(cli, "--", sys.executable, "fit.py")
    second = create_done(cli, "--", "cat", "result.txt")
    assert cli("logs", second[0]).stdout == "42\n"
    assert {s["id"]: s["status"] for s in sessions(cli)}[first[0]] == "Completed"
    # rm does not take the home with it.
    assert cli("rm", "-f", *first, *second).exit_code == 0
    assert (path / "result.txt").read_text() == "42\n"


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_canfar_local_arc_moves_the_home(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANFAR_LOCAL_ARC", str(tmp_path / "arc"))
    monkeypatch.setenv("CANFAR_LOCAL_USER", "alice")
    home = cli("local", "home")
    assert home.stdout.strip() == str(tmp_path / "arc" / "home" / "alice")
    ids = create_done(cli, "--", "sh", "-c", "pwd; echo $HOME")
    assert cli("logs", ids[0]).stdout == f"{tmp_path / 'arc' / 'home' / 'alice'}\n" * 2
