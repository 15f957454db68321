"""The core's shape: one definition per rule, a print-free core, the blocking twin made from the
async methods, the poll interval setting, the watch iterators and the stacked-connections switch."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from canfar_cli import AsyncSession, Session, models
from canfar_cli.config import DEFAULT_POLL_INTERVAL, load_settings
from canfar_cli.create_request import CreateRequest
from canfar_cli.errors import (
    BROKEN_PIPE_EXIT,
    ConfigError,
    ExitCode,
    NotFoundError,
    ServerError,
    UnreachableError,
    UsageError,
    failure_of,
)
from canfar_cli.http import HttpClient, RetryPolicy
from canfar_cli.outcomes import BatchError, Outcome, batch_exit_code
from canfar_cli.transports import StackedTransport, pooled_transport, stacking_enabled

PACKAGE = Path(models.__file__).resolve().parent
IMAGE = "images.canfar.net/skaha/terminal:1.1.1"
QUICK = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.02, retry_after_cap=0.02)
CORE_MODULES: tuple[str, ...] = (
    "session.py",
    "blocking.py",
    "outcomes.py",
    "servers.py",
    "create_request.py",
    "http.py",
    "transports.py",
    "models.py",
    "config.py",
    "errors.py",
)


def public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member) and name != "aclose"
    )


# --- the blocking twin ----------------------------------------------------------------------


def test_every_async_method_has_a_blocking_twin_with_its_signature_and_docstring() -> None:
    names = public_methods(AsyncSession)
    assert {"follow_logs", "follow_events", "watch_sessions", "create"} <= set(names)
    for name in names:
        mine, twin = getattr(AsyncSession, name), getattr(Session, name)
        ours, theirs = inspect.signature(mine), inspect.signature(twin)
        assert list(ours.parameters.values()) == list(theirs.parameters.values()), name
        assert twin.__doc__ and twin.__doc__ == mine.__doc__, name
        assert twin.__qualname__ == f"Session.{name}"
    assert "session objects" in (Session.info.__doc__ or "")


def test_the_create_methods_take_the_fields_of_create_request_in_order() -> None:
    """Each create method spells out its arguments (a reader and mypy see them): the names, the
    defaults and the types of CreateRequest's fields, in its order."""
    fields = [field.name for field in dataclasses.fields(CreateRequest)]
    defaults = {f.name: f.default for f in dataclasses.fields(CreateRequest)}
    types = {f.name: f.type for f in dataclasses.fields(CreateRequest)}
    for method in (
        AsyncSession.create,
        AsyncSession.create_each,
        AsyncSession.plan_create,
        AsyncSession.check_create,
    ):
        parameters = list(inspect.signature(method).parameters.values())[1:]
        assert [p.name for p in parameters] == fields, method.__name__
        for parameter in parameters:
            wanted = defaults[parameter.name]
            assert parameter.default == (
                inspect.Parameter.empty if wanted is dataclasses.MISSING else wanted
            ), (method.__name__, parameter.name)
            assert parameter.annotation == types[parameter.name], (method.__name__, parameter)
    assert defaults["cores"] == 2 and defaults["ram"] == 4 and defaults["kind"] == "headless"


def test_create_arguments_positional_keyword_and_checked() -> None:
    session = AsyncSession(server="https://example.org/skaha", token="T")
    by_position = session.plan_create("fit", IMAGE, 4, 8, "headless", None, "python", ["a.py"])
    by_keyword = session.plan_create(
        name="fit", image=IMAGE, cores=4, ram=8, cmd="python", args=["a.py"]
    )
    assert by_position == by_keyword
    assert dict(by_keyword[0].form)["cores"] == "4"
    with pytest.raises(TypeError, match="colour"):
        session.plan_create("fit", IMAGE, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="image"):
        session.plan_create("fit")  # type: ignore[call-arg]
    with pytest.raises(UsageError):
        session.plan_create("Fit", IMAGE)
    assert "secret" not in repr(CreateRequest("a", IMAGE, registry_auth="u:secret"))


# --- one rule each ----------------------------------------------------------------------------


