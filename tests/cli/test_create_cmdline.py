"""Command lines as typed, end to end: `canfar create headless … -- CMD ARGS…` against the local
platform, with jobs that print the argv (and a variable) they were given; refusals that send
nothing; and the official client's raw requests beside ours on the same server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
import pytest

from tests.support import IMAGE
from tests.support.process import run_canfar

# Prints [argv[1:], $K] as JSON. No space, quote or backslash: the official client can send it.
PRINT = "print(__import__('json').dumps([__import__('sys').argv[1:],__import__('os').getenv('K')]))"
TRICKY = [
    "make all && ./run",
    "$(HOME)",
    "$$",
    "$",
    "it's",
    "ünïcödé 日本 😀",
    "",
    "--title=M31 field",
    "  spaced  out",
    "a\tb",
    "last",
]


def finished(cli: Any, session_id: str, server: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        result = cli("info", session_id, "-o", "json", server=server)
        record = json.loads(result.stdout)[0] if result.exit_code == 0 else {}
        if record.get("status") in ("Completed", "Failed"):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"{session_id} did not finish: {record}")
        time.sleep(0.05)


def run_job(cli: Any, *args: str, server: str = "local") -> tuple[list[str], Any]:
    """Create with --wait, let the job end, and read what it printed: (argv[1:], $K)."""
    made = cli("create", "headless", IMAGE, "-n", "job", "--wait", *args, server=server)
    assert made.exit_code == 0, made.stderr
    session_id = made.stdout.strip()
    assert finished(cli, session_id, server)["status"] == "Completed"
    logs = cli("logs", session_id, server=server)
    assert logs.exit_code == 0, logs.stderr
    argv, value = json.loads(logs.stdout)
    return argv, value


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_every_tricky_argument_arrives_byte_for_byte(cli) -> None:
    argv, value = run_job(cli, "-e", "K=a b $(HOME) $$ ü", "--", "python3", "-c", PRINT, *TRICKY)
    assert argv == TRICKY
    assert value == "a b $(HOME) $$ ü"


@pytest.mark.e2e  # runs jobs on the in-process platform (its supervisor)
def test_a_command_holding_a_space_and_an_empty_first_argument(cli, tmp_path) -> None:
    folder = tmp_path / "my tools"
    folder.mkdir()
    script = folder / "show"
    script.write_text(f"#!/usr/bin/env python3\n{PRINT}\n")
    script.chmod(0o755)
    argv, _ = run_job(cli, "--", str(script), "", "x y")
    assert argv == ["", "x y"]


def test_dry_run_shows_the_request_and_the_argv_the_job_will_see(cli) -> None:
    args = ["create", "headless", IMAGE, "-n", "job", "--dry-run"]
    result = cli(*args, "--", "bash", "-c", "make all && ./run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "args=-c make$(CANFAR_SPACE)all$(CANFAR_SPACE)&&$(CANFAR_SPACE)./run" in lines
    assert "env=CANFAR_SPACE= " in lines
    assert '# job argv: ["bash", "-c", "make all && ./run"]' in lines
    shown = json.loads(cli(*args, "--json", "--", "bash", "-c", "echo $$").stdout)[0]
    assert shown["argv"] == ["bash", "-c", "echo $$"]
    assert ["args", "-c echo$(CANFAR_SPACE)$$$$"] in shown["form"]
    assert shown["env"]["CANFAR_SPACE"] == " " and shown["env"]["REPLICA_ID"] == "1"


# --- refusals: nothing is sent -------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def _answer(self, body: bytes, kind: str) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(b"[]", "application/json")

    def do_POST(self) -> None:
        self._answer(b"abcdefgh\n", "text/plain")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that answers anything and records each request it gets."""
    seen: list[str] = []
    handler = type("Recording", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/skaha", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--", "echo", 'say "hi"'], "double quote"),
        (["--", "echo", "C:\\new"], "backslash"),
        (["--", "echo", "two\nlines"], "line break"),
        (["--", "echo", "bell\x07"], "control character"),
        (["--", "echo", "x", ""], "empty and last"),
        (["-e", "K=a=b", "--", "env"], "contains '='"),
        (["-e", "K=", "--", "env"], "empty value"),
        (["-e", "CANFAR_SPACE=x", "--", "env"], "reserved"),
        (["-c", "1.5", "--", "true"], "whole number"),
        (["-m", "4.5", "--", "true"], "whole number"),
    ],
)
def test_refused_with_one_line_exit_2_and_nothing_sent(cli, recorder, args, words) -> None:
    url, seen = recorder
    result = cli("create", "headless", IMAGE, "-n", "job", *args, server=url)
    assert result.exit_code == 2, result.stderr
    first, *rest = result.stderr.splitlines()
    assert first.startswith("error: ") and words in first
    assert all(line.startswith("hint: ") for line in rest) and len(rest) <= 1
    assert result.stdout == ""
    assert seen == []


