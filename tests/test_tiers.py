"""The rule that sorts the tests into two tiers (tests/support/tiers.py): a test that starts a
process is `e2e`, found by what its code refers to, and checked while it runs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.loopback import start_local_server
from tests.support.process import run_canfar
from tests.support.tiers import WATCH, shared_processes, starts_processes


def _pure() -> int:
    return len("no process here")


def _through_a_helper() -> None:
    run_canfar(["--version"])


def _in_a_closure() -> None:
    def later() -> None:
        subprocess.run(["true"], check=True)

    later()


# Named through a dict, so that the test below does not itself refer to them (it would be e2e).
EXAMPLES: dict[str, Callable[..., Any]] = {
    "pure": _pure,
    "helper": _through_a_helper,
    "closure": _in_a_closure,
    "server": start_local_server,
}


def test_the_rule_follows_helpers_of_the_tests_and_nested_functions() -> None:
    assert not starts_processes(EXAMPLES["pure"])
    assert starts_processes(EXAMPLES["helper"])  # run_canfar reaches subprocess
    assert starts_processes(EXAMPLES["closure"])
    assert starts_processes(EXAMPLES["server"])


def test_a_server_fixture_makes_its_users_e2e(request: pytest.FixtureRequest) -> None:
    manager = request._fixturemanager
    # local_server and client reach serve_local: a test's fixtures are looked at as a closure
    definitions = manager.getfixturedefs("serve_local", request.node) or ()
    assert definitions and all(starts_processes(d.func) for d in definitions)
    isolated = manager.getfixturedefs("isolated", request.node) or ()
    assert isolated and not starts_processes(isolated[0].func)
    assert request.node.get_closest_marker("e2e") is None  # this test refers to no starter


def test_a_started_process_is_recorded_unless_a_shared_fixture_starts_it() -> None:
    before = list(WATCH.started)
    with shared_processes():
        subprocess.run(["true"], check=True)
    assert WATCH.started == before
    subprocess.run(["true"], check=True)
    assert WATCH.started[len(before) :] == ["true"]
    del WATCH.started[len(before) :]  # the record was the point (this test is e2e anyway)
