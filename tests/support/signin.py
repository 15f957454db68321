"""The real local sign-in services (`canfar local serve`) for the sign-in tests, and the few
test controls they need (the user code of a pending device login, expiring access tokens, the
count of refresh grants), read from or written to the server's own state.

`start_signin_platform(tmp_path, tls=..., env=...)` serves a platform whose state folder is NOT
canfar's own (`CANFAR_LOCAL_HOME`): canfar cannot find its serve token, so the skaha API takes
only a sign-in's credentials (an OIDC access token, or over --tls a certificate of its CA).
Users `alice` (password `wonderland`) and `bob` (`builder`) exist (light hashes: `add_users`);
the device flow's interval is 0. `point_canfar_at(platform, monkeypatch)` sets the registries,
issuer and CA bundle.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import sqlite3
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from .loopback import LocalServer, kill_platform_processes, start_local_server

USERS = {"alice": "wonderland", "bob": "builder"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _local(*args: str, input: str | None = None) -> str:
    from canfar_cli.cli.main import app

    result = CliRunner().invoke(app, ["local", *args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@dataclass
class SigninPlatform:
    server: LocalServer
    home: Path  # its state folder

    @property
    def base(self) -> str:
        """scheme://127.0.0.1:PORT"""
        return self.server.url.removesuffix("/skaha")

    @property
    def ca_path(self) -> Path:
        return Path(_local("ca-path", "--home", str(self.home)).strip())

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.home / "signin.db", timeout=10, isolation_level=None)
        try:
            yield connection
        finally:
            connection.close()

    def _verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    # --- test controls ---------------------------------------------------------------------

    def approve(self, user_code: str, user: str = "alice", deny: bool = False) -> None:
        """What `canfar local approve CODE --user USER [--deny]` does, through the provider
        itself: tests call it from a thread while a `canfar login` runs in-process, where a
        second CliRunner invocation would swap sys.stdout/sys.stderr under the login's, and a
        process of its own cost ~0.15 s of CPU a call. The command is proven as a process by
        tests/local/test_signin_services.py::test_local_approve_and_deny and the device logins
        of tests/cli/test_signin_e2e.py."""
        from canfar_cli.local.signin.oidc import Provider
        from canfar_cli.local.signin.settings import SigninSettings

        Provider(self.home, SigninSettings()).decide(user_code, user, approve=not deny)

    def pending_code(self) -> str | None:
        """The user code of a pending device login, if any."""
        if not (self.home / "signin.db").exists():
            return None
        with self._db() as db, contextlib.suppress(sqlite3.OperationalError):
            row = db.execute("SELECT user_code FROM devices WHERE status = 'pending'").fetchone()
            return str(row[0]) if row else None
        return None

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is past its expiry (refresh tokens stay good)."""
        with self._db() as db:
            db.execute("UPDATE tokens SET expires = ? WHERE kind = 'access'", (time.time() - 1,))

    def refresh_count(self) -> int:
        """How many refresh grants were made (each rotates, marking its refresh token used)."""
        if not (self.home / "signin.db").exists():
            return 0
        with self._db() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM tokens WHERE kind = 'refresh' AND state = 'used'"
            ).fetchone()
            return int(row[0])

    def refresh_token_good(self, refresh_token: str) -> bool:
        """Whether the provider would still take `refresh_token` (not used, not revoked)."""
        key = hashlib.sha256(refresh_token.encode()).hexdigest()  # as the provider keeps it
        with self._db() as db:
            row = db.execute(
                "SELECT state, expires FROM tokens WHERE token_hash = ? AND kind = 'refresh'",
                (key,),
            ).fetchone()
        return row is not None and row[0] == "active" and row[1] > time.time()

    def issue_certificate(self, user: str, *, expired_seconds_ago: float) -> bytes:
        """A cadcproxy.pem of this platform's CA for `user`, expired `expired_seconds_ago`."""
        from canfar_cli.local.signin.ca import LocalCA

        start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
        lifetime = 2 * 86400 - expired_seconds_ago
        return bytes(
            LocalCA.load_or_create(self.home).issue_client(user, lifetime, not_before=start)
        )

    def tokens(self, user: str = "alice") -> dict[str, Any]:
        """A client registered over HTTP and a device login of `user` through it: the token
        answer plus `client_id` and `client_secret`."""
        import httpx

        with httpx.Client(base_url=f"{self.base}/oidc", verify=self._verify()) as http:
            client = http.post("/register", json={"grant_types": [DEVICE_GRANT, "refresh_token"],
                                                  "client_name": "test"}).json()  # fmt: skip
            auth = (client["client_id"], client["client_secret"])
            device = http.post("/device", data={"scope": "openid"}, auth=auth).json()
            self.approve(device["user_code"], user)
            answer = http.post(
                "/token",
                data={"grant_type": DEVICE_GRANT, "device_code": device["device_code"]},
                auth=auth,
            )
            assert answer.status_code == 200, answer.text
            return {**answer.json(), **client}

    def revoke(self, refresh_token: str, client_id: str, client_secret: str) -> None:
        """RFC 7009 at BASE/oidc/revoke: the whole grant (its access tokens too) is revoked."""
        import httpx

        answer = httpx.post(f"{self.base}/oidc/revoke", data={"token": refresh_token},
                            auth=(client_id, client_secret), verify=self._verify())  # fmt: skip
        assert answer.status_code == 200, answer.text


