"""AsyncStorage: the user's files on arc, vault and an SRCNet platform's storage (storage.md).

The same credential and platform choice as AsyncSession (one small function, `_credentials`,
asks canfar_cli.auth for it); one HTTP client (canfar_cli.http) for every request of the object;
the transfer engine (engine.py) moves the bytes, plan.py decides what a cp/sync/mv/rm does.
Its blocking twin `Storage` is in blocking.py.

Single items raise, batches report: an operation on one file (no recursion, one source) raises
its CanfarError (exit code per DESIGN); a recursive or multi-source one returns a TransferReport
whose failed items carry their errors, and `report.exit_code` is the batch's exit code. An
interruption (cancellation, Ctrl-C) raises TransferInterrupted carrying the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from canfar_cli.errors import CanfarError, NotFoundError, UsageError
from canfar_cli.storage.paths import LocalPath, RemotePath, StoragePath, parse_path
from canfar_cli.storage.progress import Progress
from canfar_cli.storage.results import Node, TransferReport, Usage

if TYPE_CHECKING:
    import httpx

    from canfar_cli.auth.credentials import Credentials
    from canfar_cli.config import Settings
    from canfar_cli.http import HttpClient, RetryPolicy
    from canfar_cli.storage.engine import Engine
    from canfar_cli.storage.services import Service
    from canfar_cli.storage.streams import RemoteReader, RemoteWriter

__all__ = ["AsyncStorage"]

PathLike = str | StoragePath
Sources = PathLike | Sequence[PathLike]
USER_VARIABLE = "CANFAR_USER"


def _credentials(settings: Settings) -> Credentials:
    """The credential the sessions use: the one place storage asks canfar_cli.auth for it (the
    sign-in rework adapts here)."""
    from canfar_cli.auth.credentials import credentials_for

    return credentials_for(settings)


def _user_of(credentials: Credentials) -> str | None:
    """Who the credential says we are, without the network: a certificate's CN, the stored
    SRCNet sign-in's user name."""
    try:
        if credentials.certificate:
            from canfar_cli.auth.certificates import certificate_info

            return certificate_info(credentials.certificate).user or None
        if credentials.identity == "srcnet":
            from canfar_cli.auth.state import SigninState

            signin = SigninState.load().tokens()
            return (signin.user or None) if signin is not None else None
    except CanfarError:
        return None
    return None


