"""How many requests each command sends (issue 19; issue 20 item 7), counted in its own `-v`
request log: one per id where the API allows it, a name costing one listing for the whole batch,
and a silent server tried twice per id, not eight times."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from canfar_cli.errors import ExitCode
from tests.support import IMAGE

# The one line `-v` writes when a request is done: METHOD URL STATUS SECONDS retries=N.
DONE = re.compile(r"^canfar_cli\.http: (GET|POST|DELETE) (\S+) (.+?) [\d.]+s retries=(\d+)$")


def requests_of(stderr: str) -> list[str]:
    """'METHOD PATH?QUERY' of every request sent (each retry counted), from `-v` output."""
    sent = []
    for line in stderr.splitlines():
        match = DONE.match(line)
        if match:
            method, url, _status, retries = match.groups()
            path = url.split("/skaha/v1/", 1)[-1]
            sent += [f"{method} {path}"] * (1 + int(retries))
    return sent


@pytest.fixture
def sent(cli: Any) -> Callable[..., tuple[Any, list[str]]]:
    def run(*args: str, server: str = "local") -> tuple[Any, list[str]]:
        result = cli("-v", *args, server=server)
        return result, requests_of(result.stderr)

    return run


def made(cli: Any, *names: str) -> list[str]:
    ids = []
    for name in names:
        result = cli("create", "headless", IMAGE, "-n", name, "--", "true")
        assert result.exit_code == 0, result.stderr
        ids.append(result.stdout.strip())
    return ids


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_one_request_per_id(cli: Any, sent: Callable[..., Any]) -> None:
    a, b = made(cli, "alpha", "beta")
    result, requests = sent("info", a, b)
    assert result.exit_code == 0, result.stderr
    assert sorted(requests) == sorted([f"GET session/{a}", f"GET session/{b}"])
    result, requests = sent("events", a)
    assert result.exit_code == 0, result.stderr
    assert requests == [f"GET session/{a}?view=events"]
    # Several: one listing more for the whole batch, for the names in the headings.
    result, requests = sent("events", a, b)
    assert sorted(requests) == sorted(
        [f"GET session/{a}?view=events", f"GET session/{b}?view=events", "GET session"]
    )
    result, requests = sent("open", "--print", a)
    assert requests == [f"GET session/{a}"]  # a headless job has no URL: exit 1 after one look
    assert result.exit_code == ExitCode.FAILED
    assert cli("wait", a).exit_code == 0  # ended: no active job to renew
    result, requests = sent("renew", a)
    assert requests[0] == f"POST session/{a}"
    # The server refuses a renew of a headless job with the 400 it gives an unknown id, so the
    # token is looked for as a name: one listing, nothing more.
    assert requests[1:] == ["GET session"]


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_logs_and_rm_send_the_fewest_the_api_allows(cli: Any, sent: Callable[..., Any]) -> None:
    a, b = made(cli, "gamma", "delta")
    # The server answers a log of an unknown id with 200 and nothing: one look, then the log.
    result, requests = sent("logs", a, b)
    assert result.exit_code == 0, result.stderr
    assert sorted(requests) == sorted(
        [
            f"GET session/{a}",
            f"GET session/{b}",
            f"GET session/{a}?view=logs",
            f"GET session/{b}?view=logs",
        ]
    )
    # The server answers a DELETE of an unknown id with 200: one look, then the DELETE.
    result, requests = sent("rm", "-f", a, b)
    assert result.exit_code == 0, result.stderr
    assert sorted(requests) == sorted(
        [f"GET session/{a}", f"GET session/{b}", f"DELETE session/{a}", f"DELETE session/{b}"]
    )


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_names_cost_one_listing_for_the_whole_batch(cli: Any, sent: Callable[..., Any]) -> None:
    a, b, c = made(cli, "fit-one", "fit-two", "fitrun01")
    # Names not of the form of skaha's ids: one listing first, then one request each.
    result, requests = sent("info", "fit-one", "fit-two", c)
    assert result.exit_code == 0, result.stderr
    assert requests == ["GET session"]  # the listing holds the records info shows
    result, requests = sent("logs", "fit-one", b)
    assert result.exit_code == 0, result.stderr
    assert sorted(requests) == sorted(
        ["GET session", f"GET session/{a}?view=logs", f"GET session/{b}?view=logs"]
    )
    result, requests = sent("events", "fit-one", "fit-two", "-o", "json")  # no headings
    assert requests[0] == "GET session" and len(requests) == 3
    # A name that could be an id is tried as one; its 404 sends it to one listing.
    result, requests = sent("logs", a, "fitrun01")
    assert result.exit_code == 0, result.stderr
    assert requests.count("GET session") == 1 and f"GET session/{c}?view=logs" in requests
    assert len(requests) == 5  # a: look + log; fitrun01: its 404, the listing, its log
    result, requests = sent("rm", "-f", "fitrun01", b)
    assert result.exit_code == 0, result.stderr
    assert sorted(requests) == sorted(
        [
            "GET session/fitrun01",
            f"GET session/{b}",
            "GET session",
            f"DELETE session/{c}",
            f"DELETE session/{b}",
        ]
    )


def test_an_unknown_id_costs_its_404_and_one_listing(cli: Any, sent: Callable[..., Any]) -> None:
    for command in ("info", "logs", "events"):
        result, requests = sent(command, "zzzzzzzz")
        assert result.exit_code == ExitCode.NOT_FOUND, (command, result.stderr)
        assert requests[-1] == "GET session" and len(requests) == 2, (command, requests)
    result, requests = sent("rm", "-f", "zzzzzzzz")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert not [r for r in requests if r.startswith("DELETE")]


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server that takes connections and requests and never answers; what it received."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    received: list[bytes] = []
    held: list[socket.socket] = []

    def read(conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            received.extend(
                line for line in chunk.split(b"\r\n") if re.match(rb"^[A-Z]+ /\S* HTTP/1", line)
            )

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            threading.Thread(target=read, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/skaha", received
    listener.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("args", [("info",), ("logs",), ("rm", "-f"), ("events",)])
def test_a_silent_server_is_asked_twice_per_id(
    cli: Any, silent_server: tuple[str, list[bytes]], args: tuple[str, ...]
) -> None:
    url, received = silent_server
    result = cli("--timeout", "0.3", *args, "abcdefgh", server=url)
    assert result.exit_code == ExitCode.UNREACHABLE, result.stderr
    assert "timed out after 2 attempts" in result.stderr
    assert [line.split()[:2] for line in received] == [
        [b"GET", received[0].split()[1]],
        [b"GET", received[0].split()[1]],
    ]
    assert received[0].split()[1].startswith(b"/skaha/v1/session/abcdefgh")
