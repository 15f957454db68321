"""Signing in through the real commands, against the local platform's own sign-in services
(`canfar local serve [--tls]` on loopback, see tests/support/signin.py): registries, VOSI
capabilities, the credential service, the OIDC provider with the device flow, and the skaha API
that takes their credentials."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from canfar_cli.cli.main import app
from tests.support import IMAGE
from tests.support.signin import (
    SigninPlatform,
    point_canfar_at,
    start_signin_platform,
    stop_signin_platform,
)

Start = Callable[..., SigninPlatform]


@pytest.fixture
def start(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Start the platform (`tls=True` for --tls; `env` for its CANFAR_LOCAL_* settings) and
    point canfar at it."""
    started: list[SigninPlatform] = []

    def run(tls: bool = False, **env: str) -> SigninPlatform:
        platform = start_signin_platform(isolated, tls=tls, env=env)
        started.append(platform)
        point_canfar_at(platform, monkeypatch)
        return platform

    yield run
    for platform in started:
        stop_signin_platform(platform)


@pytest.fixture
def services(start: Start) -> SigninPlatform:
    return start()


@pytest.fixture
def tls_services(start: Start) -> SigninPlatform:
    return start(tls=True)


def canfar(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def pem_path() -> Path:
    return Path.home() / ".ssl" / "cadcproxy.pem"


def store() -> dict:
    from canfar_cli.auth.state import store_path

    return json.loads(store_path().read_text())


def closed_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- CADC -------------------------------------------------------------------------------------


def test_cadc_login_stores_a_0600_certificate_and_status_shows_it(services: SigninPlatform) -> None:
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 0, result.output
    assert "signed in as alice" in result.stderr and result.stdout == ""  # messages: stderr
    assert "wonderland" not in result.output
    mode = stat.S_IMODE(pem_path().stat().st_mode)
    assert mode == 0o600
    assert b"PRIVATE KEY" in pem_path().read_bytes()
    # discovery found the one platform of cadc and made it active
    assert "active platform: canfar" in result.stderr
    status = canfar("auth", "status", "-o", "json")
    assert status.exit_code == 0, status.output
    report = json.loads(status.stdout)
    assert report["active"] == "cadc"
    assert report["platform"]["name"] == "canfar"
    assert report["platform"]["url"] == f"{services.base}/skaha"
    (entry,) = report["identities"]
    assert entry["user"] == "alice" and entry["usable"] and entry["path"] == str(pem_path())


def test_wrong_password_is_exit_3_and_nothing_is_stored(services: SigninPlatform) -> None:
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="nope\n")
    assert result.exit_code == 3
    assert "wrong user name or password" in result.stderr
    assert "nope" not in result.output
    assert not pem_path().exists()


