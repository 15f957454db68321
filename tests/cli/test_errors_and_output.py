"""The error wrapper, the output rules, and edge cases the local platform cannot produce (a fake
core stands in for them)."""

from __future__ import annotations

import io
import json
from typing import Any

import anyio
import pytest

from canfar_cli.cli.state import CliState
from canfar_cli.create_request import CreateRequest
from canfar_cli.errors import AuthError, NotFoundError, UnreachableError
from canfar_cli.outcomes import Outcome
from canfar_cli.output import Output, color_allowed


class FakeCore:
    """Stands in for AsyncSession: methods return what the test set, or raise it."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results

    async def __aenter__(self) -> FakeCore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    base_url = "http://fake/skaha/v1"

    async def images(self, kind: str | None = None) -> Any:
        """None public unless the test says (create looks up the image's kinds)."""
        return self.results.get("images", [])

    def __getattr__(self, name: str) -> Any:
        if name == "resolve_ids" and name not in self.results:

            async def as_given(ids: list[str], **_: Any) -> list[str]:
                return list(dict.fromkeys(ids))  # ids stay ids (names: tests/cli/test_names.py)

            return as_given
        if name in ("check_create", "plan_checked"):  # synchronous on AsyncSession

            def direct(*args: Any, **kwargs: Any) -> Any:
                value = self.results.get(name)
                if isinstance(value, BaseException):
                    raise value
                if callable(value):
                    return value(*args, **kwargs)
                if value is None and name == "check_create":  # unset: the real rules
                    return CreateRequest(*args, **kwargs).check()
                return [] if value is None else value

            return direct

        async def method(*args: Any, **kwargs: Any) -> Any:
            value = self.results[name]
            if isinstance(value, BaseException):
                raise value
            if callable(value):
                return await value(*args, **kwargs)
            return value

        return method


@pytest.fixture
def fake_core(given):
    """fake_core(**results): the commands' core (AsyncSession) is this fake instead, handed in as
    the CliState's session factory; the rest of the CLI's path (CliState.run, the error wrapper)
    is the real one."""

    def install(**results: Any) -> FakeCore:
        core = FakeCore(results)
        given.state = CliState(session_factory=lambda **kwargs: core)  # type: ignore[arg-type]
        return core

    return install


# --- the error wrapper -----------------------------------------------------------------------


def test_canfar_error_is_its_message_hint_and_code(cli, fake_core) -> None:
    fake_core(fetch=AuthError("token rejected (401)", status=401, hint="get a new token"))
    result = cli("ps")
    assert result.exit_code == 3
    assert result.stderr == "error: token rejected (401)\nhint: get a new token\n"
    assert result.stdout == ""


def test_unreachable_is_exit_5(cli, fake_core) -> None:
    fake_core(stats=UnreachableError("cannot reach http://x/skaha"))
    assert cli("stats").exit_code == 5


def test_a_bug_is_one_line_and_verbose_shows_the_traceback(cli, fake_core) -> None:
    fake_core(fetch=RuntimeError("boom"))
    result = cli("ps")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error: RuntimeError: boom (rerun with --verbose for details)\n"
    )
    verbose = cli("--verbose", "ps")
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr and "RuntimeError: boom" in verbose.stderr


def test_interrupt_is_130_without_traceback(cli, fake_core) -> None:
    fake_core(fetch=KeyboardInterrupt())
    result = cli("ps")
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr


def test_error_inside_a_task_group_is_unwrapped(cli, fake_core) -> None:
    async def group_failure(*_: Any) -> None:
        async with anyio.create_task_group() as group:

            async def fail() -> None:
                raise NotFoundError("session abc not found", status=404)

            group.start_soon(fail)

    fake_core(stats=group_failure)
    result = cli("stats")
    assert result.exit_code == 4
    assert result.stderr == "error: session abc not found\n"


def test_usage_errors_exit_2(cli) -> None:
    assert cli("ps", "--no-such-flag").exit_code == 2
    assert cli("nosuchcommand").exit_code == 2
    assert cli("create", "spaceship", "x/y:1").exit_code == 2
    assert cli("--timeout", "0", "ps").exit_code == 2  # refused by the settings, one line


