"""The library refuses a token that cannot be sent as a header, without showing it."""

from __future__ import annotations

import pytest

from canfar_cli import config


def test_the_library_refuses_such_a_token_too() -> None:
    from canfar_cli import AsyncSession
    from canfar_cli.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        AsyncSession(server="local", token="SECRET\nx")
    assert "SECRET" not in str(caught.value)
    settings = config.load_settings(server="local")
    with pytest.raises(ConfigError):
        AsyncSession(settings=settings, token="SECRET two")
