"""AsyncStorage: the user's files on arc, vault and an SRCNet platform's storage (storage.md).

The same credential and platform choice as AsyncSession (one small function, `_credentials`,
asks canfar_cli.auth for it); one HTTP client (canfar_cli.http) for every request of the object;
the transfer engine (engine.py) moves the bytes. Its blocking twin `Storage` is in blocking.py.

Single items raise, batches report: an operation on one file (no recursion, one source) raises
its CanfarError (exit code per DESIGN); a recursive or multi-source one returns a TransferReport
whose failed items carry their errors, and `report.exit_code` is the batch's exit code. An
interruption (cancellation, Ctrl-C) raises TransferInterrupted carrying the report.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Literal

from canfar_cli.storage.paths import StoragePath
from canfar_cli.storage.progress import Progress
from canfar_cli.storage.results import Node, TransferReport, Usage

if TYPE_CHECKING:
    import httpx

    from canfar_cli.config import Settings
    from canfar_cli.http import RetryPolicy
    from canfar_cli.storage.streams import RemoteReader, RemoteWriter

__all__ = ["AsyncStorage"]

PathLike = str | StoragePath
Sources = PathLike | Sequence[PathLike]


class AsyncStorage:
    """Files on the platform's storage services, asynchronously: `async with AsyncStorage() as s:`.

    Arguments left out come from the configuration, as for AsyncSession: `server` ("local" for
    the in-process local platform, or a skaha URL whose platform's registry names the storage),
    `token`, `certificate`, `platform` (a platform by name, e.g. "ukCAM"), `concurrency` (files
    and requests in flight at most), `timeout` (seconds per request, not per transfer: a body
    may take as long as it moves). `user` overrides who `~` is (else the certificate's CN, the
    sign-in's user name, the local platform's user, or CANFAR_USER)."""

    def __init__(
        self,
        server: str | None = None,
        *,
        token: str | None = None,
        certificate: str | None = None,
        platform: str | None = None,
        concurrency: int | None = None,
        timeout: float | None = None,
        settings: Settings | None = None,
        user: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        loglevel: int = logging.WARNING,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> AsyncStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the object can be used again: it opens new ones)."""
        raise NotImplementedError

    # --- where things are ---------------------------------------------------------------------

    async def services(self) -> dict[str, str]:
        """The storage services of the identity in use: {name: resource ID}, e.g.
        {"arc": "ivo://cadc.nrc.ca/arc", "vault": "ivo://cadc.nrc.ca/vault"} (discovered once,
        cached as the platforms are)."""
        raise NotImplementedError

    async def user(self) -> str | None:
        """Whose `~` it is (None when not known)."""
        raise NotImplementedError

    async def resolve(self, path: PathLike) -> StoragePath:
        """A path as the user wrote it → a checked StoragePath: the service known, `~` expanded.
        UsageError (exit 2) for an unknown service, `..`, NUL, or `~` with no known user."""
        raise NotImplementedError

    # --- looking ------------------------------------------------------------------------------

    async def ls(self, path: PathLike, *, all: bool = False) -> list[Node]:
        """A folder's children, sorted by name (a file: itself; a link: itself). Names starting
        with "." are left out unless `all`. One request, whatever the size of the folder."""
        raise NotImplementedError

    def walk(self, path: PathLike, *, all: bool = False) -> AsyncIterator[tuple[Node, list[Node]]]:
        """(folder, its children) for the folder and every folder under it, top down (for
        `ls -R`, `du`). Links are not followed."""
        raise NotImplementedError

    async def stat(self, path: PathLike) -> Node:
        """One node, with quota and usage on an allocation. NotFoundError (exit 4) when absent."""
        raise NotImplementedError

    async def exists(self, path: PathLike) -> bool:
        """Whether the node exists (one request)."""
        raise NotImplementedError

    async def usage(self, path: PathLike, *, summary: bool = False) -> list[Usage]:
        """`du`: bytes and files under `path`, one Usage per folder (deepest first, the path
        itself last), or only the path's own with `summary`; quota/used where the server reports
        them."""
        raise NotImplementedError

    # --- bytes --------------------------------------------------------------------------------

    def open(
        self, path: PathLike, mode: Literal["rb", "wb"] = "rb"
    ) -> AbstractAsyncContextManager[RemoteReader | RemoteWriter]:
        """A remote file, streaming: `async with s.open("arc:~/x") as f:` then `await f.read(n)`
        or `async for chunk in f` ("rb", verified against the server's Digest at the end), or
        `await f.write(data)` ("wb": one PUT whose body is what is written; on a clean exit the
        server's Digest is checked against the MD5 of what was sent; on an error the partial
        remote file is removed)."""
        raise NotImplementedError

    async def get(
        self,
        remote: Sources,
        local: PathLike,
        *,
        recursive: bool = False,
        resume: bool = False,
        progress: Progress | None = None,
    ) -> TransferReport:
        """Download: remote file(s) or folder(s) (`recursive`) to a local path, with POSIX cp's
        rules for the destination. Each file is written to NAME.part, checked against the
        server's Digest and renamed when whole. `resume`: a NAME.part already there is
        continued with Range where the server allows it (vault), else started again; a
        destination already the same (size and MD5) is skipped."""
        raise NotImplementedError

    async def put(
        self,
        local: Sources,
        remote: PathLike,
        *,
        recursive: bool = False,
        progress: Progress | None = None,
    ) -> TransferReport:
        """Upload: local file(s) or folder(s) (`recursive`) to a remote path, POSIX cp's rules for
        the destination. Each file goes with `Digest: md5=…` (the server refuses a corrupted
        body) and is verified by the Digest the server returns."""
        raise NotImplementedError

    async def copy(
        self,
        sources: Sources,
        dest: PathLike,
        *,
        recursive: bool = False,
        dry_run: bool = False,
        resume: bool = False,
        progress: Progress | None = None,
    ) -> TransferReport:
        """`cp`: any direction (local→remote, remote→local, remote→remote on one service or
        across). POSIX rules: an existing folder receives the sources; several sources need a
        folder; a folder needs `recursive`; a folder into itself, or a file over a folder, is
        refused (UsageError, before anything is sent). `dry_run` plans without moving anything
        (items "planned"). `resume` (cp --continue): files already whole at the destination
        (same size, and MD5 where both have one) are skipped, partial downloads continued."""
        raise NotImplementedError

    async def sync(
        self,
        source: PathLike,
        dest: PathLike,
        *,
        delete: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> TransferReport:
        """One-way mirror of the folder `source` into the folder `dest` (made when absent): only
        new and changed files are copied (size and date; and MD5 where both sides have one,
        never an arc MD5 alone). `delete`: files and folders at `dest` not in `source` are
        removed (items with action "delete"). `dry_run`: the plan only. Unchanged files are
        items "skipped"."""
        raise NotImplementedError

    async def move(self, sources: Sources, dest: PathLike) -> TransferReport:
        """`mv`: on one service, the server's move (files and folders; into an existing folder,
        else a rename); across services or with local paths, copy then remove the source only
        when the copy is whole (the source is kept on any failure)."""
        raise NotImplementedError

    async def remove(
        self, paths: Sources, *, recursive: bool = False, dry_run: bool = False
    ) -> TransferReport:
        """`rm`: remote files; folders with `recursive` (the server's recursive delete where it
        has one, else leaves first). A folder without `recursive` is a UsageError. `dry_run`
        lists what would be removed (items "planned", action "delete")."""
        raise NotImplementedError

    async def mkdir(self, path: PathLike, *, parents: bool = False) -> Node:
        """Make a folder (`parents`: and any missing above it; an existing folder is then fine).
        Without `parents` a missing parent is NotFoundError with hint `mkdir -p`, an existing
        node is a ServerError (409)."""
        raise NotImplementedError

    async def url(self, path: PathLike, *, write: bool = False) -> str:
        """A pre-authorized URL for one file: GET it (or PUT to it with `write`) with no
        credential. Such URLs carry a token and do not expire; this is the only method that
        returns one (they are hidden from logs and errors)."""
        raise NotImplementedError