def test_verbose_logs_requests_without_the_token(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANFAR_TOKEN", "tok-SECRET-456")
    result = cli("--verbose", "ps")
    assert result.exit_code == 0
    assert "GET" in result.stderr and "/session" in result.stderr
    assert "tok-SECRET-456" not in result.stderr + result.stdout


def test_version(cli) -> None:
    result = cli("--version", server=None)
    assert result.exit_code == 0
    assert result.stdout.startswith("canfar ")


# --- edge cases through a fake core ----------------------------------------------------------


def test_events_line_the_parser_cannot_read_is_shown_as_it_is(cli, fake_core) -> None:
    events = [
        {
            "type": "Normal",
            "reason": "Pulled",
            "message": "image [red]pulled[/red]",
            "first_time": "2026-01-01T00:00:00Z",
            "last_time": "2026-01-01T00:00:00Z",
        },
        {"raw": "  something odd happened  "},
    ]
    fake_core(events_each=[Outcome("abc12345", value=events)])
    result = cli("events", "abc12345")
    lines = result.stdout.splitlines()
    assert "image [red]pulled[/red]" in lines[1]
    assert lines[2] == "  something odd happened  "
    as_json = json.loads(cli("events", "abc12345", "--json").stdout)
    assert as_json[1] == {"id": "abc12345", "raw": "  something odd happened  "}


def test_logs_of_a_pending_session_hint_at_events(cli, fake_core) -> None:
    record = {"id": "abc12345", "name": "q", "status": "Pending"}
    fake_core(read_logs_each=[Outcome("abc12345", value=(record, ""))])
    result = cli("logs", "abc12345")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "Pending" in result.stderr and "canfar events abc12345" in result.stderr


def test_partial_failures_keep_each_servers_reason(cli, fake_core) -> None:
    fake_core(
        info_each=[Outcome(i, value={"id": i}) for i in ("aaaaaaaa", "bbbbbbbb")],
        destroy_each=[
            Outcome("aaaaaaaa", value=None),
            Outcome(
                "bbbbbbbb",
                error=NotFoundError("session bbbbbbbb not found", status=404),
            ),
        ],
    )
    result = cli("rm", "-f", "aaaaaaaa", "bbbbbbbb")
    assert result.exit_code == 1
    assert result.stdout == "aaaaaaaa\n"
    assert result.stderr == "error: session bbbbbbbb not found\n"


def test_create_partial_failure_prints_what_was_made_and_exits_1(cli, fake_core) -> None:
    from canfar_cli.errors import ServerError

    fake_core(
        create_checked=[
            Outcome("x-1", value="aaaaaaaa"),
            Outcome("x-2", error=ServerError("quota exceeded", status=400)),
        ]
    )
    result = cli("create", "headless", "images.canfar.net/a/b:1", "-n", "x", "-r", "2")
    assert result.exit_code == 1
    assert result.stdout == "aaaaaaaa\n"
    assert result.stderr == "error: x-2: quota exceeded\n"


# --- output rules ----------------------------------------------------------------------------


def test_color_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert color_allowed(Tty())
    assert not color_allowed(Tty(), no_color=True)
    monkeypatch.setenv("NO_COLOR", "")
    assert not color_allowed(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not color_allowed(Tty())


def test_json_is_valid_whatever_the_width(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "10")
    result = cli("stats", "--json")
    assert json.loads(result.stdout)["cores"]


def test_table_cells_never_break_a_row() -> None:
    text = _plain_table(["A", "B"], [["x\ny", "[b]z[/b]"], "raw line"])
    assert text.splitlines() == ["A      B", "x\\ny   [b]z[/b]", "raw line"]


def test_messages_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output()
    out.error("bad thing", "do this")
    out.ids(["a"])
    captured = capsys.readouterr()
    assert captured.out == "a\n"
    assert captured.err == "error: bad thing\nhint: do this\n"


def test_bad_credential_files_are_usage_errors(cli, tmp_path) -> None:
    missing_cert = cli("--cert", str(tmp_path / "nope.pem"), "ps")
    assert missing_cert.exit_code == 2
    assert "nope.pem" in missing_cert.stderr and "does not exist" in missing_cert.stderr
    empty = tmp_path / "token"
    empty.write_text("\n")
    empty_token = cli("--token-file", str(empty), "ps")
    assert empty_token.exit_code == 2
    assert "is empty" in empty_token.stderr


def test_settings_from_flags_beat_the_environment(cli, monkeypatch) -> None:
    monkeypatch.setenv("CANFAR_URL", "http://127.0.0.1:9/skaha")  # nothing listens there
    assert cli("ps", server="local").exit_code == 0
    assert cli("--concurrency", "0", "ps", server="local").exit_code == 2


def test_a_servers_reason_stays_one_inert_line(cli, fake_core) -> None:
    from canfar_cli.errors import ServerError

    fake_core(fetch=ServerError("bad\x1b[2J thing\nsecond line\n", status=400))
    result = cli("ps")
    assert result.exit_code == 1
    assert result.stderr == "error: bad\\x1b[2J thing\\nsecond line\n"


def test_json_lists_are_one_element_per_line_and_round_trip(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sessions = [{"id": f"s{i}", "name": "fit-ü", "args": ["a", {"k": [1, 2]}]} for i in range(3)]
    for value in (sessions, [], {"cores": {"max": 8.0}}):
        Output().json(value)
        text = capsys.readouterr().out
        assert json.loads(text) == value
        assert text.endswith("\n")
    Output().json(sessions)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 2 + len(sessions)
    assert json.loads(lines[1].strip().rstrip(",")) == sessions[0]


def _plain_table(columns: list[str], rows: list[Any]) -> str:
    """The table as `ps` writes it when stdout is not a terminal."""
    return Output().render_table(columns, rows, color=False)