def outcome(key: str, error: Exception | None = None) -> Outcome[str]:
    return Outcome(key, value=None if error else key, error=error)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("errors", "code"),
    [
        ([None, None], ExitCode.OK),
        ([NotFoundError("x", status=404), NotFoundError("y", status=404)], ExitCode.NOT_FOUND),
        ([UnreachableError("x"), UnreachableError("y")], ExitCode.UNREACHABLE),
        ([None, NotFoundError("y", status=404)], ExitCode.FAILED),
        ([NotFoundError("x", status=404), UnreachableError("y")], ExitCode.FAILED),
        ([UsageError("x"), ConfigError("y")], ExitCode.USAGE),
    ],
)
def test_batch_exit_code_is_one_rule_for_the_library_and_the_command_line(
    errors: list[Exception | None], code: ExitCode
) -> None:
    from canfar_cli.cli.present import report_failures
    from canfar_cli.output import Output

    outcomes = [outcome(f"k{i}", error) for i, error in enumerate(errors)]
    assert batch_exit_code(outcomes) == code
    assert report_failures(Output(), outcomes) == code
    if code != ExitCode.OK:
        assert BatchError("some failed", outcomes=outcomes).exit_code == code


def test_failure_of_is_the_one_translation_of_an_exception() -> None:
    refused = failure_of(ServerError("quota", status=400, hint="ask"))
    assert (refused.code, refused.message, refused.hint, refused.is_error) == (
        1,
        "quota",
        "ask",
        True,
    )
    interrupted = failure_of(KeyboardInterrupt())
    assert (interrupted.code, interrupted.message, interrupted.is_error) == (
        130,
        "interrupted",
        False,
    )
    assert failure_of(BrokenPipeError()).code == BROKEN_PIPE_EXIT
    assert failure_of(BrokenPipeError()).message is None
    bug = failure_of(RuntimeError("boom"))
    assert bug.internal and bug.code == 1
    assert bug.message == "internal error: RuntimeError: boom (rerun with --verbose for details)"


def test_kinds_and_statuses_are_defined_once() -> None:
    from canfar_cli import create_request, vocabulary
    from canfar_cli.cli import options

    # The options offer, and the core checks against, the one definition in vocabulary.py.
    assert options.KINDS is create_request.KINDS is vocabulary.KINDS  # type: ignore[attr-defined]
    assert options.STATUSES is models.STATUSES is vocabulary.STATUSES  # type: ignore[attr-defined]
    assert [kind.value for kind in options.Kind] == list(vocabulary.KINDS)
    assert [status.value for status in options.Status] == list(vocabulary.STATUSES)


def test_the_core_never_writes_to_a_terminal() -> None:
    """No print() and no sys.stdout/sys.stderr in the core: output.py is the terminal writer."""
    offenders = []
    for name in CORE_MODULES:
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{name}:{node.lineno} print()")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__")
                and getattr(node.value, "id", None) == "sys"
            ):
                offenders.append(f"{name}:{node.lineno} sys.{node.attr}")
    assert offenders == []


def test_removed_dead_names_stay_gone() -> None:
    import canfar_cli.session as session_module
    from canfar_cli.output import Output

    assert not hasattr(models, "ACTIVE_STATUSES") and not hasattr(models, "INTERACTIVE_KINDS")
    assert not hasattr(Output, "stdout_is_terminal")
    assert "log" not in vars(session_module)


def test_each_name_is_imported_from_where_it_is_defined() -> None:
    """The root gives the two session classes; the compatibility re-exports of the split
    (session.py, http.py) are gone, and so are the dead names."""
    import canfar_cli
    import canfar_cli.http as http_module
    import canfar_cli.session as session_module
    from canfar_cli import output
    from canfar_cli.auth import cadc
    from canfar_cli.blocking import Session as TwinSession

    assert canfar_cli.AsyncSession is AsyncSession and canfar_cli.Session is TwinSession
    assert session_module.__all__ == ["AsyncSession"]
    assert not hasattr(session_module, "Session")
    for name in ("StackedTransport", "pooled_transport"):
        assert name not in http_module.__all__
    assert not hasattr(output, "format_table") and not hasattr(cadc, "BASIC_AA")
    assert not hasattr(models, "check_create")


