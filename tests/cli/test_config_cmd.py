"""`canfar config path|show|get|set|unset`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from canfar_cli import config
from canfar_cli.cli.config_cmd import CONFIG_KEYS


def test_keys_match_the_config_module() -> None:
    assert set(CONFIG_KEYS) == set(config.KEYS)


def test_path_prints_the_file_under_the_config_folder(cli, isolated: Path) -> None:
    result = cli("config", "path", server=None)
    assert result.exit_code == 0
    assert result.stdout.strip() == str(isolated / "config" / "config.toml")


def test_set_writes_mode_0600_and_show_hides_the_token(cli) -> None:
    assert cli("config", "set", "token", "s3cret-token", server=None).exit_code == 0
    assert cli("config", "set", "server", "local", server=None).exit_code == 0
    mode = stat.S_IMODE(config.config_path().stat().st_mode)
    assert mode == 0o600
    shown = cli("config", "show", server=None)
    assert shown.exit_code == 0
    assert "s3cret-token" not in shown.stdout + shown.stderr
    assert "token = <hidden>" in shown.stdout
    assert "server = local" in shown.stdout
    as_json = cli("config", "show", "--json", server=None)
    assert json.loads(as_json.stdout) == {"server": "local", "token": "<hidden>"}
    got = cli("config", "get", "token", server=None)
    assert got.stdout.strip() == "<hidden>"


def test_get_of_an_unset_key_exits_4(cli) -> None:
    result = cli("config", "get", "timeout", server=None)
    assert result.exit_code == 4
    assert "timeout is not set" in result.stderr
    assert result.stdout == ""


def test_set_refuses_bad_values_and_unknown_keys(cli) -> None:
    bad = cli("config", "set", "concurrency", "many", server=None)
    assert bad.exit_code == 2
    assert "concurrency" in bad.stderr and "whole number" in bad.stderr
    unknown = cli("config", "set", "colour", "red", server=None)
    assert unknown.exit_code == 2
    assert not config.config_path().exists()


def test_unset_removes_a_key(cli) -> None:
    cli("config", "set", "timeout", "12", server=None)
    assert config.read_config() == {"timeout": 12.0}
    assert cli("config", "unset", "timeout", server=None).exit_code == 0
    assert config.read_config() == {}


def test_config_file_server_is_used_by_commands(cli) -> None:
    cli("config", "set", "server", "local", server=None)
    result = cli("ps", server=None)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ID")


def test_a_broken_config_file_is_one_clear_line(cli) -> None:
    config.config_path().parent.mkdir(parents=True, exist_ok=True)
    config.config_path().write_text("server = [unclosed\n")
    result = cli("ps", server=None)
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr
