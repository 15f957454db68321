"""The core's wire behaviour with no server: request building, retries, error mapping, redaction.

An httpx.MockTransport stands in for the network, so each test decides exactly what the "server"
answers and sees exactly what was sent.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from canfar_cli import AsyncSession, Session
from canfar_cli.errors import (
    AuthError,
    CanfarError,
    ConfigError,
    NotFoundError,
    ServerError,
    UnreachableError,
    UsageError,
)
from canfar_cli.http import RetryPolicy, retry_after_seconds
from canfar_cli.outcomes import BatchError
from canfar_cli.servers import resolve_server
from tests.support import IMAGE

TOKEN = "tok-SECRET-1234567890"
FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.005, retry_after_cap=0.01)

# MockTransport takes a plain or an async handler.
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def session_with(handler: Handler, **options: object) -> AsyncSession:
    options.setdefault("server", "https://example.org/skaha")
    options.setdefault("token", TOKEN)
    options.setdefault("retry", FAST)
    return AsyncSession(transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]


def text(status: int, body: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": "text/plain", **headers})


# --- base URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "server",
    [
        "https://ws-uv.canfar.net/skaha",
        "https://ws-uv.canfar.net/skaha/",
        "https://ws-uv.canfar.net/skaha/v1",
        "https://ws-uv.canfar.net/skaha/v1/",
    ],
)
def test_base_url_with_or_without_version(server: str) -> None:
    assert resolve_server(server, "v1") == ("https://ws-uv.canfar.net/skaha/v1", None)


@pytest.mark.parametrize("server", ["ws-uv.canfar.net/skaha", "ftp://x/skaha", "https://", ""])
def test_bad_server_urls_are_config_errors(server: str) -> None:
    with pytest.raises(ConfigError):
        AsyncSession(server=server or " ")


def test_passwords_in_the_server_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        AsyncSession(server="https://alice:s3cret@example.org/skaha")
    assert "s3cret" not in str(caught.value) and "example.org" in str(caught.value)


# --- request building ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_sends_a_form_body_with_the_right_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return text(200, f"id{len(seen):06d}\n")

    async with session_with(handler) as session:
        ids = await session.create(
            "fit",
            IMAGE,
            cores=1,
            ram=8,
            cmd="python",
            args=["run.py", "--n=3"],
            env={"A": "a b&c", "B": "é"},
            replicas=2,
            registry_auth="alice:pa55",
        )
    assert sorted(ids) == ["id000001", "id000002"]
    for request in seen:
        assert request.method == "POST"
        assert request.url.query == b""  # nothing in the URL
        assert request.url.path == "/skaha/v1/session"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("canfar-cli/")
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        decoded = base64.b64decode(request.headers["x-skaha-registry-auth"]).decode()
        assert decoded == "alice:pa55"
    forms = sorted(parse_qsl(r.content.decode(), keep_blank_values=True) for r in seen)
    assert forms[0] == [
        ("name", "fit-1"),
        ("image", IMAGE),
        ("type", "headless"),
        ("cores", "1"),
        ("ram", "8"),
        ("cmd", "python"),
        ("args", "run.py --n=3"),
        ("env", "A=a b&c"),
        ("env", "B=é"),
        ("env", "REPLICA_ID=1"),
        ("env", "REPLICA_COUNT=2"),
    ]


@pytest.mark.anyio
async def test_plan_create_is_what_create_sends_with_credentials_hidden() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return text(200, "abcdefgh\n")

    async with session_with(handler) as session:
        plans = session.plan_create("job", "skaha/terminal:1.1.1", registry_auth=("u", "s"))
        assert not sent  # planning sends nothing
        await session.create("job", "skaha/terminal:1.1.1", registry_auth=("u", "s"))
    (plan,) = plans
    assert plan.method == "POST" and plan.url == "https://example.org/skaha/v1/session"
    assert plan.headers["Authorization"] == "<hidden>"
    assert plan.headers["X-Skaha-Registry-Auth"] == "<hidden>"
    secret = base64.b64encode(b"u:s").decode()
    assert TOKEN not in repr(plan) and secret not in repr(plan)
    assert secret not in str(dataclasses.asdict(plan)) and TOKEN not in str(
        dataclasses.asdict(plan)
    )
    assert parse_qsl(sent[0].content.decode()) == plan.form
    assert str(sent[0].url) == plan.url


def test_registry_auth_that_the_server_would_split_is_refused() -> None:
    session = session_with(lambda r: text(200, "x\n"))
    for bad in ("nocolon", "a:b:c", ":s", ("u", "s:x")):
        with pytest.raises(UsageError):
            session.plan_create("j", IMAGE, registry_auth=bad)


@pytest.mark.anyio
async def test_refusals_send_nothing() -> None:
    sent: list[httpx.Request] = []
    session = session_with(lambda r: sent.append(r) or text(200, "x\n"))  # type: ignore[func-returns-value]
    async with session:
        with pytest.raises(UsageError):
            await session.create("bad_name", IMAGE)
        with pytest.raises(UsageError):
            await session.create("ok", IMAGE, env={"A": "x=y"})
        with pytest.raises(UsageError):
            await session.destroy(["good1", "../context"])
        with pytest.raises(UsageError):
            await session.info("a/b")
    assert sent == []


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [502, 503, 504])
async def test_get_retries_transient_statuses(status: int) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return text(status, "temporarily unavailable: null\n", **{"Retry-After": "30"})
        return httpx.Response(200, json={"cores": {}})

    async with session_with(handler) as session:
        assert await session.context() == {"cores": {}}
    assert calls == 3


@pytest.mark.anyio
async def test_get_retries_dropped_connections_and_timeouts() -> None:
    failures = [httpx.RemoteProtocolError("gone"), httpx.ReadTimeout("slow"), None]

    def handler(request: httpx.Request) -> httpx.Response:
        failure = failures.pop(0)
        if failure is not None:
            raise failure
        return httpx.Response(200, json=[])

    async with session_with(handler) as session:
        assert await session.fetch() == []
    assert failures == []


@pytest.mark.anyio
async def test_get_gives_up_after_the_attempts_naming_the_url_without_credentials() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return text(503, "temporarily unavailable: null\n")

    async with session_with(handler) as session:
        with pytest.raises(UnreachableError) as caught:
            await session.stats()
    assert calls == FAST.attempts
    error = caught.value
    assert error.exit_code == 5
    assert "https://example.org/skaha/v1/session?view=stats" in error.message
    assert "503" in error.message and "4 attempts" in error.message
    assert TOKEN not in str(error) and TOKEN not in repr(error)


@pytest.mark.anyio
async def test_delete_retries_like_get() -> None:
    deletes = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal deletes
        if request.method == "GET":
            record = {"id": "abc", "name": "n", "status": "Running"}
            single = request.url.path.endswith("/abc")  # a few ids are looked up one by one
            return httpx.Response(200, json=record if single else [record])
        deletes += 1
        if deletes == 1:
            raise httpx.ReadError("reset")
        if deletes == 2:
            return text(502, "bad gateway\n")
        return text(200, "")

    async with session_with(handler) as session:
        assert await session.destroy("abc") == {"abc": True}
    assert deletes == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    "failure",
    [
        text(503, "temporarily unavailable: null\n"),
        text(500, "unexpected exception: x"),
        httpx.ReadError("reset after sending"),
        httpx.RemoteProtocolError("closed without response"),
        httpx.ReadTimeout("no answer"),
        httpx.WriteError("broken pipe"),
    ],
)
async def test_post_is_never_retried_once_it_may_have_reached_the_server(
    failure: httpx.Response | Exception,
) -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        posts += request.method == "POST"  # (an unanswered POST is followed by a listing)
        if isinstance(failure, Exception):
            raise failure
        return failure

    async with session_with(handler) as session:
        with pytest.raises(UnreachableError) as caught:
            await session.create("job", IMAGE)
    assert posts == 1
    assert "canfar ps" in (caught.value.hint or "")  # it may have been created: look first


@pytest.mark.anyio
async def test_post_is_retried_when_it_never_left() -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        posts += 1
        if posts < 3:
            raise httpx.ConnectError("refused")
        return text(200, "abcdefgh\n")

    async with session_with(handler) as session:
        assert await session.create("job", IMAGE) == ["abcdefgh"]
    assert posts == 3


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0, retry_after_cap=10.0)
    assert policy.delay(1, text(503, "", **{"Retry-After": "3"})) == 3.0
    assert policy.delay(1, text(503, "", **{"Retry-After": "30"})) == 10.0
    for retry in range(1, 8):
        delay = policy.delay(retry)
        ceiling = min(4.0, 0.5 * 2 ** (retry - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# --- error mapping ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "status,body,kind,code",
    [
        (401, "Unauthorized\n", AuthError, 3),
        (403, "Not authorized to use the skaha system\n", AuthError, 3),
        (400, "cannot get group memberships for anonymous\n", AuthError, 3),
        (404, "session abc not found\n", NotFoundError, 4),
        (400, "Invalid value for 'cores': 99\n", ServerError, 1),
        (500, "unexpected exception: java.lang.NullPointerException", UnreachableError, 5),
    ],
)
async def test_errors_carry_the_server_text_and_exit_code(
    status: int, body: str, kind: type[CanfarError], code: int
) -> None:
    async with session_with(lambda r: text(status, body)) as session:
        with pytest.raises(kind) as caught:
            await session.info("abc")
    assert caught.value.exit_code == code
    assert body.strip() in str(caught.value)
    if status in (401, 403):
        assert "token" in (caught.value.hint or "")


@pytest.mark.anyio
async def test_connection_refused_is_unreachable_naming_the_server() -> None:
    async with AsyncSession(
        server="http://127.0.0.1:9/skaha", retry=FAST, token=TOKEN, timeout=2
    ) as session:
        with pytest.raises(UnreachableError) as caught:
            await session.fetch()
    assert "http://127.0.0.1:9/skaha/v1/session" in caught.value.message
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


# --- batches ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_partial_create_raises_batch_error_keeping_every_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        name = dict(parse_qsl(request.content.decode()))["name"]
        if name in ("job-2", "job-4"):
            return text(400, "User alice has reached the maximum of 5 active sessions.\n")
        return text(200, f"id-{name}\n")

    async with session_with(handler) as session:
        with pytest.raises(BatchError) as caught:
            await session.create("job", IMAGE, replicas=5)
        outcomes = await session.create_each("job", IMAGE, replicas=5)
    error = caught.value
    assert error.exit_code == 1
    assert error.message.startswith("2 of 5 sessions were not created: User alice has reached")
    assert [o.key for o in error.outcomes] == [f"job-{i}" for i in range(1, 6)]
    assert [o.value for o in error.outcomes if o.ok] == ["id-job-1", "id-job-3", "id-job-5"]
    assert [o.ok for o in outcomes] == [True, False, True, False, True]
    assert isinstance(outcomes[1].error, ServerError) and outcomes[1].error.status == 400


@pytest.mark.anyio
async def test_results_keep_input_order_under_concurrency() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/session"):
            return httpx.Response(200, json=[])  # the listing: none of them, ask one by one
        session_id = request.url.path.rsplit("/", 1)[-1]
        await anyio.sleep(0.001 * (hash(session_id) % 7))
        return httpx.Response(200, json={"id": session_id})

    wanted = [f"s{i:04d}" for i in range(1000)]
    async with session_with(handler, concurrency=50) as session:
        got = await session.info(wanted)
    assert [g["id"] for g in got] == wanted


@pytest.mark.anyio
async def test_in_flight_requests_never_exceed_the_bound() -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.002)
        in_flight -= 1
        if request.url.path.endswith("/session"):
            return httpx.Response(200, json=[])  # the listing
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})

    async with session_with(handler, concurrency=7) as session:
        await session.info([f"s{i}" for i in range(200)])
    assert peak == 7


# --- credentials never leak ------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_never_reaches_a_log_record_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return text(503, "busy\n")
        if request.method == "POST":
            return text(401, "Unauthorized\n")
        return httpx.Response(200, json=[])

    caplog.set_level(logging.DEBUG)
    session = session_with(handler, loglevel=logging.DEBUG)
    async with session:
        await session.fetch()
        with pytest.raises(AuthError) as caught:
            await session.create("j", IMAGE, registry_auth="bob:hunter2")
    secret_auth = base64.b64encode(b"bob:hunter2").decode()
    records = [r for r in caplog.records if r.name == "canfar_cli.http"]
    assert any(r.levelno == logging.DEBUG for r in records)
    assert any("retry" in r.getMessage() for r in records)
    everything = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [repr(session), str(caught.value), repr(caught.value), repr(session.settings)]
        + [repr(p) for p in session.plan_create("j", IMAGE, registry_auth="bob:hunter2")]
    )
    assert "<hidden>" in everything
    for secret in (TOKEN, secret_auth, "hunter2"):
        assert secret not in everything


def test_blocking_twin_runs_inside_a_running_event_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": "a", "status": "Running", "name": "n"}])

    async def notebook_cell() -> list:
        # As in Jupyter: a loop is running in this thread, and the user calls the blocking API.
        with Session(
            server="https://example.org/skaha", transport=httpx.MockTransport(handler)
        ) as session:
            return session.fetch()

    assert anyio.run(notebook_cell) == [{"id": "a", "status": "Running", "name": "n"}]


@pytest.mark.anyio
async def test_wait_times_out_with_a_clear_message() -> None:
    from canfar_cli.outcomes import WaitTimeoutError

    rounds: list[list[dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json=[
                {"id": "a", "status": "Pending", "name": "a"},
                {"id": "b", "status": "Running", "name": "b"},
            ],
        )

    async with session_with(handler) as session:
        with pytest.raises(WaitTimeoutError) as caught:
            await session.wait(["a", "b"], timeout=0.2, interval=0.05, on_update=rounds.append)
        assert await session.wait("b", timeout=0.2) == [
            {"id": "b", "status": "Running", "name": "b"}
        ]
        with pytest.raises(NotFoundError):
            await session.wait(["a", "zzz"], timeout=0.2)
    assert caught.value.exit_code == 1
    assert "1 of 2 sessions still Pending" in caught.value.message
    assert len(rounds) >= 2 and [r["id"] for r in rounds[0]] == ["a", "b"]


@pytest.mark.anyio
async def test_wait_counts_a_vanished_session_as_ended() -> None:
    listings = [
        [{"id": "a", "status": "Pending", "name": "a"}],
        [],
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=listings.pop(0) if len(listings) > 1 else listings[0])

    async with session_with(handler) as session:
        records = await session.wait("a", timeout=5, interval=0.01)
    # Its last record, marked as gone: it did not end (issue 20; the CLI exits 1 for it).
    assert records == [{"id": "a", "status": "Pending", "name": "a", "gone": True}]


def test_a_certificate_that_cannot_be_used_is_a_config_error(tmp_path: Path) -> None:
    pem = tmp_path / "cadcproxy.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError) as caught:
        AsyncSession(server="https://example.org/skaha", certificate=str(pem))
    assert str(pem) in caught.value.message and caught.value.exit_code == 2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_a_proxy_certificate_is_loaded_as_tls_client_certificate(tmp_path: Path) -> None:
    pem = tmp_path / "cadcproxy.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=alice",
         "-days", "1", "-keyout", str(pem), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    pem.write_text(pem.read_text() + (tmp_path / "cert.pem").read_text())
    session = AsyncSession(server="https://example.org/skaha", certificate=str(pem))
    client = session._http._build()
    assert "alice" not in repr(session)
    anyio.run(client.aclose)


@pytest.mark.anyio
async def test_a_web_page_instead_of_the_api_says_check_the_url() -> None:
    page = "<html><body><h1>404 Not Found</h1>" + "x" * 2000 + "</body></html>"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text=page, headers={"content-type": "text/html"})

    async with session_with(handler, server="https://example.org/wrong") as session:
        with pytest.raises(ServerError) as caught:
            await session.fetch()
    assert "<html>" not in str(caught.value) and "server URL" in (caught.value.hint or "")
    assert not isinstance(caught.value, NotFoundError)


@pytest.mark.anyio
async def test_failures_that_a_retry_cannot_fix_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.LocalProtocolError("bad header")

    async with session_with(handler) as session:
        with pytest.raises(UnreachableError):
            await session.fetch()
    assert calls == 1


@pytest.mark.anyio
async def test_follow_logs_reads_once_more_after_the_end() -> None:
    # Each round: the status, then the log. The job writes its last line as it ends, so the log
    # read after "Completed" is seen holds text that no earlier read had.
    statuses = iter(["Running", "Running", "Completed"])
    logs = iter(["one\n", "one\ntwo\n", "one\ntwo\nthree\n"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("view") == "logs":
            return text(200, next(logs))
        return httpx.Response(200, json={"id": "abc", "status": next(statuses)})

    async with session_with(handler) as session:
        pieces = [piece async for piece in session.follow_logs("abc", interval=0.001)]
    assert pieces == ["one\n", "two\n", "three\n"]
