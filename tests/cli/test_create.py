"""`canfar create`: ids and names, refusals before anything is sent, --dry-run, --wait."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from canfar_cli.cli.names import name_from_image, unique_name
from canfar_cli.errors import ExitCode
from tests.support import IMAGE
from tests.support.commands import sessions


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_create_prints_ids_and_names_replicas(cli) -> None:
    result = cli("create", "headless", IMAGE, "-n", "fit", "-r", "3", "--", "echo", "hi")
    assert result.exit_code == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 3
    by_id = {s["id"]: s for s in sessions(cli)}
    assert [by_id[i]["name"] for i in ids] == ["fit-1", "fit-2", "fit-3"]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_create_json_gives_id_and_name(cli) -> None:
    result = cli("create", "headless", IMAGE, "-n", "j", "-r", "2", "--json", "--", "true")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert [entry["name"] for entry in body] == ["j-1", "j-2"]
    assert all(len(entry["id"]) == 8 for entry in body)


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_default_name_is_made_from_the_image_and_unique(cli) -> None:
    first = cli("create", "headless", IMAGE, "--", "true").stdout.split()
    second = cli("create", "headless", IMAGE, "--", "true").stdout.split()
    names = {s["id"]: s["name"] for s in sessions(cli)}
    assert names[first[0]] == "terminal"
    assert names[second[0]] == "terminal-2"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-e", "A=b=c"], "contains '='"),
        (["-n", "Bad_Name"], "session name"),
        (["-e", "NOVALUE"], "not KEY=VALUE"),
        (["--gpus", "0"], "gpu"),
        (["--", "echo", 'say "hi"'], "double quote"),
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


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_wait_exits_1_when_a_job_failed(cli) -> None:
    result = cli("create", "headless", IMAGE, "-n", "bad", "--wait", "--", "false")
    assert len(result.stdout.split()) == 1  # the id is printed before waiting
    if result.exit_code == 0:
        # --wait ends at Running: on a loaded machine the job can be seen Running before it
        # fails. Then it must not have been reported as ended, and `wait` gives the failure.
        assert "Failed" not in result.stderr and "Completed" not in result.stderr
        result = cli("wait", result.stdout.split()[0])
    assert result.exit_code == 1, result.stderr
    assert "Failed" in result.stderr


def test_wait_timeout_needs_wait(cli) -> None:
    assert cli("create", "headless", IMAGE, "--wait-timeout", "5").exit_code == 2


def test_server_refusal_is_exit_1_with_the_servers_reason(cli) -> None:
    result = cli("create", "headless", "docker.io/library/ubuntu:22.04", "--", "true")
    assert result.exit_code == 1
    assert "must come from one of" in result.stderr


def test_an_absurd_replica_count_is_refused_before_any_name_is_made(cli) -> None:
    # It used to build 10**23 default names in memory (the process was killed by the OOM killer).
    result = cli("create", "headless", IMAGE, "-r", "99999999999999999999999", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "replicas must be at most" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("flag", ["-c", "-m"])
def test_infinite_cores_or_ram_are_refused_before_sending(cli, flag: str) -> None:
    # `inf` passed the ">= 1" check and went to the server, which answered 400 (exit 1).
    result = cli("create", "headless", IMAGE, flag, "inf", "--dry-run", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "finite" in result.stderr
    assert result.stdout == ""


def test_a_wait_timeout_that_is_not_a_number_is_refused(cli) -> None:
    # nan compared false with 0, so it passed, and `now >= deadline` never held: no timeout.
    result = cli("create", "headless", IMAGE, "--wait", "--wait-timeout", "nan", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "--wait-timeout" in result.stderr
    assert result.stdout == ""


def test_the_refusal_of_env_for_an_interactive_kind_reads_right(cli) -> None:
    result = cli("create", "notebook", IMAGE, "-e", "A=1")
    assert result.exit_code == ExitCode.USAGE
    assert "env only applies to headless sessions; the server ignores it for a notebook" in (
        result.stderr
    )


def test_create_help_says_ram_is_in_gib(cli) -> None:
    # skaha reads `ram` as GiB (and reports decimal GB: 4 GiB shows as 4.29); the help said GB.
    result = cli("create", "-h", server=None)
    assert "GiB" in result.stdout


def test_names_from_images() -> None:
    assert name_from_image("images.canfar.net/skaha/terminal:1.1.1") == "terminal"
    assert name_from_image("images.canfar.net/a/Astro_ML.v2@sha256:abc") == "astro-ml-v2"
    assert name_from_image("images.canfar.net/a/___:1") == "session"
    assert len(name_from_image("images.canfar.net/a/" + "x" * 100)) <= 40


def test_unique_names_avoid_every_replica_name() -> None:
    assert unique_name("fit", set(), 1) == "fit"
    assert unique_name("fit", {"fit"}, 1) == "fit-2"
    assert unique_name("fit", {"fit-2"}, 3) == "fit-2"  # fit-1..3 clash, fit-2-1..3 do not


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


def test_a_name_with_an_underscore_gets_a_suggestion(cli: Any) -> None:
    result = cli("create", "headless", IMAGE, "-n", "my_fit", "--dry-run", "--", "true")
    assert result.exit_code == 2
    assert "hint: use 'my-fit'" in result.stderr


def test_dry_run_of_a_big_batch_is_short_but_json_is_whole(cli: Any) -> None:
    text = cli("create", "headless", IMAGE, "-n", "fit", "-r", "20", "--dry-run", "--", "true")
    assert text.exit_code == 0
    assert text.stdout.count("POST ") == 2
    assert "18 more request(s) like these, named fit-2 … fit-19" in text.stdout
    whole = cli("create", "headless", IMAGE, "-n", "fit", "-r", "20", "--dry-run", "-o", "json",
                "--", "true")  # fmt: skip
    assert len(json.loads(whole.stdout)) == 20
