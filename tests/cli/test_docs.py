"""docs/cli.md, the command reference: what every command's `--help` prints, and up to date."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer

from canfar_cli.cli import docs
from tests.support import REPO
from tests.support.process import canfar_env, run_canfar

REFERENCE = REPO / "docs" / "cli.md"


def test_committed_reference_matches_the_app() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == docs.reference(), (
        "docs/cli.md is out of date: run `python -m canfar_cli.cli.docs > docs/cli.md`"
        " and commit the result"
    )


def test_every_command_is_in_the_reference_with_its_real_help() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for path in ("canfar", "canfar create", "canfar config set", "canfar local serve"):
        assert f"\n## {path}\n" in text
        assert f"](#{path.replace(' ', '-')})" in text  # listed in the contents
    # A section is the help the program prints (on a terminal of 80 columns or more).
    section = text.split("\n## canfar ps\n", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    shown = run_canfar(["ps", "--help"], env={"COLUMNS": "120"})
    assert shown.stdout.rstrip() == section


def test_the_generator_reads_the_app_it_is_given() -> None:
    small = typer.Typer(
        name="tiny",
        rich_markup_mode=None,  # as the real app: plain help (rich's would print, not return)
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @small.command("hello")
    def hello(loud: bool = typer.Option(False, "--loud", help="Shout it.")) -> None:
        """Say hello."""

    @small.command("bye")
    def bye() -> None:
        """Say bye."""

    text = docs.reference(small)
    assert re.findall(r"^## (.+)$", text, flags=re.MULTILINE) == [
        "canfar",
        "canfar hello",
        "canfar bye",
    ]  # in the order --help lists them
    assert re.search(r"--loud +Shout it\.", text)
    assert "-h, --help" in text


def test_the_module_writes_the_reference_to_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli.cli.docs"],
        capture_output=True,
        text=True,
        env=canfar_env({"COLUMNS": "40"}),  # the layout does not follow the terminal
        timeout=60,
        check=True,
    )
    assert result.stdout == REFERENCE.read_text(encoding="utf-8")


def test_a_command_whose_help_comes_out_empty_is_an_error() -> None:
    rich = typer.Typer(rich_markup_mode="rich")

    @rich.command("hello")
    def hello() -> None:
        """Say hello."""

    with pytest.raises(RuntimeError, match="empty help"):
        docs.reference(rich)


def test_readme_links_the_reference() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/cli.md)" in commands
