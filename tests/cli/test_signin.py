"""Signing in through the real commands, against the test-only fake of the sign-in services
(tests/support_signin.py: the agreed wire formats over real HTTP/HTTPS on loopback)."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from canfar_cli.cli.main import app
from tests.support_signin import FakeSignin, point_canfar_at, run_fake


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSignin]:
    yield from _started(tmp_path, monkeypatch, tls=False)


@pytest.fixture
def tls_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSignin]:
    yield from _started(tmp_path, monkeypatch, tls=True)


def _started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: bool) -> Iterator[FakeSignin]:
    for fake in run_fake(tmp_path, tls=tls):
        point_canfar_at(fake, monkeypatch)
        yield fake


def canfar(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def pem_path() -> Path:
    return Path.home() / ".ssl" / "cadcproxy.pem"


def store() -> dict:
    from canfar_cli.auth.store import store_path

    return json.loads(store_path().read_text())


def cred_requests(fake: FakeSignin) -> int:
    return sum(1 for _m, path, _h in fake.requests if path == "/cred/priv/proxy")


# --- CADC -------------------------------------------------------------------------------------


def test_cadc_login_stores_a_0600_certificate_and_status_shows_it(fake: FakeSignin) -> None:
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 0, result.output
    assert "signed in as alice" in result.stdout
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
    assert report["platform"]["url"] == f"{fake.base}/skaha"
    (entry,) = report["identities"]
    assert entry["user"] == "alice" and entry["usable"] and entry["path"] == str(pem_path())


def test_wrong_password_is_exit_3_and_nothing_is_stored(fake: FakeSignin) -> None:
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="nope\n")
    assert result.exit_code == 3
    assert "wrong user name or password" in result.stderr
    assert "nope" not in result.output
    assert not pem_path().exists()


def test_a_valid_certificate_is_kept_unless_forced(fake: FakeSignin) -> None:
    first = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert first.exit_code == 0
    before = pem_path().read_bytes()
    again = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert again.exit_code == 0 and "kept" in again.stdout
    assert pem_path().read_bytes() == before and cred_requests(fake) == 1
    forced = canfar("login", "cadc", "-u", "bob", "--password-stdin", "--force", input="builder\n")
    assert forced.exit_code == 0 and "signed in as bob" in forced.stdout
    assert pem_path().read_bytes() != before


def test_registry_down_is_exit_5_with_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/reg/resource-caps"
    monkeypatch.setenv("CANFAR_REGISTRY_CADC", url)
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 5, result.output
    assert url in result.stderr and "hint:" in result.stderr
    assert not pem_path().exists()


def test_registry_answering_garbage_is_exit_1_with_the_url(fake: FakeSignin) -> None:
    fake.registry_garbage = True
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 1, result.output
    assert f"{fake.base}/reg/cadc/resource-caps" in result.stderr
    assert "CANFAR_REGISTRY_CADC" in result.stderr


def test_cadc_login_then_ps_over_tls_with_the_new_certificate(tls_fake: FakeSignin) -> None:
    result = canfar("login", "cadc", "-u", "alice", "--password-stdin", input="wonderland\n")
    assert result.exit_code == 0, result.output
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert json.loads(ps.stdout) == []
    # without the certificate the TLS server shuts the door
    assert canfar("--cert", str(tls_fake.ca.path), "ps").exit_code != 0  # type: ignore[union-attr]


def _write_expired_certificate(fake: FakeSignin) -> None:
    assert fake.ca is not None
    pem_path().parent.mkdir(parents=True, exist_ok=True)
    pem_path().write_bytes(fake.ca.issue("alice", seconds=-3600))


def test_an_expired_certificate_is_exit_3_and_nothing_is_sent(fake: FakeSignin) -> None:
    _write_expired_certificate(fake)
    result = canfar("--server", f"{fake.base}/skaha", "ps")
    assert result.exit_code == 3, result.output
    assert "expired" in result.stderr and "canfar login cadc" in result.stderr
    assert not any(path.startswith("/skaha/v1") for _m, path, _h in fake.requests)


def test_an_unreadable_certificate_is_exit_3(fake: FakeSignin) -> None:
    pem_path().parent.mkdir(parents=True)
    pem_path().write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    result = canfar("--server", f"{fake.base}/skaha", "ps")
    assert result.exit_code == 3 and "canfar login cadc" in result.stderr
    status = canfar("auth", "status")
    assert status.exit_code == 3 and "Traceback" not in status.output


def test_explicit_token_wins_over_an_expired_stored_certificate(
    fake: FakeSignin, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_expired_certificate(fake)
    token = fake._tokens("alice")["access_token"]
    monkeypatch.setenv("CANFAR_TOKEN", token)
    result = canfar("--server", f"{fake.base}/skaha", "ps", "-o", "json")
    assert result.exit_code == 0, result.output
    sent = [h for _m, p, h in fake.requests if p == "/skaha/v1/session"]
    assert sent[-1]["authorization"] == f"Bearer {token}"


# --- SRCNet device login --------------------------------------------------------------------------


def approve_when_asked(fake: FakeSignin, deny: bool = False) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 30
        while not fake.devices and time.monotonic() < deadline:
            time.sleep(0.01)
        fake.approve(user="alice", deny=deny)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def srcnet_login(fake: FakeSignin, *args: str) -> Result:
    approver = approve_when_asked(fake)
    result = canfar("login", "srcnet", *args)
    approver.join(timeout=30)
    return result


def test_device_login_then_ps_then_a_silent_refresh(fake: FakeSignin) -> None:
    result = srcnet_login(fake)
    assert result.exit_code == 0, result.output
    assert "signed in to SRCNet as alice" in result.stdout
    assert f"{fake.base}/oidc/verify" in result.stderr and "code" in result.stderr
    saved = store()["identities"]["srcnet"]
    assert saved["user"] == "alice"
    from canfar_cli.auth.store import store_path

    assert stat.S_IMODE(store_path().stat().st_mode) == 0o600
    for secret in (saved["access_token"], saved["refresh_token"], saved["client_secret"]):
        assert secret not in result.output
    assert "active platform: canSRC" in result.stderr
    ps = canfar("ps", "-o", "json")
    assert ps.exit_code == 0, ps.output
    assert fake.refresh_count == 0
    fake.expire_access_tokens()  # the server no longer takes it, and the store says so too
    data = store()
    data["identities"]["srcnet"]["expires_at"] = time.time() - 5
    Path(store_path()).write_text(json.dumps(data))
    again = canfar("-v", "ps", "-o", "json")
    assert again.exit_code == 0, again.output
    assert fake.refresh_count == 1
    assert store()["identities"]["srcnet"]["access_token"] != saved["access_token"]
    assert saved["refresh_token"] not in again.output and "Bearer" not in again.stderr.replace(
        "<hidden>", ""
    )


def test_a_token_refused_by_the_server_is_renewed_once(fake: FakeSignin) -> None:
    assert srcnet_login(fake).exit_code == 0
    fake.expire_access_tokens()  # the store still believes it holds for an hour
    result = canfar("ps")
    assert result.exit_code == 0, result.output
    assert fake.refresh_count == 1


def test_device_login_denied(fake: FakeSignin) -> None:
    approver = approve_when_asked(fake, deny=True)
    result = canfar("login", "srcnet")
    approver.join(timeout=30)
    assert result.exit_code == 3 and "denied" in result.stderr
    from canfar_cli.auth.store import store_path

    assert not store_path().exists()


def test_device_code_expired(fake: FakeSignin) -> None:
    fake.device_seconds = 0
    result = canfar("login", "srcnet")
    assert result.exit_code == 3 and "expired" in result.stderr


def test_interrupted_wait_stores_nothing(fake: FakeSignin, monkeypatch: pytest.MonkeyPatch) -> None:
    from canfar_cli.auth import oidc

    def interrupted(self: object, **_kw: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(oidc.DeviceLogin, "wait", interrupted)
    result = canfar("login", "srcnet")
    assert result.exit_code == 130
    from canfar_cli.auth.store import store_path

    assert not store_path().exists()


def test_refresh_revoked_mid_batch_keeps_the_other_results(fake: FakeSignin) -> None:
    from canfar_cli.errors import CanfarError
    from canfar_cli.session import Session

    assert srcnet_login(fake).exit_code == 0
    fake.sessions = [{"id": name, "status": "Running"} for name in ("a1", "revoke", "b2")]
    with Session(server=f"{fake.base}/skaha", concurrency=1) as session:
        outcomes = session.logs_each(["a1", "revoke", "b2"])
        assert outcomes[0].ok and outcomes[0].value == "log of a1\n"
        assert not outcomes[1].ok and outcomes[1].error.exit_code == 3  # type: ignore[union-attr]
        assert "canfar login srcnet" in (outcomes[1].error.hint or "")  # type: ignore[union-attr]
    # afterwards every request is refused before it is sent: sign in again
    with Session(server=f"{fake.base}/skaha") as session, pytest.raises(CanfarError) as caught:
        session.fetch()
    assert caught.value.exit_code == 3


def test_corrupt_token_file_is_a_clear_message(fake: FakeSignin) -> None:
    from canfar_cli.auth.store import store_path

    store_path().parent.mkdir(parents=True, exist_ok=True)
    store_path().write_text('{"identities": {"srcnet": {"access_tok')
    result = canfar("--server", f"{fake.base}/skaha", "ps")
    assert result.exit_code == 3, result.output
    assert "damaged" in result.stderr and "Traceback" not in result.output


# --- discovery and platforms ------------------------------------------------------------------


def test_discovery_reports_a_slow_and_a_closed_platform_and_goes_on(fake: FakeSignin) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    fake.slow_seconds = 20
    fake.extra_srcnet = [
        f"ivo://canfar.cam.uksrc.org/skaha = {fake.base}/slow/skaha/capabilities",
        f"ivo://aussrc.org/skaha = http://127.0.0.1:{closed}/skaha/capabilities",
    ]
    started = time.monotonic()
    result = srcnet_login(fake, "--timeout", "1.5")
    assert time.monotonic() - started < 15  # the slow one did not hold the sign-in up
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


def test_platform_use_and_the_platform_flag(fake: FakeSignin) -> None:
    assert srcnet_login(fake).exit_code == 0
    assert canfar("platform", "use", "nowhere").exit_code == 2
    assert canfar("platform", "use", "cansrc").exit_code == 0
    assert canfar("--platform", "canSRC", "ps").exit_code == 0
    status = json.loads(canfar("auth", "status", "-o", "json").stdout)
    assert status["platform"]["name"] == "canSRC"
    # --server wins over the platform
    assert canfar("--server", "local", "--platform", "canSRC", "ps").exit_code == 0


def test_logout_forgets_tokens_and_removes_the_certificate_when_asked(fake: FakeSignin) -> None:
    assert srcnet_login(fake).exit_code == 0
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


def test_official_config_sign_in_and_platform_are_picked_up(fake: FakeSignin) -> None:
    fake.clients["official-client"] = "official-secret"
    tokens = fake._tokens("alice")
    _official(f"""version: 2
