"""The skaha rules the local platform reproduces (no server), and its settings."""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest

from canfar_cli.errors import ConfigError
from canfar_cli.local import skaha
from canfar_cli.local.settings import LocalSettings


def at(text: str) -> float:
    """Seconds since the epoch of "Y,M,D,h,m,s" in UTC."""
    return float(calendar.timegm((*(int(x) for x in text.split(",")), 0, 0, 0)))


def test_java_split_and_env_rules() -> None:
    assert skaha.java_split("a  b ", " ") == ["a", "", "b"]
    assert skaha.java_split(" a", " ") == ["", "a"]
    assert skaha.java_split("   ", " ") == []
    assert skaha.java_split("", " ") == [""]  # no separator: the text itself, as in Java
    assert skaha.parse_env(["A=1", "B=2=3", "C=", "=4", "D", "E=x\x00"]) == [("A", "1")]


def test_time_formats() -> None:
    assert skaha.offset_datetime(at("2026,11,27,12,0,0")) == "2026-11-27T12:00Z"
    assert skaha.offset_datetime(at("2026,11,27,12,0,5")) == "2026-11-27T12:00:05Z"
    assert skaha.instant(at("2026,11,27,12,0,0")) == "2026-11-27T12:00:00Z"


def test_resource_formats() -> None:
    assert skaha.decimal_gb(8) == "8.59"
    assert skaha.cores_text(2.0) == "2" and skaha.cores_text(1.5) == "1.500"


def test_names_and_ids() -> None:
    assert skaha.label_name("My-Name") == "my-name"
    assert skaha.label_name("-x") == ""
    assert skaha.label_name("a" * 62 + "-b") == "a" * 62
    assert skaha.app_name("images.canfar.net/skaha/ds9:8.6_x") == "ds9-8-6-x"
    for _ in range(200):
        session_id = skaha.new_session_id()
        assert len(session_id) == 8 and session_id[0].isalpha() and session_id.isalnum()
        assert session_id == session_id.lower()
    with pytest.raises(skaha.SkahaError):
        skaha.check_hostname("a" * 64)


def test_events_table_shape() -> None:
    assert skaha.events_table([]) == "<none>\n"
    moment = at("2026,11,27,12,0,0")
    table = skaha.events_table(
        [
            {"type": "Normal", "reason": "Started", "message": "a  b\nc", "first": moment,
             "last": moment},
            {"type": "Warning", "reason": "BackoffLimitExceeded", "message": "x", "first": moment,
             "last": moment + 61},
        ]
    )  # fmt: skip
    assert table == (
        "TYPE      REASON                 MESSAGE   FIRST-TIME             LAST-TIME\n"
        "Normal    Started                a b c     2026-11-27T12:00:00Z   2026-11-27T12:00:00Z\n"
        "Warning   BackoffLimitExceeded   x         2026-11-27T12:00:00Z   2026-11-27T12:01:01Z\n"
    )


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CANFAR_LOCAL_USER", "alice")
    monkeypatch.setenv("CANFAR_LOCAL_CLEANUP", "5")
    monkeypatch.setenv("CANFAR_LOCAL_REGISTRY_HOSTS", "a.org, b.org")
    settings = LocalSettings.from_env()
    assert settings.home == tmp_path / "local"
    assert settings.user == "alice" and settings.cleanup_seconds == 5
    assert settings.registry_hosts == ("a.org", "b.org")
    monkeypatch.setenv("CANFAR_LOCAL_CLEANUP", "soon")
    with pytest.raises(ConfigError, match="CANFAR_LOCAL_CLEANUP"):
        LocalSettings.from_env()
    monkeypatch.delenv("CANFAR_LOCAL_CLEANUP")
    monkeypatch.setenv("CANFAR_LOCAL_CONTEXT", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="not a file"):
        LocalSettings.from_env()
    monkeypatch.delenv("CANFAR_LOCAL_CONTEXT")
    monkeypatch.setenv("CANFAR_LOCAL_USER", "bad user")
    with pytest.raises(ConfigError, match="not usable"):
        LocalSettings.from_env()


def test_state_folder_is_private(tmp_path: Path) -> None:
    from canfar_cli.local.store import Store

    store = Store(tmp_path / "state")
    store.close()
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
