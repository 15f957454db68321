"""`canfar create -e/--env-file`: what a job's environment receives, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from canfar_cli import cmdline
from canfar_cli.cli.envfile import parse_env
from canfar_cli.errors import ExitCode, UsageError
from tests.support import IMAGE
from tests.support.commands import create_done


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_env_replica_variables_and_wait_reach_the_job(cli) -> None:
    ids = create_done(cli, "-n", "envy", "-r", "2", "-e", "SEED=42", "--", "printenv", "SEED")
    ids += create_done(cli, "-n", "rep", "-r", "2", "--", "printenv", "REPLICA_ID")
    outputs = [cli("logs", i).stdout for i in ids]
    assert outputs == ["42\n", "42\n", "1\n", "2\n"]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_env_file_is_read(cli, tmp_path: Path) -> None:
    env_file = tmp_path / "job.env"
    env_file.write_text("# settings\nexport ALPHA=one\n\nBETA=two\n")
    ids = create_done(cli, "--env-file", str(env_file), "--", "printenv", "ALPHA", "BETA")
    assert cli("logs", ids[0]).stdout == "one\ntwo\n"


def test_env_flags_beat_the_env_file(tmp_path) -> None:
    path = tmp_path / "e"
    path.write_text("A=1\nB=2\n")
    assert parse_env(["B=3"], path) == {"A": "1", "B": "3"}
    path.write_text("oops\n")
    with pytest.raises(UsageError):
        parse_env([], path)


def test_env_file_quotes_and_comments_mean_what_the_shell_means(tmp_path: Path) -> None:
    # The quotes were sent as part of the value ('"two words"'), and so was an inline comment.
    path = tmp_path / "job.env"
    path.write_text(
        "# settings\n"
        "\n"
        "export A=1\n"
        'B="two words"\n'
        "C='its'\n"
        "D=x # why x\n"
        "E = spaced\n"
        "export   F=tabbed\n"
        "G=\n"
        "H='$HOME stays literal'\n"
        'I="#not a comment"\n'
        "J=a#b\n"
    )
    assert parse_env([], path) == {
        "A": "1",
        "B": "two words",
        "C": "its",
        "D": "x",
        "E": "spaced",
        "F": "tabbed",
        "G": "",
        "H": "$HOME stays literal",
        "I": "#not a comment",
        "J": "a#b",
    }


@pytest.mark.parametrize(
    "line",
    [
        'A="unterminated\n',
        "A='x' trailing\n",
        "A=$HOME/data\n",  # the shell would expand it, we would not: refuse, never guess
        'A="$HOME"\n',
        "A=`date`\n",
        "A=back\\slash\n",
    ],
)
def test_env_file_lines_the_shell_would_read_otherwise_are_refused(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "job.env"
    path.write_text("OK=1\n" + line)
    with pytest.raises(UsageError, match="line 2"):
        parse_env([], path)


def test_env_file_values_reach_the_job_without_quotes(cli, tmp_path: Path) -> None:
    path = tmp_path / "job.env"
    path.write_text("export GREETING='hello there'\n")
    result = cli("create", "headless", IMAGE, "--env-file", str(path), "--dry-run", "--", "true")
    assert result.exit_code == 0, result.stderr
    assert "env=GREETING=hello there\n" in result.stdout


def test_an_env_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # Windows editors save UTF-8 with a BOM; the first name became '\ufeffA' and was refused.
    path = tmp_path / "job.env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\nB=2\r\n")
    assert parse_env([], path) == {"A": "1", "B": "2"}


def test_an_empty_env_value_is_refused_not_dropped(cli, tmp_path: Path) -> None:
    # The server splits KEY=VALUE on '=' the Java way ("A=".split("=") is ["A"]), so an empty
    # value dropped the variable without a word: the job ran without it.
    with pytest.raises(UsageError, match="EMPTY"):
        cmdline.check_env({"EMPTY": ""})
    result = cli("create", "headless", IMAGE, "-e", "EMPTY=", "--dry-run", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "EMPTY" in result.stderr and "drop" in result.stderr
    env_file = tmp_path / "job.env"
    env_file.write_text("EMPTY=\n")
    result = cli("create", "headless", IMAGE, "--env-file", str(env_file), "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