active:
  authentication: srcnet
  server: canSRC
authentication:
  srcnet:
    endpoints:
      token: {fake.base}/oidc/token
    client:
      identity: official-client
      secret: official-secret
    token:
      access: {tokens["access_token"]}
      refresh: {tokens["refresh_token"]}
    expiry:
      access: {int(time.time()) - 10}
servers:
  canSRC:
    url: {fake.base}/skaha
    version: v1
""")
    before = (Path.home() / ".canfar" / "config.yaml").read_bytes()
    result = canfar("ps", "-o", "json")
    assert result.exit_code == 0, result.output
    assert fake.refresh_count == 1  # expired there: refreshed, and kept in canfar's own store
    assert (Path.home() / ".canfar" / "config.yaml").read_bytes() == before
    assert store()["identities"]["srcnet"]["client_id"] == "official-client"


def test_official_config_of_unknown_version_is_ignored_with_one_warning(
    fake: FakeSignin,
) -> None:
    _official("version: 7\nactive:\n  authentication: srcnet\n")
    result = canfar("auth", "status")
    assert result.exit_code == 3
    assert result.stderr.count("version 7") == 1, result.stderr


def test_session_takes_a_platform_name(fake: FakeSignin) -> None:
    from canfar_cli.session import Session

    assert srcnet_login(fake).exit_code == 0
    with Session(platform="canSRC") as session:
        assert session.base_url == f"{fake.base}/skaha/v1"
        assert session.fetch() == []


def test_library_steps(fake: FakeSignin) -> None:
    from canfar_cli import auth

    info = auth.login_cadc("alice", "wonderland", days=2)
    assert info.user == "alice" and 86400 < info.seconds_left <= 2 * 86400
    login = auth.start_device_login()
    assert "client_secret" not in repr(login) and login.client_secret not in repr(login)
    fake.approve(login.user_code)
    assert login.wait() == "alice"
    report = auth.status()
    assert {e["identity"] for e in report["identities"]} == {"cadc", "srcnet"}
    assert {p.name for p in auth.platforms()} == {"canSRC", "canfar"}


def test_an_expired_certificate_given_explicitly_is_exit_3(
    fake: FakeSignin, tmp_path: Path
) -> None:
    assert fake.ca is not None
    given = tmp_path / "given.pem"
    given.write_bytes(fake.ca.issue("alice", seconds=-60))
    result = canfar("--cert", str(given), "--server", f"{fake.base}/skaha", "ps")
    assert result.exit_code == 3 and "expired" in result.stderr
    assert not any(path.startswith("/skaha/v1") for _m, path, _h in fake.requests)


def test_login_without_a_provider_off_a_terminal_is_a_usage_error(fake: FakeSignin) -> None:
    result = canfar("login", input="")
    assert result.exit_code == 2 and "canfar login cadc" in result.stderr
    assert canfar("login", "github").exit_code == 2


def test_status_warns_when_the_certificate_has_under_a_day_left(fake: FakeSignin) -> None:
    fake.cert_seconds = 3 * 3600
    assert canfar("login", "cadc", "-u", "alice", "--password-stdin",
                  input="wonderland\n").exit_code == 0  # fmt: skip
    result = canfar("auth", "status")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "expires in 2 h" in result.stderr
    assert "alice" in result.stdout
