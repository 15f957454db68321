"""Unit tests of canfar_cli.models: session ids, statuses, times, events, selection (the refusals
of a create are in test_create_request.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from canfar_cli import models
from canfar_cli.errors import UsageError


def test_session_ids_are_checked_before_they_reach_a_url() -> None:
    assert models.check_ids("abc12345") == ["abc12345"]
    assert models.check_ids(["a", "b1"]) == ["a", "b1"]
    # A trailing line break too: `$` in a pattern matches before one, and httpx refuses the URL.
    for bad in ["../context", "a/b", "a?view=all", "", "@canfar", "x" * 64, "a b", "abc\n"]:
        with pytest.raises(UsageError):
            models.check_ids([bad])


# --- statuses --------------------------------------------------------------------------------


def test_status_normalization() -> None:
    assert models.normalize_status("Succeeded") == "Completed"
    assert models.normalize_status("completed") == "Completed"
    assert models.normalize_status("ERROR") == "Failed"
    assert models.normalize_status("running") == "Running"
    assert models.normalize_status("Queued") == "Queued"
    assert models.is_finished("Succeeded") and models.is_finished("Failed")
    assert not models.is_finished("Running") and not models.is_finished(None)
    assert {"Completed", "Failed", "Succeeded", "Error"} == set(models.FINISHED_STATUSES)


# --- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2025-04-10T15:45:33Z", datetime(2025, 4, 10, 15, 45, 33, tzinfo=timezone.utc)),
        ("2025-04-10T15:45Z", datetime(2025, 4, 10, 15, 45, tzinfo=timezone.utc)),
        ("2025-04-10T15:45:33.123456789Z", datetime(2025, 4, 10, 15, 45, 33, 123456, timezone.utc)),
        ("2025-04-10T15:45:33.5Z", datetime(2025, 4, 10, 15, 45, 33, 500000, timezone.utc)),
        ("2025-04-10T17:45:33+02:00", datetime(2025, 4, 10, 15, 45, 33, tzinfo=timezone.utc)),
        ("2025-04-10T15:45:33", datetime(2025, 4, 10, 15, 45, 33, tzinfo=timezone.utc)),
    ],
)
def test_parse_time_reads_the_server_formats(text: str, expected: datetime) -> None:
    assert models.parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2025-04-10", "2025-13-10T00:00Z", "<none>"])
def test_parse_time_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError):
        models.parse_time(text)


# --- events ----------------------------------------------------------------------------------

EVENTS = (
    "TYPE      REASON      MESSAGE                                FIRST-TIME             LAST-TIME\n"  # noqa: E501
    "Normal    Scheduled   Successfully assigned skaha/x to n1    2026-11-27T12:00:00Z   "
    "2026-11-27T12:00:00Z\n"
    "Warning   BackOff     Back-off restarting failed container   2026-11-27T12:00:05Z   "
    "2026-11-27T12:01:05Z\n"
    "Normal    Pulled      <none>                                 <none>                 <none>\n"
)


def test_parse_events_reads_the_kubectl_table() -> None:
    events = models.parse_events(EVENTS)
    assert events[0] == {
        "type": "Normal",
        "reason": "Scheduled",
        "message": "Successfully assigned skaha/x to n1",
        "first_time": "2026-11-27T12:00:00Z",
        "last_time": "2026-11-27T12:00:00Z",
    }
    assert events[1]["message"] == "Back-off restarting failed container"
    assert events[1]["last_time"] == "2026-11-27T12:01:05Z"
    assert events[2]["first_time"] is None and events[2]["message"] == "<none>"
    assert len(events) == 3


def test_parse_events_keeps_lines_it_does_not_understand() -> None:
    text = EVENTS + "  a continuation line of a long message\nWarning Odd\n"
    events = models.parse_events(text)
    # Issue 9: a continuation joins the event before it; only Normal/Warning start an event.
    assert events[-2]["message"].endswith("\na continuation line of a long message")
    assert events[-1] == {
        "type": "Warning",
        "reason": "Odd",
        "message": "",
        "first_time": None,
        "last_time": None,
    }
    assert len(events) == 4
    assert models.parse_events("stray text before any event\n") == [
        {"raw": "stray text before any event"}
    ]


def test_parse_events_none_and_empty() -> None:
    assert models.parse_events("<none>\n") == []
    assert models.parse_events("") == []
    header = "TYPE   REASON   MESSAGE   FIRST-TIME   LAST-TIME\n"
    assert models.parse_events(header) == []


# --- selection -------------------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
SESSIONS = [
    {"id": "a", "name": "fit-1", "type": "headless", "status": "Succeeded",
     "startTime": "2026-11-27T10:00Z"},
    {"id": "b", "name": "fit-2", "type": "headless", "status": "Failed",
     "startTime": "2026-11-27T11:50:00Z"},
    {"id": "c", "name": "nb", "type": "notebook", "status": "Running",
     "startTime": "2026-11-20T11:50:00Z"},
    {"id": "d", "name": "queued", "type": "headless", "status": "Pending"},
]  # fmt: skip


def ids(sessions: list) -> list[str]:
    return [s["id"] for s in sessions]


def test_select_by_status_treats_succeeded_as_completed() -> None:
    assert ids(models.select_sessions(SESSIONS, statuses=["Completed"])) == ["a"]
    assert ids(models.select_sessions(SESSIONS, statuses=["succeeded", "failed"])) == ["a", "b"]


def test_select_by_kind_and_glob() -> None:
    assert ids(models.select_sessions(SESSIONS, kinds=["Headless"])) == ["a", "b", "d"]
    assert ids(models.select_sessions(SESSIONS, name_pattern="fit-*")) == ["a", "b"]
    assert ids(models.select_sessions(SESSIONS, name_pattern="FIT-?")) == ["a", "b"]
    assert ids(models.select_sessions(SESSIONS, name_pattern="fit")) == []


def test_select_older_than_skips_sessions_without_start() -> None:
    chosen = models.select_sessions(SESSIONS, older_than=timedelta(hours=1), now=NOW)
    assert ids(chosen) == ["a", "c"]
    assert ids(models.select_sessions(SESSIONS, older_than=timedelta(days=2), now=NOW)) == ["c"]


def test_select_combines_filters_and_keeps_order() -> None:
    chosen = models.select_sessions(
        SESSIONS, kinds=["headless"], statuses=["Completed", "Failed"], name_pattern="fit*"
    )
    assert ids(chosen) == ["a", "b"]
    assert models.select_sessions([], kinds=["headless"]) == []
