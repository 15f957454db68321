"""Storage paths as users write them, parsed without any I/O (the command line checks its
arguments with this before a request is sent).

    arc:/home/me/x  arc:home/me/x     the same node of the service `arc` (official / vostools form)
    arc:~/x         /home/USER/x      USER filled in later (`RemotePath.expand`)
    vos://cadc.nrc.ca~arc/home/me/x   a full node URI ("!" accepted for "~")
    ukCAM:/home/me  an SRCNet platform's storage, by the platform's name
    local:/tmp/x, /tmp/x, x.txt, ./a:b   local files (a ":" after a "/" is part of a local name)

`..` and NUL are refused (exit 2); `.` segments and doubled slashes are dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from canfar_cli.errors import UsageError

__all__ = [
    "LocalPath",
    "RemotePath",
    "StoragePath",
    "home_of",
    "is_remote",
    "parse_path",
    "resource_of",
    "vos_base",
]

_SERVICE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*):(.*)$", re.DOTALL)
LOCAL = "local"
USER_HINT = (
    "set CANFAR_USER to your user name on the platform, or give the full path (/home/USER/…)"
)


@dataclass(frozen=True)
class RemotePath:
    """A node of a storage service. `path` is absolute ("/" is the root); with `home` it is the
    part under the user's home ("" for the home itself) until `expand` fills the user in.
    `slash`: written with a trailing slash (the user means a folder)."""

    service: str
    path: str
    home: bool = False
    slash: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        if self.home:
            return f"{self.service}:~/{self.path}" if self.path else f"{self.service}:~"
        return f"{self.service}:{self.path}"

    @property
    def name(self) -> str:
        """The last segment ("" for the root)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> RemotePath:
        if self.home:
            head = self.path.rsplit("/", 1)[0] if "/" in self.path else ""
            return RemotePath(self.service, head, home=True)
        head = self.path.rsplit("/", 1)[0] or "/"
        return RemotePath(self.service, head)

    @property
    def is_root(self) -> bool:
        return not self.home and self.path == "/"

    def child(self, name: str) -> RemotePath:
        check_name(name)
        if self.home:
            return RemotePath(self.service, f"{self.path}/{name}".lstrip("/"), home=True)
        return RemotePath(self.service, f"{self.path.rstrip('/')}/{name}")

    def child_path(self, rel: str) -> RemotePath:
        """The node `rel` ("a/b") under this one."""
        result = self
        for part in rel.split("/"):
            if part:
                result = result.child(part)
        return result

    def expand(self, user: str | None, homes: str = "/home") -> RemotePath:
        """The path with `~` replaced by HOMES/USER: /home/USER on arc (cavern), /USER on vault
        (homes=""). UsageError naming CANFAR_USER when the user is not known."""
        if not self.home:
            return self
        if not user:
            raise UsageError(
                f"{self}: cannot tell whose home `~` is (no user name is known)", hint=USER_HINT
            )
        base = f"{homes.rstrip('/')}/{check_name(user, 'user name')}"
        return RemotePath(self.service, f"{base}/{self.path}" if self.path else base)

    def contains(self, other: RemotePath) -> bool:
        """Whether `other` is this node or under it."""
        if other.service != self.service or other.home != self.home:
            return False
        mine = self.path.rstrip("/")
        return other.path == self.path or other.path.startswith(f"{mine}/")

    def url_path(self) -> str:
        """The node path as it goes in a URL: each segment percent-encoded once."""
        return quote(self.path, safe="/~!$&'()*+,;=:@")


@dataclass(frozen=True)
class LocalPath:
    """A local file or folder (a `~` at its start is the local home)."""

    path: str
    slash: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/")) or self.path

    def child(self, name: str) -> LocalPath:
        return LocalPath(os.path.join(self.path, name))

    def child_path(self, rel: str) -> LocalPath:
        return LocalPath(os.path.join(self.path, *rel.split("/"))) if rel else self


StoragePath = RemotePath | LocalPath


def is_remote(path: StoragePath) -> bool:
    return isinstance(path, RemotePath)


def home_of(user: str) -> str:
    check_name(user, what="user name")
    return f"/home/{user}"