class AsyncStorage:
    """Files on the platform's storage services, asynchronously: `async with AsyncStorage() as s:`.

    Arguments left out come from the configuration, as for AsyncSession: `server` ("local" for
    the in-process local platform, or a skaha URL whose platform's registry names the storage),
    `token`, `certificate`, `platform` (a platform by name, e.g. "ukCAM"), `concurrency` (files
    and requests in flight at most), `timeout` (seconds per request, not per transfer: a body
    may take as long as it moves). `user` overrides who `~` is (else CANFAR_USER, the
    certificate's CN, the sign-in's user name, or the user the server says we are)."""

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
        from canfar_cli.http import HttpClient, log_at_least
        from canfar_cli.servers import library_settings
        from canfar_cli.storage import wire
        from canfar_cli.storage.engine import Engine

        settings = library_settings(
            type(self).__name__,
            settings,
            server=server,
            token=token,
            certificate=certificate,
            timeout=timeout,
            concurrency=concurrency,
            platform=platform,
        )
        self.settings = settings
        log_at_least(loglevel)
        local = settings.server.strip().lower() == "local"
        if local and transport is None:
            from canfar_cli.servers import resolve_server

            _base, transport = resolve_server("local", "v1")
        credentials = _credentials(settings)
        self._credentials = credentials
        self._given_user = user
        self._user: str | None = None
        self._user_known = False
        origin = "http://local" if local else _origin(settings.server)
        self._http: HttpClient = HttpClient(
            origin,
            token=credentials.token,
            certificate=credentials.certificate if transport is None else None,
            ca_bundle=settings.ca_bundle,
            refresh_token=credentials.refresh,
            timeout=settings.timeout,
            concurrency=settings.concurrency,
            transport=transport,
            retry=retry,
            tls=None if local else True,
            refusal=wire.refusal,
        )
        self._engine: Engine = Engine(
            self._http,
            anonymous=not (credentials.token or credentials.certificate),
            token=bool(credentials.token),
        )
        self._services: dict[str, Service] | None = None

    def __repr__(self) -> str:
        return f"AsyncStorage(server={self.settings.server!r}, concurrency={self.concurrency})"

    @property
    def concurrency(self) -> int:
        return self._http.concurrency

    async def __aenter__(self) -> AsyncStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the object can be used again: it opens new ones)."""
        await self._http.aclose()

    # --- where things are ---------------------------------------------------------------------

    async def _all_services(self) -> dict[str, Service]:
        if self._services is None:
            from canfar_cli.storage import services

            self._services = await services.discover(
                self._http,
                self.settings.server,
                self._identity(),
                self.settings.services,
            )
        return self._services

    def _identity(self) -> str | None:
        identity = self._credentials.identity
        if identity in ("cadc", "srcnet"):
            return identity
        from canfar_cli.auth.state import SigninState

        return SigninState.load().identity_of(self.settings.platform)

    async def services(self) -> dict[str, str]:
        """The storage services of the identity in use: {name: resource ID}, e.g.
        {"arc": "ivo://cadc.nrc.ca/arc", "vault": "ivo://cadc.nrc.ca/vault"} (discovered once,
        cached as the platforms are)."""
        return {name: s.resource_id for name, s in (await self._all_services()).items()}

    async def _service(self, name: str) -> Service:
        from canfar_cli.storage import services

        known = await self._all_services()
        if name not in known:
            raise UsageError(
                f"no storage service {name!r}",
                hint="the services you have: " + ", ".join(f"{n}:" for n in known),
            )
        service = known[name]
        if not service.resolved:
            service = await services.resolve(self._http, service)
            known[name] = service
            services.remember(self.settings.server, self._identity(), self.settings.services, known)
        return service

    async def user(self) -> str | None:
        """Whose `~` it is (None when not known)."""
        if self._given_user:
            return self._given_user
        if not self._user_known:
            self._user_known = True
            self._user = os.environ.get(USER_VARIABLE, "").strip() or _user_of(self._credentials)
            if not self._user:
                self._user = await self._server_user()
        return self._user

    async def _server_user(self) -> str | None:
        """The user the server says we are: the `x-vo-authenticated` header of the storage
        service (CADC's services send it), else of the skaha API (the local platform tells a
        token's user there)."""
        known = await self._all_services()
        asks: list[tuple[str, dict[str, str]]] = []
        if known:
            service = await self._service(next(iter(known)))
            asks.append((service.nodes, {"limit": "0"}))
        from canfar_cli.servers import resolve_server

        if self.settings.server.strip().lower() == "local":
            asks.append(("http://local/skaha/v1/context", {}))
        else:
            with contextlib.suppress(CanfarError):
                asks.append((resolve_server(self.settings.server, "v1")[0] + "/context", {}))
        for url, params in asks:
            try:
                async with self._http.stream("GET", url, params=params or None) as response:
                    name = str(response.headers.get("x-vo-authenticated", "")).strip()
            except CanfarError:
                continue
            if name:
                return name
        return None

    async def resolve(self, path: PathLike) -> StoragePath:
        """A path as the user wrote it → a checked StoragePath: the service known, `~` expanded.
        UsageError (exit 2) for an unknown service, `..`, NUL, or `~` with no known user."""
        if isinstance(path, LocalPath):
            return path
        if isinstance(path, RemotePath):
            parsed: StoragePath = path
            if path.service not in await self._all_services():
                parsed = parse_path(str(path), await self.services())
        else:
            parsed = parse_path(path, await self.services())
        if isinstance(parsed, RemotePath) and parsed.home:
            service = (await self._all_services())[parsed.service]
            parsed = parsed.expand(await self.user(), "" if service.is_vault else "/home")
        return parsed

    async def _remote(self, path: PathLike, what: str = "this") -> RemotePath:
        resolved = await self.resolve(path)
        if not isinstance(resolved, RemotePath):
            raise UsageError(
                f"{resolved}: {what} needs a remote path (SERVICE:PATH)",
                hint="e.g. arc:~/" + (resolved.name if resolved.name else "x"),
            )
        return resolved

    # --- looking ------------------------------------------------------------------------------

    async def _node(
        self, path: RemotePath, *, children: bool, properties: bool = True
    ) -> tuple[Node, list[Node]]:
        service = await self._service(path.service)
        return await self._engine.read_node(service, path, children=children, properties=properties)

    async def ls(self, path: PathLike, *, all: bool = False, properties: bool = True) -> list[Node]:
        """A folder's children, sorted by name (a file: itself; a link: itself). Names starting
        with "." are left out unless `all`. One request, whatever the size of the folder.
        `properties=False` lists names, kinds and link targets only (no size, date, owner or
        MD5): a much smaller answer for a big folder."""
        remote = await self._remote(path, "ls")
        node, children = await self._node(remote, children=True, properties=properties)
        if node.kind != "folder":
            return [node]
        kept = [c for c in children if all or not c.name.startswith(".")]
        return sorted(kept, key=lambda n: n.name)

    async def walk(
        self, path: PathLike, *, all: bool = False
    ) -> AsyncIterator[tuple[Node, list[Node]]]:
        """(folder, its children) for the folder and every folder under it, top down (for
        `ls -R`, `du`). Links are not followed."""
        remote = await self._remote(path, "walk")
        stack = [remote]
        while stack:
            current = stack.pop()
            node, children = await self._node(current, children=True)
            if node.kind != "folder":
                yield node, []
                continue
            kept = sorted(
                (c for c in children if all or not c.name.startswith(".")), key=lambda n: n.name
            )
            yield node, kept
            for child in reversed(kept):
                if child.kind == "folder":
                    stack.append(RemotePath(remote.service, _node_path(child)))

    async def stat(self, path: PathLike) -> Node:
        """One node, with quota and usage on an allocation. NotFoundError (exit 4) when absent."""
        remote = await self._remote(path, "stat")
        node, _ = await self._node(remote, children=False)
        return node

    async def exists(self, path: PathLike) -> bool:
        """Whether the node exists (one request)."""
        try:
            await self.stat(path)
        except NotFoundError:
            return False
        return True

    async def usage(self, path: PathLike, *, summary: bool = False) -> list[Usage]:
        """`du`: bytes and files under `path`, one Usage per folder (deepest first, the path
        itself last), or only the path's own with `summary`; quota/used where the server reports
        them."""
        remote = await self._remote(path, "du")
        from canfar_cli.storage.plan import remote_tree

        top = await self.stat(remote)
        if top.kind != "folder":
            return [Usage(top.path, top.size or 0, 1)]
        service = await self._service(remote.service)
        tree = await remote_tree(self._engine, service, remote, self.concurrency)
        totals: dict[str, list[int]] = {"": [0, 0]}
        for rel, node in tree.items():
            if node.kind == "folder":
                totals.setdefault(rel, [0, 0])
                continue
            parts = rel.split("/")
            for depth in range(len(parts)):
                key = "/".join(parts[:depth])
                entry = totals.setdefault(key, [0, 0])
                entry[0] += node.size or 0
                entry[1] += 1
        result = []
        for rel in sorted(totals, key=lambda r: (-r.count("/") - (1 if r else 0), r)):
            if summary and rel:
                continue
            size, files = totals[rel]
            where = remote.child_path(rel)
            quota = top.quota if not rel else None
            used = top.used if not rel else None
            if rel and tree[rel].quota is not None:
                quota, used = tree[rel].quota, tree[rel].used
            result.append(Usage(str(where), size, files, quota, used))
        return result

    # --- bytes --------------------------------------------------------------------------------

    @overload
    def open(
        self, path: PathLike, mode: Literal["rb"] = "rb"
    ) -> AbstractAsyncContextManager[RemoteReader]: ...

    @overload
    def open(
        self, path: PathLike, mode: Literal["wb"]
    ) -> AbstractAsyncContextManager[RemoteWriter]: ...

    def open(
        self, path: PathLike, mode: Literal["rb", "wb"] = "rb"
    ) -> AbstractAsyncContextManager[RemoteReader] | AbstractAsyncContextManager[RemoteWriter]:
        """A remote file, streaming: `async with s.open("arc:~/x") as f:` then `await f.read(n)`
        or `async for chunk in f` ("rb", verified against the server's Digest at the end), or
        `await f.write(data)` ("wb": one PUT whose body is what is written; on a clean exit the
        server's Digest is checked against the MD5 of what was sent; on an error the partial
        remote file is removed)."""
        if mode not in ("rb", "wb"):
            raise UsageError(f"open mode {mode!r}: use 'rb' or 'wb'")
        return self._open(path, mode)

    @asynccontextmanager
    async def _open(self, path: PathLike, mode: str) -> AsyncIterator[Any]:
        from canfar_cli.storage import streams

        remote = await self._remote(path, "open")
        service = await self._service(remote.service)
        if mode == "rb":
            async with streams.reading(self._engine, service, remote) as reader:
                yield reader
        else:
            async with streams.writing(self._engine, service, remote) as writer:
                yield writer

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
        sources = await self._sources(remote)
        for source in sources:
            if not isinstance(source, RemotePath):
                raise UsageError(f"{source}: get downloads remote paths (SERVICE:PATH)")
        dest = await self.resolve(local)
        if not isinstance(dest, LocalPath):
            raise UsageError(f"{dest}: get writes to a local path")
        return await self._copy(sources, dest, recursive, False, resume, progress)

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
        sources = await self._sources(local)
        for source in sources:
            if not isinstance(source, LocalPath):
                raise UsageError(f"{source}: put uploads local paths")
        dest = await self._remote(remote, "put")
        return await self._copy(sources, dest, recursive, False, False, progress)

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
        resolved = await self._sources(sources)
        target = await self.resolve(dest)
        return await self._copy(resolved, target, recursive, dry_run, resume, progress)

    async def _sources(self, sources: Sources) -> list[StoragePath]:
        if isinstance(sources, (str, RemotePath, LocalPath)):
            sources = [sources]
        if not sources:
            raise UsageError("nothing to copy", hint="give at least one source")
        return [await self.resolve(s) for s in sources]

    async def _copy(
        self,
        sources: list[StoragePath],
        dest: StoragePath,
        recursive: bool,
        dry_run: bool,
        resume: bool,
        progress: Progress | None,
    ) -> TransferReport:
        from canfar_cli.storage.plan import Planner

        planner = Planner(self._engine, self._service, self.concurrency)
        report, jobs = await planner.plan_copy(
            sources, dest, recursive=recursive, resume=resume, look=dry_run
        )
        report.dry_run = dry_run
        if dry_run:
            return report
        await planner.execute(report, jobs, progress)
        return _single(report, len(sources) == 1 and not recursive)

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
        from canfar_cli.storage.plan import Planner

        src = await self.resolve(source)
        dst = await self.resolve(dest)
        planner = Planner(self._engine, self._service, self.concurrency)
        report, jobs = await planner.plan_sync(src, dst, delete=delete)
        report.dry_run = dry_run
        if dry_run:
            return report
        await planner.execute(report, jobs, progress)
        return report

    async def move(self, sources: Sources, dest: PathLike) -> TransferReport:
        """`mv`: on one service, the server's move (files and folders; into an existing folder,
        else a rename); across services or with local paths, copy then remove the source only
        when the copy is whole (the source is kept on any failure)."""
        from canfar_cli.storage.plan import Planner

        resolved = await self._sources(sources)
        target = await self.resolve(dest)
        planner = Planner(self._engine, self._service, self.concurrency)
        report = await planner.move(resolved, target)
        return _single(report, len(resolved) == 1)

    async def remove(
        self, paths: Sources, *, recursive: bool = False, dry_run: bool = False
    ) -> TransferReport:
        """`rm`: remote files; folders with `recursive` (the server's recursive delete where it
        has one, else leaves first). A folder without `recursive` is a UsageError. `dry_run`
        lists what would be removed (items "planned", action "delete")."""
        from canfar_cli.storage.plan import Planner

        resolved = await self._sources(paths)
        remote: list[RemotePath] = []
        for path in resolved:
            if not isinstance(path, RemotePath):
                raise UsageError(f"{path}: rm removes remote files only (SERVICE:PATH)")
            if path.is_root or path.path in ("/home", "/projects"):
                raise UsageError(f"{path}: refusing to remove the root of the service")
            remote.append(path)
        planner = Planner(self._engine, self._service, self.concurrency)
        report = await planner.remove(remote, recursive=recursive, dry_run=dry_run)
        return report if dry_run else _single(report, len(remote) == 1)

    async def mkdir(self, path: PathLike, *, parents: bool = False) -> Node:
        """Make a folder (`parents`: and any missing above it; an existing folder is then fine).
        Without `parents` a missing parent is NotFoundError with hint `mkdir -p`, an existing
        node is a ServerError (409)."""
        from canfar_cli.storage.plan import make_folders

        remote = await self._remote(path, "mkdir")
        service = await self._service(remote.service)
        if parents:
            return await make_folders(self._engine, service, remote)
        return await self._engine.make_folder(service, remote)

    async def url(self, path: PathLike, *, write: bool = False) -> str:
        """A pre-authorized URL for one file: GET it (or PUT to it with `write`) with no
        credential. Such URLs carry a token and do not expire; this is the only method that
        returns one (they are hidden from logs and errors)."""
        remote = await self._remote(path, "url")
        service = await self._service(remote.service)
        if not write:
            node = await self.stat(remote)
            if node.kind == "folder":
                raise UsageError(f"{remote}: a folder has no URL", hint="give a file")
        direction = "pushToVoSpace" if write else "pullFromVoSpace"
        found = await self._engine.negotiate(service, remote, direction, anonymous=True)
        if "preauth:" not in found and _origin(found) == _origin(service.nodes):
            found = await self._engine.negotiate_xml_anonymous(service, remote, direction)
        return found


def _node_path(node: Node) -> str:
    return node.path.split(":", 1)[1]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _single(report: TransferReport, single: bool) -> TransferReport:
    """One file asked for: its failure is raised, not reported."""
    copies = [item for item in report.items if item.action != "mkdir"]
    if single and len(copies) == 1 and copies[0].error is not None:
        raise copies[0].error
    return report


def local_path(path: LocalPath) -> Path:
    return Path(path.path)
