"""An OAuth 2.0 / OpenID Connect provider for the local platform, shaped like SRCNet's IAM.

Issuer `BASE/oidc`. The state (clients, device codes, tokens) is a small SQLite file,
`signin.db` in the state folder, so `canfar local approve` (another process) can approve a device
code, and several servers on one state folder agree. Secrets are never stored: client secrets,
device codes and tokens are kept as SHA-256 digests (they are long random strings, so a plain
digest is enough); user codes are short and stored as they are, only while pending.

Tokens are opaque random strings. A refresh grant rotates the refresh token: the old one is
marked used, and presenting it again is `invalid_grant`. Revoking a refresh token (RFC 7009,
`/oidc/revoke`) revokes its whole grant, access tokens included, and so does presenting a
rotated (used) refresh token again. Revoking a pending device code removes it (a client that
gives up, e.g. on Ctrl-C, leaves no code behind).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from canfar_cli.local.signin.settings import SigninSettings

DB_NAME = "signin.db"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words, no 0/O or 1/I mix-ups
DEFAULT_SCOPE = "openid profile email offline_access"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires REAL NOT NULL,
    interval INTEGER NOT NULL,
    last_poll REAL,
    status TEXT NOT NULL,
    user TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_grant ON tokens (grant_id);
"""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def subject_of(user: str) -> str:
    """A stable `sub` for a user name (IAM's are UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"canfar-local:{user}"))


def normalise_user_code(code: str) -> str:
    letters = "".join(c for c in code.upper() if c.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


class OAuthError(Exception):
    """An RFC 6749/8628 error answer: status, `error` code, description."""

    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class TokenRejected(Exception):
    """A token this provider issued that is no longer good (expired or revoked)."""


class DeviceCodeError(Exception):
    """`approve`/`deny` of a user code that is unknown (`unknown`), expired or already decided."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Provider:
    home: Path
    settings: SigninSettings

    @property
    def path(self) -> Path:
        return self.home / DB_NAME

    @contextlib.contextmanager
    def db(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    # --- discovery and registration ---------------------------------------------------------

    @staticmethod
    def discovery(issuer: str) -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "device_authorization_endpoint": f"{issuer}/device",
            "registration_endpoint": f"{issuer}/register",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "revocation_endpoint": f"{issuer}/revoke",
            "grant_types_supported": [DEVICE_GRANT, "refresh_token"],
            "response_types_supported": ["token"],
            "scopes_supported": DEFAULT_SCOPE.split(),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "preferred_username"],
        }

    def register(self, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_client_metadata", "the body is not JSON") from None
        if not isinstance(request, dict):
            raise OAuthError("invalid_client_metadata", "the body is not a JSON object")
        grants = request.get("grant_types", [DEVICE_GRANT, "refresh_token"])
        if (
            not isinstance(grants, list)
            or not all(isinstance(grant, str) for grant in grants)
            or not set(grants) <= {DEVICE_GRANT, "refresh_token"}
        ):
            raise OAuthError(
                "invalid_client_metadata", "grant_types: only the device code and refresh_token"
            )
        method = request.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in ("client_secret_basic", "client_secret_post"):
            raise OAuthError("invalid_client_metadata", f"unsupported auth method {method!r}")
        name = str(request.get("client_name") or "client")[:200]
        scope = str(request.get("scope") or DEFAULT_SCOPE)
        client_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        with self.db(write=True) as db:
            db.execute(
                "INSERT INTO clients VALUES (?, ?, ?, ?, ?)",
                (client_id, digest(secret), name, scope, time.time()),
            )
        return {
            "client_id": client_id,
            "client_secret": secret,
            "client_secret_expires_at": 0,
            "client_id_issued_at": int(time.time()),
            "client_name": name,
            "grant_types": grants,
            "response_types": ["token"],
            "token_endpoint_auth_method": method,
            "scope": scope,
        }

    # --- client authentication ---------------------------------------------------------------

    def client(self, headers: dict[str, str], form: dict[str, str]) -> str:
        """The client id of a request with good client credentials (Basic, or in the form)."""
        client_id = secret = None
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            raw_id, sep, raw_secret = decoded.partition(":")
            if sep:  # RFC 6749 2.3.1: both parts are form-urlencoded
                client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        elif form.get("client_secret"):
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if not client_id or secret is None:
            raise OAuthError("invalid_client", "client authentication is required", 401)
        with self.db(write=False) as db:
            row = db.execute(
                "SELECT secret_hash FROM clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        if row is None or not secrets.compare_digest(row["secret_hash"], digest(secret)):
            raise OAuthError("invalid_client", "unknown client or wrong secret", 401)
        return client_id

    # --- device authorization --------------------------------------------------------------

    def device(self, client_id: str, scope: str | None, issuer: str) -> dict[str, Any]:
        device_code = secrets.token_urlsafe(32)
        expires_in = int(self.settings.device_code_seconds)
        interval = self.settings.device_interval
        with self.db(write=True) as db:
            for _ in range(20):
                letters = "".join(secrets.choice(USER_CODE_LETTERS) for _ in range(8))
                user_code = f"{letters[:4]}-{letters[4:]}"
                try:
                    db.execute(
                        "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, NULL, 'pending', NULL)",
                        (
                            digest(device_code),
                            user_code,
                            client_id,
                            scope or DEFAULT_SCOPE,
                            time.time() + self.settings.device_code_seconds,
                            interval,
                        ),
                    )
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - 20 collisions in 20^8 codes
                raise OAuthError("server_error", "no free user code", 500)
        verify = f"{issuer}/verify"
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verify,
            "verification_uri_complete": f"{verify}?user_code={user_code}",
            "expires_in": expires_in,
            "interval": interval,
        }

    def decide(self, user_code: str, user: str, *, approve: bool) -> None:
        """Approve (or deny) a pending user code for `user`."""
        code = normalise_user_code(user_code)
        with self.db(write=True) as db:
            row = db.execute("SELECT * FROM devices WHERE user_code = ?", (code,)).fetchone()
            if row is None:
                raise DeviceCodeError("unknown", f"no pending device code {code or user_code!r}")
            if row["status"] != "pending":
                raise DeviceCodeError("decided", f"device code {code} was already {row['status']}")
            if time.time() > row["expires"]:
                raise DeviceCodeError("expired", f"device code {code} has expired")
            db.execute(
                "UPDATE devices SET status = ?, user = ? WHERE device_hash = ?",
                ("approved" if approve else "denied", user, row["device_hash"]),
            )

    def pending(self, user_code: str) -> bool:
        code = normalise_user_code(user_code)
        with self.db(write=False) as db:
            row = db.execute(
                "SELECT status, expires FROM devices WHERE user_code = ?", (code,)
            ).fetchone()
        return row is not None and row["status"] == "pending" and time.time() <= row["expires"]

    # --- token endpoint -------------------------------------------------------------------

    def token(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant == DEVICE_GRANT:
            return self._device_grant(client_id, form.get("device_code", ""))
        if grant == "refresh_token":
            return self._refresh_grant(client_id, form.get("refresh_token", ""))
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        raise OAuthError("unsupported_grant_type", f"grant type {grant!r} is not supported")

    def _device_grant(self, client_id: str, device_code: str) -> dict[str, Any]:
        answer = self._poll(client_id, device_code)
        if isinstance(answer, OAuthError):
            raise answer
        return answer

    def _poll(self, client_id: str, device_code: str) -> dict[str, Any] | OAuthError:
        if not device_code:
            raise OAuthError("invalid_request", "device_code is required")
        now = time.time()
        with self.db(write=True) as db:
            row = db.execute(
                "SELECT * FROM devices WHERE device_hash = ?", (digest(device_code),)
            ).fetchone()
            if row is None or row["client_id"] != client_id:
                raise OAuthError("invalid_grant", "unknown device code")
            status = row["status"]
            if status == "used":
                raise OAuthError("invalid_grant", "the device code was already used")
            if status == "denied":
                raise OAuthError("access_denied", "the user denied the request")
            if now > row["expires"]:
                raise OAuthError("expired_token", "the device code has expired")
            if status == "pending":
                # The poll is recorded (committed) and the answer is an error, raised below.
                last, interval = row["last_poll"], row["interval"]
                if last is not None and interval > 0 and now - last < interval / 2:
                    interval += 5
                    waiting = OAuthError("slow_down", "polling too fast: add 5 seconds")
                else:
                    waiting = OAuthError("authorization_pending", "the user has not answered")
                db.execute(
                    "UPDATE devices SET last_poll = ?, interval = ? WHERE device_hash = ?",
                    (now, interval, row["device_hash"]),
                )
                return waiting
            db.execute(
                "UPDATE devices SET status = 'used' WHERE device_hash = ?", (row["device_hash"],)
            )
            return self._issue(db, client_id, row["user"], row["scope"], secrets.token_hex(16))

    def _refresh_grant(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        with self.db(write=True) as db:
            row = db.execute(
                "SELECT * FROM tokens WHERE token_hash = ? AND kind = 'refresh'",
                (digest(refresh_token),),
            ).fetchone()
            if row is None or row["client_id"] != client_id:
                raise OAuthError("invalid_grant", "unknown refresh token")
            if row["state"] == "used":
                # Replayed: someone else may hold it. The whole grant ends, the newest tokens
                # too (OAuth 2.0 Security BCP, refresh token rotation).
                db.execute(
                    "UPDATE tokens SET state = 'revoked' WHERE grant_id = ?", (row["grant_id"],)
                )
                replayed = True
            elif row["state"] != "active":
                raise OAuthError("invalid_grant", "the refresh token was revoked")
            else:
                replayed = False
            if not replayed:
                if time.time() > row["expires"]:
                    raise OAuthError("invalid_grant", "the refresh token has expired")
                db.execute(
                    "UPDATE tokens SET state = 'used' WHERE token_hash = ?", (row["token_hash"],)
                )
                return self._issue(db, client_id, row["user"], row["scope"], row["grant_id"])
        raise OAuthError(
            "invalid_grant", "the refresh token was already used: its whole grant is revoked"
        )

    def _issue(
        self, db: sqlite3.Connection, client_id: str, user: str, scope: str, grant_id: str
    ) -> dict[str, Any]:
        now = time.time()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        s = self.settings
        for value, kind, lifetime in (
            (access, "access", s.access_token_seconds),
            (refresh, "refresh", s.refresh_token_seconds),
        ):
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, 'active')",
                (digest(value), kind, grant_id, client_id, user, scope, now + lifetime),
            )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(s.access_token_seconds),
            "refresh_token": refresh,
            "scope": scope,
        }

    def revoke(self, client_id: str, token: str) -> None:
        """RFC 7009: a refresh token revokes its whole grant; an access token only itself.
        Unknown tokens (or another client's) are ignored, as the RFC asks."""
        with self.db(write=True) as db:
            # A device code (token_type_hint=device_code): the client abandons that sign-in.
            db.execute(
                "DELETE FROM devices"
                " WHERE device_hash = ? AND client_id = ? AND status = 'pending'",
                (digest(token), client_id),
            )
            row = db.execute(
                "SELECT * FROM tokens WHERE token_hash = ?", (digest(token),)
            ).fetchone()
            if row is None or row["client_id"] != client_id:
                return
            if row["kind"] == "refresh":
                db.execute(
                    "UPDATE tokens SET state = 'revoked' WHERE grant_id = ?", (row["grant_id"],)
                )
            else:
                db.execute(
                    "UPDATE tokens SET state = 'revoked' WHERE token_hash = ?", (row["token_hash"],)
                )

    # --- using an access token ---------------------------------------------------------------

    def user_of(self, access_token: str) -> str | None:
        """The user of an access token issued here; None when it was never issued here;
        TokenRejected when it has expired or was revoked."""
        if not self.path.exists():
            return None
        with self.db(write=False) as db:
            row = db.execute(
                "SELECT user, expires, state FROM tokens WHERE token_hash = ? AND kind = 'access'",
                (digest(access_token),),
            ).fetchone()
        if row is None:
            return None
        if row["state"] != "active":
            raise TokenRejected("the access token was revoked")
        if time.time() > row["expires"]:
            raise TokenRejected("the access token has expired")
        return str(row["user"])
