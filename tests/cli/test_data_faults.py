"""The issue's "Bad input and faults", through `canfar data`: each is one line (error + hint),
the right exit code, and nothing lost or half-done.

Refusals of input run in-process against the local platform (`--server local`); faults of the
wire (503 with Retry-After, dropped connections, a quota, HTML for an answer) against
`canfar local serve` over a real socket, with its fault injection."""

from __future__ import annotations

import getpass
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from canfar_cli.cli.main import app
from tests.support.loopback import LocalServer
from tests.support.process import run_canfar


@pytest.fixture
def home(isolated: Path) -> Path:
    folder = isolated / "local" / "home" / getpass.getuser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def one_error(result, code: int, *words: str) -> None:
    """Exit `code`; stderr is `error: …` (+ one `hint: …`), naming each of `words`."""
    stderr = result.stderr
    assert result.exit_code == code, result.output
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("error: "), lines
    assert len(lines) <= 2 and all(line.startswith(("error: ", "hint: ")) for line in lines), lines
    for word in words:
        assert word in stderr, (word, stderr)
    assert "Traceback" not in stderr


# --- bad input -----------------------------------------------------------------------------


def test_a_service_nobody_has_lists_the_known_ones(cli) -> None:
    one_error(cli("data", "ls", "nowhere:/x"), 2, "nowhere", "arc:")


def test_a_local_file_that_does_not_exist(cli, here: Path) -> None:
    one_error(cli("data", "cp", "missing.txt", "arc:~/"), 4, "missing.txt")


def test_a_destination_folder_that_does_not_exist_hints_mkdir_p(cli, here: Path) -> None:
    (here / "x.txt").write_text("x")
    one_error(cli("data", "cp", "x.txt", "arc:~/no/such/dir/x.txt"), 4, "mkdir -p")


def test_a_folder_without_r(cli, here: Path, home: Path) -> None:
    (here / "inputs").mkdir()
    (here / "inputs" / "a").write_text("a")
    one_error(cli("data", "cp", "inputs", "arc:~/"), 2, "-r")
    assert not (home / "inputs").exists()


def test_a_folder_into_itself(cli, home: Path) -> None:
    (home / "a").mkdir()
    (home / "a" / "f").write_text("f")
    one_error(cli("data", "cp", "-r", "arc:~/a", "arc:~/a/inside"), 2, "itself")
    assert sorted(p.name for p in (home / "a").iterdir()) == ["f"]


def test_overwriting_a_folder_with_a_file(cli, here: Path, home: Path) -> None:
    # Into the existing folder d, where a folder x.txt stands in the way of the file x.txt
    # (`cp x.txt arc:~/d/x.txt` would put it inside that folder, as cp does).
    (home / "d" / "x.txt").mkdir(parents=True)
    (here / "x.txt").write_text("x")
    result = cli("data", "cp", "x.txt", "arc:~/d")
    assert result.exit_code in (1, 2), result.output  # refused, before or by the server
    one_error(result, result.exit_code, "x.txt")
    assert (home / "d" / "x.txt").is_dir() and not list((home / "d" / "x.txt").iterdir())


def test_another_users_home_is_not_yours(cli, isolated: Path) -> None:
    other = isolated / "local" / "home" / "someone-else"
    other.mkdir(parents=True, mode=0o700)
    (other / "x").write_text("theirs")
    (other / "x").chmod(0o600)  # not public (other-read is #ispublic)
    result = cli("data", "cat", "arc:/home/someone-else/x")
    one_error(result, 3)
    assert result.stdout == ""


def test_a_name_that_exists_409(cli, home: Path) -> None:
    (home / "a").mkdir()
    one_error(cli("data", "mkdir", "arc:~/a"), 1, "a")


def test_several_paths_one_missing_names_it_and_exits_1(cli, home: Path) -> None:
    (home / "here.txt").write_text("h")
    result = cli("data", "stat", "arc:~/here.txt", "arc:~/gone.txt")
    assert result.exit_code == 1
    assert "gone.txt" in result.stderr and "Path:" in result.stdout


# --- faults of the wire ----------------------------------------------------------------------


def data(server: LocalServer, *args: str):
    """`canfar --server URL data ARGS`, in-process (the server's faults are the point; the
    process contract of `data` is tests/cli/test_data_process.py's)."""
    result = CliRunner().invoke(
        app, ["--server", server.url, "data", *args], catch_exceptions=False
    )
    result.returncode = result.exit_code  # type: ignore[attr-defined]
    return result


PAYLOAD = os.urandom(400_000)


