"""Issue 20, item 8: an unknown command is answered by meaning (the words of the official
client, docker and kubectl), then by spelling."""

from __future__ import annotations

import pytest

from canfar_cli.cli.main import COMMANDS
from canfar_cli.cli.suggest import MEANINGS


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("delete", "`canfar rm ID…`"),
        ("kill", "`canfar rm ID…`"),
        ("stop", "`canfar rm ID…`"),
        ("logout", "`canfar auth logout`"),
        ("status", "`canfar auth status`"),
        ("whoami", "`canfar auth status`"),
        ("ls", "`canfar ps` lists your sessions, or `canfar data ls` for files"),
        ("lgos", "did you mean `canfar logs`?"),  # spelling, for the rest
        ("crate", "did you mean `canfar create`?"),
        ("xyzzy", "`canfar -h` lists the commands"),
    ],
)
def test_unknown_command_gets_the_command_that_does_it(cli, word: str, said: str) -> None:
    result = cli(word, "x7k2m9qa")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0] == f"error: no command '{word}'"
    assert lines[1].startswith("hint: ") and said in lines[1]


def test_global_options_before_the_word_change_nothing(cli) -> None:
    result = cli("--timeout", "5", "delete", "x")
    assert result.exit_code == 2 and "`canfar rm ID…`" in result.stderr


def test_every_meaning_names_a_real_command() -> None:
    commands = set(COMMANDS)  # the root builds its commands on demand, from COMMANDS
    for word, meaning in MEANINGS.items():
        named = [part.split()[0].rstrip("`") for part in meaning.split("`canfar ")[1:]]
        assert named, word
        assert all(name in commands or name.startswith("-") for name in named), (word, named)
        assert word not in commands, word  # a meaning never hides a command
