"""The shipped completion scripts: up to date with the app, and working in bash."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from canfar_cli.cli import completion_gen
from tests.support import REPO
from tests.support.process import bash_complete


@pytest.mark.parametrize("shell", completion_gen.SHELLS)
def test_committed_scripts_match_the_app(shell: str) -> None:
    committed = (REPO / "completions" / f"canfar.{shell}").read_text(encoding="utf-8")
    assert committed == completion_gen.script(shell), (
        f"completions/canfar.{shell} is out of date:"
        " run `python -m canfar_cli.cli.completion_gen` and commit the result"
    )


@pytest.mark.parametrize("shell", completion_gen.SHELLS)
def test_completion_command_prints_the_script(cli, shell: str) -> None:
    result = cli("completion", shell, server=None)
    assert result.exit_code == 0
    assert result.stdout == completion_gen.script(shell)


def test_completion_of_an_unknown_shell_is_a_usage_error(cli) -> None:
    assert cli("completion", "tcsh", server=None).exit_code == 2


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


def test_status_completion_ignores_case() -> None:
    script = REPO / "completions" / "canfar.bash"
    done = subprocess.run(
        ["bash", "-c", f"source {script}; COMP_WORDS=(canfar ps -s f); COMP_CWORD=3; _canfar;"
         ' echo "${COMPREPLY[@]}"'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["failed"]
