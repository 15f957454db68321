"""The proxy certificate really is presented as the TLS client certificate.

A uvicorn server on loopback that requires a client certificate (signed by the user's own
self-signed one) answers only a session holding it; without it the handshake fails and the user
gets one clear line, exit 5.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from canfar_cli import Session
from canfar_cli.errors import UnreachableError
from canfar_cli.http import RetryPolicy
from tests.support.tiers import shared_processes

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing")
QUICK = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01)


def self_signed(directory: Path, name: str, *extra: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert), *extra],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


async def app(scope: dict, receive: object, send: object) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"[]"})  # type: ignore[operator]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The server's and the user's keys and certificates, made once for the module (an RSA key
    costs openssl ~0.2 s of CPU); the tests only read them."""
    folder = tmp_path_factory.mktemp("tls")
    with shared_processes():  # openssl, for the module (tests/support/tiers.py)
        server_key, server_cert = self_signed(
            folder, "server", "-addext", "subjectAltName=IP:127.0.0.1"
        )
        user_key, user_cert = self_signed(folder, "alice")
    proxy = folder / "cadcproxy.pem"  # certificate and key in one PEM, as cadc-get-cert makes
    proxy.write_text(user_cert.read_text() + user_key.read_text())
    return {"server_key": server_key, "server_cert": server_cert, "user_cert": user_cert,
            "proxy": proxy}  # fmt: skip


@pytest.fixture
def tls_server(
    keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path]]:
    import uvicorn

    server_key, server_cert = keys["server_key"], keys["server_cert"]
    user_cert, proxy = keys["user_cert"], keys["proxy"]
    monkeypatch.setenv("SSL_CERT_FILE", str(server_cert))  # trust the test server
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_level="critical",
        lifespan="off",
        ssl_keyfile=str(server_key),
        ssl_certfile=str(server_cert),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_ca_certs=str(user_cert),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "TLS server did not start"
        time.sleep(0.01)
    yield f"https://127.0.0.1:{sock.getsockname()[1]}/skaha", proxy
    server.should_exit = True
    thread.join(timeout=10)


def test_the_certificate_opens_the_door(tls_server: tuple[str, Path]) -> None:
    url, proxy = tls_server
    with Session(server=url, certificate=str(proxy), retry=QUICK) as session:
        assert session.fetch() == []


def test_without_it_the_door_stays_shut(tls_server: tuple[str, Path]) -> None:
    url, _proxy = tls_server
    with Session(server=url, retry=QUICK) as session, pytest.raises(UnreachableError) as caught:
        session.fetch()
    assert url in caught.value.message and caught.value.exit_code == 5