@pytest.mark.parametrize(
    "rules",
    [
        "fault=503,path=/arc/files/,method=PUT,times=2,retry=0",
        "fault=drop,path=/arc/files/,method=PUT,times=2",
        "fault=cut,path=/arc/files/,method=PUT,times=2",  # dropped mid-body
        "fault=412,path=/arc/files/,method=PUT,times=1",  # retried once
        "fault=503,path=/arc/files/,method=GET,times=2,retry=0",
        "fault=drop,path=/arc/files/,method=GET,times=2",
        "fault=cut,path=/arc/files/,method=GET,times=2",
    ],
)
def test_passing_faults_are_retried_and_the_file_arrives_whole(
    serve_local, tmp_path: Path, rules: str
) -> None:
    server: LocalServer = serve_local(env={"CANFAR_LOCAL_FAULTS": rules}, retry_after=0)
    source = tmp_path / "x.bin"
    source.write_bytes(PAYLOAD)
    remote = server.home / "home" / server.user / "x.bin"
    if "GET" in rules:
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(PAYLOAD)
        result = data(server, "cp", "arc:~/x.bin", str(tmp_path / "back.bin"))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "back.bin").read_bytes() == PAYLOAD
        assert not (tmp_path / "back.bin.part").exists()
    else:
        result = data(server, "cp", str(source), "arc:~/x.bin")
        assert result.returncode == 0, result.stderr
        assert remote.read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    ("rules", "code", "word"),
    [
        ("fault=503,path=/arc/files/,method=PUT,retry=0", 5, "x.bin"),
        ("fault=412,path=/arc/files/,method=PUT", 1, "checksum"),
        ("fault=cut,path=/arc/files/,method=GET", 5, "x.bin"),
        ("fault=html,path=/arc/nodes/", 5, ""),
        ("fault=garbage,path=/arc/nodes/", 5, ""),
    ],
)
def test_lasting_faults_are_one_line_and_nothing_is_left_half_done(
    serve_local, tmp_path: Path, rules: str, code: int, word: str
) -> None:
    server: LocalServer = serve_local(env={"CANFAR_LOCAL_FAULTS": rules}, retry_after=0)
    home = server.home / "home" / server.user
    home.mkdir(parents=True, exist_ok=True)
    if "GET" in rules:
        (home / "x.bin").write_bytes(PAYLOAD)
        result = data(server, "cp", "arc:~/x.bin", str(tmp_path / "back.bin"))
        assert not (tmp_path / "back.bin").exists()
        # What arrived is kept only as NAME.part, and the message says so (for --continue).
        if (tmp_path / "back.bin.part").exists():
            assert "back.bin.part is kept" in result.stderr and "--continue" in result.stderr
    elif "nodes" in rules:
        result = data(server, "ls", "-l", "arc:~")
    else:
        (tmp_path / "x.bin").write_bytes(PAYLOAD)
        result = data(server, "cp", str(tmp_path / "x.bin"), "arc:~/x.bin")
        # A remote file we made and could not finish is removed (cavern leaves 0 bytes).
        assert not (home / "x.bin").exists()
    one_error(result, result.returncode, word)
    assert result.returncode in (code, 1), result.stderr


def test_a_quota_says_how_much_is_used_and_allowed(serve_local, tmp_path: Path) -> None:
    server: LocalServer = serve_local(env={"CANFAR_LOCAL_QUOTA": "100000"})
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(300_000))
    result = data(server, "cp", str(big), "arc:~/big.bin")
    one_error(result, 1, "quota")
    remote = server.home / "home" / server.user / "big.bin"
    assert not remote.exists() or remote.stat().st_size == 0  # never a truncated file kept


class _Html(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html><body><h1>Service Unavailable</h1>maintenance</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_server_answering_html_is_one_line(html_server: str, tmp_path: Path) -> None:
    env = {
        "CANFAR_REGISTRY_CADC": f"{html_server}/reg/cadc/resource-caps",
        "CANFAR_REGISTRY_SRCNET": f"{html_server}/reg/srcnet/resource-caps",
        "CANFAR_TOKEN": "t",
    }
    result = run_canfar(["--server", f"{html_server}/skaha", "data", "ls", "arc:/home/x"], env=env)
    assert result.returncode in (1, 5), result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2


def test_a_batch_names_each_failed_file_and_does_the_others(serve_local, tmp_path: Path) -> None:
    user = getpass.getuser()
    rules = f"fault=400,path=/arc/files/home/{user}/many/f03,method=PUT"  # a name refused
    server: LocalServer = serve_local(env={"CANFAR_LOCAL_FAULTS": rules})
    source = tmp_path / "many"
    source.mkdir()
    files = {f"f{n:02d}": os.urandom(3000) for n in range(8)}
    for name, content in files.items():
        (source / name).write_bytes(content)
    result = data(server, "cp", "-r", str(source), "arc:~/many")
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].count("f03") == 1
    assert "1 failed" in result.stderr.splitlines()[-1]
    there = server.home / "home" / server.user / "many"
    assert {p.name: p.read_bytes() for p in there.iterdir()} == {
        name: content for name, content in files.items() if name != "f03"
    }
