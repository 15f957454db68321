"""Sign-in end to end through real processes against the real `canfar local serve` and its
imitation of the sign-in services (registry, credential service, OIDC provider, --tls). The
same services drive the in-process tests of test_signin.py (through tests/support/signin.py).
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.loopback import LocalServer, kill_platform_processes, start_local_server
from tests.support.process import canfar_env, run_canfar

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def serve(isolated: Path) -> Iterator[Callable[..., tuple[str, dict[str, str]]]]:
    """Start `canfar local serve [--tls] [--no-auth]` (forked, tests/support/forkserver.py: the
    same program; the processes under test are canfar's); returns (skaha URL, env pointing
    canfar at it)."""
    started: list[LocalServer] = []
    home = isolated / "local"

    def start(*args: str, env: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
        assert set(args) <= {"--tls", "--no-auth"}, args
        server = start_local_server(
            isolated, home=home, tls="--tls" in args, no_auth="--no-auth" in args, env=env
        )
        started.append(server)
        url = server.url
        base = url.removesuffix("/skaha")
        settings = {
            **(env or {}),
            "CANFAR_REGISTRY_CADC": f"{base}/reg/cadc/resource-caps",
            "CANFAR_REGISTRY_SRCNET": f"{base}/reg/srcnet/resource-caps",
            "CANFAR_OIDC_ISSUER_SRCNET": f"{base}/oidc",
        }
        if url.startswith("https:"):
            # In-process: a step of the set-up (`local ca-path` as a process is
            # tests/local/test_signin_services.py::test_ca_path_prints_the_ca_the_server_uses's).
            ca = local_command("ca-path")
            settings["CANFAR_CA_BUNDLE"] = ca.strip()
        return url, settings

    yield start
    for server in started:
        server.stop()
    kill_platform_processes(home)


def local_command(*args: str, input: str | None = None) -> str:
    """`canfar local ARGS` in-process (the state folder: CANFAR_LOCAL_HOME); its stdout."""
    from typer.testing import CliRunner

    from canfar_cli.cli.main import app

    result = CliRunner().invoke(app, ["local", *args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def add_user(env: dict[str, str], name: str = "alice", password: str = "s3cret-pw") -> str:
    """In-process, a step of the set-up (the command as a process is test_signin_services.py's
    test_users_add_stores_only_a_hash_in_a_private_file)."""
    added = local_command("users", "add", name, "--password-stdin", input=password + "\n")
    assert added == ""  # the password was given: nothing to print
    return password


def test_cadc_login_then_ps_with_the_certificate_over_tls(serve: Callable) -> None:
    url, env = serve("--tls")
    password = add_user(env)
    wrong = run_canfar(["login", "cadc", "-u", "alice", "--password-stdin"], env=env,
                       input="not-it\n")  # fmt: skip
    assert wrong.returncode == 3 and not (Path.home() / ".ssl" / "cadcproxy.pem").exists()
    login = run_canfar(["login", "cadc", "-u", "alice", "--password-stdin"], env=env,
                       input=password + "\n")  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert password not in login.stdout + login.stderr
    ps = run_canfar(["--server", url, "ps", "-o", "json"], env=env)
    assert ps.returncode == 0, ps.stderr
    assert json.loads(ps.stdout) == []


def _device_login(env: dict[str, str], user: str = "alice") -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "canfar_cli", "login", "srcnet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=canfar_env(env), text=False,
    )  # fmt: skip
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + 60
    code = None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while code is None and time.monotonic() < deadline:
            if selector.select(1):
                chunk = os.read(process.stderr.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
                match = re.search(rb"enter the code (\S+)", seen)
                code = match.group(1).decode() if match else None
    assert code, seen.decode(errors="replace")
    # The approval in-process, as a person at the verification page would give it while the
    # login waits (`local approve` as a process: test_signin_services.py's
    # test_local_approve_and_deny).
    local_command("approve", code, "--user", user)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out.decode(),
                                       (seen + err).decode(errors="replace"))  # fmt: skip


def test_device_login_then_ps_then_silent_refresh(serve: Callable) -> None:
    # --no-auth: no serve token recorded for this URL, which canfar would otherwise send to its
    # own local server in place of any sign-in (a user's CANFAR sign-in means nothing there).
    url, env = serve("--no-auth", env={"CANFAR_LOCAL_DEVICE_INTERVAL": "0",
                                       "CANFAR_LOCAL_ACCESS_TOKEN_SECONDS": "2"})  # fmt: skip
    add_user(env)
    login = _device_login(env)
    assert login.returncode == 0, login.stderr
    assert "alice" in login.stderr
    from tests.support.signin import read_auth as read_store

    first = read_store()["identities"]["srcnet"]["access_token"]
    assert first not in login.stdout + login.stderr
    # a 2 s token is within the minute before expiry: the next command renews it first
    ps = run_canfar(["--server", url, "ps", "-o", "json"], env=env)
    assert ps.returncode == 0, ps.stderr
    assert read_store()["identities"]["srcnet"]["access_token"] != first


def test_device_login_denied(serve: Callable) -> None:
    _url, env = serve(env={"CANFAR_LOCAL_DEVICE_INTERVAL": "0"})
    add_user(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "canfar_cli", "login", "srcnet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=canfar_env(env), text=True,
    )  # fmt: skip
    assert process.stderr is not None
    line = ""
    while "enter the code" not in line:
        line = process.stderr.readline()
        assert line, "no code was shown"
    code = line.rsplit(" ", 1)[-1].strip()
    local_command("approve", code, "--user", "alice", "--deny")  # in-process, as above
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 3 and "denied" in err
