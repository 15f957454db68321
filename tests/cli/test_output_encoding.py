"""A terminal whose encoding lacks a character the server sent: shown escaped, never a crash."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from canfar_cli.output import Output
from tests.support.process import run_canfar


def test_tables_json_and_blocks_survive_an_ascii_stdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    monkeypatch.setattr(sys, "stdout", stream)
    out = Output()
    out.table(["ID", "IMAGE"], [["abc", "images.canfar.net/skaha/tërminal:1"]])
    out.blocks([[("Image", "tërminal")]])
    out.ids(["ß1"])
    start = raw.tell()
    out.json([{"image": "tërminal"}])
    middle = raw.tell()
    out.json_line({"message": "pulled tërminal"})
    text = raw.getvalue().decode("ascii")
    assert "t\\xebrminal" in text.splitlines()[1]  # shown, escaped, not a crash
    assert json.loads(raw.getvalue()[start:middle].decode("ascii")) == [{"image": "tërminal"}]
    assert json.loads(raw.getvalue()[middle:].decode("ascii")) == {"message": "pulled tërminal"}


def test_ps_and_info_with_an_ascii_stdout_are_not_internal_errors(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The image is added to the local platform's public list (any other needs registry auth).
    images = tmp_path / "images.json"
    images.write_text('[{"id": "images.canfar.net/skaha/t\u00ebrminal:1", "types": ["headless"]}]')
    monkeypatch.setenv("CANFAR_LOCAL_IMAGES", str(images))
    # Made in-process (a step); the commands under test below are real processes.
    made = cli(
        "create", "headless", "images.canfar.net/skaha/tërminal:1", "-n", "uni", "--", "true"
    )
    assert made.exit_code == 0, made.stderr
    ascii_out = {"PYTHONIOENCODING": "ascii"}
    for args in (["ps", "-a"], ["ps", "-a", "--json"], ["info", made.stdout.strip()]):
        result = run_canfar(["--server", "local", *args], env=ascii_out)
        assert result.returncode == 0, result.stderr
        assert "internal error" not in result.stderr
        assert "rminal" in result.stdout
