"""`canfar data`: arguments and paths refused before anything is sent (exit 2, one line + hint).

Every command here points at a server that cannot be reached, so a request sent by mistake
would end in exit 5, never in the 2 asserted."""

from __future__ import annotations

import pytest

NOWHERE = "http://127.0.0.1:9/skaha"  # the discard port: nothing listens


def refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error: "), lines
    if len(lines) == 2:
        assert lines[1].startswith("hint: ")
    for word in words:
        assert word in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ls", "arc:/home/me/../you"], ["`..`"]),
        (["stat", "arc:~/a/../../etc"], ["`..`"]),
        (["cat", "arc:/home/me/x\0y"], ["NUL"]),
        (["ls", "./a-local-folder"], ["needs a remote path", "SERVICE:PATH"]),
        (["rm", "-f", "notes.txt"], ["needs a remote path"]),
        (["cp", "fit.py"], ["source and a destination"]),
        (["cp", "fit.py", "out/"], ["every path is local"]),
        (["cp", "fit.py", "arc:~/../x"], ["`..`"]),
        (["sync", "a", "b", "arc:~/c"], ["one source folder"]),
        (["mv", "arc:~/x"], ["source and a destination"]),
        (["ls", "-q", "-l", "arc:~"], ["-q/--quiet"]),
        (["url", "./here.txt"], ["needs a remote path"]),
    ],
)
def test_bad_paths_and_arguments_are_refused_before_any_request(cli, args, words) -> None:
    refused(cli("data", *args, server=NOWHERE), *words)


def test_rm_without_a_terminal_refuses_unless_forced(cli) -> None:
    # CliRunner's stdin is not a terminal: a script must say -f.
    result = cli("data", "rm", "arc:~/x", server=NOWHERE)
    refused(result, "without confirmation", "-f/--force")


def test_sync_delete_without_a_terminal_refuses_unless_forced(cli) -> None:
    result = cli("data", "sync", "--delete", "./in", "arc:~/in", server=NOWHERE)
    refused(result, "--delete", "-f/--force")


def test_an_unknown_flag_is_one_line_and_exit_2(cli) -> None:
    refused(cli("data", "cp", "--bogus", "a", "arc:~/", server=NOWHERE), "--bogus")


def data_commands() -> list[str]:
    """The subcommands of `canfar data` as the program builds them (the root builds a group
    only when it runs, so the group's own list is empty until then)."""
    import typer

    from canfar_cli.cli import main

    group = typer.main.get_command(main.app).get_command(None, "data")  # type: ignore[attr-defined]
    return sorted(group.commands)


DATA_COMMANDS = data_commands()


def test_data_has_the_commands_of_the_issue() -> None:
    wanted = {"ls", "stat", "cat", "cp", "sync", "mv", "rm", "mkdir", "du", "url"}
    assert wanted <= set(DATA_COMMANDS), DATA_COMMANDS


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_each_command_has_help_with_an_example(cli, command: str) -> None:
    result = cli("data", command, "--help", server=None)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"canfar data {command}" in result.stdout or "canfar data" in result.stdout


def test_h_is_human_sizes_for_ls_and_du_and_help_elsewhere(cli) -> None:
    assert "Usage: canfar data cp" in cli("data", "cp", "-h", server=None).stdout
    # For ls, -h is --human-readable: with no path it is a usage error, not the help page.
    result = cli("data", "ls", "-h", server=None)
    assert result.exit_code == 2 and "Usage:" not in result.stdout
