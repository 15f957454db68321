"""The entry point (canfar_cli.cli.entry): what happens before the app is even loaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from canfar_cli.errors import ExitCode


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


class _MarksAtAppLoad:
    """Records the state folder's "starting" marks when canfar_cli.cli.main starts loading (the
    app: everything slow comes after it), then stops the program there as a Ctrl-C would."""

    def __init__(self, serve_folder: Path) -> None:
        self.serve_folder = serve_folder
        self.seen: list[list[str]] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "canfar_cli.cli.main":
            marks = self.serve_folder.glob("starting-*") if self.serve_folder.exists() else []
            self.seen.append(sorted(p.name for p in marks))
            raise KeyboardInterrupt
        return None


@pytest.mark.parametrize(
    ("argv", "by_env", "marked"),
    [
        (["-v", "local", "serve", "--tls", "--home", "{home}"], False, True),
        (["local", "serve", "--home={home}", "--port", "0"], False, True),
        (["local", "serve", "--tls"], True, True),  # CANFAR_LOCAL_HOME
        (["local", "users", "ls", "--home", "{home}"], False, False),
        (["--server", "local", "ps"], True, False),
    ],
)
def test_local_serve_is_marked_starting_before_the_app_loads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    by_env: bool,
    marked: bool,
) -> None:
    # `canfar local serve --tls &` then at once `canfar --server local login …` (the documented
    # recipe): the login waits for a server marked starting, so the mark must exist before the
    # server's slow imports, not once its command runs.
    from canfar_cli.cli import entry

    home = tmp_path / "state"
    if by_env:
        monkeypatch.setenv("CANFAR_LOCAL_HOME", str(home))
    watch = _MarksAtAppLoad(home / "serve")
    monkeypatch.delitem(sys.modules, "canfar_cli.cli.main", raising=False)
    monkeypatch.setattr(sys, "meta_path", [watch, *sys.meta_path])
    monkeypatch.setattr(sys, "argv", ["canfar", *(a.format(home=home) for a in argv)])
    with pytest.raises(SystemExit):
        entry.main()
    assert watch.seen == [[f"starting-{os.getpid()}"] if marked else []]


def test_the_mark_of_a_start_that_ended_is_dropped(tmp_path: Path) -> None:
    from canfar_cli import serve_tokens

    folder = tmp_path / "serve"
    folder.mkdir()
    stale = folder / "starting-99999999"  # beyond any pid_max: that process is gone
    stale.touch()
    assert serve_tokens.running(tmp_path, wait=5) is None  # not waited for: nothing is starting
    assert not stale.exists()
