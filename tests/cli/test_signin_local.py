"""Issue 17: signing in to the local platform's own sign-in services as a new user would, with
no settings at all: `canfar local serve --tls` in canfar's own state folder (so canfar finds its
token, its CA and its sign-in services by itself), through the real commands.

Each numbered test name says which item of the issue it holds to.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from canfar_cli.cli.main import app
from tests.support.process import canfar_env, run_canfar
from tests.support.signin import (
    SigninPlatform,
    read_auth,
    start_signin_platform,
    stop_signin_platform,
    write_auth,
)

Serve = Callable[..., SigninPlatform]


@pytest.fixture
def serve(isolated: Path) -> Iterator[Serve]:
    """`canfar local serve --tls` on canfar's own state folder (CANFAR_LOCAL_HOME), on the port
    that folder remembers; `serve()` again restarts it (the old one is stopped first)."""
    started: list[SigninPlatform] = []

    def start(**env: str) -> SigninPlatform:
        for old in started:
            old.server.stop()
        platform = start_signin_platform(
            isolated, tls=True, env=env, home=isolated / "local", same_port=True
        )
        started.append(platform)
        return platform

    yield start
    for platform in started:
        stop_signin_platform(platform)


@pytest.fixture
def platform(serve: Serve) -> SigninPlatform:
    return serve()


def canfar(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def login_alice(*extra: str, user: str = "alice", password: str = "wonderland") -> Result:
    return canfar("--server", "local", "login", "cadc", "-u", user, "--password-stdin",
                  *extra, input=password + "\n")  # fmt: skip


def pem_path() -> Path:
    return Path.home() / ".ssl" / "cadcproxy.pem"


def in_use() -> dict:
    status = canfar("auth", "status", "-o", "json")
    return dict(json.loads(status.stdout)["in_use"])


def approve_when_asked(platform: SigninPlatform) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 30
        while (code := platform.pending_code()) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert code is not None
        platform.approve(code, user="alice")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# --- 1, 5, 8, 9, 10: no settings, a restart between login and ps --------------------------------


def test_1_local_sign_in_needs_no_settings_and_survives_a_restart(serve: Serve) -> None:
    platform = serve()
    url = platform.server.url
    assert url.startswith("https://127.0.0.1:")
    assert not any(name.startswith("CANFAR_REGISTRY") for name in os.environ)

    # 9: before any sign-in, the https server's own token is found (it was http only)
    before = canfar("--server", url, "ps", "-o", "json")
    assert before.exit_code == 0, before.output
    assert canfar("--server", url, "auth", "status", "-o", "json").exit_code == 0

    login = login_alice()
    assert login.exit_code == 0, login.output
    assert login.stdout == "" and "signed in as alice" in login.stderr  # 8: messages on stderr
    assert "none was active" in login.stderr  # 3: the line says why the platform changed
    assert read_auth()["active"]["platform"] == "local-canfar"  # found in its own registry

    # 10: the sign-in made to this server wins over the token found by itself, and says so
    use = in_use()
    assert use["identity"] == "cadc" and use["source"] == "cadc", use
    # 5: the home of the user the jobs run as
    home = canfar("local", "home")
    assert home.exit_code == 0 and home.stdout.strip().endswith("/home/alice"), home.output

    restarted = serve()
    assert restarted.server.url == url  # the port is kept across restarts
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert json.loads(ps.stdout) == []
    refreshed = canfar("platform", "ls", "--refresh", "-o", "json")
    assert refreshed.exit_code == 0, refreshed.output


def test_10_status_says_where_the_found_token_came_from(platform: SigninPlatform) -> None:
    use = json.loads(canfar("--server", platform.server.url, "auth", "status", "-o", "json")
                     .stdout)["in_use"]  # fmt: skip
    assert use["source"] == "serve" and "found by itself" in use["says"]
    text = canfar("--server", platform.server.url, "auth", "status").stdout
    assert "the token you gave" not in text and "found by itself" in text


def test_serve_prints_the_one_setting_on_a_terminal_only(platform: SigninPlatform) -> None:
    # not a terminal here: the URL line alone on stdout, no advice
    assert "export CANFAR_URL" not in platform.server.stderr_path.read_text()


# --- 2: a new user, --cert, a wrong password ---------------------------------------------------


def test_2_another_user_or_cert_signs_in_anew_and_a_wrong_password_is_exit_3(
    platform: SigninPlatform, tmp_path: Path
) -> None:
    assert login_alice().exit_code == 0
    bob = login_alice(user="bob", password="builder")
    assert bob.exit_code == 0 and "signed in as bob" in bob.stderr, bob.output
    before = pem_path().read_bytes()
    wrong = login_alice(password="not-hers")  # while bob's certificate is valid
    assert wrong.exit_code == 3 and "wrong user name or password" in wrong.stderr
    assert pem_path().read_bytes() == before and read_auth()["identities"]["cadc"]
    target = tmp_path / "elsewhere.pem"
    chosen = canfar("--server", "local", "--cert", str(target), "login", "cadc", "-u", "alice",
                    "--password-stdin", input="wonderland\n")  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    assert target.is_file() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert read_auth()["identities"]["cadc"]["certificate"] == str(target)


# --- 3: the active platform changes only when it should ------------------------------------------


def test_3_a_login_keeps_the_active_platform(platform: SigninPlatform) -> None:
    write_auth({"active": {"platform": "mine"},
                "platforms": {"mine": {"url": "https://mine.example/skaha",
                                       "identity": "cadc"}}})  # fmt: skip
    login = login_alice()
    assert login.exit_code == 0, login.output
    assert read_auth()["active"]["platform"] == "mine"
    assert "mine (unchanged" in login.stderr
    chosen = login_alice("--platform", "local-canfar")
    assert chosen.exit_code == 0, chosen.output
    assert read_auth()["active"]["platform"] == "local-canfar" and "as asked" in chosen.stderr
    # the local platform's names never take the place of the real ones
    assert "canfar" not in read_auth()["platforms"]


# --- 4: logout ------------------------------------------------------------------------------------


def test_4_logout_removes_the_certificate_canfar_wrote_and_names_one_it_did_not(
    platform: SigninPlatform,
) -> None:
    assert login_alice().exit_code == 0
    logout = canfar("auth", "logout")
    assert logout.exit_code == 0
    assert f"removed the certificate {pem_path()}" in logout.stderr
    assert not pem_path().exists()
    assert in_use()["identity"] != "cadc"  # nothing signs as alice any more
    # one canfar did not write (cadc-get-cert's): kept, and named with how to remove it
    pem_path().write_bytes(platform.issue_certificate("alice", expired_seconds_ago=-3600))
    pem_path().chmod(0o600)
    kept = canfar("auth", "logout", "cadc")
    assert kept.exit_code == 0 and pem_path().exists()
    assert f"kept the certificate {pem_path()}" in kept.stderr and "rm " in kept.stderr
    gone = canfar("auth", "logout", "cadc", "--certificate")
    assert gone.exit_code == 0 and not pem_path().exists()


# --- 6: TLS verification --------------------------------------------------------------------------


def test_6_an_untrusted_server_is_exit_5_at_once_with_the_ca_hint(tmp_path: Path) -> None:
    other = start_signin_platform(tmp_path, tls=True)  # its CA is not canfar's to find
    try:
        result = canfar("-v", "--server", other.server.url, "ps")
        assert result.exit_code == 5, result.output
        assert "CANFAR_CA_BUNDLE" in result.stderr and "canfar local ca-path" in result.stderr
        assert "retry" not in result.stderr  # not retried
    finally:
        stop_signin_platform(other)


# --- 7: -v ----------------------------------------------------------------------------------------


def test_7_verbose_shows_the_sign_in_requests_with_credentials_hidden(
    platform: SigninPlatform,
) -> None:
    login = canfar("-v", "--server", "local", "login", "cadc", "-u", "alice", "--password-stdin",
                   input="wonderland\n")  # fmt: skip
    assert login.exit_code == 0, login.output
    assert (
        "GET https://127.0.0.1:" in login.stderr and "/reg/cadc/resource-caps 200" in login.stderr
    )
    assert "/cred/priv/proxy" in login.stderr and "<hidden>" in login.stderr
    assert "wonderland" not in login.output and "Basic " not in login.output
    listing = canfar("-v", "--server", "local", "platform", "ls", "--refresh")
    assert listing.exit_code == 0 and "/skaha/capabilities 200" in listing.stderr


# --- 11: --platform checked first -----------------------------------------------------------------


def test_11_an_unknown_platform_is_exit_2_before_anything_is_signed(
    platform: SigninPlatform,
) -> None:
    result = login_alice("--platform", "bogus")
    assert result.exit_code == 2 and "bogus" in result.stderr
    assert not pem_path().exists()
    from canfar_cli.auth.state import store_path

    assert not store_path().exists()


# --- 12: modes and owners -------------------------------------------------------------------------


def test_12_credential_files_are_tightened_or_refused(platform: SigninPlatform) -> None:
    assert login_alice().exit_code == 0
    pem_path().chmod(0o644)
    pem_path().parent.chmod(0o755)
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert stat.S_IMODE(pem_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(pem_path().parent.stat().st_mode) == 0o700
    assert ps.stderr.count("made it") == 2
    pem_path().chmod(0o666)
    refused = canfar("ps")
    assert refused.exit_code == 3 and "others can write it" in refused.stderr
    assert "chmod" in refused.stderr
    pem_path().chmod(0o600)
    if os.getuid() == 0:  # another user's file behind a link: refused
        from canfar_cli.auth.state import store_path

        theirs = store_path().with_name("theirs.json")
        theirs.write_bytes(store_path().read_bytes())
        os.chown(theirs, 65534, 65534)
        store_path().unlink()
        store_path().symlink_to(theirs)
        linked = canfar("ps")
        assert linked.exit_code == 3 and "another user owns it" in linked.stderr


# --- 13: limits of the local services -------------------------------------------------------------


@pytest.mark.e2e(long=True)
def test_13_wrong_passwords_slow_down_then_are_refused(platform: SigninPlatform) -> None:
    for _ in range(6):
        assert login_alice(password="guess").exit_code == 3
    blocked = login_alice()  # even the right one, for now
    assert blocked.exit_code == 3 and "too many wrong passwords" in blocked.stderr
    assert "wait" in blocked.stderr
    assert login_alice(user="bob", password="builder").exit_code == 0  # others are not held


def test_13_registration_is_bounded_in_size_and_rate(platform: SigninPlatform) -> None:
    url = f"{platform.base}/oidc/register"
    verify = platform._verify()
    big = httpx.post(url, json={"client_name": "x" * 10000}, verify=verify)
    assert big.status_code == 400
    answers = [httpx.post(url, json={}, verify=verify).status_code for _ in range(31)]
    assert answers.count(201) == 30 and answers[-1] == 429
    refused = httpx.post(url, json={}, verify=verify)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


# --- 14: fidelity ---------------------------------------------------------------------------------


def test_14_a_replayed_refresh_token_ends_the_sign_in(platform: SigninPlatform) -> None:
    approver = approve_when_asked(platform)
    login = canfar("--server", "local", "login", "srcnet")
    approver.join(timeout=30)
    assert login.exit_code == 0, login.output
    stolen = read_auth()["identities"]["srcnet"]["refresh_token"]
    platform.expire_access_tokens()
    assert canfar("ps", "-o", "json").exit_code == 0  # refreshed: `stolen` is now used
    platform.expire_access_tokens()
    record = read_auth()["identities"]["srcnet"]
    replay = httpx.post(f"{platform.base}/oidc/token",
                        data={"grant_type": "refresh_token", "refresh_token": stolen},
                        auth=(record["client_id"], record["client_secret"]),
                        verify=platform._verify())  # fmt: skip
    assert replay.status_code == 400
    ended = canfar("ps")
    assert ended.exit_code == 3 and "login srcnet" in ended.stderr


def test_14_a_certificate_is_at_least_the_service_minimum(platform: SigninPlatform) -> None:
    from canfar_cli.auth.certificates import parse_pem

    answer = httpx.get(f"{platform.base}/cred/priv/proxy", params={"daysValid": "0.0001"},
                       auth=("alice", "wonderland"), verify=platform._verify())  # fmt: skip
    assert answer.status_code == 200
    _user, not_after = parse_pem(answer.content, "answer")
    assert not_after - time.time() > 3000  # raised to an hour, not 8.6 s


def test_14_an_interrupted_device_login_leaves_no_pending_code(platform: SigninPlatform) -> None:
    from canfar_cli.auth.oidc import start_device_login
    from canfar_cli.auth.settings import signin_settings

    login = start_device_login(signin_settings(server="local"))
    assert platform.pending_code() is not None

    def interrupted(_seconds_left: float) -> None:  # Ctrl-C while waiting for approval
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        login.wait(on_tick=interrupted)
    assert platform.pending_code() is None


# --- 15 and issue 20: bytes that are not text, a damaged store ------------------------------------


def test_15_a_password_that_is_not_utf8_is_exit_2(platform: SigninPlatform) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "--server", "local", "login", "cadc", "-u", "alice",
         "--password-stdin"],
        input=b"\xff\xfewonder\n", capture_output=True, env=canfar_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().strip().splitlines()
    assert lines[0].startswith("error:") and "UTF-8" in lines[0] and "Traceback" not in lines[0]


@pytest.mark.parametrize("key", ["identities", "platforms", "active"])
def test_20_a_store_whose_parts_are_not_objects_is_one_exit_3_line(key: str) -> None:
    write_auth({key: ["not", "an", "object"]})
    if key == "identities":  # one case as a real process (exit code, no traceback) ...
        done = run_canfar(["ps"])
        code, stderr = done.returncode, done.stderr
    else:  # ... the others in-process: the same contract
        result = canfar("ps")
        code, stderr = result.exit_code, result.stderr
    assert code == 3, stderr
    assert "damaged" in stderr and "Traceback" not in stderr


def test_20_register_with_odd_grant_types_is_400(platform: SigninPlatform) -> None:
    answer = httpx.post(f"{platform.base}/oidc/register", json={"grant_types": [[1]]},
                        verify=platform._verify())  # fmt: skip
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"


def test_20_config_set_certificate_of_non_utf8_bytes_is_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "canfar_cli", "config", "set", "certificate", b"/tmp/\xff.pem"],
        capture_output=True, env=canfar_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.decode(errors="replace").strip().splitlines()) <= 2
    assert b"Traceback" not in result.stderr


# --- one sign-in state: read once ----------------------------------------------------------------


@pytest.mark.parametrize(("expired", "reads"), [(False, 1), (True, 2)])
def test_ps_reads_the_sign_in_store_once_or_twice_with_a_refresh(
    platform: SigninPlatform, monkeypatch: pytest.MonkeyPatch, expired: bool, reads: int
) -> None:
    approver = approve_when_asked(platform)
    assert canfar("--server", "local", "login", "srcnet").exit_code == 0
    approver.join(timeout=30)
    if expired:
        platform.expire_access_tokens()
        stored = read_auth()
        stored["identities"]["srcnet"]["expires_at"] = time.time() - 10
        write_auth(stored)
    from canfar_cli.auth.state import store_path

    target = store_path()
    counted: list[Path] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        if self == target:
            counted.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert len(counted) == reads


# --- docs/configuration.md: the local recipe as written -----------------------------------------


def test_the_documented_local_recipe_works_as_written(isolated: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    section = page.split("### Signing in to the local platform", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 3
    script = "\n".join(lines) + "\ncanfar ps -o json\n"
    env = canfar_env({"CANFAR_LOCAL_DEVICE_INTERVAL": "0"})
    out, err = isolated / "recipe.out", isolated / "recipe.err"
    try:
        # Files, not pipes: the server left running in the background keeps its stdout open.
        with out.open("wb") as stdout, err.open("wb") as stderr:
            code = subprocess.run(["bash", "-e", "-c", script], stdout=stdout, stderr=stderr,
                                  env=env, timeout=120).returncode  # fmt: skip
        assert code == 0, err.read_text()
        assert out.read_text().strip().splitlines()[-1] == "[]", out.read_text()
    finally:
        from tests.support.loopback import kill_platform_processes

        for pid_file in (isolated / "local" / "serve").glob("*.json"):
            pid = json.loads(pid_file.read_text()).get("pid")
            if isinstance(pid, int):
                with __import__("contextlib").suppress(OSError):
                    os.kill(pid, 9)
        kill_platform_processes(isolated / "local")


def test_1_serve_on_a_terminal_prints_the_one_line_to_export(isolated: Path) -> None:
    import pty
    import select

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "canfar_cli", "local", "serve", "--tls"],
        stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=canfar_env(),
    )  # fmt: skip
    os.close(slave)
    try:
        from tests.support.loopback import read_first_line

        url = read_first_line(process, timeout=60)
        seen = b""
        deadline = time.monotonic() + 30
        while b"export CANFAR_URL" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 4096)
        assert f"export CANFAR_URL={url}".encode() in seen, seen
    finally:
        process.kill()
        process.wait(timeout=10)
        os.close(master)
        from tests.support.loopback import kill_platform_processes

        kill_platform_processes(isolated / "local")
