"""A test-only imitation of the sign-in services, speaking exactly the agreed wire formats
(/work/shared/sign-in.md and the agreed local endpoints): registries, VOSI capabilities, the CADC
credential service (real X.509 certificates from a CA made here), an OIDC provider with the device
flow, and a minimal skaha `GET /skaha/v1/session` that checks the bearer token.

It exists until the real local services (`canfar local serve`, branch signin-local) are merged;
the end-to-end tests marked `signin_e2e` use those. Served by uvicorn on loopback in a thread.
With `tls=True` the skaha API is served from a second, HTTPS-only server that requires a client
certificate signed by the fake's CA (the registry then points there).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

USERS = {"alice": "wonderland", "bob": "builder"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


# --- a small CA ---------------------------------------------------------------------------------


class CA:
    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake test CA")])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=60))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = folder / "fake-ca.pem"
        self.path.write_bytes(self.pem(self.cert))

    @staticmethod
    def pem(obj: Any) -> bytes:
        from cryptography.hazmat.primitives import serialization

        if hasattr(obj, "public_bytes") and hasattr(obj, "subject"):
            return obj.public_bytes(serialization.Encoding.PEM)
        return obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def issue(self, cn: str, *, seconds: float, server: bool = False) -> bytes:
        """A PEM with certificate, private key and the CA's certificate (as a cred service)."""
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=2))
            .not_valid_after(now + dt.timedelta(seconds=seconds))
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return self.pem(cert) + self.pem(key) + self.pem(self.cert)


# --- the services -------------------------------------------------------------------------------


def _capabilities(*capabilities: tuple[str, str, list[str], str]) -> bytes:
    parts = []
    for standard, url, methods, use in capabilities:
        security = "".join(f'<securityMethod standardID="{m}"/>' for m in methods)
        parts.append(
            f'<capability standardID="{standard}"><interface xsi:type="vs:ParamHTTP">'
            f'<accessURL use="{use}">{url}</accessURL>{security}</interface></capability>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"'
        ' xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"'
        ' xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        + "".join(parts)
        + "</vosi:capabilities>"
    ).encode()


