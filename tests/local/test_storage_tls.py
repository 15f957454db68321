"""The storage services over HTTPS with the sign-in services' credentials: a client
certificate and an OIDC token each act as their user; no credential is anonymous (403 on homes);
every local user has a home node (storage.md §2.1, §8 point 3)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.signin import SigninPlatform, start_signin_platform, stop_signin_platform
from tests.support.storage import names


@pytest.fixture
def platform(isolated: Path) -> Iterator[SigninPlatform]:
    served = start_signin_platform(isolated, tls=True)
    yield served
    stop_signin_platform(served)


def _client(
    platform: SigninPlatform, cert: Path | None = None, token: str | None = None
) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(platform.ca_path))
    if cert is not None:
        context.load_cert_chain(str(cert))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=platform.base, verify=context, headers=headers, timeout=30)


def test_certificates_and_tokens_act_as_their_users(
    platform: SigninPlatform, tmp_path: Path
) -> None:
    pem = tmp_path / "alice.pem"
    pem.write_bytes(platform.issue_certificate("alice", expired_seconds_ago=-3600))
    bob_token = platform.tokens("bob")["access_token"]
    with _client(platform, cert=pem) as alice:
        put = alice.put("/arc/files/home/alice/mine.txt", content=b"alice's")
        assert put.status_code == 201, put.text
        assert alice.get("/arc/files/home/alice/mine.txt").content == b"alice's"
        assert {"alice", "bob"} <= set(names(alice.get("/arc/nodes/home").text))
        assert alice.put("/vault/nodes/alice/d", content=_container("alice/d")).status_code == 201
    with _client(platform, token=bob_token) as bob:
        assert bob.get("/arc/files/home/alice/mine.txt").status_code == 403
        assert bob.put("/arc/files/home/bob/b.txt", content=b"bob's").status_code == 201
        assert bob.get("/vault/nodes/alice/d").status_code == 403
    with _client(platform) as nobody:
        assert nobody.get("/arc/nodes/home").status_code == 200
        refused = nobody.get("/arc/files/home/alice/mine.txt")
        assert refused.status_code == 403 and refused.text.startswith("PermissionDenied: ")
    assert (platform.home / "home" / "alice" / "mine.txt").read_bytes() == b"alice's"


def _container(path: str) -> str:
    return (
        '<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' uri="vos://cadc.nrc.ca~vault/{path}" xsi:type="vos:ContainerNode"/>'
    )


def test_a_client_gone_mid_download_stops_the_body(
    platform: SigninPlatform, tmp_path: Path
) -> None:
    """A client that closes a big download early (ours does, to read the body on a connection
    of its own): the server stops streaming, rather than pushing the rest of the file into the
    closed TLS connection with its event loop held and a warning logged for each write."""
    import socket

    pem = tmp_path / "alice.pem"
    pem.write_bytes(platform.issue_certificate("alice", expired_seconds_ago=-3600))
    with _client(platform, cert=pem) as alice:  # alice's home exists from here on
        assert alice.get("/arc/nodes/home/alice").status_code == 200
    (platform.home / "home" / "alice" / "big.bin").write_bytes(bytes(range(256)) * (256 << 10))
    context = ssl.create_default_context(cafile=str(platform.ca_path))
    context.load_cert_chain(str(pem))
    host, port = platform.base.removeprefix("https://").rsplit(":", 1)
    with (
        socket.create_connection((host, int(port))) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET /arc/files/home/alice/big.bin HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert tls.recv(65536).startswith(b"HTTP/1.1 200")
    with _client(platform, cert=pem) as alice:  # answered once the server is free again
        assert alice.head("/arc/files/home/alice/big.bin").status_code == 200
    log = platform.server.stderr_path.read_text()
    assert "socket.send() raised" not in log and "connection is closed" not in log, log[-300:]
