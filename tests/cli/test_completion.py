"""The shipped completion scripts: up to date with the app, and working in bash."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import pytest

from canfar_cli.cli import completion_gen

from .helpers import REPO, canfar_env


@pytest.mark.parametrize("shell", completion_gen.SHELLS)
def test_committed_scripts_match_the_app(shell: str) -> None:
    committed = (REPO / "completions" / f"canfar.{shell}").read_text(encoding="utf-8")
    assert committed == completion_gen.script(shell), (
        f"completions/canfar.{shell} is out of date:"
        " run `python -m canfar_cli.cli.completion_gen` and commit the result"
    )


def test_committed_completion_table_matches_the_app() -> None:
    assert completion_gen.TABLE_PATH.read_text(encoding="utf-8") == completion_gen.table(), (
        "canfar_cli/cli/completion_table.json is out of date:"
        " run `python -m canfar_cli.cli.completion_gen` and commit the result"
    )


def request(instruction: str, line: str) -> subprocess.CompletedProcess[str]:
    """A completion request to the real program, as a click-style script sends it."""
    words = line.split(" ")
    env = canfar_env(
        {"_CANFAR_COMPLETE": instruction, "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    )
    return subprocess.run(
        [sys.executable, "-m", "canfar_cli"], capture_output=True, text=True, env=env, timeout=60
    )


def test_completion_requests_are_answered_from_the_table() -> None:
    assert request("bash_complete", "canfar p").stdout.splitlines() == [
        "plain,platform",
        "plain,prune",
        "plain,ps",
    ]
    assert request("bash_complete", "canfar --server local ps -o ").stdout.splitlines() == [
        "plain,table",
        "plain,wide",
        "plain,json",
    ]
    assert request("bash_complete", "canfar config set tok").stdout.splitlines() == [
        "plain,token",
        "plain,token_file",
    ]
    # A file-valued option lets the shell complete paths; after `--` comes the job's command.
    assert request("bash_complete", "canfar --cert ~/.s").stdout.splitlines() == ["file,~/.s"]
    assert request("bash_complete", "canfar create headless IMG -- pyt").stdout == "file,pyt\n"
    zsh = request("zsh_complete", "canfar ps --al").stdout.splitlines()
    assert zsh[:2] == ["plain", "--all"] and zsh[2] != "_"
    fish = request("fish_complete", "canfar sta").stdout.splitlines()
    assert fish[0].startswith("plain,stats\t")


def test_completion_source_request_prints_the_static_script() -> None:
    result = request("bash_source", "canfar")
    assert result.returncode == 0
    assert result.stdout == completion_gen.script("bash")


def test_unknown_completion_request_is_one_line_and_exit_2() -> None:
    result = request("tcsh_complete", "canfar p")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "unknown completion request" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("shell", completion_gen.SHELLS)
def test_completion_command_prints_the_script(cli, shell: str) -> None:
    result = cli("completion", shell, server=None)
    assert result.exit_code == 0
    assert result.stdout == completion_gen.script(shell)


def test_completion_of_an_unknown_shell_is_a_usage_error(cli) -> None:
    assert cli("completion", "tcsh", server=None).exit_code == 2


def bash_complete(line: str) -> list[str]:
    """What the bash script offers for `line` (the cursor at its end)."""
    words = line.split(" ")
    script = (REPO / "completions" / "canfar.bash").read_text()
    quoted = " ".join(shlex.quote(word) for word in words)
    program = (
        f"{script}\n"
        f"COMP_WORDS=({quoted})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_canfar\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_values() -> None:
    assert "prune" in bash_complete("canfar pr")
    assert "ps" in bash_complete("canfar p")
    assert bash_complete("canfar --server ") == ["local"]
    # A global option's value is skipped when finding the command.
    assert "--all" in bash_complete("canfar --server local ps --a")
    assert bash_complete("canfar ps -o ") == ["table", "wide", "json"]
    assert bash_complete("canfar create hea") == ["headless"]
    assert bash_complete("canfar config set tok") == ["token", "token_file"]
    assert bash_complete("canfar completion z") == ["zsh"]
    assert bash_complete("canfar ps -k note") == ["notebook"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells_parse_the_script(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = REPO / "completions" / f"canfar.{shell}"
    flag = ["-n"] if shell == "zsh" else ["--no-execute"]
    subprocess.run([shell, *flag, str(path)], check=True, timeout=30)
