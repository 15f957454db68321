"""What `create` and `run` share, through the real commands against `--server local`: the rule
for a command given without `--`, click's own word for a mistyped option, one exit code for a
Failed job, and a refused image named as the user typed it (issue 18's defects)."""

from __future__ import annotations

import shlex
from typing import Any, cast

import pytest

from tests.support import IMAGE
from tests.support.commands import sessions


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["echo", "fit.py", "-n", "3"], f"canfar run {IMAGE} -n 3 -- echo fit.py"),
        (["ls", "-la"], f"canfar run {IMAGE} -- ls -la"),
        (["python3", "-c", "print(1)"], f"canfar run {IMAGE} -- python3 -c 'print(1)'"),
    ],
)
def test_run_refuses_a_command_without_dashdash_as_create_does(
    cli: Any, args: list[str], hint: str
) -> None:
    result = cli("run", IMAGE, *args)
    assert result.exit_code == 2
    assert "the command must follow `--`" in result.stderr
    assert result.stderr.splitlines()[-1] == f"hint: {hint}"
    assert sessions(cli) == []  # nothing was sent
    # The corrected line runs the job with every one of its arguments.
    corrected = shlex.split(hint)[1:]
    assert cli(*corrected).exit_code == 0


@pytest.mark.parametrize(
    ("command", "typo", "suggested"),
    [
        (["create", "headless"], ["--replica", "3"], "--replicas"),
        (["create", "headless"], ["--nmae", "fit"], "--name"),
        (["create", "headless"], ["--cpus", "2"], "--cores"),
        (["run"], ["--nmae", "fit"], "--name"),
    ],
)
def test_a_mistyped_option_before_dashdash_is_named_by_click(
    cli: Any, command: list[str], typo: list[str], suggested: str
) -> None:
    result = cli(*command, IMAGE, *typo, "--", "echo", "hi")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: No such option: {typo[0]} (Possible options:")
    assert suggested in first
    assert "must follow" not in result.stderr and "-- 3" not in result.stderr
    assert sessions(cli) == []


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_run_and_wait_give_the_same_exit_code_for_one_failed_job(cli: Any) -> None:
    ran = cli("run", IMAGE, "-n", "bad", "--", "sh", "-c", "exit 7")
    assert ran.exit_code == 1
    assert "Failed (exit code 7)" in ran.stderr
    [record] = sessions(cli)
    waited = cli("wait", record["id"])
    assert waited.exit_code == 1
    assert f"bad ({record['id']}, exit code 7)" in waited.stderr


def test_an_exit_code_read_from_a_kubernetes_status_event() -> None:
    from canfar_cli.models import exit_code_of

    events = [
        {"message": "Started container"},
        {"message": "Last State: Terminated, Reason: Error, Exit Code: 3"},
    ]
    assert exit_code_of(events) == 3
    assert exit_code_of([{"message": "the process exited with code -9"}]) == -9
    assert exit_code_of([{"message": "Job has reached the specified backoff limit"}]) is None


@pytest.mark.parametrize("command", [["create", "headless"], ["run"]])
def test_an_unknown_image_is_named_not_a_generated_session_name(
    cli: Any, command: list[str]
) -> None:
    result = cli(*command, "skaha/nosuch:1", "--", "true")
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: images.canfar.net/skaha/nosuch:1: "), result.stderr
    assert "private image" in first and "nosuch-" not in first


def test_replicas_refused_for_one_image_are_one_line(cli: Any) -> None:
    result = cli("create", "headless", "skaha/nosuch:1", "-r", "3", "--", "true")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "images.canfar.net/skaha/nosuch:1" in errors[0]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_create_is_checked_and_encoded_once(cli: Any) -> None:
    """`create -r 3` plans its requests, encodes its command line and checks its arguments
    once (the pre-check, the name and the send share one CreateSpec)."""
    import sys
    import threading
    from collections import Counter

    from canfar_cli import cmdline, create_request

    watched = {
        create_request.plan_requests.__code__: "plan_requests",
        cmdline.encode.__code__: "encode",
        cmdline.check_args.__code__: "check_args",
    }
    calls: Counter[str] = Counter()

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code in watched:
            calls[watched[frame.f_code]] += 1

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        result = cli("create", "headless", IMAGE, "-r", "3", "--", "echo", "a b")
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.split()) == 3
    assert calls == Counter({"plan_requests": 1, "encode": 1, "check_args": 1})


def test_the_api_checks_a_create_before_its_name_is_chosen() -> None:
    from canfar_cli import AsyncSession
    from canfar_cli.errors import UsageError

    session = AsyncSession(server="local")
    spec = session.check_create(None, IMAGE, cmd="echo", args=["a b"], replicas=2)
    assert spec.names == []
    with pytest.raises(UsageError, match="name is required"):
        session.plan_checked(spec)
    plans = session.plan_checked(spec.named("fit"))
    assert [plan.name for plan in plans] == ["fit-1", "fit-2"]
    assert plans[0].argv == ["echo", "a b"]
    with pytest.raises(UsageError, match="upper-case"):
        spec.named("Fit")
    with pytest.raises(UsageError, match="double quote"):
        session.check_create(None, IMAGE, cmd="echo", args=['"x"'])


def test_run_create_takes_options_a_session_and_the_output() -> None:
    """The create command's work without the command line: parsed options, a fake core and a
    terminal of strings; the ids on stdout, the failure on stderr, the batch's code returned."""
    import io

    import anyio

    from canfar_cli.cli.create import CreateOptions, run_create
    from canfar_cli.cli.launch import Launch
    from canfar_cli.create_request import CreateRequest, CreateSpec
    from canfar_cli.errors import ExitCode, ServerError
    from canfar_cli.outcomes import Outcome
    from canfar_cli.output import Output
    from canfar_cli.session import AsyncSession

    class FakeCore:
        base_url = "https://example.org/skaha"

        def check_create(self, *args: Any, **kwargs: Any) -> CreateSpec:
            return CreateRequest(*args, **kwargs).check()

        async def fetch(self) -> list[dict[str, Any]]:
            return [{"id": "old", "name": "terminal-1"}]

        async def images(self, kind: str | None = None) -> list[dict[str, Any]]:
            return []  # the kinds of a public image are looked up before sending: none here

        async def create_checked(self, spec: CreateSpec) -> list[Outcome[str]]:
            assert spec.names == ["terminal-2-1", "terminal-2-2"]  # terminal-1 is taken
            refused = ServerError("quota exceeded", status=400)
            return [Outcome(spec.names[0], value="aaaaaaaa"), Outcome(spec.names[1], error=refused)]

    launch = Launch("headless", IMAGE, None, None, None, None, {}, ["echo", "hi"], replicas=2)
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout=stdout, stderr=stderr, stdout_tty=False, stderr_tty=False)
    core = cast("AsyncSession", FakeCore())
    code = anyio.run(run_create, CreateOptions(launch=launch, fmt="table"), core, out)
    assert code == ExitCode.FAILED
    assert stdout.getvalue() == "aaaaaaaa\n"
    assert stderr.getvalue() == "error: terminal-2-2: quota exceeded\n"