@dataclass
class FakeSignin:
    base: str = ""
    skaha_base: str = ""  # where the registry says the skaha API is (https with tls=True)
    ca: CA | None = None
    access_seconds: float = 3600
    device_seconds: float = 600
    interval: float = 0
    cert_seconds: float = 30 * 86400
    registry_garbage: bool = False
    extra_srcnet: list[str] = field(default_factory=list)
    slow_seconds: float = 30
    clients: dict[str, str] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (user, expiry)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    refresh_count: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)  # what GET /session lists

    # test controls
    def approve(
        self, user_code: str | None = None, user: str = "alice", deny: bool = False
    ) -> None:
        for device in self.devices.values():
            if user_code is None or device["user_code"] == user_code:
                device["state"] = "denied" if deny else "approved"
                device["user"] = user

    def expire_access_tokens(self) -> None:
        for token, (user, _) in list(self.access.items()):
            self.access[token] = (user, time.time() - 1)

    def revoke_refresh_tokens(self) -> None:
        self.refresh.clear()

    # the ASGI app
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode())
        self.requests.append((scope["method"], scope["path"], headers))
        status, ctype, payload = await self.route(
            scope["method"], scope["path"], headers, query, body
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype.encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _basic(self, headers: dict[str, str]) -> tuple[str, str] | None:
        value = headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password

    def _json(self, status: int, value: Any) -> tuple[int, str, bytes]:
        return status, "application/json", json.dumps(value).encode()

    def _bearer_user(self, headers: dict[str, str]) -> str | None:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        user, expiry = self.access.get(token, ("", 0.0))
        return user if expiry > time.time() else None

    def _tokens(self, user: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access[access] = (user, time.time() + self.access_seconds)
        self.refresh[refresh] = user
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.access_seconds,
            "scope": "openid",
        }

    async def route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        query: dict[str, list[str]],
        body: bytes,
    ) -> tuple[int, str, bytes]:
        b = self.base
        text = "text/plain"
        if path == "/reg/cadc/resource-caps":
            if self.registry_garbage:
                return 200, "text/html", b"<html><body>maintenance</body></html>"
            lines = [
                f"ivo://cadc.nrc.ca/cred = {b}/cred/capabilities",
                f"ivo://cadc.nrc.ca/skaha = {self.skaha_base}/capabilities",
                f"ivo://cadc.nrc.ca/arc = {b}/arc/capabilities",
            ]
            return 200, text, ("# fake\n" + "\n".join(lines) + "\n").encode()
        if path == "/reg/srcnet/resource-caps":
            lines = [
                f"ivo://canfar.net/src/skaha = {self.skaha_base}/capabilities",
                *self.extra_srcnet,
            ]
            return 200, text, ("\n".join(lines) + "\n").encode()
        if path == "/skaha/capabilities":
            return (
                200,
                "text/xml",
                _capabilities(
                    (
                        "http://www.opencadc.org/std/platform#session-1",
                        f"{self.skaha_base}/v1/session",
                        ["ivo://ivoa.net/sso#tls-with-certificate", "ivo://ivoa.net/sso#token"],
                        "base",
                    )
                ),
            )
        if path.startswith("/slow/"):
            await asyncio.sleep(self.slow_seconds)
            return 200, text, b""
        if path == "/cred/capabilities":
            return (
                200,
                "text/xml",
                _capabilities(
                    (
                        "ivo://ivoa.net/std/CDP#proxy-1.0",
                        f"{b}/cred/priv/proxy",
                        ["ivo://ivoa.net/sso#BasicAA"],
                        "full",
                    )
                ),
            )
        if path == "/cred/priv/proxy":
            auth = self._basic(headers)
            if auth is None or USERS.get(auth[0]) != auth[1]:
                return 401, text, b"wrong user name or password\n"
            days = min(30, int(query.get("daysValid", ["30"])[0]))
            assert self.ca is not None
            return 200, text, self.ca.issue(auth[0], seconds=min(days * 86400, self.cert_seconds))
        if path == "/oidc/.well-known/openid-configuration":
            return self._json(
                200,
                {
                    "issuer": f"{b}/oidc",
                    "device_authorization_endpoint": f"{b}/oidc/device",
                    "registration_endpoint": f"{b}/oidc/register",
                    "token_endpoint": f"{b}/oidc/token",
                    "userinfo_endpoint": f"{b}/oidc/userinfo",
                },
            )
        if path == "/oidc/register" and method == "POST":
            request = json.loads(body)
            assert DEVICE_GRANT in request["grant_types"]
            client_id, secret = secrets.token_hex(8), secrets.token_urlsafe(16)
            self.clients[client_id] = secret
            return self._json(
                201,
                {"client_id": client_id, "client_secret": secret, "client_secret_expires_at": 0},
            )
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client = self._basic(headers)
        client_ok = client is not None and self.clients.get(client[0]) == client[1]
        if path == "/oidc/device" and method == "POST":
            if not client_ok:
                return self._json(401, {"error": "invalid_client"})
            code, user_code = secrets.token_urlsafe(16), secrets.token_hex(4).upper()
            self.devices[code] = {
                "user_code": user_code,
                "state": "pending",
                "expires": time.time() + self.device_seconds,
            }
            return self._json(
                200,
                {
                    "device_code": code,
                    "user_code": user_code,
                    "verification_uri": f"{b}/oidc/verify",
                    "verification_uri_complete": f"{b}/oidc/verify?code={user_code}",
                    "expires_in": self.device_seconds,
                    "interval": self.interval,
                },
            )
        if path == "/oidc/token" and method == "POST":
            if not client_ok:
                return self._json(401, {"error": "invalid_client"})
            if form.get("grant_type") == DEVICE_GRANT:
                device = self.devices.get(form.get("device_code", ""))
                if device is None or device["expires"] < time.time():
                    return self._json(400, {"error": "expired_token"})
                if device["state"] == "denied":
                    return self._json(400, {"error": "access_denied"})
                if device["state"] == "pending":
                    return self._json(400, {"error": "authorization_pending"})
                del self.devices[form["device_code"]]
                return self._json(200, self._tokens(device["user"]))
            if form.get("grant_type") == "refresh_token":
                user = self.refresh.pop(form.get("refresh_token", ""), None)
                if user is None:
                    return self._json(400, {"error": "invalid_grant"})
                self.refresh_count += 1
                return self._json(200, self._tokens(user))
            return self._json(400, {"error": "unsupported_grant_type"})
        if path == "/oidc/userinfo":
            user = self._bearer_user(headers)
            if user is None:
                return self._json(401, {"error": "invalid_token"})
            return self._json(200, {"sub": f"sub-{user}", "preferred_username": user})
        if path.startswith("/skaha/v1/session/") and method == "GET":
            session_id = path.rsplit("/", 1)[-1]
            if session_id == "revoke":  # the sign-in is revoked while a batch is under way
                self.expire_access_tokens()
                self.revoke_refresh_tokens()
            if self._bearer_user(headers) is None:
                return 401, text, b"token invalid or expired\n"
            return 200, text, f"log of {session_id}\n".encode()
        if path == "/skaha/v1/session" and method == "GET":
            # Over TLS the handshake already proved a certificate of our CA.
            if self._bearer_user(headers) is None and not self.skaha_base.startswith("https"):
                return 401, text, b"token invalid or expired\n"
            return self._json(200, self.sessions)
        return 404, text, b"not found\n"


def _serve(app: Any, **ssl_options: Any) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="critical", lifespan="off", **ssl_options)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake sign-in server did not start")
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


def run_fake(folder: Path, *, tls: bool = False) -> Iterator[FakeSignin]:
    """Start the fake (and its HTTPS skaha with tls=True); yields it; stops it."""
    fake = FakeSignin(ca=CA(folder))
    servers = [_serve(fake)]
    fake.base = f"http://127.0.0.1:{servers[0][2]}"
    fake.skaha_base = f"{fake.base}/skaha"
    if tls:
        assert fake.ca is not None
        server_pem = folder / "fake-server.pem"
        server_pem.write_bytes(fake.ca.issue("127.0.0.1", seconds=86400, server=True))
        servers.append(
            _serve(
                fake,
                ssl_keyfile=str(server_pem),
                ssl_certfile=str(server_pem),
                ssl_cert_reqs=ssl.CERT_REQUIRED,
                ssl_ca_certs=str(fake.ca.path),
            )
        )
        fake.skaha_base = f"https://127.0.0.1:{servers[1][2]}/skaha"
    try:
        yield fake
    finally:
        for server, thread, _port in servers:
            server.should_exit = True
            thread.join(timeout=10)


def point_canfar_at(fake: FakeSignin, monkeypatch: Any) -> None:
    """The settings the agreed local services use, pointing at this fake."""
    monkeypatch.setenv("CANFAR_REGISTRY_CADC", f"{fake.base}/reg/cadc/resource-caps")
    monkeypatch.setenv("CANFAR_REGISTRY_SRCNET", f"{fake.base}/reg/srcnet/resource-caps")
    monkeypatch.setenv("CANFAR_OIDC_ISSUER_SRCNET", f"{fake.base}/oidc")
    assert fake.ca is not None
    monkeypatch.setenv("CANFAR_CA_BUNDLE", str(fake.ca.path))
