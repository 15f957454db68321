"""Unit tests of canfar_cli.models: the refusals of a create, statuses, times, events, selection."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from canfar_cli import models
from canfar_cli.errors import UsageError
from tests.support import IMAGE


def refused(**overrides: object) -> UsageError:
    arguments: dict = {"name": "job", "image": IMAGE, **overrides}
    with pytest.raises(UsageError) as caught:
        models.CreateRequest(**arguments).check()
    assert caught.value.exit_code == 2
    assert caught.value.message
    return caught.value


# --- refusals (issue 3, "Refused before sending") ----------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["my_job", "job.1", "job 1", "jöb", "-job", "job-", "", "a" * 64, "job/1"],
)
def test_names_the_server_would_reject_are_refused(name: str) -> None:
    error = refused(name=name)
    assert error.hint


def test_upper_case_names_are_refused_with_the_lowercase_suggested() -> None:
    error = refused(name="MyJob")
    assert "'myjob'" in (error.hint or "")


def test_the_replica_suffix_counts_toward_the_63_characters() -> None:
    models.CreateRequest(name="a" * 63, image=IMAGE).check()  # fits alone
    error = refused(name="a" * 61, replicas=10)  # a...-10 is 64 long
    assert "64" in error.message and "-10" in error.message
    spec = models.CreateRequest(name="a" * 60, image=IMAGE, replicas=10).check()
    assert spec.names[-1] == "a" * 60 + "-10"


def test_valid_names_pass_unchanged() -> None:
    for name in ("a", "job-1", "x" * 63, "0abc9"):
        assert models.CreateRequest(name=name, image=IMAGE).check().names == [name]


@pytest.mark.parametrize("env", [{"A": "x=y"}, {"A": "=", "B": "1"}])
def test_env_values_with_equals_are_refused(env: dict) -> None:
    error = refused(env=env)
    assert "'='" in error.message and "drop" in error.message


@pytest.mark.parametrize("key", ["1A", "A-B", "A B", "", "A=B", "É"])
def test_env_keys_that_are_not_variable_names_are_refused(key: str) -> None:
    error = refused(env={key: "v"})
    assert "not a valid name" in error.message


def test_replica_variables_are_reserved() -> None:
    refused(env={"REPLICA_ID": "3"})


@pytest.mark.parametrize("args", [['say "hi"'], ["a\\b"], ["line\nbreak"], ["ok", ""]])
def test_args_the_server_would_mangle_are_refused(args: list[str]) -> None:
    refused(cmd="python", args=args)


def test_args_as_text_are_split_on_whitespace() -> None:
    spec = models.CreateRequest(name="j", image=IMAGE, cmd="python", args="fit.py  --n 3").check()
    assert spec.args == ["fit.py", "--n", "3"]
    assert ("args", "fit.py --n 3") in spec.form(0)


def test_cmd_with_a_double_quote_is_refused() -> None:
    error = refused(cmd='say"')
    assert "single quotes" in (error.hint or "")


@pytest.mark.parametrize("kind", ["notebook", "desktop", "carta", "firefly", "contributed"])
@pytest.mark.parametrize(
    "extra", [{"cmd": "echo"}, {"args": ["x"]}, {"env": {"A": "1"}}, {"args": "x y"}]
)
def test_cmd_args_env_for_interactive_kinds_are_refused(kind: str, extra: dict) -> None:
    error = refused(kind=kind, **extra)
    assert "headless" in error.message


def test_gpu_zero_is_refused() -> None:
    error = refused(gpu=0)
    assert "gpu" in error.message.lower()
    assert models.CreateRequest(name="j", image=IMAGE, gpu=2).check().form(0)[5] == ("gpus", "2")


@pytest.mark.parametrize(
    "field,value",
    [
        ("cores", 0),
        ("cores", -1),
        ("cores", 0.5),
        ("ram", 0),
        ("replicas", 0),
        ("replicas", -3),
        ("replicas", 1.5),
        ("cores", "2"),
        ("cores", True),
        ("gpu", -1),
        ("cores", float("nan")),
    ],
)
def test_counts_below_one_or_not_numbers_are_refused(field: str, value: object) -> None:
    refused(**{field: value})


@pytest.mark.parametrize("kind", ["batch", "desktop-app", "", "HEADLESSS"])
def test_unknown_kinds_are_refused(kind: str) -> None:
    error = refused(kind=kind)
    assert "headless" in (error.hint or "")


def test_kind_is_case_insensitive() -> None:
    assert models.CreateRequest(name="j", image=IMAGE, kind=" Notebook ").check().kind == "notebook"


@pytest.mark.parametrize("image", ["terminal", "ubuntu:22.04", "", "  ", "images.canfar.net/a b"])
def test_images_without_registry_host_are_refused(image: str) -> None:
    refused(image=image)


def test_default_registry_is_prefixed_to_project_paths() -> None:
    spec = models.CreateRequest(name="j", image="skaha/terminal:1.1.1").check()
    assert spec.image == IMAGE
    for full in (IMAGE, "localhost:5000/x/y:1", "harbor.example.org/p/r:t"):
        assert models.check_image(full) == full


# --- the form a create sends ---------------------------------------------------------------


def test_replicas_get_numbered_names_and_replica_env_in_order() -> None:
    spec = models.CreateRequest(
        name="fit", image=IMAGE, cmd="python", args=["run.py"], env={"A": "1"}, replicas=3
    ).check()
    assert spec.names == ["fit-1", "fit-2", "fit-3"]
    form = spec.form(1)
    assert form[:5] == [
        ("name", "fit-2"),
        ("image", IMAGE),
        ("type", "headless"),
        ("cores", "2"),
        ("ram", "4"),
    ]
    assert [v for k, v in form if k == "env"] == ["A=1", "REPLICA_ID=2", "REPLICA_COUNT=3"]
    assert ("cmd", "python") in form and ("args", "run.py") in form


def test_interactive_forms_carry_no_env() -> None:
    form = models.CreateRequest(name="nb", image=IMAGE, kind="notebook", cores=3).check().form(0)
    assert ("type", "notebook") in form and ("cores", "3") in form
    assert not [k for k, _ in form if k in ("env", "cmd", "args")]


def test_session_ids_are_checked_before_they_reach_a_url() -> None:
    assert models.check_ids("abc12345") == ["abc12345"]
    assert models.check_ids(["a", "b1"]) == ["a", "b1"]
    # A trailing line break too: `$` in a pattern matches before one, and httpx refuses the URL.
    for bad in ["../context", "a/b", "a?view=all", "", "@canfar", "x" * 64, "a b", "abc\n"]:
        with pytest.raises(UsageError):
            models.check_ids([bad])
    with pytest.raises(UsageError):
        models.check_name("fit\n")


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


def test_absurd_replica_counts_are_refused_before_any_name_is_made() -> None:
    # It used to build 10**23 default names in memory (the process was killed by the OOM killer).
    with pytest.raises(UsageError, match="at most"):
        models.CreateRequest("x", IMAGE, replicas=models.MAX_REPLICAS + 1).check()
    assert (
        len(models.CreateRequest("x", IMAGE, replicas=models.MAX_REPLICAS).check().names) == 10_000
    )
