"""Issue 20, items 3-6 and 11: inputs that were internal errors or wrong exit codes, each now
one line with its code from the table (or, for the library, the right type and words)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from canfar_cli import AsyncSession
from canfar_cli.cli.state import CliState
from canfar_cli.errors import ConfigError
from canfar_cli.outcomes import CreateInterrupted, Outcome
from canfar_cli.output import Output
from tests.cli.fakes import RECORD, healthy, state_with
from tests.support import IMAGE
from tests.support.commands import create_done, serve_refused_in_process
from tests.support.process import run_canfar


def one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert lines and lines[0].startswith("error:"), stderr
    assert all(line.startswith("hint:") for line in lines[1:]), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    return lines[0]


# --- item 3: a field of the wrong type ------------------------------------------------------


@pytest.mark.parametrize("status", [5, 1.5, True, [], {"x": 1}, None])
def test_info_and_wait_with_a_status_of_the_wrong_type(cli, status: object) -> None:
    record = RECORD | {"status": status, "expiryTime": "2099-01-01T00:00:00Z"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/session"):
            return httpx.Response(200, json=[record])
        return httpx.Response(200, json=record)

    state = state_with(handler)
    info = cli("info", "abc12345", server="http://h/skaha", obj=state)
    assert info.exit_code == 0, info.stderr
    assert "Expires:" in info.stdout
    waited = cli("wait", "--timeout", "0.2", "abc12345", server="http://h/skaha", obj=state)
    assert waited.exit_code == 1 and "internal error" not in waited.stderr
    (error,) = [line for line in waited.stderr.splitlines() if line.startswith("error:")]
    assert "timed out" in error


def test_a_listing_whose_ids_are_not_text_is_no_bug(cli) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/session"):
            return httpx.Response(200, json=[RECORD | {"id": ["abc12345"]}])
        return healthy(request)

    result = cli("wait", "abc12345", server="http://h/skaha", obj=state_with(handler))
    assert result.exit_code == 4
    assert "not found" in one_error(result.stderr)


# --- item 4: --timeout 1e18, local users add --home /proc/nope ------------------------------


@pytest.mark.parametrize("value", ["1e18", "1e10", "86401", "inf"])
def test_a_timeout_beyond_a_day_is_refused_before_anything_is_sent(cli, value: str) -> None:
    result = cli("--timeout", value, "login", "cadc", "-u", "bob", "--password-stdin",
                 input="pw\n", server=None)  # fmt: skip
    assert result.exit_code == 2
    assert "at most 86400" in one_error(result.stderr)


def test_a_timeout_of_a_day_is_taken(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("--timeout", "86400", "ps").exit_code == 0
    monkeypatch.setenv("CANFAR_TIMEOUT", "1e18")
    result = cli("ps")
    assert result.exit_code == 2 and "$CANFAR_TIMEOUT" in one_error(result.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "add", "bob"],
        ["ca-path"],
        ["home"],
        ["approve", "ABCD-EFGH", "--user", "bob"],
    ],
)
def test_local_commands_with_an_unusable_home(cli, argv: list[str]) -> None:
    result = cli("local", *argv, "--home", "/proc/nope", server=None)
    assert result.exit_code == 2
    assert "/proc/nope" in one_error(result.stderr)
    assert "--home" in result.stderr  # the hint names the fix


# --- item 5: every numeric flag of local serve -----------------------------------------------


@pytest.mark.parametrize(
    "flag",
    [
        ["--latency", "nan"],
        ["--latency", "inf"],
        ["--latency", "1e26"],
        ["--latency", "-1"],
        ["--retry-after", "100000000000000000000000000"],
        ["--retry-after", "1e26"],
        ["--retry-after", "-1"],
        ["--fail-rate", "nan"],
        ["--drop-rate", "inf"],
        ["--fail-status", "1e26"],
        ["--port", "99999"],
    ],
)
def test_local_serve_refuses_numbers_out_of_range_and_never_starts(
    monkeypatch: pytest.MonkeyPatch, flag: list[str]
) -> None:
    # In-process (a value let through fails the test at once, see serve_refused_in_process);
    # the real process is test_local_serve_refusing_a_number_is_a_real_exit_2's.
    result = serve_refused_in_process(monkeypatch, *flag)
    assert result.exit_code == 2
    assert result.stdout == ""  # no URL: nothing served
    one_error(result.stderr)


def test_local_serve_refusing_a_number_is_a_real_exit_2() -> None:
    # A real process with a deadline: a value let through would start a server that never ends.
    result = run_canfar(["local", "serve", "--latency", "nan"], timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""  # no URL: nothing served
    one_error(result.stderr)


# --- item 6 ----------------------------------------------------------------------------------


def test_library_errors_name_the_library_arguments() -> None:
    with pytest.raises(ConfigError) as caught:
        AsyncSession(server="local", concurrency=0)
    assert "the arguments of AsyncSession" in caught.value.message
    assert "command line" not in caught.value.message


def test_logs_json_of_unknown_ids_prints_nothing(cli) -> None:
    result = cli("logs", "--json", "zzzzzzzz", "yyyyyyyy")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.count("error:") == 2


def test_create_interrupted_is_caught_as_keyboard_interrupt_too() -> None:
    stopped = CreateInterrupted([Outcome("job-1", value="abc12345")])
    with pytest.raises(KeyboardInterrupt) as caught:
        raise stopped
    assert caught.value.ids == ["abc12345"]  # type: ignore[attr-defined]
    assert isinstance(stopped, CreateInterrupted) and stopped.exit_code == 130


# --- item 11 ---------------------------------------------------------------------------------


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_declining_at_rm_prompt_exits_0(cli) -> None:
    (sid,) = create_done(cli, "--", "true")
    err = io.StringIO()
    terminal = Output(stdout=io.StringIO(), stderr=err, stdin=io.StringIO("n\n"), stdin_tty=True)
    result = cli("rm", sid, obj=CliState(out=terminal))
    assert result.exit_code == 0
    assert "nothing removed" in err.getvalue()


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_wait_timeout_hint_names_the_ids(cli) -> None:
    made = cli("create", "headless", IMAGE, "-r", "2", "--", "sleep", "30")
    ids = made.stdout.split()
    result = cli("wait", "--timeout", "0.3", *ids)
    assert result.exit_code == 1
    hint = result.stderr.strip().splitlines()[-1]
    assert hint.startswith("hint:") and "`canfar events " in hint
    assert all(session_id in hint for session_id in ids) and " ID`" not in hint
    cli("rm", "-f", *ids)


def test_a_refused_loopback_connection_asks_for_local_serve(cli) -> None:
    result = cli("ps", server="http://127.0.0.1:9/skaha")
    assert result.exit_code == 5
    one_error(result.stderr)
    assert "is `canfar local serve` running?" in result.stderr
    elsewhere = cli("ps", server="http://192.0.2.1:9/skaha", obj=state_with(refused))
    assert "canfar local serve" not in elsewhere.stderr


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def test_unreachable_server_mentions_server_local(cli: Any) -> None:
    result = cli("ps", server="http://127.0.0.1:9/skaha")
    assert result.exit_code == 5
    assert "--server local" in result.stderr
