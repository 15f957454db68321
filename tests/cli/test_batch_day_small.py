"""Issue 13's smaller items, each through the real command."""

from __future__ import annotations

import io
import json
import subprocess
from typing import Any

from canfar_cli.cli.state import CliState
from canfar_cli.output import Output
from tests.support import IMAGE, REPO
from tests.support.commands import create_done


def test_events_of_several_sessions_are_headed_with_names(cli: Any) -> None:
    a = create_done(cli, "-n", "alpha", "--", "true")[0]
    b = create_done(cli, "-n", "beta", "--", "true")[0]
    result = cli("events", a, b)
    assert f"==> alpha ({a}) <==" in result.stdout
    assert f"==> beta ({b}) <==" in result.stdout


def test_events_watch_rows_are_aligned(cli: Any) -> None:
    sid = create_done(cli, "--", "true")[0]
    lines = cli("events", "-w", sid).stdout.splitlines()
    assert lines[0].split() == ["TYPE", "REASON", "FIRST-TIME", "LAST-TIME", "MESSAGE"]
    column = lines[0].index("FIRST-TIME")
    assert len(lines) >= 4
    for line in lines[1:]:
        assert line[column - 3 : column] == "   "
        assert line[column : column + 20].endswith("Z")  # a time starts in every row's column


def test_rm_prompt_lists_names_not_bare_ids(cli: Any) -> None:
    sid = create_done(cli, "-n", "keepme", "--", "true")[0]
    err = io.StringIO()
    terminal = Output(stdout=io.StringIO(), stderr=err, stdin=io.StringIO("n\n"), stdin_tty=True)
    result = cli("rm", sid, obj=CliState(out=terminal))
    assert result.exit_code == 0  # declining is not a failure (issue 20)
    assert "keepme" in err.getvalue() and "Completed" in err.getvalue()


def test_a_name_with_an_underscore_gets_a_suggestion(cli: Any) -> None:
    result = cli("create", "headless", IMAGE, "-n", "my_fit", "--dry-run", "--", "true")
    assert result.exit_code == 2
    assert "hint: use 'my-fit'" in result.stderr


def test_dry_run_of_a_big_batch_is_short_but_json_is_whole(cli: Any) -> None:
    text = cli("create", "headless", IMAGE, "-n", "fit", "-r", "20", "--dry-run", "--", "true")
    assert text.exit_code == 0
    assert text.stdout.count("POST ") == 2
    assert "18 more request(s) like these, named fit-2 … fit-19" in text.stdout
    whole = cli("create", "headless", IMAGE, "-n", "fit", "-r", "20", "--dry-run", "-o", "json",
                "--", "true")  # fmt: skip
    assert len(json.loads(whole.stdout)) == 20


def test_interactive_limit_has_a_hint(cli: Any) -> None:
    for _ in range(5):
        assert cli("create", "notebook", IMAGE).exit_code == 0
    result = cli("create", "notebook", IMAGE)
    assert result.exit_code == 1
    assert "maximum of 5" in result.stderr
    assert "hint:" in result.stderr and "canfar rm" in result.stderr


def test_unreachable_server_mentions_server_local(cli: Any) -> None:
    result = cli("ps", server="http://127.0.0.1:9/skaha")
    assert result.exit_code == 5
    assert "--server local" in result.stderr


def test_status_completion_ignores_case() -> None:
    script = REPO / "completions" / "canfar.bash"
    done = subprocess.run(
        ["bash", "-c", f"source {script}; COMP_WORDS=(canfar ps -s f); COMP_CWORD=3; _canfar;"
         ' echo "${COMPREPLY[@]}"'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["failed"]
