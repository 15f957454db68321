"""Issue 9 in the core: one runner per Session across threads, an AsyncSession across event
loops, the concurrency bound from every source, and input that is not UTF-8 refused."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from canfar_cli import AsyncSession, Session
from canfar_cli.config import MAX_CONCURRENCY, load_settings
from canfar_cli.errors import ConfigError, UsageError
from tests.support import IMAGE
from tests.support.loopback import LocalServer


def test_session_from_sixteen_threads_uses_one_runner(local_server: LocalServer) -> None:
    before = threading.active_count()
    session = Session(server=local_server.url)
    ids = session.create("threads", IMAGE, cmd="true")
    barrier = threading.Barrier(16)
    session.close()  # the race below is on the first use of a fresh runner
    failures: list[BaseException] = []
    seen: list[int] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                seen.append(len(session.info(ids)))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert seen == [1] * 80
    # The 16 workers are gone: what is left is the one portal thread.
    assert threading.active_count() == before + 1
    session.close()
    assert threading.active_count() == before


def test_async_session_under_two_event_loops(local_server: LocalServer) -> None:
    session = AsyncSession(server=local_server.url)

    async def made() -> list[str]:
        return await session.create("loops", IMAGE, cmd="true")

    first = asyncio.run(made())
    listed = asyncio.run(session.fetch())  # a new loop: the first one is closed by now
    assert set(first) <= {s["id"] for s in listed}
    assert len(asyncio.run(session.info(first))) == 1


@pytest.mark.parametrize("given", ["0", "129", "1000000", "1e20", "100000000000000000000"])
def test_concurrency_bound_from_the_environment(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANFAR_CONCURRENCY", given)
    with pytest.raises(ConfigError, match=r"\$CANFAR_CONCURRENCY.*1 to 128"):
        load_settings(server="local")


def test_concurrency_bound_from_the_config_file_and_the_library(isolated: Path) -> None:
    from canfar_cli.config import config_path

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("concurrency = 100000000000000000000\n")
    with pytest.raises(ConfigError, match="config file"):
        load_settings(server="local")
    config_path().write_text(f"concurrency = {MAX_CONCURRENCY}\n")
    assert load_settings(server="local").concurrency == MAX_CONCURRENCY
    with pytest.raises(ConfigError, match="1 to 128"):
        AsyncSession(server="local", concurrency=MAX_CONCURRENCY + 1)
    settings = load_settings(server="local")
    with pytest.raises(ConfigError, match="1 to 128"):
        AsyncSession(settings=settings, concurrency=10**9)


BAD = "caf\udce9"  # the byte 0xE9 of a Latin-1 argv, as Python hands it over


@pytest.mark.parametrize(
    "fields",
    [
        {"image": f"images.canfar.net/skaha/{BAD}:1"},
        {"args": ["ok", BAD]},
        {"env": {"X": BAD}},
        {"cmd": BAD},
        {"registry_auth": f"me:{BAD}"},
    ],
)
def test_bytes_that_are_not_utf8_are_refused_before_sending(fields: dict) -> None:
    session = AsyncSession(server="local")
    options = {"image": IMAGE, "cmd": "echo", **fields}
    with pytest.raises(UsageError):
        session.plan_create("bytes", **options)


@pytest.mark.anyio
async def test_logs_and_rm_of_one_id_do_not_fetch_the_listing() -> None:
    import httpx

    paths: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        paths.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        if request.url.path.endswith("/session"):
            return httpx.Response(200, json=[])
        if "logs" in request.url.query.decode():
            return httpx.Response(200, text="hello\n")
        return httpx.Response(200, json={"id": "abc12345", "status": "Running"})

    async with AsyncSession(server="local", transport=httpx.MockTransport(server)) as session:
        assert await session.logs("abc12345") == {"abc12345": "hello\n"}
        assert await session.destroy("abc12345") == {"abc12345": True}
    assert not any(path.split("?")[0].endswith("/session") for path in paths)
