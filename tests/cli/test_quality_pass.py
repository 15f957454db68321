"""Defects found by using the program as a demanding user and a script author would; each test
here failed before its fix."""

from __future__ import annotations

import sys

import pytest

from canfar_cli import models
from canfar_cli.errors import ExitCode, UsageError

from .helpers import IMAGE

# --- a server URL that points at no skaha API ------------------------------------------------


def test_a_listing_404_says_the_server_url_is_wrong_not_not_found(cli, local_server) -> None:
    # Forgetting /skaha is the common slip; the listing's 404 is not "every id is unknown".
    wrong = local_server.url.rsplit("/skaha", 1)[0] + "/wrong"
    for args in (("ps",), ("rm", "-f", "abcdefgh"), ("stats",)):
        result = cli(*args, server=wrong)
        assert result.exit_code == ExitCode.FAILED, (args, result.stderr)
        assert "hint:" in result.stderr and "server URL" in result.stderr
        assert result.stdout == ""


# --- absurd replica counts -------------------------------------------------------------------


def test_an_absurd_replica_count_is_refused_before_any_name_is_made(cli) -> None:
    # It used to build 10**23 default names in memory (the process was killed by the OOM killer).
    result = cli("create", "headless", IMAGE, "-r", "99999999999999999999999", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "replicas must be at most" in result.stderr
    assert result.stdout == ""


def test_the_library_refuses_absurd_replica_counts_too() -> None:
    with pytest.raises(UsageError, match="at most"):
        models.check_create("x", IMAGE, replicas=models.MAX_REPLICAS + 1)
    assert len(models.check_create("x", IMAGE, replicas=models.MAX_REPLICAS).names) == 10_000


# --- numbers that are not numbers --------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-c", "-m"])
def test_infinite_cores_or_ram_are_refused_before_sending(cli, flag: str) -> None:
    # `inf` passed the ">= 1" check and went to the server, which answered 400 (exit 1).
    result = cli("create", "headless", IMAGE, flag, "inf", "--dry-run", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "finite" in result.stderr
    assert result.stdout == ""


def test_a_wait_timeout_that_is_not_a_number_is_refused(cli) -> None:
    # nan compared false with 0, so it passed, and `now >= deadline` never held: no timeout.
    result = cli("create", "headless", IMAGE, "--wait", "--wait-timeout", "nan", "--", "true")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "--wait-timeout" in result.stderr
    assert result.stdout == ""


def test_a_duration_too_long_for_a_date_is_a_usage_error(cli) -> None:
    result = cli("prune", "--older-than", "99999999999w", "--dry-run")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "internal error" not in result.stderr
    assert "too long" in result.stderr


# --- Ctrl-C while the program is still starting -----------------------------------------------


class _InterruptingFinder:
    """Acts as a Ctrl-C that lands while canfar_cli.cli.main is being imported."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "canfar_cli.cli.main":
            raise KeyboardInterrupt
        return None


def test_an_interrupt_during_start_up_is_130_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from canfar_cli.cli import entry

    monkeypatch.delitem(sys.modules, "canfar_cli.cli.main", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptingFinder(), *sys.meta_path])
    monkeypatch.setattr(sys, "argv", ["canfar", "ps"])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == ExitCode.INTERRUPTED
    assert capsys.readouterr().err == "interrupted\n"
