"""Shared fixtures. Every test runs isolated from the user's real settings and state.

Constants and helpers live in tests/support (`from tests.support import IMAGE`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import CANFAR_VARIABLES, TEST_SETTINGS
from tests.support.forkserver import FORKS
from tests.support.loopback import LocalServer, kill_platform_processes, start_local_server
from tests.support.tiers import WATCH, shared_processes, starts_processes

# pytest caches the test modules it compiles (their asserts rewritten: ~4 s of CPU per worker
# for the whole suite); PYTHONDONTWRITEBYTECODE, set in some sandboxes, would make every run
# compile them again. The caches are __pycache__ folders, ignored by git.
sys.dont_write_bytecode = False
# The plugins (anyio, xdist, hypothesis) are rewritten too, and before this file runs: without
# the variable, the xdist workers (started after it) cache them; else each process of each run
# rewrote them again (~1.3 s of CPU each). The processes the tests start cache what they import.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# --- the two tiers (tests/support/tiers.py): a test that starts a process is `e2e` ----------


def pytest_configure(config: pytest.Config) -> None:
    WATCH.install()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers a core, at most eight. An end-to-end test spends most of its time
    waiting for the processes it started, so a core has room for a second worker; measured on
    two quiet cores, the whole suite took 155 s on 2 workers, 106 s on 4 and 119 s on 6."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, 2 * (cores or 1))


def pytest_unconfigure(config: pytest.Config) -> None:
    FORKS.close()


def _starts_processes(item: pytest.Item) -> bool:
    """The test function, or a function-scoped fixture it uses, reaches `subprocess`."""
    function = getattr(item, "function", None)
    if function is not None and starts_processes(function):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        for definition in definitions:
            if definition.scope == "function" and _fixture_starts(definition.func):
                return True
    return False


_FIXTURES_THAT_START: dict[Any, bool] = {}


def _fixture_starts(function: Any) -> bool:
    """starts_processes of a fixture, worked out once: most tests share a few fixtures."""
    if function not in _FIXTURES_THAT_START:
        _FIXTURES_THAT_START[function] = starts_processes(function)
    return _FIXTURES_THAT_START[function]


def _order(item: pytest.Item) -> int:
    mark = item.get_closest_marker("e2e")
    if mark is None:
        return 2
    return 0 if mark.kwargs.get("long") else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts a process `e2e`; then order the long runs first, then the
    other e2e tests (the order is otherwise kept): on two workers the long ones overlap the
    many short ones instead of running alone at the end."""
    for item in items:
        if item.get_closest_marker("e2e") is None and _starts_processes(item):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_order)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    WATCH.started.clear()
    WATCH.watching = True
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A test outside the e2e tier that started a process fails, naming it (after the test's
    own teardown, so what it started is cleaned up first)."""
    try:
        return (yield)
    finally:
        WATCH.watching = False
        started, WATCH.started[:] = list(WATCH.started), []
        if started and item.get_closest_marker("e2e") is None:
            pytest.fail(
                f"this test started a process ({started[0]}) but is not in the e2e tier: "
                "mark it @pytest.mark.e2e (see tests/support/tiers.py)",
                pytrace=False,
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
    monkeypatch.setenv("CANFAR_CACHE_DIR", str(tmp_path / "cache"))
    for name, value in TEST_SETTINGS.items():  # short waits (see tests/support)
        monkeypatch.setenv(name, value)
    return tmp_path


# --- the local platform on a loopback socket ------------------------------------------------
#
# `local_server`: a fresh server for the test: `canfar local serve --port 0` in a process
#   forked from one that has imported it (tests/support/forkserver.py), its state in the
#   `isolated` fixture's CANFAR_LOCAL_HOME (tmp_path / "local").
#   Attributes: .url (base URL, "http://127.0.0.1:PORT/skaha"), .home (state folder), .token
#   (the random token the server made, or the one given), .headers (its Authorization header),
#   .user (the user every request acts as), .process (the Popen), .stop().
# `serve_local(**options)`: a factory for more servers, or servers with options:
#   token="T" (Bearer T required; default: the server's random one), no_auth=True,
#   user="name", latency_ms=50, fail_rate=0.3, fail_status=503,
#   drop_rate=0.3, retry_after=1, cleanup_seconds=2 (CANFAR_LOCAL_CLEANUP), grace_seconds=1
#   (CANFAR_LOCAL_GRACE), expiry_seconds=60 (CANFAR_LOCAL_EXPIRY), idle_seconds=2
#   (CANFAR_LOCAL_SUPERVISOR_IDLE), home=Path (default: the isolated state folder, so two
#   servers of one test share their sessions), env={...}.
# `shared_local_server`: one server per test module (own state folder), for stateless tests.
# Teardown of each: the server is killed (state is safe in SQLite), and the supervisor and every
# job process started under its state folder are killed, found through /proc, so no process
# outlives the test.


@pytest.fixture
def serve_local(isolated: Path) -> Iterator[Callable[..., LocalServer]]:
    """Factory of loopback servers: `serve_local(**options) -> LocalServer`.

    Options (all optional): token="T" (given through --token-file; without it the server makes
    a random one, found in its state folder and kept in .token), no_auth=True (--no-auth),
    user="name", latency_ms=50, fail_rate=0.3, fail_status=503, drop_rate=0.3, retry_after=1,
    cleanup_seconds=2 (CANFAR_LOCAL_CLEANUP), grace_seconds=1 (CANFAR_LOCAL_GRACE),
    expiry_seconds=60 (CANFAR_LOCAL_EXPIRY), idle_seconds=2 (CANFAR_LOCAL_SUPERVISOR_IDLE),
    env={...} (more environment for the server),
    home=Path (default: the isolated CANFAR_LOCAL_HOME, so servers of one test share state),
    forked=False (a process of its own, for tests of its command line; by default it is forked
    from a process that has imported it already, see tests/support/forkserver.py).
    Each server is `canfar local serve --port 0` in a process of its own; the returned
    LocalServer has .url ("http://127.0.0.1:PORT/skaha"), .home, .token, .user, .process,
    .stderr_path and .stop(graceful=False). After the test every server is killed, and so are
    the supervisor and every job process started under its state folder (found through /proc).
    """
    servers: list[LocalServer] = []

    def start(**options: Any) -> LocalServer:
        server = start_local_server(isolated, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for home in {server.home for server in servers}:
        kill_platform_processes(home)


@pytest.fixture
def local_server(serve_local: Callable[..., LocalServer]) -> LocalServer:
    """A fresh loopback server for this test: no token, the OS user, state in the isolated
    CANFAR_LOCAL_HOME. Use `.url` as the base URL (`--server`, CANFAR_URL); see serve_local."""
    return serve_local()


@pytest.fixture(scope="module")
def shared_local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One loopback server for a whole test module, for tests that change no state (refusals)."""
    folder = tmp_path_factory.mktemp("shared-local")
    with pytest.MonkeyPatch.context() as patch:  # set up before `isolated`: the same settings
        for name in CANFAR_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in TEST_SETTINGS.items():
            patch.setenv(name, value)
        with shared_processes():
            server = start_local_server(folder, home=folder / "local", user="shared")
    yield server
    server.stop()
    kill_platform_processes(server.home)
