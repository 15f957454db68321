"""The entry point (canfar_cli.cli.entry): what happens before the app is even loaded."""

from __future__ import annotations

import sys

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
