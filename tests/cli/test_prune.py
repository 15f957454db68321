"""`canfar prune`: finished sessions only, filters, --older-than durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from canfar_cli.cli.options import parse_duration
from canfar_cli.errors import ExitCode, UsageError
from tests.support import IMAGE
from tests.support.commands import create_done, sessions


def test_prune_removes_finished_only(cli, local_server) -> None:
    url = local_server.url
    done = create_done(cli, "-n", "done", "--", "true", server=url)[0]
    failed = cli("create", "headless", IMAGE, "-n", "bad", "--wait", "--", "false", server=url)
    bad = failed.stdout.strip()
    # --wait ends at Running: `false` may not have ended yet; `wait` waits until it has (exit 1:
    # it failed), so the prunes below find it finished.
    assert cli("wait", bad, server=url).exit_code == 1
    long_id = cli("create", "headless", IMAGE, "-n", "long", "--", "sleep", "300", server=url)
    long_id = long_id.stdout.strip()

    dry = cli("prune", "--dry-run", "-q", server=url)
    assert dry.exit_code == 0
    assert set(dry.stdout.split()) == {done, bad}
    assert "would be removed" in dry.stderr
    assert cli("prune", server=url).exit_code == 2  # no terminal, no --force
    assert cli("prune", "-f", "--older-than", "7d", server=url).stdout == ""

    result = cli("prune", "-f", "-s", "failed", server=url)
    assert result.stdout.split() == [bad]
    assert "removed 1 of 1" in result.stderr
    result = cli("prune", "-y", server=url)
    assert result.stdout.split() == [done]
    assert [s["id"] for s in sessions(cli, url)] == [long_id]
    assert cli("prune", "--older-than", "soon", server=url).exit_code == 2
    cli("rm", "-f", long_id, server=url)


def test_a_duration_too_long_for_a_date_is_a_usage_error(cli) -> None:
    result = cli("prune", "--older-than", "99999999999w", "--dry-run")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "internal error" not in result.stderr
    assert "too long" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("7d", 604800), ("1w", 604800), ("1d12h", 129600), ("45s", 45)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5", "-1h", "0m", "2 hours"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)
