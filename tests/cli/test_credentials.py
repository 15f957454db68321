"""Tokens that cannot be sent as a header: a usage error that never shows the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from canfar_cli import config
from canfar_cli.errors import ExitCode


@pytest.mark.parametrize("token", ["SECRETabc\nSECRETdef", "SECRET\x01x", "SECRÉT", "SECRET one"])
def test_a_token_that_cannot_be_sent_is_a_usage_error_that_never_shows_it(
    cli, local_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    # A token file of two lines ended as "cannot reach ...: Illegal header value b'Bearer
    # SECRET...'" (the token in the error, exit 5); a non-ASCII one as an internal error.
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    by_file = cli("--token-file", str(token_file), "ps", server=local_server.url)
    monkeypatch.setenv("CANFAR_TOKEN", token)
    by_env = cli("-v", "ps", server=local_server.url)
    for result in (by_file, by_env):
        assert result.exit_code == ExitCode.USAGE, result.stderr
        assert "SECRET" not in result.stderr + result.stdout
        assert "token" in result.stderr


def test_config_set_refuses_such_a_token(cli) -> None:
    result = cli("config", "set", "token", "SECRET two", server=None)
    assert result.exit_code == ExitCode.USAGE
    assert "SECRET" not in result.stderr
    assert config.read_config() == {}
