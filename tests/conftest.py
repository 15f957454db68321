"""Shared fixtures. Every test runs isolated from the user's real settings and state."""

from __future__ import annotations

from pathlib import Path

import pytest

CANFAR_VARIABLES = (
    "CANFAR_URL",
    "CANFAR_TOKEN",
    "CANFAR_CERTIFICATE",
    "CANFAR_TIMEOUT",
    "CANFAR_CONCURRENCY",
    "CANFAR_CONFIG_DIR",
    "CANFAR_LOCAL_HOME",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME, config folder and local-platform state folder for each test."""
    for name in CANFAR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CANFAR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CANFAR_LOCAL_HOME", str(tmp_path / "local"))
    return tmp_path
