"""The CLI's small pure helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from canfar_cli.cli.envfile import parse_env
from canfar_cli.cli.logs import tail_text
from canfar_cli.cli.names import name_from_image, unique_name
from canfar_cli.cli.options import parse_duration
from canfar_cli.cli.present import span
from canfar_cli.errors import UsageError


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


def test_names_from_images() -> None:
    assert name_from_image("images.canfar.net/skaha/terminal:1.1.1") == "terminal"
    assert name_from_image("images.canfar.net/a/Astro_ML.v2@sha256:abc") == "astro-ml-v2"
    assert name_from_image("images.canfar.net/a/___:1") == "session"
    assert len(name_from_image("images.canfar.net/a/" + "x" * 100)) <= 40


def test_unique_names_avoid_every_replica_name() -> None:
    assert unique_name("fit", set(), 1) == "fit"
    assert unique_name("fit", {"fit"}, 1) == "fit-2"
    assert unique_name("fit", {"fit-2"}, 3) == "fit-2"  # fit-1..3 clash, fit-2-1..3 do not


def test_env_flags_beat_the_env_file(tmp_path) -> None:
    path = tmp_path / "e"
    path.write_text("A=1\nB=2\n")
    assert parse_env(["B=3"], path) == {"A": "1", "B": "3"}
    path.write_text("oops\n")
    with pytest.raises(UsageError):
        parse_env([], path)


def test_tail_keeps_lines_exactly() -> None:
    assert tail_text("a\nb\r\nc", 2) == "b\r\nc"
    assert tail_text("a\n", 0) == ""
    assert tail_text("a\n", None) == "a\n"


def test_spans() -> None:
    assert [span(s) for s in (5, 600, 3600 * 3 + 60 * 20, 86400 * 3 + 3600 * 4, 86400 * 13)] == [
        "5s",
        "10m",
        "3h20m",
        "3d4h",
        "13d",
    ]
