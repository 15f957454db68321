"""The local sign-in services over real HTTP: registry, VOSI capabilities, the credential service
and its CA, the users file, the OIDC provider (device flow, refresh rotation, revocation,
userinfo), `canfar local users add` / `approve` / `ca-path`, `/slow/...`, and the skaha API
acting as the user of an OIDC token. (HTTPS and client certificates: test_signin_tls.py.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner, Result

from canfar_cli.cli.main import app
from tests.support import IMAGE
from tests.support.api import wait_until
from tests.support.signin import add_users


def run_canfar(
    args: list[str], *, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m canfar_cli ARGS` as a real process, in the test's isolated environment."""
    return subprocess.run(
        [sys.executable, "-m", "canfar_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        input=input,
        check=False,
    )


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FAST = {"CANFAR_LOCAL_DEVICE_INTERVAL": "0"}


def base_of(server: Any) -> str:
    return server.url.rsplit("/skaha", 1)[0]


def in_process(
    args: list[str], *, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """`canfar ARGS` in-process: for the cases of a command whose real process a test of this
    file runs already (each such call says which)."""
    return CliRunner().invoke(app, args, env=env, input=input, catch_exceptions=False)


def add_user(home: Path, name: str, password: str) -> None:
    """A user of the sign-in services, a step of these tests (tests/support/signin.py's
    add_users: a light hash); `canfar local users add` is
    test_users_add_stores_only_a_hash_in_a_private_file's."""
    add_users(home, {name: password})


def capability(document: str, standard_id: str) -> ET.Element:
    root = ET.fromstring(document)
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "capability" and (
            element.get("standardID") == standard_id
        ):
            return element
    raise AssertionError(f"no capability {standard_id} in {document}")


def interface_of(cap: ET.Element) -> tuple[ET.Element, list[str]]:
    interface = next(e for e in cap.iter() if e.tag.rsplit("}", 1)[-1] == "interface")
    url = next(e for e in interface.iter() if e.tag.rsplit("}", 1)[-1] == "accessURL")
    methods = [
        e.get("standardID", "")
        for e in interface.iter()
        if e.tag.rsplit("}", 1)[-1] == "securityMethod"
    ]
    return url, methods


# --- registry and capabilities ---------------------------------------------------------------


def test_registries_and_capabilities_name_the_agreed_urls(
    serve_local: Callable[..., Any],
) -> None:
    extra = (
        "ivo://slow.example/skaha = BASE/slow/skaha/capabilities;"
        " ivo://closed.example/skaha = http://127.0.0.1:9/skaha/capabilities"
    )
    server = serve_local(env={"CANFAR_LOCAL_EXTRA_PLATFORMS": extra})
    base = base_of(server)
    with httpx.Client(timeout=30) as http:
        cadc = http.get(f"{base}/reg/cadc/resource-caps")
        assert cadc.status_code == 200
        assert cadc.headers["content-type"].startswith("text/plain")
        entries = [
            line.split("=", 1)
            for line in cadc.text.splitlines()
            if line.strip() and not line.startswith("#")
        ]
        pairs = {key.strip(): value.strip() for key, value in entries}
        assert pairs == {
            "ivo://cadc.nrc.ca/cred": f"{base}/cred/capabilities",
            "ivo://cadc.nrc.ca/skaha": f"{base}/skaha/capabilities",
            "ivo://cadc.nrc.ca/arc": f"{base}/arc/capabilities",
            "ivo://cadc.nrc.ca/vault": f"{base}/vault/capabilities",
        }
        srcnet = http.get(f"{base}/reg/srcnet/resource-caps").text
        lines = [ln for ln in srcnet.splitlines() if ln and not ln.startswith("#")]
        assert lines == [
            f"ivo://canfar.net/src/skaha = {base}/skaha/capabilities",
            f"ivo://canfar.net/src/cavern = {base}/cavern/capabilities",
            f"ivo://slow.example/skaha = {base}/slow/skaha/capabilities",
            "ivo://closed.example/skaha = http://127.0.0.1:9/skaha/capabilities",
        ]

        skaha = http.get(pairs["ivo://cadc.nrc.ca/skaha"])
        assert skaha.status_code == 200
        url, methods = interface_of(
            capability(skaha.text, "http://www.opencadc.org/std/platform#session-1")
        )
        assert url.text == f"{base}/skaha/v1/session"
        assert url.get("use") == "base"
        assert set(methods) == {
            "ivo://ivoa.net/sso#tls-with-certificate",
            "ivo://ivoa.net/sso#token",
        }
        # The document's prefixes are those of real CADC documents.
        assert 'xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"' in skaha.text
        assert 'xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"' in skaha.text
        assert 'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"' in skaha.text

        cred = http.get(pairs["ivo://cadc.nrc.ca/cred"]).text
        url, methods = interface_of(capability(cred, "ivo://ivoa.net/std/CDP#proxy-1.0"))
        assert url.text == f"{base}/cred/priv/proxy"
        assert methods == ["ivo://ivoa.net/sso#BasicAA"]
        assert http.get(pairs["ivo://cadc.nrc.ca/arc"]).status_code == 200
        # The skaha API itself is untouched by the new routes.
        assert http.get(f"{server.url}/v1/context", headers=server.headers).status_code == 200
        assert http.post(f"{base}/reg/cadc/resource-caps").status_code == 405


def test_a_bad_extra_platform_setting_stops_the_server_at_start(isolated: Path) -> None:
    result = run_canfar(
        ["local", "serve", "--port", "0"],
        env={"CANFAR_LOCAL_EXTRA_PLATFORMS": "no equals sign here"},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "CANFAR_LOCAL_EXTRA_PLATFORMS" in result.stderr
    assert "Traceback" not in result.stderr


def test_slow_answers_late_and_does_not_hold_up_other_requests(
    serve_local: Callable[..., Any],
) -> None:
    server = serve_local(env={"CANFAR_LOCAL_SLOW_SECONDS": "30"})
    base = base_of(server)
    with httpx.Client(timeout=30) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{base}/slow/skaha/capabilities", timeout=0.5)
        # While that one still sleeps, the server answers everything else.
        assert http.get(f"{base}/reg/srcnet/resource-caps").status_code == 200
        assert http.get(f"{server.url}/v1/session", headers=server.headers).status_code == 200
    quick = serve_local(env={"CANFAR_LOCAL_SLOW_SECONDS": "0"})
    answer = httpx.get(f"{base_of(quick)}/slow/skaha/capabilities", timeout=30)
    assert answer.status_code == 200
    capability(answer.text, "http://www.opencadc.org/std/platform#session-1")


# --- users and the credential service ----------------------------------------------------------


def test_users_add_stores_only_a_hash_in_a_private_file(isolated: Path) -> None:
    home = isolated / "local"
    result = run_canfar(["local", "users", "add", "carol", "--home", str(home)])
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip()
    assert len(password) >= 16 and "\n" not in password
    assert "carol" in result.stderr
    users = home / "users.json"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    content = users.read_text()
    assert password not in content
    assert "carol" in json.loads(content)["users"]
    # The refusals in-process (the command as a process is the one above; a usage error as a
    # process, exit 2, is tests/cli/test_process.py::test_exit_2_for_usage's).
    bad = in_process(["local", "users", "add", "no/slash", "--home", str(home)])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: ")
    empty = in_process(
        ["local", "users", "add", "dave", "--password-stdin", "--home", str(home)], input="\n"
    )
    assert empty.exit_code == 2


def test_credential_service_issues_a_certificate_of_the_local_ca(
    local_server: Any,
) -> None:
    add_user(local_server.home, "alice", "correct horse")
    base = base_of(local_server)
    proxy = f"{base}/cred/priv/proxy"
    with httpx.Client(timeout=30) as http:
        missing = http.get(proxy)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].lower().startswith("basic")
        wrong = http.get(proxy, params={"daysValid": 2}, auth=("alice", "wrong"))
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("text/plain")
        assert "correct horse" not in wrong.text
        assert http.get(proxy, auth=("nobody", "correct horse")).status_code == 401
        assert (
            http.get(proxy, params={"daysValid": "x"}, auth=("alice", "correct horse")).status_code
            == 400
        )
        good = http.get(proxy, params={"daysValid": 2}, auth=("alice", "correct horse"))
        capped = http.get(proxy, params={"daysValid": 45}, auth=("alice", "correct horse"))
    assert good.status_code == 200, good.text
    pem = good.text.encode()
    blocks = [line for line in good.text.splitlines() if line.startswith("-----BEGIN")]
    assert blocks == [
        "-----BEGIN CERTIFICATE-----",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----",
    ]
    certificate, ca_certificate = x509.load_pem_x509_certificates(pem)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    certificate.verify_directly_issued_by(ca_certificate)
    ca_pem = ca_certificate.public_bytes(serialization.Encoding.PEM)
    assert ca_pem == (local_server.home / "ca" / "ca.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    certificate_key = certificate.public_key()
    assert isinstance(certificate_key, rsa.RSAPublicKey)
    assert key.public_key().public_numbers() == certificate_key.public_numbers()
    now = dt.datetime.now(dt.timezone.utc)
    left = certificate.not_valid_after_utc - now
    assert dt.timedelta(days=1, hours=23) < left <= dt.timedelta(days=2)
    longest = x509.load_pem_x509_certificates(capped.text.encode())[0]
    assert longest.not_valid_after_utc - now <= dt.timedelta(days=30)
    assert longest.not_valid_after_utc - now > dt.timedelta(days=29)
    for name in ("ca.pem", "ca.key"):
        assert stat.S_IMODE((local_server.home / "ca" / name).stat().st_mode) == 0o600


def test_ca_path_prints_the_ca_the_server_uses(local_server: Any) -> None:
    result = run_canfar(["local", "ca-path", "--home", str(local_server.home)])
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == local_server.home / "ca" / "ca.pem"
    add_user(local_server.home, "alice", "pw")
    pem = httpx.get(
        f"{base_of(local_server)}/cred/priv/proxy", auth=("alice", "pw"), timeout=30
    ).text
    issued = x509.load_pem_x509_certificates(pem.encode())[0]
    issued.verify_directly_issued_by(x509.load_pem_x509_certificate(path.read_bytes()))
    # The environment names the same folder when --home is left out (in-process: the command
    # as a process is the one above).
    again = in_process(["local", "ca-path"], env={"CANFAR_LOCAL_HOME": str(local_server.home)})
    assert again.stdout.strip() == str(path)


# --- the OIDC provider -------------------------------------------------------------------------


class Device:
    """A client of the local OIDC provider going through the device flow."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(timeout=30)
        self.issuer = f"{base}/oidc"
        self.config = self.http.get(f"{self.issuer}/.well-known/openid-configuration").json()
        registered = self.http.post(
            self.config["registration_endpoint"],
            json={
                "client_name": "canfar test",
                "grant_types": [DEVICE_GRANT, "refresh_token"],
                "response_types": ["token"],
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": "openid profile email offline_access",
            },
        )
        assert registered.status_code in (200, 201), registered.text
        self.client = registered.json()
        self.auth = (self.client["client_id"], self.client["client_secret"])

    def start(self) -> dict[str, Any]:
        answer = self.http.post(
            self.config["device_authorization_endpoint"],
            data={"client_id": self.client["client_id"], "scope": "openid offline_access"},
            auth=self.auth,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def poll(self, device_code: str) -> httpx.Response:
        return self.http.post(
            self.config["token_endpoint"],
            data={"grant_type": DEVICE_GRANT, "device_code": device_code},
            auth=self.auth,
        )

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.http.post(
            self.config["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=self.auth,
        )

    def approve_on_page(self, flow: dict[str, Any], user: str, password: str) -> httpx.Response:
        page = self.http.get(flow["verification_uri_complete"])
        assert page.status_code == 200
        assert "<form" in page.text and flow["user_code"] in page.text
        return self.http.post(
            flow["verification_uri"],
            data={"user_code": flow["user_code"], "username": user, "password": password},
        )

    def sign_in(self, user: str, password: str) -> dict[str, Any]:
        flow = self.start()
        assert self.approve_on_page(flow, user, password).status_code == 200
        answer = self.poll(flow["device_code"])
        assert answer.status_code == 200, answer.text
        return answer.json()


def error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    return str(response.json()["error"])


def test_device_flow_with_the_verification_page(serve_local: Callable[..., Any]) -> None:
    server = serve_local(env=FAST)
    add_user(server.home, "alice", "pw-a")
    base = base_of(server)
    device = Device(base)
    config = device.config
    assert config["issuer"] == f"{base}/oidc"
    for key, path in (
        ("device_authorization_endpoint", "/device"),
        ("registration_endpoint", "/register"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
    ):
        assert config[key] == f"{base}/oidc{path}"
    assert device.client["client_secret_expires_at"] == 0

    flow = device.start()
    assert flow["verification_uri"] == f"{base}/oidc/verify"
    assert flow["user_code"] in flow["verification_uri_complete"]
    assert flow["expires_in"] == 600 and flow["interval"] == 0
    assert error_of(device.poll(flow["device_code"])) == "authorization_pending"
    refused = device.approve_on_page(flow, "alice", "not it")
    assert refused.status_code == 401
    assert error_of(device.poll(flow["device_code"])) == "authorization_pending"
    assert device.approve_on_page(flow, "alice", "pw-a").status_code == 200
    tokens = device.poll(flow["device_code"])
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"]
    # A device code is good for one set of tokens only.
    assert error_of(device.poll(flow["device_code"])) == "invalid_grant"

    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    info = device.http.get(config["userinfo_endpoint"], headers=bearer)
    assert info.json()["preferred_username"] == "alice"
    assert info.json()["sub"]
    assert device.http.get(config["userinfo_endpoint"]).status_code == 401

    sessions = device.http.get(f"{server.url}/v1/session", headers=bearer)
    assert sessions.status_code == 200
    assert sessions.headers["x-vo-authenticated"] == "alice"
    # No secret is kept in the state folder as it was given.
    stored = (server.home / "signin.db").read_bytes()
    for secret in (body["access_token"], body["refresh_token"], device.client["client_secret"]):
        assert secret.encode() not in stored


def test_a_replayed_refresh_token_revokes_the_whole_grant(
    serve_local: Callable[..., Any],
) -> None:
    # Issue 17 item 14: a rotated refresh token presented again means someone else may hold
    # it: the grant ends, the newest refresh and access tokens with it.
    server = serve_local(env=FAST)
    add_user(server.home, "alice", "pw")
    device = Device(base_of(server))
    first = device.sign_in("alice", "pw")
    newest = device.refresh(first["refresh_token"]).json()
    bearer = {"Authorization": f"Bearer {newest['access_token']}"}
    assert device.http.get(f"{server.url}/v1/session", headers=bearer).status_code == 200
    assert error_of(device.refresh(first["refresh_token"])) == "invalid_grant"
    assert error_of(device.refresh(newest["refresh_token"])) == "invalid_grant"
    assert device.http.get(f"{server.url}/v1/session", headers=bearer).status_code == 401


def test_refresh_rotates_and_a_used_or_revoked_refresh_token_is_invalid_grant(
    serve_local: Callable[..., Any],
) -> None:
    server = serve_local(env=FAST)
    add_user(server.home, "alice", "pw")
    device = Device(base_of(server))
    first = device.sign_in("alice", "pw")

    second = device.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    third = device.refresh(rotated["refresh_token"])
    assert third.status_code == 200
    latest = third.json()

    # Another client cannot use alice's refresh token; a wrong secret is invalid_client.
    other = Device(base_of(server))
    assert error_of(other.refresh(latest["refresh_token"])) == "invalid_grant"
    wrong = device.http.post(
        device.config["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": latest["refresh_token"]},
        auth=(device.client["client_id"], "not the secret"),
    )
    assert wrong.status_code == 401 and error_of(wrong) == "invalid_client"
    unsupported = device.http.post(
        device.config["token_endpoint"], data={"grant_type": "password"}, auth=device.auth
    )
    assert error_of(unsupported) == "unsupported_grant_type"

    # Revoking the refresh token ends the grant: its access token too.
    bearer = {"Authorization": f"Bearer {latest['access_token']}"}
    assert device.http.get(f"{server.url}/v1/session", headers=bearer).status_code == 200
    revoked = device.http.post(
        device.config["revocation_endpoint"],
        data={"token": latest["refresh_token"]},
        auth=device.auth,
    )
    assert revoked.status_code == 200
    assert error_of(device.refresh(latest["refresh_token"])) == "invalid_grant"
    assert device.http.get(f"{server.url}/v1/session", headers=bearer).status_code == 401


def test_expired_access_token_is_401_and_refresh_gives_a_working_one(
    serve_local: Callable[..., Any],
) -> None:
    server = serve_local(env={**FAST, "CANFAR_LOCAL_ACCESS_TOKEN_SECONDS": "1"})
    add_user(server.home, "alice", "pw")
    device = Device(base_of(server))
    tokens = device.sign_in("alice", "pw")
    assert tokens["expires_in"] == 1
    url = f"{server.url}/v1/session"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    expired = wait_until(
        lambda: (r := device.http.get(url, headers=bearer)).status_code == 401 and r,
        what="the access token to expire",
    )
    assert expired and "expired" in expired.text
    fresh = device.refresh(tokens["refresh_token"]).json()
    answer = device.http.get(url, headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert answer.status_code == 200
    assert answer.headers["x-vo-authenticated"] == "alice"


def test_device_code_expires(serve_local: Callable[..., Any]) -> None:
    server = serve_local(env={**FAST, "CANFAR_LOCAL_DEVICE_CODE_SECONDS": "1"})
    device = Device(base_of(server))
    flow = device.start()
    assert flow["expires_in"] == 1
    wait_until(
        lambda: error_of(device.poll(flow["device_code"])) == "expired_token",
        what="the device code to expire",
    )
    # In-process: `local approve` as a process is test_local_approve_and_deny's.
    late = in_process(
        ["local", "approve", flow["user_code"], "--user", "alice", "--home", str(server.home)]
    )
    assert late.exit_code == 1
    assert "expired" in late.stderr


def test_slow_down_when_polling_faster_than_the_interval(
    serve_local: Callable[..., Any],
) -> None:
    server = serve_local(env={"CANFAR_LOCAL_DEVICE_INTERVAL": "60"})
    device = Device(base_of(server))
    flow = device.start()
    assert flow["interval"] == 60
    assert error_of(device.poll(flow["device_code"])) == "authorization_pending"
    assert error_of(device.poll(flow["device_code"])) == "slow_down"


def test_local_approve_and_deny(serve_local: Callable[..., Any]) -> None:
    server = serve_local(env=FAST)
    home = ["--home", str(server.home)]
    device = Device(base_of(server))

    flow = device.start()
    approved = run_canfar(["local", "approve", flow["user_code"].lower(), "--user", "bob", *home])
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == ""
    tokens = device.poll(flow["device_code"]).json()
    info = device.http.get(
        device.config["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert info.json()["preferred_username"] == "bob"
    # Approving twice and denying in-process; an approval and an unknown code (exit 4, one
    # line) as processes.
    again = in_process(["local", "approve", flow["user_code"], "--user", "bob", *home])
    assert again.exit_code == 1

    flow = device.start()
    denied = in_process(["local", "approve", flow["user_code"], "--user", "bob", "--deny", *home])
    assert denied.exit_code == 0, denied.stderr
    assert error_of(device.poll(flow["device_code"])) == "access_denied"

    unknown = run_canfar(["local", "approve", "BBBB-CCCC", "--user", "bob", *home])
    assert unknown.returncode == 4
    assert unknown.stderr.startswith("error: ")
    assert "Traceback" not in unknown.stderr


def test_sessions_of_different_users_are_separate(serve_local: Callable[..., Any]) -> None:
    server = serve_local(env=FAST)
    add_user(server.home, "alice", "pa")
    add_user(server.home, "bob", "pb")
    device = Device(base_of(server))
    alice = {"Authorization": f"Bearer {device.sign_in('alice', 'pa')['access_token']}"}
    bob = {"Authorization": f"Bearer {device.sign_in('bob', 'pb')['access_token']}"}
    api = f"{server.url}/v1/session"
    with httpx.Client(timeout=30) as http:
        made = http.post(
            api,
            data={"name": "mine", "image": IMAGE, "type": "notebook"},
            headers=alice,
        )
        assert made.status_code == 200, made.text
        session_id = made.text.strip()
        assert [s["id"] for s in http.get(api, headers=alice).json()] == [session_id]
        assert http.get(api, headers=bob).json() == []
        assert http.get(f"{api}/{session_id}", headers=bob).status_code == 404
        assert http.get(f"{api}/{session_id}", headers=alice).json()["userid"] == "alice"
        # bob's delete answers as the real server does, and removes nothing of alice's.
        http.delete(f"{api}/{session_id}", headers=bob)
        assert http.get(f"{api}/{session_id}", headers=alice).status_code == 200
        renew = http.post(f"{api}/{session_id}", data={"action": "renew"}, headers=bob)
        assert renew.status_code == 400
        assert http.delete(f"{api}/{session_id}", headers=alice).status_code == 200
        assert http.get(api, headers=alice).json() == []


def test_serve_token_and_oidc_tokens_work_side_by_side(serve_local: Callable[..., Any]) -> None:
    server = serve_local(token="serve-secret", user="owner", env=FAST)
    add_user(server.home, "alice", "pw")
    device = Device(base_of(server))
    access = device.sign_in("alice", "pw")["access_token"]
    api = f"{server.url}/v1/session"
    with httpx.Client(timeout=30) as http:
        own = http.get(api, headers={"Authorization": "Bearer serve-secret"})
        assert own.headers["x-vo-authenticated"] == "owner"
        theirs = http.get(api, headers={"Authorization": f"Bearer {access}"})
        assert theirs.headers["x-vo-authenticated"] == "alice"
        assert http.get(api, headers={"Authorization": "Bearer guess"}).status_code == 401
        assert http.get(api).status_code == 401
        # The sign-in services themselves need no serve token (as on the real platforms).
        assert http.get(f"{base_of(server)}/reg/cadc/resource-caps").status_code == 200


def test_registration_refuses_what_it_does_not_support(local_server: Any) -> None:
    base = base_of(local_server)
    with httpx.Client(timeout=30) as http:
        bad = http.post(f"{base}/oidc/register", content=b"not json")
        assert bad.status_code == 400 and error_of(bad) == "invalid_client_metadata"
        implicit = http.post(f"{base}/oidc/register", json={"grant_types": ["implicit"]})
        assert error_of(implicit) == "invalid_client_metadata"
        anonymous = http.post(f"{base}/oidc/device", data={"client_id": "x"})
        assert anonymous.status_code == 401 and error_of(anonymous) == "invalid_client"
        assert http.get(f"{base}/oidc/token").status_code == 405
        assert http.get(f"{base}/oidc/nothing").status_code == 404
    assert not os.path.exists(local_server.home / "users.json")


@pytest.mark.parametrize(
    "args",
    [["local", "users", "add", "--help"], ["local", "approve", "--help"], ["local", "--help"]],
)
def test_help_of_the_new_commands_loads_no_crypto_or_database(args: list[str]) -> None:
    probe = (
        "import atexit, sys\n"
        "heavy = ('cryptography', 'sqlite3', 'httpx', 'anyio', 'canfar_cli.local')\n"
        "atexit.register(lambda: sys.__stderr__.write("
        "'LOADED:' + ','.join(m for m in heavy if m in sys.modules) + '\\n'))\n"
        f"sys.argv = ['canfar', *{args!r}]\n"
        "from canfar_cli.cli.entry import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED:\n" in result.stderr
