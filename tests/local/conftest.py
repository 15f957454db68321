"""Fixtures of the local platform's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import api


@pytest.fixture
def client(local_server: Any) -> Iterator[httpx.Client]:
    with api(local_server) as http:
        yield http


@pytest.fixture
def shared_client(shared_local_server: Any) -> Iterator[httpx.Client]:
    """A client of the module's shared server: only for requests that change nothing."""
    with api(shared_local_server) as http:
        yield http
