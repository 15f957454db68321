"""`canfar rm`: by id and by name, unknown ids, the confirmation."""

from __future__ import annotations

import io
from typing import Any

import pytest

from canfar_cli.cli.state import CliState
from canfar_cli.output import Output
from tests.support.commands import create_done, sessions


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_rm_removes_and_reports_unknown_ids(cli) -> None:
    a, b = create_done(cli, "-n", "rm", "-r", "2", "--", "true")
    result = cli("rm", "-f", a, "zzzzzzzz")
    assert result.exit_code == 1
    assert result.stdout == f"{a}\n"
    assert "zzzzzzzz" in result.stderr and "not found" in result.stderr
    assert [s["id"] for s in sessions(cli)] == [b]
    assert cli("rm", "-y", "zzzzzzzz").exit_code == 4
    assert cli("rm", "-f", b).stdout == f"{b}\n"


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_rm_without_terminal_or_force_refuses_and_names_the_flag(cli) -> None:
    sid = create_done(cli, "--", "true")[0]
    result = cli("rm", sid)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert [s["id"] for s in sessions(cli)] == [sid]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_rm_by_name_pattern(cli) -> None:
    keep = create_done(cli, "-n", "keep", "--", "true")[0]
    create_done(cli, "-n", "tmp", "-r", "2", "--", "true")
    result = cli("rm", "-f", "--name", "tmp-*")
    assert result.exit_code == 0
    assert len(result.stdout.split()) == 2
    assert [s["id"] for s in sessions(cli)] == [keep]
    assert cli("rm", "-f", "--name", "nomatch*").exit_code == 4


def test_rm_with_nothing_given(cli) -> None:
    assert cli("rm").exit_code == 2
    assert cli("rm", "-f").exit_code == 0


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_rm_prompt_lists_names_not_bare_ids(cli: Any) -> None:
    sid = create_done(cli, "-n", "keepme", "--", "true")[0]
    err = io.StringIO()
    terminal = Output(stdout=io.StringIO(), stderr=err, stdin=io.StringIO("n\n"), stdin_tty=True)
    result = cli("rm", sid, obj=CliState(out=terminal))
    assert result.exit_code == 0  # declining is not a failure (issue 20)
    assert "keepme" in err.getvalue() and "Completed" in err.getvalue()
