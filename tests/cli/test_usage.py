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


def test_no_arguments_still_shows_the_help(cli) -> None:
    result = cli(server=None)
    assert "Usage: canfar" in result.stdout + result.stderr
    assert "Commands" in result.stdout + result.stderr
