"""The one route to an exit code: a command returns an ExitCode (its failures reported already)
or raises, and only the app's error wrapper (cli/main.py) turns either into the exit; the table
of codes is written once (errors.EXIT_CODES) and `--help`, the README and docs/scripting.md
follow it."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from canfar_cli.errors import EXIT_CODES, ExitCode, exit_code_summary, exit_code_table
from tests.support import REPO
from tests.support.commands import sessions

CLI = REPO / "canfar_cli" / "cli"


def test_every_exit_code_is_in_the_table_once() -> None:
    assert list(EXIT_CODES) == list(ExitCode)


def test_the_documented_tables_are_the_one_in_errors() -> None:
    for page in ("README.md", "docs/scripting.md"):
        assert exit_code_table() in (REPO / page).read_text(encoding="utf-8"), page


def test_help_lists_every_exit_code(cli: Any) -> None:
    text = " ".join(cli("--help", server=None).stdout.split())
    assert "Exit codes: " + exit_code_summary() in text


def test_only_the_error_wrapper_ends_the_program() -> None:
    """typer.Exit is raised in cli/main.py only: commands return an ExitCode or raise (a
    `ReportedError` when they have said everything already)."""
    raising: list[str] = []
    for path in CLI.rglob("*.py"):
        if path.name == "main.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("Exit", "exit_with"):
                raising.append(f"{path.name}:{node.lineno}")
    assert raising == []


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_returned_exit_code_ends_the_program_with_it(cli: Any) -> None:
    """`info` of one known and one unknown id: both reported, the batch's code returned (1);
    of unknown ids only: 4. Nothing more is printed than each item's own line."""
    made = cli("create", "headless", "skaha/terminal:1.1.1", "-n", "one", "--", "true")
    assert made.exit_code == 0, made.stderr
    known = made.stdout.strip()
    mixed = cli("info", known, "nosuchid1")
    assert mixed.exit_code == 1
    assert mixed.stderr.count("error:") == 1
    unknown = cli("info", "nosuchid1", "nosuchid2")
    assert unknown.exit_code == 4
    assert unknown.stderr.count("error:") == 2
    assert len(sessions(cli)) == 1


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_reported_error_exits_with_its_code_and_says_nothing_more(cli: Any) -> None:
    """`rm` without -f, answered no: "nothing removed" and exit 0 (declining is an answer, as
    `rm -i`; issue 20), no `error:` line."""
    import io

    from canfar_cli.cli.state import CliState
    from canfar_cli.output import Output

    made = cli("create", "headless", "skaha/terminal:1.1.1", "-n", "keep", "--", "true")
    err = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=err, stdin=io.StringIO("n\n"), stdin_tty=True)
    result = cli("rm", made.stdout.strip(), obj=CliState(out=out))
    assert result.exit_code == int(ExitCode.OK)
    assert "nothing removed" in err.getvalue()
    assert "error:" not in err.getvalue()
    assert len(sessions(cli)) == 1
