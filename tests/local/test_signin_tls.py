"""`canfar local serve --tls`: HTTPS with the local CA; the skaha API needs a client certificate
(from the credential service) or a token, over a real socket."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import IMAGE
from tests.support.loopback import LocalServer, kill_platform_processes, start_local_server
from tests.support.signin import add_users


class TlsServer:
    def __init__(self, server: LocalServer) -> None:
        self.server, self.url, self.home = server, server.url, server.home
        self.stderr_path = server.stderr_path
        self.base = self.url.rsplit("/skaha", 1)[0]
        self.ca = self.home / "ca" / "ca.pem"


def _start(tmp: Path, home: Path, **options: Any) -> TlsServer:
    """`canfar local serve --port 0 --tls --home HOME`, forked (tests/support/forkserver.py)."""
    env = {"CANFAR_LOCAL_DEVICE_INTERVAL": "0"}
    return TlsServer(start_local_server(tmp, home=home, tls=True, env=env, **options))


@pytest.fixture
def tls_server(isolated: Path) -> Iterator[TlsServer]:
    server = _start(isolated, isolated / "local")
    yield server
    server.server.stop()
    kill_platform_processes(server.home)


def add_user(home: Path, name: str, password: str) -> None:
    """A user of the sign-in services, a step of these tests (tests/support/signin.py's
    add_users: a light hash); `canfar local users add` is test_signin_services.py's
    test_users_add_stores_only_a_hash_in_a_private_file."""
    add_users(home, {name: password})


def client(server: TlsServer, cert: Path | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(server.ca))
    if cert is not None:
        context.load_cert_chain(str(cert))
    return httpx.Client(verify=context, timeout=30)


def fetch_certificate(server: TlsServer, tmp: Path, user: str, password: str) -> Path:
    with client(server) as http:
        answer = http.get(
            f"{server.base}/cred/priv/proxy", params={"daysValid": 1}, auth=(user, password)
        )
    assert answer.status_code == 200, answer.text
    path = tmp / f"{user}-proxy.pem"
    path.write_text(answer.text)
    path.chmod(0o600)
    return path


def test_serve_tls_prints_https_and_the_ca_path(tls_server: TlsServer) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    assert tls_server.url.endswith("/skaha")
    assert str(tls_server.ca) in tls_server.stderr_path.read_text()
    # The server certificate is the local CA's, for 127.0.0.1 and localhost (hostnames checked).
    port = tls_server.url.split(":")[2].split("/")[0]
    with client(tls_server) as http:
        for host in ("127.0.0.1", "localhost"):
            answer = http.get(f"https://{host}:{port}/reg/cadc/resource-caps")
            assert answer.status_code == 200
            assert f"https://{host}:{port}/cred/capabilities" in answer.text
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=30) as untrusting:
        untrusting.get(tls_server.url + "/v1/session")  # the system CAs do not know ours


def test_client_certificate_from_the_credential_service_lists_sessions(
    tls_server: TlsServer, isolated: Path
) -> None:
    add_user(tls_server.home, "alice", "pw")
    add_user(tls_server.home, "bob", "pb")
    alice_pem = fetch_certificate(tls_server, isolated, "alice", "pw")
    bob_pem = fetch_certificate(tls_server, isolated, "bob", "pb")
    api = f"{tls_server.url}/v1/session"
    with client(tls_server) as anonymous:
        refused = anonymous.get(api)
        assert refused.status_code == 401
        assert anonymous.get(api, headers={"Authorization": "Bearer guess"}).status_code == 401
        # The sign-in services need no client certificate.
        assert anonymous.get(f"{tls_server.base}/skaha/capabilities").status_code == 200
    with client(tls_server, alice_pem) as alice, client(tls_server, bob_pem) as bob:
        listed = alice.get(api)
        assert listed.status_code == 200, listed.text
        assert listed.json() == []
        assert listed.headers["x-vo-authenticated"] == "alice"
        made = alice.post(api, data={"name": "nb", "image": IMAGE, "type": "notebook"})
        assert made.status_code == 200, made.text
        session_id = made.text.strip()
        assert alice.get(f"{api}/{session_id}").json()["userid"] == "alice"
        assert bob.get(api).headers["x-vo-authenticated"] == "bob"
        assert bob.get(f"{api}/{session_id}").status_code == 404
        assert alice.delete(f"{api}/{session_id}").status_code == 200


def test_expired_certificate_is_401_not_a_failed_handshake(
    tls_server: TlsServer, isolated: Path
) -> None:
    from canfar_cli.local.signin.ca import LocalCA

    ca = LocalCA.load_or_create(tls_server.home)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
    expired = isolated / "expired.pem"
    expired.write_bytes(ca.issue_client("alice", 86400, not_before=past))
    with client(tls_server, expired) as http:
        answer = http.get(f"{tls_server.url}/v1/session")
    assert answer.status_code == 401
    assert "expired" in answer.text


def test_certificate_of_another_ca_is_refused(tls_server: TlsServer, isolated: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    now = dt.datetime.now(dt.timezone.utc)
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = isolated / "forged.pem"
    path.write_bytes(
        forged.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # The TLS layer trusts only the local CA: the handshake fails, or the request is refused.
    with client(tls_server, path) as http:
        try:
            answer = http.get(f"{tls_server.url}/v1/session")
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
            return
    assert answer.status_code == 401


def test_an_oidc_token_works_over_tls_without_a_certificate(
    tls_server: TlsServer,
) -> None:
    add_user(tls_server.home, "carol", "pc")
    with client(tls_server) as http:
        issuer = f"{tls_server.base}/oidc"
        config = http.get(f"{issuer}/.well-known/openid-configuration").json()
        assert config["issuer"] == issuer and issuer.startswith("https://")
        registered = http.post(config["registration_endpoint"], json={"client_name": "t"}).json()
        auth = (registered["client_id"], registered["client_secret"])
        flow = http.post(config["device_authorization_endpoint"], data={}, auth=auth).json()
        assert flow["verification_uri"] == f"{issuer}/verify"
        approve = http.post(
            flow["verification_uri"],
            data={"user_code": flow["user_code"], "username": "carol", "password": "pc"},
        )
        assert approve.status_code == 200
        tokens = http.post(
            config["token_endpoint"],
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": flow["device_code"],
            },
            auth=auth,
        ).json()
        answer = http.get(
            f"{tls_server.url}/v1/session",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
    assert answer.status_code == 200
    assert answer.headers["x-vo-authenticated"] == "carol"


def test_serve_token_still_acts_as_the_local_user_over_tls(isolated: Path) -> None:
    # Through --token-file, as start_local_server gives a token: a file ending in a newline.
    server = _start(isolated, isolated / "local", token="T0\n", user="owner")
    try:
        with client(server) as http:
            answer = http.get(f"{server.url}/v1/session", headers={"Authorization": "Bearer T0"})
            assert answer.status_code == 200
            assert answer.headers["x-vo-authenticated"] == "owner"
            assert http.get(f"{server.url}/v1/session").status_code == 401
    finally:
        server.server.stop()
        kill_platform_processes(server.home)
