"""Defects found by using the program as a demanding user and a script author would; each test
here failed before its fix."""

from __future__ import annotations

from canfar_cli.errors import ExitCode

# --- a server URL that points at no skaha API ------------------------------------------------


def test_a_listing_404_says_the_server_url_is_wrong_not_not_found(cli, local_server) -> None:
    # Forgetting /skaha is the common slip; the listing's 404 is not "every id is unknown".
    wrong = local_server.url.rsplit("/skaha", 1)[0] + "/wrong"
    for args in (("ps",), ("rm", "-f", "abcdefgh"), ("stats",)):
        result = cli(*args, server=wrong)
        assert result.exit_code == ExitCode.FAILED, (args, result.stderr)
        assert "hint:" in result.stderr and "server URL" in result.stderr
        assert result.stdout == ""