def test_the_recorder_does_see_a_create(cli, recorder) -> None:
    url, seen = recorder
    result = cli("create", "headless", IMAGE, "-n", "job", "--", "echo", "a b", server=url)
    assert result.exit_code == 0, result.stderr
    # (a GET of the public image list may come first: create warns of an image of other kinds)
    assert [line.split()[0] for line in seen if not line.startswith("GET")] == ["POST"]


def test_refusal_as_a_real_process(recorder) -> None:
    url, seen = recorder
    result = run_canfar(
        ["--server", url, "create", "headless", IMAGE, "-n", "j", "--", "echo", 'a "b"']
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("error: argument 1")
    assert result.stderr.splitlines()[1].startswith("hint: use single quotes")
    assert result.stdout == "" and seen == []


# --- the official client's requests beside ours --------------------------------------------------


def official_create(
    http: httpx.Client, cmd: str, args: list[str], env: list[str]
) -> httpx.Response:
    """What the official client sends: args as typed joined by spaces, env as given, nothing
    escaped."""
    form = [("name", "official"), ("image", IMAGE), ("cmd", cmd), ("args", " ".join(args))]
    form += [("env", entry) for entry in env]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return http.post("/session", content=urlencode(form), headers=headers)


def official_job(http: httpx.Client, args: list[str], env: list[str]) -> tuple[list[str], Any]:
    answer = official_create(http, "python3", ["-c", PRINT, *args], env)
    assert answer.status_code == 200, answer.text
    session_id = answer.text.strip()
    deadline = time.monotonic() + 60
    while http.get(f"/session/{session_id}").json()["status"] not in ("Completed", "Failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    argv, value = json.loads(http.get(f"/session/{session_id}?view=logs").text)
    return argv, value


@pytest.mark.parametrize(
    ("args", "env", "official"),
    [
        (["-c", "make all && ./run"], [], (["-c", "make", "all", "&&", "./run"], None)),
        (["$(HOME)", "$$", "$$(HOME)"], [], (["<HOME>", "$", "$(HOME)"], None)),
        (["--title", "M31 field"], [], (["--title", "M31", "field"], None)),
        (["x", "", "y", ""], [], (["x", "", "y"], None)),
        (["C:\\temp"], [], (["C:\t" + "emp"], None)),
        (["ok"], ["K=a=b"], (["ok"], None)),
        (["ok"], ["K=$(HOME)/x"], (["ok"], "$(HOME)/x")),
    ],
)
@pytest.mark.e2e  # jobs run on the module's server (its supervisor's processes)
def test_official_requests_are_mangled_ours_arrive(
    cli,
    shared_local_server,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: list[str],
    official: tuple[list[str], Any],
) -> None:
    # One server for the module's cases (each reads only the sessions it made): one start and
    # one supervisor, not seven. Its state folder is not canfar's: the token is given.
    local_server = shared_local_server
    assert local_server.token is not None
    monkeypatch.setenv("CANFAR_TOKEN", local_server.token)
    with httpx.Client(
        base_url=local_server.url + "/v1", headers=local_server.headers, timeout=30
    ) as http:
        got = official_job(http, args, env)
        home = got[0][0] if official[0][:1] == ["<HOME>"] else None
    expected = ([home if a == "<HOME>" else a for a in official[0]], official[1])
    assert got == expected  # what the real server makes of the official client's request
    # Ours, for the same input: exactly as typed, or refused when it cannot be sent.
    options = [part for entry in env for part in ("-e", entry)]
    typed = ["--", "python3", "-c", PRINT, *args]
    if args[-1] == "" or "\\" in "".join(args) or "K=a=b" in env:
        result = cli("create", "headless", IMAGE, "-n", "ours", *options, *typed)
        assert result.exit_code == 2, result.stderr
        return
    argv, value = run_job(cli, *options, *typed, server=local_server.url)
    assert argv == args
    assert value == (env[0].split("=", 1)[1] if env else None)


def test_an_official_request_with_a_double_quote_fails_the_server(local_server) -> None:
    with httpx.Client(
        base_url=local_server.url + "/v1", headers=local_server.headers, timeout=30
    ) as http:
        answer = official_create(http, "echo", ['say "hi"'], [])
        assert answer.status_code == 500
        assert answer.text.startswith("unexpected exception: ")
        assert "expected ',' or ']'" in answer.text
        assert http.get("/session").json() == []  # no session was made
