"""Issue 9, item 10: a kubectl message over several lines stays one event."""

from __future__ import annotations

from canfar_cli.models import parse_events

TABLE = (  # the lines are as wide as kubectl prints them
    """TYPE      REASON        MESSAGE                                   FIRST-TIME             LAST-TIME
Normal    Scheduled     Successfully assigned skaha/x to node1    2025-04-10T15:45:33Z   2025-04-10T15:45:33Z
Warning   FailedMount   MountVolume.SetUp failed for volume "home" : mount failed: exit status 32
Mounting command: mount -t ceph [auth] retry   2025-04-10T15:46:00Z   2025-04-10T15:49:00Z
Normal    Pulled        Container image already present   2025-04-10T15:50:00Z   2025-04-10T15:50:00Z
"""  # noqa: E501
)


def test_a_continuation_line_joins_the_event_before_it() -> None:
    events = parse_events(TABLE)
    assert [e.get("type") for e in events] == ["Normal", "Warning", "Normal"]
    mount = events[1]
    assert mount["reason"] == "FailedMount"
    assert mount["message"] == (
        'MountVolume.SetUp failed for volume "home" : mount failed: exit status 32\n'
        "Mounting command: mount -t ceph [auth] retry"
    )
    assert (mount["first_time"], mount["last_time"]) == (
        "2025-04-10T15:46:00Z",
        "2025-04-10T15:49:00Z",
    )
    assert events[2]["reason"] == "Pulled"


def test_single_line_rows_are_as_before() -> None:
    events = parse_events(TABLE.splitlines()[0] + "\n" + TABLE.splitlines()[1])
    assert events == [
        {
            "type": "Normal",
            "reason": "Scheduled",
            "message": "Successfully assigned skaha/x to node1",
            "first_time": "2025-04-10T15:45:33Z",
            "last_time": "2025-04-10T15:45:33Z",
        }
    ]