def start_signin_platform(
    tmp_path: Path,
    *,
    tls: bool = False,
    env: dict[str, str] | None = None,
    home: Path | None = None,
    same_port: bool = False,
) -> SigninPlatform:
    """`home`: its state folder (default one canfar does not look in); `same_port`: the port
    that state folder's last server had (see start_local_server)."""
    home = home or tmp_path / "signin-platform"
    settings = {"CANFAR_LOCAL_DEVICE_INTERVAL": "0", **(env or {})}
    server = start_local_server(tmp_path, home=home, tls=tls, env=settings, same_port=same_port)
    add_users(home)
    return SigninPlatform(server=server, home=home)


# The scrypt cost of these tests' users: `canfar local users add` hashes with N=2**14 (~50 ms of
# CPU a password), which the server pays again at every sign-in; the users file keeps N with
# each hash, and the server checks a password by what is stored with it.
TEST_SCRYPT_N = 16


def add_users(home: Path, given: dict[str, str] | None = None) -> None:
    """Users (name: password; default USERS) in the state folder `home`, through the users file's
    own code with a light scrypt cost (TEST_SCRYPT_N), so that a sign-in costs the server
    microseconds; users already there are kept. The command that adds users, and sign-ins at
    the product's cost, are proven by
    tests/local/test_signin_services.py::test_users_add_stores_only_a_hash_in_a_private_file (a
    process) and tests/cli/test_signin_e2e.py (its users added in-process)."""
    from canfar_cli.local.signin.users import Users

    users = Users(home)
    for name, password in (given or USERS).items():
        users.add(name, password, cost=TEST_SCRYPT_N)


def stop_signin_platform(platform: SigninPlatform) -> None:
    platform.server.stop()
    kill_platform_processes(platform.home)


def point_canfar_at(platform: SigninPlatform, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings that point canfar at the platform's registries, issuer and CA."""
    base = platform.base
    monkeypatch.setenv("CANFAR_REGISTRY_CADC", f"{base}/reg/cadc/resource-caps")
    monkeypatch.setenv("CANFAR_REGISTRY_SRCNET", f"{base}/reg/srcnet/resource-caps")
    monkeypatch.setenv("CANFAR_OIDC_ISSUER_SRCNET", f"{base}/oidc")
    monkeypatch.setenv("CANFAR_CA_BUNDLE", str(platform.ca_path))


def read_auth() -> dict[str, Any]:
    """The sign-in store (auth.json) as JSON: what tests look at."""
    from canfar_cli.auth.state import store_path

    return dict(json.loads(store_path().read_text()))


def write_auth(values: dict[str, Any]) -> None:
    """Write the sign-in store (auth.json, 0600) as a test's starting point."""
    from canfar_cli import files
    from canfar_cli.auth.state import store_path

    files.write_private(store_path(), json.dumps({"version": 1, **values}))