def test_a_valid_certificate_is_kept_unless_forced(
    services: SigninPlatform, start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert first.exit_code == 0
    before = pem_path().read_bytes()
    # Kept without asking the credential service (no user name or password given): with the
    # server stopped it is still kept.
    services.server.stop()
    again = canfar("login", "cadc")
    assert again.exit_code == 0 and "kept" in again.stderr
    assert pem_path().read_bytes() == before
    point_canfar_at(start(), monkeypatch)  # a fresh server for the forced sign-in
    forced = canfar("login", "cadc", "-u", "bob", "--password-stdin", "--force", input="builder\n")
    assert forced.exit_code == 0 and "signed in as bob" in forced.stderr
    assert pem_path().read_bytes() != before


def test_registry_down_is_exit_5_with_the_url(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/reg/resource-caps"
    monkeypatch.setenv("CANFAR_REGISTRY_CADC", url)
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 5, result.output
    assert url in result.stderr and "hint:" in result.stderr
    assert not pem_path().exists()


def test_registry_answering_garbage_is_exit_1_with_the_url(
    services: SigninPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page of the server that is HTML, not a registry (as one in maintenance answers).
    garbage = f"{services.base}/oidc/verify"
    monkeypatch.setenv("CANFAR_REGISTRY_CADC", garbage)
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 1, result.output
    assert garbage in result.stderr
    assert "CANFAR_REGISTRY_CADC" in result.stderr


def test_cadc_login_then_ps_over_tls_with_the_new_certificate(tls_services: SigninPlatform) -> None:
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 0, result.output
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert json.loads(ps.stdout) == []
    # without the certificate the TLS server shuts the door
    assert canfar("--cert", str(tls_services.ca_path), "ps").exit_code != 0


def _write_expired_certificate(services: SigninPlatform) -> None:
    pem_path().parent.mkdir(parents=True, exist_ok=True)
    pem_path().write_bytes(services.issue_certificate("alice", expired_seconds_ago=3600))


def test_an_expired_certificate_is_exit_3_and_nothing_is_sent(services: SigninPlatform) -> None:
    _write_expired_certificate(services)
    # Nothing is sent: the server named is a closed port, where any request would be exit 5.
    result = canfar("--server", f"http://127.0.0.1:{closed_port()}/skaha", "ps")
    assert result.exit_code == 3, result.output
    assert "expired" in result.stderr and "canfar login cadc" in result.stderr


def test_an_unreadable_certificate_is_exit_3(services: SigninPlatform) -> None:
    pem_path().parent.mkdir(parents=True)
    pem_path().write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    result = canfar("--server", f"{services.base}/skaha", "ps")
    assert result.exit_code == 3 and "canfar login cadc" in result.stderr
    status = canfar("auth", "status")
    assert status.exit_code == 3 and "Traceback" not in status.output


def test_explicit_token_wins_over_an_expired_stored_certificate(
    services: SigninPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_expired_certificate(services)
    token = services.tokens("alice")["access_token"]
    monkeypatch.setenv("CANFAR_TOKEN", token)
    result = canfar("--server", f"{services.base}/skaha", "ps", "-o", "json")
    # The server takes no other credential of this test: it got `Bearer <token>`.
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


# --- SRCNet device login --------------------------------------------------------------------------


def approve_when_asked(services: SigninPlatform, deny: bool = False) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 30
        while (code := services.pending_code()) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert code is not None
        services.approve(code, user="alice", deny=deny)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def srcnet_login(services: SigninPlatform, *args: str) -> Result:
    approver = approve_when_asked(services)
    result = canfar("login", "srcnet", *args)
    approver.join(timeout=30)
    return result


def test_device_login_then_ps_then_a_silent_refresh(services: SigninPlatform) -> None:
    result = srcnet_login(services)
    assert result.exit_code == 0, result.output
    assert "signed in to SRCNet as alice" in result.stderr
    assert f"{services.base}/oidc/verify" in result.stderr and "code" in result.stderr
    saved = store()["identities"]["srcnet"]
    assert saved["user"] == "alice"
    from canfar_cli.auth.state import store_path

    assert stat.S_IMODE(store_path().stat().st_mode) == 0o600
    for secret in (saved["access_token"], saved["refresh_token"], saved["client_secret"]):
        assert secret not in result.output
    assert "active platform: canSRC" in result.stderr
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert services.refresh_count() == 0
    services.expire_access_tokens()  # the server no longer takes it, and the store says so too
    data = store()
    data["identities"]["srcnet"]["expires_at"] = time.time() - 5
    Path(store_path()).write_text(json.dumps(data))
    again = canfar("-v", "ps", "-o", "json")
    assert again.exit_code == 0, again.output
    assert services.refresh_count() == 1
    assert store()["identities"]["srcnet"]["access_token"] != saved["access_token"]
    assert saved["refresh_token"] not in again.output and "Bearer" not in again.stderr.replace(
        "<hidden>", ""
    )


def test_a_token_refused_by_the_server_is_renewed_once(services: SigninPlatform) -> None:
    assert srcnet_login(services).exit_code == 0
    services.expire_access_tokens()  # the store still believes it holds for an hour
    result = canfar("ps")
    assert result.exit_code == 0, result.output
    assert services.refresh_count() == 1


def test_device_login_denied(services: SigninPlatform) -> None:
    approver = approve_when_asked(services, deny=True)
    result = canfar("login", "srcnet")
    approver.join(timeout=30)
    assert result.exit_code == 3 and "denied" in result.stderr
    from canfar_cli.auth.state import store_path

    assert not store_path().exists()


def test_device_code_expired(start: Start) -> None:
    start(CANFAR_LOCAL_DEVICE_CODE_SECONDS="1")  # the least it takes; nobody approves
    result = canfar("login", "srcnet")
    assert result.exit_code == 3 and "expired" in result.stderr


def test_interrupted_wait_stores_nothing(
    services: SigninPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from canfar_cli.auth import oidc

    def interrupted(self: object, **_kw: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(oidc.DeviceLogin, "wait", interrupted)
    result = canfar("login", "srcnet")
    assert result.exit_code == 130
    from canfar_cli.auth.state import store_path

    assert not store_path().exists()


def _job_done(text: str) -> str:
    """A headless job of the signed-in user that prints `text`, ended; its id."""
    created = canfar("create", "headless", IMAGE, "--wait", "--", "echo", text)
    assert created.exit_code == 0, created.output
    (session_id,) = created.stdout.split()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listing = canfar("ps", "-a", "-o", "json")
        assert listing.exit_code == 0, listing.output
        status = {s["id"]: s["status"] for s in json.loads(listing.stdout)}[session_id]
        if status not in ("Pending", "Running"):
            break
        time.sleep(0.05)
    return session_id


def test_refresh_revoked_mid_batch_keeps_the_other_results(
    services: SigninPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from canfar_cli import AsyncSession, Session
    from canfar_cli.errors import CanfarError

    assert srcnet_login(services).exit_code == 0
    ids = [_job_done(f"log of {name}") for name in ("a1", "revoke", "b2")]
    # The sign-in is revoked (its whole grant) while the batch is under way: once the first log
    # has come back (one request at a time), before the second is sent.
    real_log_text = AsyncSession._log_text

    async def revoking(self: AsyncSession, session_id: str) -> str:
        text = await real_log_text(self, session_id)
        if session_id == ids[0]:
            saved = store()["identities"]["srcnet"]
            services.revoke(saved["refresh_token"], saved["client_id"], saved["client_secret"])
        return text

    monkeypatch.setattr(AsyncSession, "_log_text", revoking)
    with Session(server=f"{services.base}/skaha", concurrency=1) as session:
        outcomes = session.logs_each(ids)
        assert outcomes[0].ok and outcomes[0].value == "log of a1\n"
        assert not outcomes[1].ok and outcomes[1].error.exit_code == 3  # type: ignore[union-attr]
        assert "canfar login srcnet" in (outcomes[1].error.hint or "")  # type: ignore[union-attr]
    # afterwards every request is refused before it is sent: sign in again
    with Session(server=f"{services.base}/skaha") as session, pytest.raises(CanfarError) as caught:
        session.fetch()
    assert caught.value.exit_code == 3


def test_corrupt_token_file_is_a_clear_message(services: SigninPlatform) -> None:
    from canfar_cli.auth.state import store_path

    store_path().parent.mkdir(parents=True, exist_ok=True)
    store_path().write_text('{"identities": {"srcnet": {"access_tok')
    result = canfar("--server", f"{services.base}/skaha", "ps")
    assert result.exit_code == 3, result.output
    assert "damaged" in result.stderr and "Traceback" not in result.output


# --- discovery and platforms ------------------------------------------------------------------


def test_discovery_reports_a_slow_and_a_closed_platform_and_goes_on(start: Start) -> None:
    extra = [
        "ivo://canfar.cam.uksrc.org/skaha = BASE/slow/skaha/capabilities",
        f"ivo://aussrc.org/skaha = http://127.0.0.1:{closed_port()}/skaha/capabilities",
    ]
    services = start(CANFAR_LOCAL_SLOW_SECONDS="20", CANFAR_LOCAL_EXTRA_PLATFORMS=";".join(extra))
    # The slow platform answers only after 20 s: "timed out" (not "reachable") shows the 1.5 s
    # limit held, and the sign-in went on with the others.
    result = srcnet_login(services, "--timeout", "1.5")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any("ukCAM" in ln and "timed out" in ln for ln in lines), result.stderr
    assert any("ausSRC" in ln and "refused" in ln for ln in lines), result.stderr
    assert any("canSRC" in ln and "reachable" in ln for ln in lines), result.stderr
    assert "active platform: canSRC" in result.stderr
    listing = canfar("platform", "ls", "-o", "json")
    assert listing.exit_code == 0
    by_name = {p["name"]: p for p in json.loads(listing.stdout)}
    assert by_name["canSRC"]["active"] and by_name["ukCAM"]["status"] == "timed out"


def test_platform_use_and_the_platform_flag(services: SigninPlatform) -> None:
    assert srcnet_login(services).exit_code == 0
    assert canfar("platform", "use", "nowhere").exit_code == 2
    assert canfar("platform", "use", "cansrc").exit_code == 0
    assert canfar("--platform", "canSRC", "ps").exit_code == 0
    status = json.loads(canfar("auth", "status", "-o", "json").stdout)
    assert status["platform"]["name"] == "canSRC"
    # --server wins over the platform
    assert canfar("--server", "local", "--platform", "canSRC", "ps").exit_code == 0


def test_logout_forgets_tokens_and_removes_the_certificate_when_asked(
    services: SigninPlatform,
) -> None:
    assert srcnet_login(services).exit_code == 0
    assert canfar("login", "cadc", "-u", "alice", "--password-stdin",
                  input="wonderland\n").exit_code == 0  # fmt: skip
    out = canfar("auth", "logout", "srcnet")
    assert out.exit_code == 0 and "srcnet" in out.stderr
    assert "access_token" not in json.dumps(store())
    assert pem_path().exists()
    assert canfar("auth", "logout", "--certificate").exit_code == 0
    assert not pem_path().exists()
    assert canfar("auth", "status").exit_code == 3


# --- the official client's config.yaml ------------------------------------------------------------


def _official(text: str) -> None:
    path = Path.home() / ".canfar" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("version", [1, 2])  # 1: the official client's 1.4 line (issue 17 #16)
def test_official_config_sign_in_and_platform_are_picked_up(
    services: SigninPlatform, version: int
) -> None:
    tokens = services.tokens("alice")  # of a client of the official client's own
    v1 = "\n    mode: oidc\n    idp: srcnet" if version == 1 else ""
    _official(f"""version: {version}
active:
  authentication: srcnet
  server: canSRC
authentication:
  srcnet:{v1}
    endpoints:
      token: {services.base}/oidc/token
    client:
      identity: {tokens["client_id"]}
      secret: {tokens["client_secret"]}
    token:
      access: {tokens["access_token"]}
      refresh: {tokens["refresh_token"]}
    expiry:
      access: {int(time.time()) - 10}
servers:
  canSRC:
    url: {services.base}/skaha
    version: v1{v1.replace("mode: oidc", "auths: [oidc]")}
""")
    before = (Path.home() / ".canfar" / "config.yaml").read_bytes()
    result = canfar("ps", "-o", "json")
    assert result.exit_code == 0, result.output
    assert services.refresh_count() == 1  # expired there: refreshed, and kept in canfar's own store
    assert (Path.home() / ".canfar" / "config.yaml").read_bytes() == before
    assert store()["identities"]["srcnet"]["client_id"] == tokens["client_id"]


def test_official_config_of_unknown_version_is_ignored_with_one_warning(
    services: SigninPlatform,
) -> None:
    _official("version: 7\nactive:\n  authentication: srcnet\n")
    result = canfar("auth", "status")
    assert result.exit_code == 3
    assert result.stderr.count("version 7") == 1, result.stderr


def test_session_takes_a_platform_name(services: SigninPlatform) -> None:
    from canfar_cli import Session

    assert srcnet_login(services).exit_code == 0
    with Session(platform="canSRC") as session:
        assert session.base_url == f"{services.base}/skaha/v1"
        assert session.fetch() == []


def test_library_steps(services: SigninPlatform) -> None:
    from canfar_cli import auth

    info = auth.login_cadc("alice", "wonderland", days=2)
    assert info.user == "alice" and 86400 < info.seconds_left <= 2 * 86400
    login = auth.start_device_login()
    assert "client_secret" not in repr(login) and login.client_secret not in repr(login)
    services.approve(login.user_code)
    assert login.wait() == "alice"
    report = auth.status()
    assert {e["identity"] for e in report["identities"]} == {"cadc", "srcnet"}
    assert {p.name for p in auth.platforms()} == {"canSRC", "canfar"}


def test_an_expired_certificate_given_explicitly_is_exit_3(
    services: SigninPlatform, tmp_path: Path
) -> None:
    given = tmp_path / "given.pem"
    given.write_bytes(services.issue_certificate("alice", expired_seconds_ago=60))
    # Nothing is sent: the server named is a closed port, where any request would be exit 5.
    server = f"http://127.0.0.1:{closed_port()}/skaha"
    result = canfar("--cert", str(given), "--server", server, "ps")
    assert result.exit_code == 3 and "expired" in result.stderr


def test_login_without_a_provider_off_a_terminal_is_a_usage_error(services: SigninPlatform) -> None:
    result = canfar("login", input="")
    assert result.exit_code == 2 and "canfar login cadc" in result.stderr
    assert canfar("login", "github").exit_code == 2


def test_status_warns_when_the_certificate_has_under_a_day_left(start: Start) -> None:
    start(CANFAR_LOCAL_CERT_SECONDS=str(3 * 3600))
    assert canfar("login", "cadc", "-u", "alice", "--password-stdin",
                  input="wonderland\n").exit_code == 0  # fmt: skip
    result = canfar("auth", "status")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "expires in 2 h" in result.stderr
    assert "alice" in result.stdout
