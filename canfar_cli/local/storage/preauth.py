"""Pre-authorized URL tokens, shaped like cadc-permissions' TokenTool (§2.3).

    base64(meta) + "~" + base64(signature), with "/" → "-" and "+" → "_" after base64
    meta = "uri=<vos or artifact URI>&gnt=ReadGrant|WriteGrant[&sub=<user>]"

The signature is an HMAC-SHA256 with a secret of the state folder (made once, 0600), where
CANFAR signs with an RSA key pair: the same guarantees for the one server that checks them. As on
CANFAR, a token carries no expiry; it is refused (403) unless it was signed here and names exactly
the URI and the grant of the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, quote

from canfar_cli.local.storage import errors

READ = "ReadGrant"
WRITE = "WriteGrant"


def _encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").replace("/", "-").replace("+", "_")


def _decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "/").replace("_", "+"), validate=True)


class Signer:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "preauth.key"
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            try:
                self._key = self.path.read_bytes()
            except FileNotFoundError:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fresh = secrets.token_bytes(32)
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:  # another server made it first: use theirs
                    self._key = self.path.read_bytes()
                else:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(fresh)
                    self._key = fresh
        return self._key

    def token(self, uri: str, grant: str, user: str | None, **extra: str) -> str:
        """`extra` fields are signed along (vault: the node an artifact belongs to)."""
        meta = f"uri={quote(uri, safe=':/~!')}&gnt={grant}" + (f"&sub={user}" if user else "")
        meta += "".join(f"&{key}={quote(value, safe='/')}" for key, value in extra.items())
        signature = hmac.new(self.key, meta.encode("utf-8"), hashlib.sha256).digest()
        return _encode(meta.encode("utf-8")) + "~" + _encode(signature)

    def check(self, token: str, uri: str, grant: str) -> str | None:
        """The user the token was issued to (None: anonymous); 403 when it does not hold."""
        return self.fields(token, uri, grant).get("sub") or None

    def fields(self, token: str, uri: str, grant: str) -> dict[str, str]:
        """The token's signed fields; 403 when it was not signed here for `uri` and `grant`."""
        meta_part, sep, signature_part = token.partition("~")
        try:
            meta = _decode(meta_part)
            signature = _decode(signature_part)
        except (ValueError, TypeError):
            meta, signature = b"", b""
        expected = hmac.new(self.key, meta, hashlib.sha256).digest()
        if not sep or not meta or not hmac.compare_digest(signature, expected):
            raise errors.denied("invalid pre-authorized token")
        fields = dict(parse_qsl(meta.decode("utf-8", "replace"), keep_blank_values=True))
        if fields.get("uri") != uri:
            raise errors.denied(f"the pre-authorized token is not for {uri}")
        if fields.get("gnt") != grant:
            raise errors.denied(f"the pre-authorized token does not grant {grant}")
        return fields
