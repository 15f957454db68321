"""Issue 9, item 10: stdout that takes less than asked (unbuffered, non-blocking) loses nothing,
and a reader that goes away is still exit 141."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.process import canfar_env

WRITER = """
import fcntl, os, sys
from canfar_cli.output import Output
flags = fcntl.fcntl(1, fcntl.F_GETFL)
fcntl.fcntl(1, fcntl.F_SETFL, flags | os.O_NONBLOCK)
out = Output()
out.write_log("L" * 300000 + "\\n")
out.write("T" * 300000 + "\\n")
out.ids(["x" * 70] * 5000)
out.json({"k": "J" * 300000})
"""


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_full_non_blocking_stdout_loses_nothing(unbuffered: str) -> None:
    env = canfar_env({"PYTHONUNBUFFERED": unbuffered} if unbuffered else {})
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    chunks = []
    assert child.stdout is not None
    while True:  # read slowly-ish, in small pieces, so the pipe fills up
        chunk = child.stdout.read(4096)
        if not chunk:
            break
        chunks.append(chunk)
    stderr = child.stderr.read() if child.stderr else b""
    assert child.wait(60) == 0, stderr
    data = b"".join(chunks)
    assert data.count(b"L") == 300000 and data.count(b"T") == 300000
    assert data.count(b"x" * 70 + b"\n") == 5000
    assert data.count(b"J") == 300000


def test_reader_gone_is_141_even_unbuffered() -> None:
    script = (
        "import sys\nfrom canfar_cli.cli.main import main\n"
        "sys.argv = ['canfar', 'config', 'path']\n"
        "from canfar_cli.output import Output\n"
        "o = Output()\n"
        "o.write('x\\n')\n"
        "import time; time.sleep(0.5)\n"
        "try:\n    o.write('y' * 1000000)\nexcept BrokenPipeError:\n    sys.exit(141)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        env=canfar_env({"PYTHONUNBUFFERED": "1"}),
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"x\n"
    child.stdout.close()
    assert child.wait(60) == 141
