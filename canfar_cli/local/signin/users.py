"""The local users file: `users.json` in the state folder, mode 0600, passwords as scrypt hashes.

    {"version": 1, "users": {"alice": {"salt": "<hex>", "hash": "<hex>", "n": 16384, "r": 8,
                                       "p": 1}}}

Written atomically under a lock, so two `canfar local users add` at once both land.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path
from typing import Any

from canfar_cli.errors import CanfarError, UsageError
from canfar_cli.files import locked
from canfar_cli.files import write_private as write_secret

FILE_NAME = "users.json"
_NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
_N, _R, _P = 1 << 14, 8, 1


def check_name(name: str) -> str:
    if not _NAME_RULE.match(name):
        raise UsageError(
            f"user name {name!r} is not usable",
            hint="use letters, digits, '.', '_' or '-' (at most 63 characters)",
        )
    return name


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


class Users:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CanfarError(f"cannot read the local users file {self.path}: {exc}") from None
        users = data.get("users") if isinstance(data, dict) else None
        return users if isinstance(users, dict) else {}

    def names(self) -> list[str]:
        return sorted(self._read())

    def exists(self, name: str) -> bool:
        return name in self._read()

    def add(self, name: str, password: str, *, cost: int = _N) -> bool:
        """Set `name`'s password (a new user or a new password); True when the user is new.
        `cost` is scrypt's N, kept with the hash (a password is checked at the cost it was
        stored with): `canfar local users add` uses the default; tests store lighter ones."""
        check_name(name)
        if not password:
            raise UsageError("the password must not be empty")
        salt = secrets.token_bytes(16)
        entry = {
            "salt": salt.hex(),
            "hash": _hash(password, salt, cost, _R, _P).hex(),
            "n": cost,
            "r": _R,
            "p": _P,
        }
        with locked(self.home / ".users.lock"):
            users = self._read()
            new = name not in users
            users[name] = entry
            body = json.dumps({"version": 1, "users": users}, indent=1, sort_keys=True)
            write_secret(self.path, body.encode("utf-8") + b"\n")
        return new

    def check(self, name: str, password: str) -> bool:
        """True when `name` exists and `password` is theirs (constant-time comparison)."""
        entry = self._read().get(name)
        if not isinstance(entry, dict):
            # Same work either way, so an unknown name takes as long as a wrong password.
            _hash(password, b"\0" * 16, _N, _R, _P)
            return False
        try:
            salt = bytes.fromhex(entry["salt"])
            expected = bytes.fromhex(entry["hash"])
            got = _hash(password, salt, int(entry["n"]), int(entry["r"]), int(entry["p"]))
        except (KeyError, TypeError, ValueError):
            return False
        return hmac.compare_digest(got, expected)