# --- the poll interval setting ----------------------------------------------------------------


def test_poll_interval_comes_from_flag_environment_and_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from canfar_cli.config import set_value

    monkeypatch.delenv("CANFAR_POLL_INTERVAL", raising=False)  # the tests' own short setting
    assert load_settings().poll_interval == DEFAULT_POLL_INTERVAL == 1.0
    set_value("poll_interval", "0.5")
    assert load_settings().poll_interval == 0.5
    monkeypatch.setenv("CANFAR_POLL_INTERVAL", "0.25")
    assert load_settings().poll_interval == 0.25
    assert load_settings(poll_interval=2).poll_interval == 2.0
    for bad in ("0", "-1", "nan", "soon"):
        monkeypatch.setenv("CANFAR_POLL_INTERVAL", bad)
        with pytest.raises(ConfigError, match="poll_interval"):
            load_settings()
    monkeypatch.delenv("CANFAR_POLL_INTERVAL")
    assert AsyncSession(server="local", poll_interval=0.1).settings.poll_interval == 0.1
    with pytest.raises(ConfigError):
        AsyncSession(settings=load_settings(), poll_interval=0)


def listing_server(statuses: list[str]) -> httpx.MockTransport:
    """A server whose one session goes through `statuses`, one per listing."""
    states = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        status = states.pop(0) if len(states) > 1 else states[0]
        return httpx.Response(200, json=[{"id": "a", "name": "a", "status": status}])

    return httpx.MockTransport(handler)


@pytest.mark.anyio
async def test_wait_pauses_for_the_poll_interval_setting(monkeypatch: pytest.MonkeyPatch) -> None:

    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(anyio, "sleep", sleep)
    monkeypatch.setenv("CANFAR_POLL_INTERVAL", "0.125")
    transport = listing_server(["Pending", "Pending", "Running"])
    async with AsyncSession(server="https://example.org/skaha", transport=transport) as session:
        records = await session.wait("a")
        assert records[0]["status"] == "Running"
        assert pauses == [0.125, 0.125]
        pauses.clear()
        await session.wait("a", interval=0.5)
        assert pauses == []  # already Running: no pause
    async with AsyncSession(
        server="https://example.org/skaha", transport=listing_server(["Pending", "Running"])
    ) as session:
        await session.wait("a", interval=0.5)
    assert pauses == [0.5]


# --- the watch iterators ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_watch_sessions_yields_a_listing_per_look_until_stopped() -> None:
    transport = listing_server(["Pending", "Running", "Completed"])
    seen = []
    async with AsyncSession(
        server="https://example.org/skaha", transport=transport, poll_interval=0.001
    ) as session:
        async for sessions in session.watch_sessions():
            seen.append(sessions[0]["status"])
            if len(seen) == 3:
                break
    assert seen == ["Pending", "Running", "Completed"]


EVENTS_HEADER = "TYPE     REASON     MESSAGE           FIRST-TIME             LAST-TIME\n"


def events_server(rounds: list[tuple[str, str | None]]) -> httpx.MockTransport:
    """Each look (an events read, then a status read) takes the next (events body, status)."""
    looks = list(rounds)
    current: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("view") == "events":
            current[:] = [looks.pop(0) if len(looks) > 1 else looks[0]]
            body = current[0][0]
            if body == "404":
                return httpx.Response(404, text="session a not found.\n")
            return httpx.Response(200, text=body)
        status = current[0][1]
        if status is None:
            return httpx.Response(404, text="session a not found\n")
        return httpx.Response(200, json={"id": "a", "status": status})

    return httpx.MockTransport(handler)


def row(reason: str, last: str) -> str:
    return f"Normal   {reason}   it happened   2025-01-01T00:00:00Z   {last}\n"


