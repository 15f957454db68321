"""Issue 9, item 2: Ctrl-C during `canfar create -r 40` prints every id made, says how many and
how to remove them, and exits 130; the ids printed are exactly the server's."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.support import IMAGE
from tests.support.api import api, wait_until
from tests.support.loopback import LocalServer
from tests.support.process import canfar_env


def test_sigint_during_a_batch_create_prints_every_id_made(serve_local) -> None:
    server: LocalServer = serve_local(latency_ms=400)
    command = [sys.executable, "-m", "canfar_cli", "--server", server.url, "--concurrency", "4"]
    command += ["create", "headless", IMAGE, "-r", "40", "-n", "intr", "--", "true"]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=canfar_env(),
    )
    with api(server) as http:

        def made() -> set[str]:
            listing = http.get("/session").json()
            return {s["id"] for s in listing if s["name"].startswith("intr-")}

        wait_until(made, what="a first session")
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
        assert child.returncode == 130, stderr
        printed = stdout.split()
        assert set(printed) == made()
    assert 0 < len(printed) < 40 and len(set(printed)) == len(printed)
    lines = stderr.strip().splitlines()
    assert lines == [
        f"interrupted: {len(printed)} of 40 sessions were created;"
        f" remove them with `canfar rm -f {' '.join(printed)}`"
    ]
    assert "Traceback" not in stderr
