"""Issue 13, "A batch user's day", through the real command (in-process CliRunner against
`--server local`, or a real process where stdin/stdout piping is the point)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from canfar_cli.models import parse_time
from tests.support import IMAGE
from tests.support.commands import create_done, sessions
from tests.support.process import canfar_env, run_canfar


def _ids(result: Any) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


def test_wait_exits_1_naming_each_failed_session_with_its_exit_code(cli: Any) -> None:
    script = "exit $(( REPLICA_ID == 2 ? 3 : REPLICA_ID == 4 ? 5 : 0 ))"
    ids = _ids(cli("create", "headless", IMAGE, "-n", "sweep", "-r", "5", "--", "sh", "-c", script))
    result = cli("wait", *ids)
    assert result.exit_code == 1, result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "2 of 5" in error[0]
    assert f"sweep-2 ({ids[1]}, exit code 3)" in error[0]
    assert f"sweep-4 ({ids[3]}, exit code 5)" in error[0]
    assert "sweep-1" not in error[0]
    states = {s["id"]: s["status"] for s in sessions(cli)}
    assert [states[i] for i in ids] == ["Completed", "Failed", "Completed", "Failed", "Completed"]
    assert result.stdout == ""


def test_wait_exits_0_when_all_completed_and_reads_ids_from_a_pipe(isolated: Path) -> None:
    env = canfar_env()
    create = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "--server", "local", "create", "headless", IMAGE,
         "-r", "2", "--", "sh", "-c", "sleep 0.3"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert create.returncode == 0, create.stderr
    waited = run_canfar(["wait", "--server", "local"], input=create.stdout)
    assert waited.returncode == 0, waited.stderr
    assert "done: 2 session(s): 2 Completed" in waited.stderr
    listed = run_canfar(["--server", "local", "ps", "-a", "--json"])
    assert {s["status"] for s in json.loads(listed.stdout)} == {"Completed"}


def test_wait_until_running_returns_while_the_job_runs(cli: Any) -> None:
    ids = _ids(cli("create", "headless", IMAGE, "--", "sleep", "30"))
    result = cli("wait", "--until", "running", ids[0])
    assert result.exit_code == 0, result.stderr
    assert {s["id"]: s["status"] for s in sessions(cli)}[ids[0]] == "Running"
    timed = cli("wait", "--timeout", "0.3", ids[0])
    assert timed.exit_code == 1
    assert "timed out" in timed.stderr
    assert cli("rm", "-f", ids[0]).exit_code == 0


def test_wait_for_unknown_ids_exits_4(cli: Any) -> None:
    result = cli("wait", "nosuchid", "nosuchtoo")
    assert result.exit_code == 4
    assert "nosuchid" in result.stderr


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


def test_canfar_local_arc_moves_the_home(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANFAR_LOCAL_ARC", str(tmp_path / "arc"))
    monkeypatch.setenv("CANFAR_LOCAL_USER", "alice")
    home = cli("local", "home")
    assert home.stdout.strip() == str(tmp_path / "arc" / "home" / "alice")
    ids = create_done(cli, "--", "sh", "-c", "pwd; echo $HOME")
    assert cli("logs", ids[0]).stdout == f"{tmp_path / 'arc' / 'home' / 'alice'}\n" * 2


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["python3", "x.py", "-r", "3"], f"canfar create headless {IMAGE} -r 3 -- python3 x.py"),
        (["python3", "-c", "print(1)"], f"canfar create headless {IMAGE} -- python3 -c 'print(1)'"),
        (["echo", "-n", "5"], f"canfar create headless {IMAGE} -n 5 -- echo"),
    ],
)
def test_a_command_without_dashdash_is_refused_with_the_corrected_line(
    cli: Any, args: list[str], hint: str
) -> None:
    result = cli("create", "headless", IMAGE, *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"hint: {hint}"
    assert sessions(cli) == []  # nothing was sent
    # The corrected line, as given, is accepted (as a dry run here).
    corrected = shlex.split(hint)[1:]
    assert cli(corrected[0], "--dry-run", *corrected[1:]).exit_code == 0


def test_names_stand_for_ids_in_info_logs_events_and_rm(cli: Any) -> None:
    ids = _ids(cli("create", "headless", IMAGE, "-n", "myfit", "--", "sleep", "30"))
    assert cli("wait", "--until", "running", "myfit").exit_code == 0
    info = cli("info", "myfit", "-o", "json")
    assert [s["id"] for s in json.loads(info.stdout)] == ids
    assert cli("logs", "myfit").exit_code == 0
    events = cli("events", "MyFit", "-o", "json")
    assert {e["id"] for e in json.loads(events.stdout)} == set(ids)
    removed = cli("rm", "-f", "myfit")
    assert removed.exit_code == 0, removed.stderr
    assert removed.stdout.split() == ids
    assert sessions(cli) == [] or all(s["id"] not in ids for s in sessions(cli))


def test_a_name_of_several_sessions_is_refused_listing_their_ids(cli: Any) -> None:
    first = _ids(cli("create", "headless", IMAGE, "-n", "dup", "--", "true"))
    second = _ids(cli("create", "headless", IMAGE, "-n", "dup", "--", "true"))
    result = cli("info", "dup")
    assert result.exit_code == 2
    assert first[0] in result.stderr and second[0] in result.stderr
    assert "--all-named" in result.stderr
    removed = cli("rm", "-f", "--all-named", "dup")
    assert removed.exit_code == 0, removed.stderr
    assert sorted(removed.stdout.split()) == sorted(first + second)


def test_capacity_never_runs_more_than_it_has(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANFAR_LOCAL_CORES", "2")
    ids = _ids(cli("create", "headless", IMAGE, "-r", "6", "-c", "1", "--", "sleep", "1"))
    most = 0
    started: dict[str, str] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = {s["id"]: s for s in sessions(cli)}
        running = [i for i in ids if listed[i]["status"] == "Running"]
        most = max(most, len(running))
        for i in ids:
            if "startTime" in listed[i]:
                started.setdefault(i, listed[i]["startTime"])
        if all(listed[i]["status"] == "Completed" for i in ids):
            break
        stats = json.loads(cli("stats", "-o", "json").stdout)
        assert stats["cores"]["cpuCoresAvailable"] == 2
        assert stats["cores"]["requestedCPUCores"] <= 2
        time.sleep(0.05)
    assert all(listed[i]["status"] == "Completed" for i in ids)
    assert 1 <= most <= 2
    # In creation order, and the ones that waited say why.
    # (as times: the server leaves out ":00" seconds, so the texts do not sort as times do)
    times = [parse_time(started[i]) for i in ids]
    assert times == sorted(times)
    queued = json.loads(cli("events", ids[-1], "-o", "json").stdout)
    assert any(
        e.get("reason") == "Queued" and "waiting for resources: needs 1 core" in e["message"]
        for e in queued
    )


def test_global_options_after_the_subcommand(cli: Any) -> None:
    result = cli("ps", "-a", "--server", "local", "-v", server=None)
    assert result.exit_code == 0, result.stderr
    assert "GET" in result.stderr  # -v took effect
    # After the subcommand wins over before it.
    assert cli("ps", "--server", "local", server="http://127.0.0.1:9/skaha").exit_code == 0
    assert "--server" in cli("ps", "--help").stdout


def test_info_json_is_an_array_for_one_id(isolated: Path) -> None:
    created = run_canfar(["--server", "local", "create", "headless", IMAGE, "--", "true"])
    session_id = created.stdout.strip()
    info = run_canfar(["info", session_id, "-o", "json", "--server", "local"])
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)[0]["id"] == session_id
    logs = run_canfar(["logs", session_id, "-o", "json", "--server", "local"])
    assert [set(item) for item in json.loads(logs.stdout)] == [{"id", "name", "log"}]
    events = run_canfar(["events", session_id, "--json", "--server", "local"])
    assert all(event["id"] == session_id for event in json.loads(events.stdout))


def test_the_readme_sweep_runs_as_written(isolated: Path, tmp_path: Path) -> None:
    """docs/guide.md (create): `cp fit.py "$(canfar local home)/"`, then a sweep piped into
    `canfar wait`."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "fit.py").write_text("import os\nprint('seed', os.environ['SEED'])\n")
    env = canfar_env({"CANFAR_URL": "local", "CANFAR_LOCAL_CORES": "2"})
    script = (
        'cp fit.py "$(canfar local home)/" && '
        "canfar create headless skaha/terminal:1.1.1 -n fit -r 3 -e SEED=42 -- python3 fit.py"
        " | canfar wait && canfar logs fit-3"
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "seed 42\n"
