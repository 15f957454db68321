"""Unit tests of canfar_cli.config: where each setting comes from, and the config file itself."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from canfar_cli import config
from canfar_cli.errors import ConfigError


def test_defaults_with_nothing_set() -> None:
    from canfar_cli.auth.servers import choose_server

    settings = config.load_settings()
    assert settings.server == ""  # not chosen yet: no platform is active, so production
    assert choose_server(settings).server == config.PRODUCTION_URL
    assert settings.token is None and settings.certificate is None
    assert settings.timeout == 30.0 and settings.concurrency == 32


def test_flag_beats_environment_beats_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_config({"server": "https://file.example/skaha", "concurrency": 7, "timeout": 9})
    settings = config.load_settings()
    assert settings.server == "https://file.example/skaha"
    assert settings.concurrency == 7 and settings.timeout == 9.0

    monkeypatch.setenv("CANFAR_URL", "https://env.example/skaha")
    monkeypatch.setenv("CANFAR_CONCURRENCY", "5")
    settings = config.load_settings()
    assert settings.server == "https://env.example/skaha" and settings.concurrency == 5

    settings = config.load_settings(server="local", concurrency=3)
    assert settings.server == "local" and settings.concurrency == 3


def test_token_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    config.write_config({"token_file": str(token_file)})
    assert config.load_settings().token == "from-file"
    config.write_config({"token_file": str(token_file), "token": "in-config"})
    assert config.load_settings().token == "in-config"
    monkeypatch.setenv("CANFAR_TOKEN", "from-env")
    assert config.load_settings().token == "from-env"
    assert config.load_settings(token_file=str(token_file)).token == "from-file"
    assert config.load_settings(token="flag", token_file=str(token_file)).token == "flag"


def test_bad_token_files_are_config_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(ConfigError, match="empty"):
        config.load_settings(token_file=str(empty))
    with pytest.raises(ConfigError, match="cannot read"):
        config.load_settings(token_file=str(tmp_path / "missing"))


def test_certificate_default_and_missing(isolated: Path) -> None:
    pem = Path.home() / ".ssl" / "cadcproxy.pem"
    pem.parent.mkdir()
    pem.write_text("not really a pem")
    assert config.load_settings().certificate == str(pem)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load_settings(certificate=str(isolated / "nope.pem"))


@pytest.mark.parametrize(
    "key,value",
    [("concurrency", "0"), ("concurrency", "many"), ("timeout", "-1"), ("timeout", "nan")],
)
def test_bad_values_name_their_source(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv(config.KEYS[key][0] or "", value)
    with pytest.raises(ConfigError) as caught:
        config.load_settings()
    assert f"${config.KEYS[key][0]}" in caught.value.message
    assert caught.value.exit_code == 2


def test_config_file_is_private_from_the_start_and_round_trips() -> None:
    path = config.set_value("token", "s3cret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config.set_value("concurrency", "12")
    assert config.read_config() == {"token": "s3cret", "concurrency": 12}
    config.unset_value("token")
    assert config.read_config() == {"concurrency": 12}


def test_awkward_text_survives_the_round_trip() -> None:
    text = 'a "quoted" \\ path\twith\x01control'
    config.write_config({"server": text})
    assert config.read_config()["server"] == text


def test_invalid_toml_is_a_config_error() -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("server = [unclosed\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load_settings()


def test_unknown_keys_are_refused_when_set() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        config.set_value("colour", "red")


def test_secrets_are_hidden_in_repr_and_redacted_views() -> None:
    settings = config.load_settings(token="tok-123")
    assert "tok-123" not in repr(settings)
    assert config.redacted({"token": "tok-123", "server": "x"}) == {
        "token": "<hidden>",
        "server": "x",
    }