@pytest.mark.anyio
async def test_follow_events_yields_new_and_changed_events_and_ends_with_the_session() -> None:
    first = row("Scheduled", "2025-01-01T00:00:01Z")
    pulled = row("Pulled", "2025-01-01T00:00:02Z")
    pulled_again = row("Pulled", "2025-01-01T00:00:05Z")
    done = row("Completed", "2025-01-01T00:00:09Z")
    transport = events_server(
        [
            (EVENTS_HEADER + first, "Pending"),
            (EVENTS_HEADER + first + pulled, "Running"),
            (EVENTS_HEADER + first + pulled, "Running"),
            (EVENTS_HEADER + first + pulled_again, "Completed"),
            (EVENTS_HEADER + first + pulled_again + done, "Completed"),
        ]
    )
    batches = []
    async with AsyncSession(
        server="https://example.org/skaha", transport=transport, poll_interval=0.001
    ) as session:
        async for fresh in session.follow_events("a"):
            batches.append([(event["reason"], event["last_time"]) for event in fresh])
    assert batches == [
        [("Scheduled", "2025-01-01T00:00:01Z")],
        [("Pulled", "2025-01-01T00:00:02Z")],
        [("Pulled", "2025-01-01T00:00:05Z")],
        [("Completed", "2025-01-01T00:00:09Z")],  # read once more after the end was seen
    ]


@pytest.mark.anyio
async def test_follow_events_unknown_session_and_one_that_goes_away() -> None:
    async with AsyncSession(
        server="https://example.org/skaha",
        transport=events_server([("404", None)]),
        retry=QUICK,
        poll_interval=0.001,
    ) as session:
        with pytest.raises(NotFoundError):
            async for _ in session.follow_events("a"):
                pass
    transport = events_server(
        [(EVENTS_HEADER + row("Scheduled", "<none>"), "Running"), ("404", None)]
    )
    async with AsyncSession(
        server="https://example.org/skaha", transport=transport, poll_interval=0.001
    ) as session:
        batches = [fresh async for fresh in session.follow_events("a")]
    assert len(batches) == 1 and batches[0][0]["reason"] == "Scheduled"


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_blocking_follow_events_on_the_local_platform(tmp_path: Path) -> None:
    with Session(server="local", retry=QUICK, poll_interval=0.05) as session:
        (session_id,) = session.create("evf", IMAGE, cmd="true")
        reasons = [event.get("reason") for fresh in session.follow_events(session_id)
                   for event in fresh]  # fmt: skip
        assert models.is_finished(session.info(session_id)[0]["status"])
        assert reasons and "Completed" in " ".join(str(r) for r in reasons)
        session.destroy(session_id)


def test_verbose_texts_go_through_the_terminal_writer(capsys: pytest.CaptureFixture[str]) -> None:
    from canfar_cli.output import print_texts

    print_texts({"a": "one\n", "b": "two\n"})
    assert capsys.readouterr().out == "==> a <==\none\n==> b <==\ntwo\n"
    print_texts({"a": "only\n"})
    assert capsys.readouterr().out == "only\n"


# --- the stacked connections switch -----------------------------------------------------------


def test_stacked_connections_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("CANFAR_SHARDED_POOLS", raising=False)
    assert stacking_enabled() and isinstance(pooled_transport(8, False), StackedTransport)
    assert pooled_transport(8, False, stacked=False) is None
    monkeypatch.setenv("CANFAR_SHARDED_POOLS", "0")
    assert not stacking_enabled() and pooled_transport(8, False) is None
    assert stacking_enabled(True)

    def transport_of(client: HttpClient) -> Any:
        built = client._build()
        try:
            return built._transport
        finally:
            anyio.run(built.aclose)

    plain = transport_of(HttpClient("http://127.0.0.1:9/skaha/v1"))
    assert not isinstance(plain, StackedTransport)
    monkeypatch.delenv("CANFAR_SHARDED_POOLS")
    assert isinstance(transport_of(HttpClient("http://127.0.0.1:9/skaha/v1")), StackedTransport)
    off = HttpClient("http://127.0.0.1:9/skaha/v1", stacked_connections=False)
    assert not isinstance(transport_of(off), StackedTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert pooled_transport(8, False) is None  # httpx must build its own to apply the proxy
