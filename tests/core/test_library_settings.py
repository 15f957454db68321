"""AsyncSession and AsyncStorage take their settings by one rule (servers.library_settings)."""

from __future__ import annotations

import pytest

from canfar_cli import AsyncSession, AsyncStorage
from canfar_cli.config import PRODUCTION_URL, load_settings
from canfar_cli.errors import ConfigError


@pytest.mark.anyio
async def test_with_no_server_named_both_talk_to_the_platforms_server() -> None:
    # AsyncStorage once kept the "" that load_settings leaves until a server is chosen.
    async with AsyncSession() as session, AsyncStorage() as storage:
        assert session.settings.server == storage.settings.server == PRODUCTION_URL


@pytest.mark.anyio
async def test_arguments_win_over_given_settings_and_are_checked() -> None:
    base = load_settings(server="local")
    async with AsyncStorage(settings=base, timeout=7, concurrency=3) as storage:
        assert storage.settings.timeout == 7 and storage.settings.concurrency == 3
    with pytest.raises(ConfigError, match="the arguments of AsyncStorage"):
        AsyncStorage(settings=base, concurrency=0)
