"""Issue 9, items 2 and 3 in the core: a create that got no answer is settled by one listing,
and an interrupted batch (a cancelled task, Ctrl-C in a blocking Session) hands back every id."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest

from canfar_cli import AsyncSession, Session
from canfar_cli.errors import ServerError, UnreachableError
from canfar_cli.outcomes import CreateInterrupted
from canfar_cli.servers import resolve_server
from tests.support import IMAGE
from tests.support.api import api, wait_until
from tests.support.loopback import LocalServer


class Unanswered(httpx.AsyncBaseTransport):
    """The in-process local platform, with chosen creates left unanswered: `after` the server
    made the session (the answer is lost) or `before` it saw the request (nothing made)."""

    def __init__(self, lose: dict[str, str], failure: type[httpx.TransportError]) -> None:
        _base, inner = resolve_server("local", "v1")
        assert inner is not None
        self.inner = inner
        self.lose = lose  # session name -> "after" | "before"
        self.failure = failure
        self.posts = 0
        self.listings = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            body = (await request.aread()).decode()
            name = next(p.split("=", 1)[1] for p in body.split("&") if p.startswith("name="))
            when = self.lose.get(name)
            if when == "before":
                raise self.failure("lost on the way", request=request)
            response = await self.inner.handle_async_request(request)
            if when == "after":
                await response.aread()
                raise self.failure("answer lost", request=request)
            return response
        if request.url.path.endswith("/session") and "view" not in request.url.params:
            self.listings += 1
        return await self.inner.handle_async_request(request)


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
@pytest.mark.anyio
@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError])
async def test_unanswered_creates_are_found_or_said_not_made(
    failure: type[httpx.TransportError],
) -> None:
    transport = Unanswered({"lost-2": "after", "lost-3": "before"}, failure)
    async with AsyncSession(server="local", transport=transport) as session:
        outcomes = await session.create_each("lost", IMAGE, cmd="true", replicas=3)
        listings = transport.listings
        listed = {s["name"]: s["id"] for s in await session.fetch()}
    assert transport.posts == 3  # never sent twice
    assert listings == 1  # one listing settles every unanswered create
    first, second, third = outcomes
    assert first.ok and first.note is None and first.value == listed["lost-1"]
    assert second.ok and second.value == listed["lost-2"]
    assert second.note is not None and listed["lost-2"] in second.note
    assert not third.ok and isinstance(third.error, UnreachableError)
    assert "no session lost-3 was made" in third.error.message
    assert "lost-3" not in listed


@pytest.mark.anyio
async def test_a_session_of_the_same_name_from_before_is_not_taken_for_it() -> None:
    posts: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request.content.decode())
            raise httpx.ReadTimeout("answer lost", request=request)
        old = {"id": "old00001", "name": "again", "status": "Running", "type": "headless"}
        return httpx.Response(200, json=[{**old, "startTime": "2020-01-01T00:00:00Z"}])

    async with AsyncSession(server="local", transport=httpx.MockTransport(server)) as session:
        [outcome] = await session.create_each("again", IMAGE, cmd="true")
    assert len(posts) == 1
    assert not outcome.ok and "old00001" not in str(outcome.error)
    assert "no session again was made" in str(outcome.error)


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["OK", "<html/>", "\x1b[2Jx", "a b", ""])
async def test_a_create_answer_that_is_not_an_id_is_refused(body: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body)

    async with AsyncSession(server="local", transport=httpx.MockTransport(answer)) as session:
        [outcome] = await session.create_each("odd", IMAGE, cmd="true")
    assert isinstance(outcome.error, ServerError) and outcome.error.exit_code == 1
    assert "\x1b" not in outcome.error.message


@pytest.mark.anyio
async def test_cancelled_batch_returns_the_ids_made(serve_local) -> None:
    server: LocalServer = serve_local(latency_ms=300)
    session = AsyncSession(server=server.url, concurrency=4)
    with pytest.raises(CreateInterrupted) as caught:
        with anyio.move_on_after(1.0):  # about three rounds of four
            await session.create("cut", IMAGE, cmd="true", replicas=40)
    await session.aclose()
    stopped = caught.value
    assert stopped.exit_code == 130
    with api(server) as http:
        made = {s["id"] for s in http.get("/session").json() if s["name"].startswith("cut-")}
    assert set(stopped.ids) == made
    assert 0 < len(made) < 40
    assert len(stopped.outcomes) == 40


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_in_a_blocking_session_stops_the_batch(serve_local) -> None:
    main = threading.main_thread().ident
    assert main == threading.get_ident() and main is not None
    server: LocalServer = serve_local(latency_ms=300)
    http = api(server)

    def interrupt_when_one_exists() -> None:
        wait_until(
            lambda: any(s["name"].startswith("cc-") for s in http.get("/session").json()),
            what="a first session",
        )
        # A real SIGINT to the main thread, as Ctrl-C is (it wakes a blocked wait).
        signal.pthread_kill(main, signal.SIGINT)

    session = Session(server=server.url, concurrency=4)
    threading.Thread(target=interrupt_when_one_exists, daemon=True).start()
    with pytest.raises(CreateInterrupted) as caught:
        session.create("cc", IMAGE, cmd="true", replicas=40)
        time.sleep(30)  # not reached: the interrupt comes during the create
    made = {s["id"] for s in http.get("/session").json() if s["name"].startswith("cc-")}
    assert set(caught.value.ids) == made and 0 < len(made) < 40
    assert isinstance(caught.value.__cause__, KeyboardInterrupt)
    session.close()
    # Nothing kept creating behind the caller's back.
    assert {s["id"] for s in http.get("/session").json() if s["name"].startswith("cc-")} == made
    http.close()
