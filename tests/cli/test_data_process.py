"""`canfar data` as a real process against `canfar local serve` over a real socket: the stdout /
stderr / exit-code contract a script relies on, a closed pipe, a pre-authorized URL fetched
without credentials, Ctrl-C in `cp -r` and in a big download (a real SIGINT), and a full local
disk."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.api import wait_until
from tests.support.loopback import LocalServer
from tests.support.process import canfar_env, run_canfar

PAYLOAD = os.urandom(300_000) + b"\xff\xfe\x00 the end, no newline"


def data(server: LocalServer, *args: str, **kwargs):
    return run_canfar(["--server", server.url, "data", *args], **kwargs)


def data_bytes(server: LocalServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "canfar_cli", "--server", server.url, "data", *args],
        capture_output=True,
        env=canfar_env(),
        timeout=60,
        check=False,
    )


def home_of(server: LocalServer) -> Path:
    return server.home / "home" / server.user


def test_cat_writes_the_exact_bytes_and_nothing_else(local_server: LocalServer, tmp_path) -> None:
    source = tmp_path / "x.bin"
    source.write_bytes(PAYLOAD)
    up = data(local_server, "cp", str(source), "arc:~/x.bin")
    assert up.returncode == 0, up.stderr
    assert up.stdout == ""
    (summary,) = up.stderr.splitlines()  # one line, no progress bar off a terminal
    assert summary.startswith("copied 1 file") and "\x1b" not in summary

    cat = data_bytes(local_server, "cat", "arc:~/x.bin")
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout == PAYLOAD
    assert cat.stderr == b""


def test_a_closed_pipe_is_141_with_nothing_on_stderr(local_server: LocalServer, tmp_path) -> None:
    big = home_of(local_server) / "big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(8 << 20))
    script = (
        f"{sys.executable} -m canfar_cli --server {local_server.url} data cat arc:~/big.bin"
        " | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=canfar_env(), timeout=60
    )
    assert result.stdout.strip() == "141"
    assert "Traceback" not in result.stderr and "error" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["cat", "arc:~/nope.txt"], 4),
        (["stat", "arc:~/nope.txt"], 4),
        (["cp", "arc:~/nope.txt", "."], 4),
        (["ls", "arc:~/nope"], 4),
        (["rm", "-f", "arc:~/nope.txt"], 4),
    ],
)
def test_not_found_is_one_line_and_exit_4(cli, args, code) -> None:
    """Each command in-process (the same code and storage service, `--server local`); the
    contract as a real process is test_not_found_is_one_line_and_exit_4_as_a_process's."""
    result = cli("data", *args)
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and "nope" in lines[0]
    assert len(lines) <= 2


def test_not_found_is_one_line_and_exit_4_as_a_process(local_server: LocalServer) -> None:
    result = data(local_server, "cat", "arc:~/nope.txt")
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and "nope" in lines[0]
    assert len(lines) <= 2


def test_a_preauthorized_url_works_without_any_credential(cli, local_server: LocalServer) -> None:
    """`url` as a real process (the URL alone on stdout, the note on stderr); `url --write`
    in-process (the same command, the same server)."""
    home_of(local_server).mkdir(parents=True, exist_ok=True)
    (home_of(local_server) / "x.bin").write_bytes(PAYLOAD)
    read = data(local_server, "url", "arc:~/x.bin")
    assert read.returncode == 0, read.stderr
    link = read.stdout.strip()
    assert "does not expire" in read.stderr
    assert httpx.get(link, timeout=30).content == PAYLOAD  # no Authorization header

    write = cli("data", "url", "--write", "arc:~/y.bin", server=local_server.url)
    assert write.exit_code == 0, write.stderr
    answer = httpx.put(write.stdout.strip(), content=b"new bytes", timeout=30)
    assert answer.status_code in (200, 201), answer.text
    assert (home_of(local_server) / "y.bin").read_bytes() == b"new bytes"
    # A read URL cannot write.
    assert httpx.put(link, content=b"overwrite", timeout=30).status_code == 403


def test_sigint_during_cp_r_says_what_was_done_and_leaves_nothing_half_done(
    serve_local, tmp_path: Path
) -> None:
    server: LocalServer = serve_local(latency_ms=150)
    source = tmp_path / "many"
    source.mkdir()
    files = {f"f{n:03d}.bin": os.urandom(20_000 + n) for n in range(120)}
    for name, content in files.items():
        (source / name).write_bytes(content)
    command = [sys.executable, "-m", "canfar_cli", "--server", server.url, "--concurrency", "4"]
    command += ["data", "cp", "-r", str(source), "arc:~/many"]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=canfar_env()
    )
    target = home_of(server) / "many"

    def some_done() -> bool:
        return target.is_dir() and sum(1 for p in target.iterdir() if p.stat().st_size) >= 3

    wait_until(some_done, what="a few files uploaded")
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert "interrupted" in stderr and "not done" in stderr
    there = {p.name: p.read_bytes() for p in target.iterdir()}
    assert 0 < len(there) < len(files)
    # Every file left at the destination is whole: the ones in flight were finished or removed.
    assert all(content == files[name] for name, content in there.items())


def test_sigint_during_a_big_download_finishes_or_removes_it_and_exits_130(
    local_server: LocalServer, tmp_path: Path
) -> None:
    """A body of 64 MiB or more is read in worker threads on a connection of its own
    (storage/direct.py): Ctrl-C stops them, and the file is either whole or not there."""
    content = os.urandom(1 << 20) * 96
    big = home_of(local_server) / "big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(content)
    out = tmp_path / "big.bin"
    part = tmp_path / "big.bin.part"
    command = [sys.executable, "-m", "canfar_cli", "--server", local_server.url, "data", "cp"]
    child = subprocess.Popen(
        [*command, "arc:~/big.bin", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=canfar_env(),
    )  # fmt: skip
    wait_until(
        lambda: out.exists() or (part.exists() and part.stat().st_size > 0),
        what="the download to start",
    )
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert stdout == "" and "Traceback" not in stderr
    assert not part.exists()
    if child.returncode == 0:  # it ended before the signal came: then it is whole
        assert out.read_bytes() == content
    else:
        assert child.returncode == 130, stderr
        assert not out.exists() and "interrupted" in stderr and "not done" in stderr


@pytest.mark.parametrize("size", [3 << 20, 65 << 20], ids=["usual way", "own connection"])
def test_a_full_local_disk_removes_the_part_file_and_exits_1(
    local_server: LocalServer, tmp_path: Path, size: int
) -> None:
    """A full disk, faithfully enough: the download runs under RLIMIT_FSIZE (1 MiB), so writing
    the .part fails with EFBIG as a full disk fails with ENOSPC (Python ignores SIGXFSZ, so the
    write raises OSError), through the same code path; a body of 64 MiB or more is read on a
    connection of its own (storage/direct.py), and its failure to write is not retried."""
    big = home_of(local_server) / "big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(1 << 20) * (size >> 20))
    out = tmp_path / "down"
    out.mkdir()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "--server", local_server.url, "data", "cp",
         "arc:~/big.bin", str(out / "big.bin")],
        capture_output=True, text=True, env=canfar_env(), timeout=60, preexec_fn=limit,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert list(out.iterdir()) == []  # no big.bin, no big.bin.part
    assert big.stat().st_size == size  # the remote file is untouched
