"""A CliState handed in (`CliRunner().invoke(app, args, obj=CliState(…))`): its terminal (streams
and TTY flags) and its session factory are what the commands use, the flags still come from the
command line, and nothing is monkeypatched."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from canfar_cli.cli.state import CliState
from canfar_cli.config import Settings
from canfar_cli.output import Output
from tests.support import IMAGE


@pytest.fixture
def colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment that allows colour (a terminal is then up to the Output's flags)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_rm_asks_on_a_terminal(cli) -> None:
    created = cli("create", "headless", IMAGE, "--wait", "--", "true")
    assert created.exit_code == 0, created.stderr
    sid = created.stdout.strip()
    terminal = CliState(out=Output(stdin_tty=True))
    declined = cli("rm", sid, input="n\n", obj=terminal)
    assert declined.exit_code == 0  # declining is an answer, as `rm -i`: not a failure
    assert "Remove 1 session?" in declined.stderr and "nothing removed" in declined.stderr
    assert json.loads(cli("ps", "-a", "--json").stdout)[0]["id"] == sid
    accepted = cli("rm", sid, input="y\n", obj=terminal)
    assert accepted.exit_code == 0
    assert accepted.stdout == f"{sid}\n"
    assert json.loads(cli("ps", "-a", "--json").stdout) == []


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_without_a_terminal_rm_refuses_to_ask(cli) -> None:
    # The same command with the flag saying "no terminal": refused, nothing asked.
    created = cli("create", "headless", IMAGE, "--wait", "--", "true")
    sid = created.stdout.strip()
    result = cli("rm", sid, input="y\n", obj=CliState(out=Output(stdin_tty=False)))
    assert result.exit_code == 2
    assert "--force" in result.stderr


def test_tables_are_plain_when_piped_and_coloured_on_a_terminal(cli, colour_terminal) -> None:
    assert "\x1b[" not in cli("stats").stdout
    terminal = CliState(out=Output(stdout_tty=True))
    assert "\x1b[1m" in cli("stats", obj=terminal).stdout
    # --no-color on the command line beats the terminal that was handed in.
    assert "\x1b[" not in cli("--no-color", "stats", obj=terminal).stdout
    assert (
        "\x1b[" not in cli("stats", obj=CliState(out=Output(stdout_tty=True, no_color=True))).stdout
    )


def test_errors_are_coloured_only_on_a_terminal_stderr(cli, colour_terminal) -> None:
    on_terminal = cli("ps", "--no-such-flag", obj=CliState(out=Output(stderr_tty=True)))
    assert on_terminal.exit_code == 2
    assert on_terminal.stderr.startswith("\x1b[31merror:")
    assert cli("ps", "--no-such-flag").stderr.startswith("error:")


def test_given_streams_get_the_data_and_the_messages(cli) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    state = CliState(out=Output(stdout=stdout, stderr=stderr))
    version = cli("--version", obj=state)
    assert version.exit_code == 0 and version.stdout == ""
    assert stdout.getvalue().startswith("canfar ")
    assert cli("config", "path", server=None, obj=state).stdout == ""
    assert stdout.getvalue().splitlines()[1].endswith("config.toml")
    refused = cli("ps", "--no-such-flag", obj=state)
    assert refused.exit_code == 2 and refused.stderr == ""
    assert stderr.getvalue().startswith("error: ")


def test_verbose_request_log_goes_to_the_given_stderr(cli) -> None:
    stderr = io.StringIO()
    result = cli("--verbose", "ps", obj=CliState(out=Output(stderr=stderr)))
    assert result.exit_code == 0
    assert "GET" in stderr.getvalue() and "/session" in stderr.getvalue()
    assert "GET" not in result.stderr


class RecordingCore:
    """A core that answers every listing with one session and remembers how it was made."""

    def __init__(self) -> None:
        self.made_with: list[tuple[Settings, int]] = []

    def __call__(self, *, settings: Settings, loglevel: int) -> RecordingCore:
        self.made_with.append((settings, loglevel))
        return self

    async def __aenter__(self) -> RecordingCore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def fetch(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return [{"id": "abc123", "name": "fake", "status": "Running", "type": "headless"}]


def test_the_given_session_factory_is_the_core_and_flags_still_apply(cli) -> None:
    core = RecordingCore()
    state = CliState(session_factory=core)  # type: ignore[arg-type]  # only what ps asks
    result = cli("--timeout", "7", "ps", "-q", obj=state)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "abc123\n"
    [(settings, _)] = core.made_with
    assert settings.timeout == 7
    assert settings.server == "local"
    # The state handed in is not changed by the invocation: the next one starts from it again.
    assert state.timeout is None and state.server is None
    assert cli("ps", "-q", obj=state).stdout == "abc123\n"
    assert core.made_with[1][0].timeout == 30


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_wait_progress_live_on_a_terminal_and_a_done_line(cli, colour_terminal) -> None:
    stderr = io.StringIO()
    state = CliState(out=Output(stderr=stderr, stderr_tty=True))
    result = cli("create", "headless", IMAGE, "--wait", "--", "true", obj=state)
    assert result.exit_code == 0, stderr.getvalue()
    assert len(result.stdout.split()) == 1
    assert "done: 1 session(s): 1 " in stderr.getvalue()
