"""Usage errors: one `error:` line and one `hint:` line, like every other error."""

from __future__ import annotations

import pytest

from canfar_cli.errors import ExitCode
from tests.support import IMAGE


@pytest.mark.parametrize(
    "args",
    [
        ("ps", "-k", "bogus"),
        ("ps", "--no-such-flag"),
        ("info",),
        ("logs", "--tail", "-1", "abcdefgh"),
        ("--timeout", "abc", "ps"),
        ("--no-such-global", "ps"),
        ("nosuchcommand",),
        ("config", "set", "bogus", "1"),
        ("create", "spaceship", IMAGE),
        ("create",),
    ],
)
def test_usage_errors_are_one_error_line_and_a_hint(cli, args: tuple[str, ...]) -> None:
    # They were click's four lines ("Usage: …", "Try …", "", "Error: …"), unlike every other
    # error (`error: …` + `hint: …`), which a script matching ^error: would miss.
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert "-h" in lines[1]
    assert "\\n" not in lines[0] and "\\t" not in lines[0]  # not click's layout, escaped
    assert result.stdout == ""


def test_no_arguments_shows_the_usage_and_the_commands(cli) -> None:
    # Issue 9: a short usage and the commands, not the whole help page.
    result = cli(server=None)
    assert result.exit_code == 2 and result.stdout == ""
    error, hint = result.stderr.splitlines()
    assert error.startswith("error: a command is required (one of: create, ps,")
    assert hint.startswith("hint: usage: canfar [OPTIONS] COMMAND")
    assert "--concurrency" not in result.stderr