def check_name(name: str, what: str = "name") -> str:
    """One path segment: not empty, no "/", no NUL, not "." or ".."."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise UsageError(f"{name!r} is not a usable {what}")
    return name


def vos_base(resource_id: str) -> str:
    """ivo://cadc.nrc.ca/arc → vos://cadc.nrc.ca~arc (the node URIs' common part)."""
    rest = resource_id.removeprefix("ivo://")
    authority, _, name = rest.partition("/")
    return f"vos://{authority}~{name.replace('/', '~')}"


def resource_of(uri: str) -> tuple[str, str]:
    """vos://AUTH~NAME/PATH (or AUTH!NAME) → ("ivo://AUTH/NAME", "/PATH"), PATH decoded."""
    if not uri.startswith("vos://"):
        raise UsageError(f"{uri!r} is not a vos:// URI")
    rest = uri[len("vos://") :]
    authority, slash, path = rest.partition("/")
    authority = authority.replace("!", "~")
    if "~" not in authority:
        raise UsageError(
            f"{uri!r} names no service (vos://AUTHORITY~NAME/PATH)",
            hint="e.g. vos://cadc.nrc.ca~arc/home/USER/x",
        )
    host, _, name = authority.partition("~")
    if not host or not name:
        raise UsageError(f"{uri!r} names no service (vos://AUTHORITY~NAME/PATH)")
    return f"ivo://{host}/{name.replace('~', '/')}", _clean("/" + unquote(path) if slash else "/")


def _clean(path: str, original: str | None = None) -> str:
    """An absolute, normalised node path; `..` and NUL refused."""
    shown = original if original is not None else path
    if "\0" in path:
        raise UsageError(f"{shown!r}: a path cannot hold a NUL character")
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UsageError(
                f"{shown}: `..` is not allowed in a storage path", hint="write the path in full"
            )
        parts.append(part)
    return "/" + "/".join(parts)


def _service_name(name: str, services: Mapping[str, str] | None, shown: str) -> str:
    if services is None:
        return name
    if name in services:
        return name
    folded = [known for known in services if known.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    known = ", ".join(f"{s}:" for s in services) or "none"
    raise UsageError(
        f"{shown}: no storage service {name!r}",
        hint=f"the services you have: {known}; a local file whose name holds ':' is ./{shown}",
    )


def parse_path(text: str, services: Mapping[str, str] | None = None) -> StoragePath:
    """Parse what a user wrote. `services` maps the known service names to their resource IDs
    (ivo://…); when given, an unknown name or vos:// authority is a UsageError (exit 2) listing
    them. A path without a service is local."""
    if not isinstance(text, str) or text == "":
        raise UsageError("an empty path", hint="give a file or folder, e.g. arc:~/x or ./x")
    if "\0" in text:
        raise UsageError(f"{text!r}: a path cannot hold a NUL character")
    slash = text.endswith("/")
    if text.startswith("vos://"):
        resource, path = resource_of(text)
        if services is not None:
            names = [name for name, rid in services.items() if rid == resource]
            if not names:
                known = ", ".join(f"{n} ({r})" for n, r in services.items()) or "none"
                raise UsageError(
                    f"{text}: no storage service {resource}", hint=f"the services you have: {known}"
                )
            return RemotePath(names[0], path, slash=slash)
        return RemotePath(resource, path, slash=slash)
    match = _SERVICE.match(text)
    if match is None:
        return LocalPath(os.path.expanduser(text), slash=slash)
    name, rest = match.groups()
    if name == LOCAL:
        if not rest:
            raise UsageError("local: names no file", hint="e.g. local:/tmp/x or ./x")
        return LocalPath(os.path.expanduser(rest), slash=slash)
    service = _service_name(name, services, text)
    if rest == "~" or rest.startswith("~/"):
        return RemotePath(service, _clean(rest[1:], text).lstrip("/"), home=True, slash=slash)
    if rest.startswith("~"):
        # ~user/x: someone's home by name, as a shell would read it.
        user, _, tail = rest[1:].partition("/")
        check_name(user, "user name")
        return RemotePath(service, _clean(f"/home/{user}/{tail}", text), slash=slash)
    return RemotePath(service, _clean(rest, text), slash=slash)
