"""Every command in-process against the local platform (`--server local`, or a loopback server
for jobs that must outlive the test's own calls)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from canfar_cli.output import Output
from tests.support import IMAGE


def sessions(cli, server: str = "local") -> list[dict]:
    result = cli("ps", "-a", "--json", server=server)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def create_done(cli, *args: str, server: str = "local") -> list[str]:
    """Create and wait until each session has ended or runs; the new ids."""
    result = cli("create", "headless", IMAGE, "--wait", *args, server=server)
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


def poll(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(interval)


# --- create ----------------------------------------------------------------------------------


def test_create_prints_ids_and_names_replicas(cli) -> None:
    result = cli("create", "headless", IMAGE, "-n", "fit", "-r", "3", "--", "echo", "hi")
    assert result.exit_code == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 3
    by_id = {s["id"]: s for s in sessions(cli)}
    assert [by_id[i]["name"] for i in ids] == ["fit-1", "fit-2", "fit-3"]


def test_create_json_gives_id_and_name(cli) -> None:
    result = cli("create", "headless", IMAGE, "-n", "j", "-r", "2", "--json", "--", "true")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert [entry["name"] for entry in body] == ["j-1", "j-2"]
    assert all(len(entry["id"]) == 8 for entry in body)


def test_default_name_is_made_from_the_image_and_unique(cli) -> None:
    first = cli("create", "headless", IMAGE, "--", "true").stdout.split()
    second = cli("create", "headless", IMAGE, "--", "true").stdout.split()
    names = {s["id"]: s["name"] for s in sessions(cli)}
    assert names[first[0]] == "terminal"
    assert names[second[0]] == "terminal-2"


def test_env_replica_variables_and_wait_reach_the_job(cli) -> None:
    ids = create_done(cli, "-n", "envy", "-r", "2", "-e", "SEED=42", "--", "printenv", "SEED")
    ids += create_done(cli, "-n", "rep", "-r", "2", "--", "printenv", "REPLICA_ID")
    outputs = [cli("logs", i).stdout for i in ids]
    assert outputs == ["42\n", "42\n", "1\n", "2\n"]


def test_env_file_is_read(cli, tmp_path: Path) -> None:
    env_file = tmp_path / "job.env"
    env_file.write_text("# settings\nexport ALPHA=one\n\nBETA=two\n")
    ids = create_done(cli, "--env-file", str(env_file), "--", "printenv", "ALPHA", "BETA")
    assert cli("logs", ids[0]).stdout == "one\ntwo\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-e", "A=b=c"], "contains '='"),
        (["-n", "Bad_Name"], "session name"),
        (["-e", "NOVALUE"], "not KEY=VALUE"),
        (["--gpus", "0"], "gpu"),
        (["--", "echo", "two words"], "whitespace"),
    ],
)
def test_refusals_are_one_line_exit_2_and_send_nothing(cli, args: list[str], words: str) -> None:
    result = cli("create", "headless", IMAGE, *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert sessions(cli) == []


def test_command_for_an_interactive_kind_is_refused(cli) -> None:
    result = cli("create", "notebook", IMAGE, "--", "echo", "hi")
    assert result.exit_code == 2
    assert "only apply to headless" in result.stderr


def test_dry_run_shows_the_requests_hides_credentials_and_sends_nothing(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANFAR_TOKEN", "tok-SECRET-123")
    result = cli("create", "headless", IMAGE, "-n", "dry", "-r", "2", "--dry-run", "--", "echo")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("POST http://local/skaha/v1/session\n")
    assert "Authorization: <hidden>" in result.stdout
    assert "tok-SECRET-123" not in result.stdout + result.stderr
    assert "name=dry-1" in result.stdout and "name=dry-2" in result.stdout
    assert "env=REPLICA_COUNT=2" in result.stdout
    assert "nothing sent" in result.stderr
    as_json = cli("create", "headless", IMAGE, "-n", "dry", "--dry-run", "--json")
    plan = json.loads(as_json.stdout)
    assert plan[0]["method"] == "POST"
    assert ["name", "dry"] in plan[0]["form"]
    assert sessions(cli) == []


def test_wait_exits_1_when_a_job_failed(cli) -> None:
    result = cli("create", "headless", IMAGE, "-n", "bad", "--wait", "--", "false")
    assert result.exit_code == 1
    assert len(result.stdout.split()) == 1  # the id is printed before waiting
    assert "Failed" in result.stderr


def test_wait_timeout_needs_wait(cli) -> None:
    assert cli("create", "headless", IMAGE, "--wait-timeout", "5").exit_code == 2


def test_server_refusal_is_exit_1_with_the_servers_reason(cli) -> None:
    result = cli("create", "headless", "docker.io/library/ubuntu:22.04", "--", "true")
    assert result.exit_code == 1
    assert "must come from one of" in result.stderr


# --- ps --------------------------------------------------------------------------------------


def test_ps_filters_and_formats(cli, local_server) -> None:
    url = local_server.url
    done = create_done(cli, "-n", "done", "--", "true", server=url)[0]
    running = cli("create", "headless", IMAGE, "-n", "long", "--", "sleep", "300", server=url)
    long_id = running.stdout.strip()
    poll(lambda: cli("ps", "-q", server=url).stdout.split() == [long_id])

    table = cli("ps", server=url)
    header = table.stdout.splitlines()[0].split()
    assert header == [
        "ID",
        "NAME",
        "KIND",
        "STATUS",
        "IMAGE",
        "CPU",
        "RAM",
        "GPU",
        "AGE",
        "EXPIRES",
    ]
    assert long_id in table.stdout and done not in table.stdout
    # EXPIRES: time left for a live session, nothing for one that has finished.
    rows = {
        line.split()[0]: line.split() for line in cli("ps", "-a", server=url).stdout.splitlines()
    }
    assert rows[long_id][-2:] == ["in", "13d"]  # a headless job's 14 days, less a moment
    assert rows[done][-1] == "-"

    assert set(cli("ps", "-a", "-q", server=url).stdout.split()) == {done, long_id}
    assert cli("ps", "-s", "completed", "-q", server=url).stdout.split() == [done]
    assert cli("ps", "-a", "--name", "do*", "-q", server=url).stdout.split() == [done]
    assert cli("ps", "-a", "-k", "notebook", "-q", server=url).stdout == ""
    objects = json.loads(cli("ps", "-a", "-o", "json", server=url).stdout)
    assert {o["id"] for o in objects} == {done, long_id}
    assert all("startTime" in o for o in objects)
    wide = cli("ps", "-a", "-o", "wide", server=url).stdout.splitlines()[0].split()
    assert wide[:10] == header and "USER" in wide

    assert cli("rm", "-f", long_id, server=url).exit_code == 0


def test_ps_refuses_contradicting_formats_and_watch_without_terminal(cli) -> None:
    assert cli("ps", "-q", "--json").exit_code == 2
    assert cli("ps", "-o", "table", "--json").exit_code == 2
    watch = cli("ps", "-w")
    assert watch.exit_code == 2
    assert "terminal" in watch.stderr


# --- info ------------------------------------------------------------------------------------


def test_info_blocks_json_and_unknown_ids(cli) -> None:
    sid = create_done(cli, "-n", "inf", "--", "true")[0]
    block = cli("info", sid)
    assert block.exit_code == 0
    assert "ID:" in block.stdout and sid in block.stdout
    assert "Expires:" in block.stdout and "(in " in block.stdout

    single = json.loads(cli("info", sid, "-o", "json").stdout)
    assert single["id"] == sid and single["status"] == "Completed"

    partial = cli("info", sid, "zzzzzzzz")
    assert partial.exit_code == 1
    assert sid in partial.stdout
    assert "zzzzzzzz" in partial.stderr and "not found" in partial.stderr

    missing = cli("info", "zzzzzzzz", "yyyyyyyy")
    assert missing.exit_code == 4
    assert missing.stdout == ""


# --- logs ------------------------------------------------------------------------------------


def test_logs_are_raw_never_markup(cli) -> None:
    text_args = ["printf", "%s\\n", "arr[i]", "[bold]x[/bold]", "\x1b[31m"]
    sid = create_done(cli, "-n", "raw", "--", *text_args)[0]
    result = cli("logs", sid)
    assert result.stdout == "arr[i]\n[bold]x[/bold]\n\x1b[31m\n"


def test_logs_tail_and_several_ids_are_headed(cli) -> None:
    a = create_done(cli, "-n", "aa", "--", "printf", "%s\\n", "1", "2", "3")[0]
    b = create_done(cli, "-n", "bb", "--", "echo", "b")[0]
    assert cli("logs", "--tail", "2", a).stdout == "2\n3\n"
    both = cli("logs", a, b).stdout
    assert both == f"==> aa ({a}) <==\n1\n2\n3\n\n==> bb ({b}) <==\nb\n"
    unknown = cli("logs", "zzzzzzzz")
    assert unknown.exit_code == 4


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


def test_logs_follow_several_prefixes_lines(cli) -> None:
    a = create_done(cli, "-n", "one", "--", "echo", "x")[0]
    b = create_done(cli, "-n", "two", "--", "echo", "y")[0]
    result = cli("logs", "-f", a, b)
    assert result.exit_code == 0
    assert sorted(result.stdout.splitlines()) == ["one | x", "two | y"]


# --- events ----------------------------------------------------------------------------------


def test_events_table_json_and_unknown(cli) -> None:
    sid = create_done(cli, "-n", "ev", "--", "true")[0]
    table = cli("events", sid)
    assert table.exit_code == 0
    assert table.stdout.split("\n", 1)[0].split() == [
        "TYPE",
        "REASON",
        "MESSAGE",
        "FIRST-TIME",
        "LAST-TIME",
    ]
    assert "Completed" in table.stdout
    objects = json.loads(cli("events", sid, "--json").stdout)
    assert isinstance(objects, list) and {"type", "reason", "message"} <= set(objects[0])
    assert cli("events", "zzzzzzzz").exit_code == 4


def test_events_watch_ends_with_the_session(cli) -> None:
    sid = create_done(cli, "-n", "evw", "--", "true")[0]
    result = cli("events", "-w", sid)
    assert result.exit_code == 0
    assert "Completed" in result.stdout


# --- stats -----------------------------------------------------------------------------------


def test_stats_table_and_json(cli) -> None:
    table = cli("stats")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["RESOURCE", "REQUESTED", "AVAILABLE"]
    assert lines[1].startswith("cores") and lines[2].startswith("ram")
    body = json.loads(cli("stats", "-o", "json").stdout)
    assert set(body) >= {"cores", "ram"}


# --- rm and prune ----------------------------------------------------------------------------


def test_rm_removes_and_reports_unknown_ids(cli) -> None:
    a, b = create_done(cli, "-n", "rm", "-r", "2", "--", "true")
    result = cli("rm", "-f", a, "zzzzzzzz")
    assert result.exit_code == 1
    assert result.stdout == f"{a}\n"
    assert "zzzzzzzz" in result.stderr and "not found" in result.stderr
    assert [s["id"] for s in sessions(cli)] == [b]
    assert cli("rm", "-y", "zzzzzzzz").exit_code == 4
    assert cli("rm", "-f", b).stdout == f"{b}\n"


def test_rm_without_terminal_or_force_refuses_and_names_the_flag(cli) -> None:
    sid = create_done(cli, "--", "true")[0]
    result = cli("rm", sid)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert [s["id"] for s in sessions(cli)] == [sid]


def test_rm_asks_on_a_terminal(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Output, "stdin_is_terminal", lambda self: True)
    sid = create_done(cli, "--", "true")[0]
    declined = cli("rm", sid, input="n\n")
    assert declined.exit_code == 1
    assert "Remove 1 session?" in declined.stderr
    assert [s["id"] for s in sessions(cli)] == [sid]
    accepted = cli("rm", sid, input="y\n")
    assert accepted.exit_code == 0
    assert accepted.stdout == f"{sid}\n"
    assert sessions(cli) == []


def test_rm_by_name_pattern(cli) -> None:
    keep = create_done(cli, "-n", "keep", "--", "true")[0]
    create_done(cli, "-n", "tmp", "-r", "2", "--", "true")
    result = cli("rm", "-f", "--name", "tmp-*")
    assert result.exit_code == 0
    assert len(result.stdout.split()) == 2
    assert [s["id"] for s in sessions(cli)] == [keep]
    assert cli("rm", "-f", "--name", "nomatch*").exit_code == 4


def test_rm_with_nothing_given(cli) -> None:
    assert cli("rm").exit_code == 2
    assert cli("rm", "-f").exit_code == 0


def test_prune_removes_finished_only(cli, local_server) -> None:
    url = local_server.url
    done = create_done(cli, "-n", "done", "--", "true", server=url)[0]
    failed = cli("create", "headless", IMAGE, "-n", "bad", "--wait", "--", "false", server=url)
    bad = failed.stdout.strip()
    long_id = cli("create", "headless", IMAGE, "-n", "long", "--", "sleep", "300", server=url)
    long_id = long_id.stdout.strip()

    dry = cli("prune", "--dry-run", "-q", server=url)
    assert dry.exit_code == 0
    assert set(dry.stdout.split()) == {done, bad}
    assert "would be removed" in dry.stderr
    assert cli("prune", server=url).exit_code == 2  # no terminal, no --force
    assert cli("prune", "-f", "--older-than", "7d", server=url).stdout == ""

    result = cli("prune", "-f", "-s", "failed", server=url)
    assert result.stdout.split() == [bad]
    assert "removed 1 of 1" in result.stderr
    result = cli("prune", "-y", server=url)
    assert result.stdout.split() == [done]
    assert [s["id"] for s in sessions(cli, url)] == [long_id]
    assert cli("prune", "--older-than", "soon", server=url).exit_code == 2
    cli("rm", "-f", long_id, server=url)
