"""`canfar data` over HTTPS (`canfar local serve --tls`), signed in with a client certificate of
the platform's CA, and with an OIDC access token: the same files either way, `~` is the
signed-in user's home, and another user's home is refused (exit 3). With the token as a real
process (its stdout, stderr and exit codes); with the certificate in-process (Typer's CliRunner:
the same code, the same HTTPS server, one Python start instead of five)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.process import canfar_env
from tests.support.signin import SigninPlatform, start_signin_platform, stop_signin_platform

PAYLOAD = os.urandom(200_000) + b"\x00\xff"


@pytest.fixture
def platform(isolated: Path) -> Iterator[SigninPlatform]:
    started = start_signin_platform(isolated, tls=True)
    yield started
    stop_signin_platform(started)


def settings(platform: SigninPlatform, **extra: str) -> dict[str, str]:
    """The variables that point canfar at the platform (its registry, issuer and CA)."""
    base = platform.base
    return {
        "CANFAR_REGISTRY_CADC": f"{base}/reg/cadc/resource-caps",
        "CANFAR_REGISTRY_SRCNET": f"{base}/reg/srcnet/resource-caps",
        "CANFAR_OIDC_ISSUER_SRCNET": f"{base}/oidc",
        "CANFAR_CA_BUNDLE": str(platform.ca_path),
        **extra,
    }


@dataclass
class Ran:
    returncode: int
    stdout: bytes
    stderr: bytes


def as_a_process(variables: dict[str, str]) -> Callable[..., Ran]:
    def canfar(*args: str) -> Ran:
        done = subprocess.run(
            [sys.executable, "-m", "canfar_cli", *args],
            capture_output=True,
            env=canfar_env(variables),
            timeout=120,
            check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    return canfar


def in_process(
    cli, variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    def canfar(*args: str) -> Ran:
        result = cli(*args, server=None)
        return Ran(result.exit_code, result.stdout_bytes, result.stderr_bytes)

    return canfar


def round_trip(
    platform: SigninPlatform, canfar: Callable[..., Ran], flags: list[str], tmp: Path
) -> None:
    source = tmp / "x.bin"
    source.write_bytes(PAYLOAD)
    base = ["--server", platform.server.url, *flags, "data"]
    up = canfar(*base, "cp", str(source), "arc:~/x.bin")
    assert up.returncode == 0, up.stderr
    assert (platform.home / "home" / "alice" / "x.bin").read_bytes() == PAYLOAD
    listed = canfar(*base, "ls", "-q", "arc:~")
    assert listed.returncode == 0, listed.stderr
    assert b"arc:/home/alice/x.bin" in listed.stdout.splitlines()
    cat = canfar(*base, "cat", "arc:~/x.bin")
    assert cat.returncode == 0 and cat.stdout == PAYLOAD, cat.stderr
    down = canfar(*base, "cp", "arc:~/x.bin", str(tmp / "back.bin"))
    assert down.returncode == 0, down.stderr
    assert (tmp / "back.bin").read_bytes() == PAYLOAD
    # Bob's home is not alice's: refused, exit 3, one line.
    (platform.home / "home" / "bob").mkdir(parents=True, exist_ok=True, mode=0o700)
    (platform.home / "home" / "bob" / "secret.txt").write_text("bob's")
    (platform.home / "home" / "bob" / "secret.txt").chmod(0o600)
    other = canfar(*base, "cat", "arc:/home/bob/secret.txt")
    assert other.returncode == 3, other.stderr
    assert other.stdout == b"" and other.stderr.startswith(b"error: ")


def test_https_with_a_certificate(
    cli, platform: SigninPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = tmp_path / "alice.pem"
    pem.write_bytes(platform.issue_certificate("alice", expired_seconds_ago=-86400))
    pem.chmod(0o600)
    canfar = in_process(cli, settings(platform), monkeypatch)
    round_trip(platform, canfar, ["--cert", str(pem)], tmp_path)


def test_https_with_a_token(platform: SigninPlatform, tmp_path: Path) -> None:
    token = platform.tokens("alice")["access_token"]
    round_trip(platform, as_a_process(settings(platform, CANFAR_TOKEN=token)), [], tmp_path)
