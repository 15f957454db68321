"""A terminal whose encoding lacks a character the server sent: shown escaped, never a crash."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from canfar_cli.cli.state import CliState
from canfar_cli.output import Output
from tests.support.process import run_canfar


def test_tables_json_and_blocks_survive_an_ascii_stdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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
    # Made in-process (a step of the test).
    made = cli(
        "create", "headless", "images.canfar.net/skaha/tërminal:1", "-n", "uni", "--", "true"
    )
    assert made.exit_code == 0, made.stderr
    # `ps -a` as a real process with an ASCII stdout; the JSON and the blocks in-process, into
    # an ASCII stream (the same contract: shown escaped, not an internal error).
    result = run_canfar(["--server", "local", "ps", "-a"], env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    assert "rminal" in result.stdout
    for args in (["ps", "-a", "--json"], ["info", made.stdout.strip()]):
        raw, err = io.BytesIO(), io.StringIO()
        stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
        state = CliState(out=Output(stdout=stream, stderr=err, stdout_tty=False))
        answer = cli(*args, obj=state)
        assert answer.exit_code == 0, err.getvalue()
        assert "internal error" not in err.getvalue()
        assert "rminal" in raw.getvalue().decode("ascii")
