"""The sign-in state: who is signed in with what, the platforms found, the active choices.

The one module that knows the layout of the sign-in store, `auth.json` in the config folder
(CANFAR_CONFIG_DIR respected), and that reads the official client's `~/.canfar/config.yaml` in
(canfar's own entries first). A command loads the state once (`SigninState.load()`) and hands it
down; a change is made with `update(change)`, which re-reads under the store's lock, applies the
change to that fresh state and writes it whole.

The store holds the SRCNet client and tokens (secrets): it is written mode 0600 from its first
byte, atomically (temporary file, fsync, rename), and every read-modify-write holds an exclusive
lock on `auth.json.lock`, so two canfar processes (two refreshes at once) never lose a change.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from canfar_cli.errors import CredentialError

VERSION = 1
IDENTITIES = ("cadc", "srcnet")
LOGIN_AGAIN = "sign out and in again: `canfar auth logout` then `canfar login`"
T = TypeVar("T")


def store_path() -> Path:
    from canfar_cli.config import config_dir

    return config_dir() / "auth.json"


@dataclass
class Platform:
    name: str
    url: str  # the unversioned base, e.g. https://host/skaha
    identity: str  # the identity provider whose registry lists it: cadc or srcnet
    uri: str = ""
    status: str = "unknown"  # reachable, timed out, refused, unknown (not asked)
    detail: str = ""
    version: str = "v1"
    auth: list[str] = field(default_factory=list)  # certificate, token

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CadcSignin:
    certificate: str  # the PEM's path
    written: bool = False  # canfar wrote it (so `auth logout` removes it)
    registry: str = ""  # the registry signed in with
    source: str = "canfar"  # or "official" (~/.canfar/config.yaml)


@dataclass
class SrcnetSignin:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    issuer: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    user: str = ""
    registry: str = ""
    source: str = "canfar"  # or "official"

    def fresh(self, margin: float) -> bool:
        return self.expires_at - time.time() > margin

    @property
    def renewable(self) -> bool:
        return bool(self.refresh_token and self.token_endpoint)


@dataclass
class SigninState:
    cadc: CadcSignin | None = None
    srcnet: SrcnetSignin | None = None
    srcnet_signed_out: bool = False  # the official client's tokens are not picked up either
    platforms: dict[str, Platform] = field(default_factory=dict)
    active_identity: str | None = None
    active_platform: str | None = None
    # What the official client's file adds where canfar has nothing of its own (never written).
    official: SigninState | None = field(default=None, repr=False)
    path: Path | None = field(default=None, repr=False)

    # --- reading -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None, *, official: bool = True) -> SigninState:
        """The state on disk (auth.json read once); empty when there is none. A damaged store
        is one clear error (exit 3)."""
        from canfar_cli.auth import guard

        path = path or store_path()
        guard.check_file(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            state = cls()
        except OSError as exc:
            raise CredentialError(f"cannot read the sign-in file {path}: {exc.strerror}") from None
        else:
            state = cls.parse(data, path)
        state.path = path
        if official:
            from canfar_cli.auth import official as official_file

            state.official = official_file.state()
        return state

    @classmethod
    def parse(cls, data: bytes, path: Path) -> SigninState:
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            value = None
        damaged = CredentialError(
            f"the sign-in file {path} is damaged (not the JSON canfar wrote)", hint=LOGIN_AGAIN
        )
        if not isinstance(value, dict):
            raise damaged
        for key in ("active", "identities", "platforms"):
            if not isinstance(value.get(key) or {}, dict):
                raise CredentialError(
                    f"the sign-in file {path} is damaged: its {key!r} is not an object",
                    hint=LOGIN_AGAIN,
                )
        active = value.get("active") or {}
        identities = value.get("identities") or {}
        state = cls(
            active_identity=_choice(active.get("identity"), IDENTITIES),
            active_platform=_text(active.get("platform")),
        )
        cadc = identities.get("cadc")
        if isinstance(cadc, dict) and _text(cadc.get("certificate")):
            state.cadc = CadcSignin(
                certificate=str(cadc["certificate"]),
                written=cadc.get("written") is True,
                registry=_text(cadc.get("registry")) or "",
            )
        srcnet = identities.get("srcnet")
        if isinstance(srcnet, dict):
            state.srcnet_signed_out = srcnet.get("signed_out") is True
            state.srcnet = srcnet_of(srcnet, "canfar")
        for name, entry in (value.get("platforms") or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                known = {f.name for f in fields(Platform)} - {"name"}
                values = {k: v for k, v in entry.items() if k in known}
                if not all(isinstance(v, str) for k, v in values.items() if k != "auth"):
                    continue
                if not isinstance(values.get("auth", []), list):
                    values.pop("auth")
                state.platforms[str(name)] = Platform(**{"identity": "", **values, "name": name})
        return state

    # --- what is in use (canfar's own first, then the official client's) ---------------------

    def identity(self) -> str | None:
        """The active identity: chosen at sign-in or with the official client."""
        if self.active_identity:
            return self.active_identity
        return self.official.active_identity if self.official else None

    def certificate(self) -> CadcSignin | None:
        if self.cadc is not None:
            return self.cadc
        return self.official.cadc if self.official else None

    def certificate_path(self) -> Path:
        """Where the CADC certificate is: canfar's sign-in, the official client's, the default."""
        from canfar_cli.auth.certificates import default_path

        found = self.certificate()
        return Path(found.certificate).expanduser() if found else default_path()

    def tokens(self) -> SrcnetSignin | None:
        """The SRCNet sign-in: canfar's own, else the official client's (unless signed out)."""
        if self.srcnet is not None:
            return self.srcnet
        if self.srcnet_signed_out or self.official is None:
            return None
        return self.official.srcnet

    def platform_list(self) -> list[Platform]:
        """The platforms known: from canfar's last discovery, else the official client's."""
        if self.platforms:
            return list(self.platforms.values())
        return list(self.official.platforms.values()) if self.official else []

    def active_platform_name(self) -> str | None:
        if self.active_platform:
            return self.active_platform
        return self.official.active_platform if self.official else None

    def find_platform(self, name: str) -> Platform | None:
        return find(name, self.platform_list())

    def identity_of(self, platform_name: str | None) -> str | None:
        """Which identity provider's credential a platform takes (None when not known)."""
        from canfar_cli.auth.discovery import KNOWN

        if not platform_name:
            return None
        found = self.find_platform(platform_name)
        if found and found.identity:
            return found.identity
        uri = KNOWN.get(platform_name)
        if uri == KNOWN["canfar"]:
            return "cadc"
        return "srcnet" if uri else None

    # --- writing -----------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        identities: dict[str, Any] = {}
        if self.cadc is not None:
            cadc = asdict(self.cadc)
            cadc.pop("source")
            identities["cadc"] = cadc
        if self.srcnet is not None:
            identities["srcnet"] = asdict(self.srcnet)
        elif self.srcnet_signed_out:
            identities["srcnet"] = {"signed_out": True}
        platforms = {}
        for name, platform in self.platforms.items():
            entry = platform.as_dict()
            entry.pop("name")
            platforms[name] = entry
        active = {"identity": self.active_identity, "platform": self.active_platform}
        return {
            "version": VERSION,
            "active": {k: v for k, v in active.items() if v},
            "identities": identities,
            "platforms": platforms,
        }

    def update(self, change: Callable[[SigninState], T]) -> T:
        """Re-read under the lock, apply `change` to that fresh state, write it; this object
        then holds the new state too. A damaged store is replaced (the change holds what is
        current). Returns what `change` returns."""
        from canfar_cli import files

        path = self.path or store_path()
        with locked(path):
            try:
                fresh = SigninState.load(path, official=False)
            except CredentialError:
                fresh = SigninState(path=path)
            result = change(fresh)
            files.write_private(path, json.dumps(fresh.as_json(), indent=2, sort_keys=True) + "\n")
        official = self.official
        self.__dict__.update(fresh.__dict__)
        self.official, self.path = official, path
        return result


