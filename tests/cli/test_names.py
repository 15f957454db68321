"""Session names stand for ids in every command that takes ids; a name of several sessions is
refused unless --all-named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import IMAGE
from tests.support.commands import ids_of, sessions


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_names_stand_for_ids_in_info_logs_events_and_rm(cli: Any) -> None:
    ids = ids_of(cli("create", "headless", IMAGE, "-n", "myfit", "--", "sleep", "30"))
    assert cli("wait", "--until", "running", "myfit").exit_code == 0
    info = cli("info", "myfit", "-o", "json")
    assert [s["id"] for s in json.loads(info.stdout)] == ids
    assert cli("logs", "myfit").exit_code == 0
    events = cli("events", "MyFit", "-o", "json")
    assert {e["id"] for e in json.loads(events.stdout)} == set(ids)
    removed = cli("rm", "-f", "myfit")
    assert removed.exit_code == 0, removed.stderr
    assert removed.stdout.split() == ids
    assert sessions(cli) == [] or all(s["id"] not in ids for s in sessions(cli))


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_name_of_several_sessions_is_refused_listing_their_ids(cli: Any) -> None:
    first = ids_of(cli("create", "headless", IMAGE, "-n", "dup", "--", "true"))
    second = ids_of(cli("create", "headless", IMAGE, "-n", "dup", "--", "true"))
    result = cli("info", "dup")
    assert result.exit_code == 2
    assert first[0] in result.stderr and second[0] in result.stderr
    assert "--all-named" in result.stderr
    removed = cli("rm", "-f", "--all-named", "dup")
    assert removed.exit_code == 0, removed.stderr
    assert sorted(removed.stdout.split()) == sorted(first + second)