@contextlib.contextmanager
def locked(path: Path | None = None) -> Iterator[None]:
    """An exclusive lock across processes on the store (`<store>.lock`)."""
    from canfar_cli import files

    with files.locked(Path(f"{path or store_path()}.lock")):
        yield


def srcnet_of(record: dict[str, Any], source: str) -> SrcnetSignin | None:
    access = record.get("access_token")
    if not isinstance(access, str) or not access:
        return None
    try:
        expires_at = float(record.get("expires_at") or 0)
    except (TypeError, ValueError):
        expires_at = 0.0
    return SrcnetSignin(
        access_token=access,
        refresh_token=_text(record.get("refresh_token")),
        expires_at=expires_at,
        token_endpoint=_text(record.get("token_endpoint")),
        userinfo_endpoint=_text(record.get("userinfo_endpoint")),
        issuer=_text(record.get("issuer")) or "",
        client_id=_text(record.get("client_id")) or "",
        client_secret=_text(record.get("client_secret")) or "",
        user=_text(record.get("user")) or "",
        registry=_text(record.get("registry")) or "",
        source=source,
    )


def find(name: str, platforms: list[Platform]) -> Platform | None:
    exact = [p for p in platforms if p.name == name]
    if exact:
        return exact[0]
    folded = [p for p in platforms if p.name.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _choice(value: Any, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None
