"""StorageServices: the router the local app hands storage requests to.

    BASE/arc/...     cavern over `<ARC>` (resource ivo://cadc.nrc.ca/arc, vos://cadc.nrc.ca~arc)
    BASE/cavern/...  the same tree as SRCNet's cavern (ivo://canfar.net/src/cavern,
                     vos://canfar.net~src~cavern)
    BASE/vault/...   vault over its own folder (ivo://cadc.nrc.ca/vault, vos://cadc.nrc.ca~vault)
    BASE/minoc/files/{TOKEN}/cadc:vault/{ID}[:fo/{name}]   vault's byte host

Under each service: capabilities, availability, nodes/{path}, files/{path} (cavern also
files/preauth:{TOKEN}/{path}), synctrans, transfers[/{id}[/phase|/error|/results/transferDetails]],
xfer/{id}, async-delete[/{id}...].

Who a request acts as comes from the app (`identify`: the serve token's user, a sign-in
credential's user, the local user when the server asks for nothing, None for anonymous).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from canfar_cli.local.asgi import Params, Request, Response, Scope, parse_query
from canfar_cli.local.skaha import SkahaError
from canfar_cli.local.storage import capabilities, errors, files, preauth
from canfar_cli.local.storage.nodes import CONTAINER, Node, json_pieces, read_node, xml_pieces
from canfar_cli.local.storage.props import STORAGE_ID, PropertyStore, store_for
from canfar_cli.local.storage.settings import StorageSettings
from canfar_cli.local.storage.tree import Service, Tree

XML = "text/xml"
SERVICES = ("arc", "cavern", "vault")
PREFIXES = ("/arc/", "/cavern/", "/vault/", "/minoc/")
RESUME_REFUSED = "batch container node listing: limit ignored, resume not implemented"


def params_of(request: Request) -> Params:
    """Query parameters, plus a form body's (cadc-rest reads both, for any method)."""
    pairs = parse_query(request.query)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded" and request.body:
        pairs += parse_query(request.body)
    return Params(pairs)


async def _chunks(pieces: Iterator[str]) -> AsyncIterator[bytes]:
    """Text pieces gathered into chunks of about 64 KiB."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= 65536:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


class StorageServices:
    def __init__(
        self,
        state_home: Path,
        identify: Callable[[Request], str | None],
        known_users: Callable[[], list[str]],
    ) -> None:
        self.home = state_home
        self.identify = identify
        self.known_users = known_users
        self._settings: StorageSettings | None = None
        self._trees: dict[str, Tree] = {}
        self._stores: dict[Path, PropertyStore] = {}
        self._lock = threading.Lock()
        self._made: set[tuple[str, str]] = set()
        self._users_stamp = -1
        self.signer = preauth.Signer(state_home / "storage")
        from canfar_cli.local.storage.uws import Jobs

        self.jobs = Jobs()

    # --- set-up ------------------------------------------------------------------------------

    @property
    def settings(self) -> StorageSettings:
        if self._settings is None:
            self._settings = StorageSettings.from_env(self.home)
        return self._settings

    def prepare(self) -> None:
        """Read the settings and make the trees (and every known user's allocations) now."""
        for name in SERVICES:
            self.tree(name)

    def tree(self, name: str) -> Tree:
        if name not in self._trees:
            with self._lock:
                if name not in self._trees:
                    self._trees[name] = self._make_tree(name)
        return self._trees[name]

    def _make_tree(self, name: str) -> Tree:
        settings = self.settings
        if name == "vault":
            service = Service(
                "vault",
                "cadc.nrc.ca~vault",
                settings.vault / "nodes",
                vault=True,
                artifacts=settings.vault / "artifacts",
                top=None,
            )
        else:
            authority = "cadc.nrc.ca~arc" if name == "arc" else "canfar.net~src~cavern"
            service = Service(name, authority, settings.arc)
        for folder in (service.root, service.artifacts):
            if folder is not None:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # One store per folder: arc and cavern are the same tree and must see the same props.
        props = self._stores.get(service.root)
        if props is None:
            sidecar = (
                self.home / "storage" / ("props-vault.db" if service.vault else "props-arc.db")
            )
            props = self._stores[service.root] = store_for(service.root, sidecar)
        tree = Tree(service, props, settings.quota, settings.vault_lag)
        for user in self.known_users():
            tree.ensure_allocation(user)
        return tree

    def allocate(self, tree: Tree, user: str | None) -> None:
        """Every user has a home (cavern) and a folder (vault) as soon as they use the service."""
        if user is None or (tree.service.name, user) in self._made:
            return
        tree.ensure_allocation(user)
        self._made.add((tree.service.name, user))

    def users_changed(self) -> None:
        """A user added since (`canfar local users add`) gets their home and vault folder at
        once: the users file is looked at (one stat) on every request."""
        try:
            stamp = (self.home / "users.json").stat().st_mtime_ns
        except OSError:
            stamp = 0
        if stamp == self._users_stamp:
            return
        self._users_stamp = stamp
        for tree in list(self._trees.values()):
            for name in self.known_users():
                self.allocate(tree, name)

    # --- routing -------------------------------------------------------------------------------

    @staticmethod
    def serves(path: str) -> bool:
        return path.startswith(PREFIXES) or path in ("/arc", "/cavern", "/vault")

    @staticmethod
    def streams(scope: Scope) -> bool:
        """Whether the request body is left for the handler to stream (byte PUTs)."""
        if str(scope.get("method", "")).upper() != "PUT":
            return False
        path = str(scope.get("path", ""))
        return path.startswith(("/arc/files/", "/cavern/files/", "/minoc/files/"))

    async def handle(self, request: Request) -> Response:
        from canfar_cli.local.signin.routes import base_url

        base = base_url(request)
        path = request.path
        method = "GET" if request.method == "HEAD" else request.method
        if path.startswith("/minoc/files/"):
            return await self.minoc(request, method, base, path[len("/minoc/files/") :])
        service, _, rest = path[1:].partition("/")
        if service not in SERVICES:
            raise SkahaError(404, f"not found: {path}")
        resource, _, tail = rest.partition("/")
        root = f"{base}/{service}"
        if resource == "capabilities" and not tail:
            _only(method, "GET")
            body = capabilities.document(root, vault=service == "vault")
            return Response(200, body.encode(), XML)
        if resource == "availability" and not tail:
            _only(method, "GET")
            return Response(200, capabilities.availability().encode(), XML)
        tree = self.tree(service)
        if resource == "files" and tail.startswith("preauth:") and not tree.service.vault:
            return await self.preauth_files(request, method, tree, tail)
        user = self.identify(request)
        self.allocate(tree, user)
        self.users_changed()
        try:
            response = await self.service_route(request, method, tree, user, resource, tail, base)
        except SkahaError as exc:  # cadc-rest names an authenticated caller on every answer
            if user is not None:
                exc.headers.setdefault("x-vo-authenticated", user)
            raise
        if user is not None:
            response.headers.setdefault("x-vo-authenticated", user)
        return response

    async def service_route(
        self,
        request: Request,
        method: str,
        tree: Tree,
        user: str | None,
        resource: str,
        tail: str,
        base: str,
    ) -> Response:
        root = f"{base}/{tree.service.name}"
        if resource == "nodes":
            return self.nodes(request, method, tree, user, "/" + tail, root)
        if resource == "files":
            return await self.files(request, method, tree, user, "/" + tail, base)
        from canfar_cli.local.storage import negotiation

        if resource in ("synctrans", "transfers", "xfer", "async-delete", "async-setprops"):
            return negotiation.route(self, request, method, tree, user, resource, tail, base)
        raise SkahaError(404, f"not found: {request.path}")

    # --- nodes ---------------------------------------------------------------------------------

    def nodes(
        self, request: Request, method: str, tree: Tree, user: str | None, raw: str, root: str
    ) -> Response:
        from canfar_cli.local.storage.nodes import check_path

        path = check_path(raw)
        if method == "GET":
            return self.get_node(request, tree, user, path, root)
        if method in ("PUT", "POST"):  # create the node, or set its properties
            doc = read_node(request.body)
            if tree.path_of(doc.uri) != path:
                raise errors.invalid_uri(f"the node's uri {doc.uri} is not {tree.uri(path)}")
            made = method == "PUT"
            node = tree.create(user, path, doc) if made else tree.update(user, path, doc)
            return Response(
                201 if made else 200,
                "".join(xml_pieces(tree.authority, node, None, "max")).encode(),
                XML,
            )
        if method == "DELETE":
            tree.delete(user, path)
            return Response(200, b"", None)
        raise errors.unsupported(request.method, "GET, PUT, POST, DELETE")

    def get_node(
        self, request: Request, tree: Tree, user: str | None, path: str, root: str
    ) -> Response:
        params = params_of(request)
        for refused in ("sort", "order"):
            if params.get(refused) is not None:
                raise errors.invalid_argument(f"{refused} is not supported")
        accept = params.get("Accept") or "text/xml"
        if accept not in ("text/xml", "application/json"):
            raise errors.invalid_argument(f"Accept={accept} is not supported")
        if params.get("view") == "data":
            return Response(
                303, b"", None, {"Location": f"{root}/files{path if path != '/' else ''}"}
            )
        detail = params.get("detail") or "properties"
        if detail not in ("min", "max", "properties"):
            raise errors.invalid_argument(f"detail={detail}")
        raw_limit = params.get("limit")
        limit = None
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                limit = -1
            if limit < 0:
                raise errors.invalid_argument(f"limit={raw_limit}")
        cursor = params.get("uri")
        info = tree.existing(user, path)
        node = tree.node(path, info, user=user, detail=detail)
        children = None
        if node.kind == CONTAINER and tree.readable(user, path, info):
            children = self.listing(tree, user, path, limit, cursor, detail)
        elif node.kind == CONTAINER and cursor is not None and not tree.service.vault:
            raise errors.fault(400, "OptionNotSupported", RESUME_REFUSED)
        writer = json_pieces if accept == "application/json" else xml_pieces
        content_type = "application/json" if accept == "application/json" else XML
        return Response(
            200, b"", content_type, stream=_chunks(writer(tree.authority, node, children, detail))
        )

    def listing(
        self,
        tree: Tree,
        user: str | None,
        path: str,
        limit: int | None,
        cursor: str | None,
        detail: str,
    ) -> Iterator[Node] | None:
        if not tree.service.vault:
            if cursor is not None:
                raise errors.fault(400, "OptionNotSupported", RESUME_REFUSED)
            if limit == 0:
                return None
            return tree.children(user, path, detail=detail)  # every child: limit is ignored
        start = None
        if cursor is not None:
            from canfar_cli.local.storage.nodes import parent_of

            child = tree.path_of(cursor)
            if parent_of(child) != path or child == path:
                raise errors.invalid_uri(f"{cursor} is not a child of {tree.uri(path)}")
            start = child.rsplit("/", 1)[-1]
        if limit == 0:
            return None

        def page() -> Iterator[Node]:
            count = 0
            for node in tree.children(user, path, detail=detail):
                if start is not None and node.name < start:
                    continue  # the cursor is inclusive: the page starts with it again
                if limit is not None and count >= limit:
                    return
                count += 1
                yield node

        return page()

    # --- bytes ---------------------------------------------------------------------------------

    async def files(
        self, request: Request, method: str, tree: Tree, user: str | None, raw: str, base: str
    ) -> Response:
        from canfar_cli.local.storage.nodes import check_path

        path = check_path(raw)
        if tree.service.vault:
            if method != "GET":
                raise errors.unsupported(request.method, "GET, HEAD")
            return self.vault_files(request, tree, user, path, base)
        if method == "GET":
            return files.cavern_get(tree, user, path)
        if method == "PUT":
            return await files.cavern_put(tree, user, path, request)
        raise errors.unsupported(request.method, "GET, HEAD, PUT")

    async def preauth_files(self, request: Request, method: str, tree: Tree, tail: str) -> Response:
        from canfar_cli.local.storage.nodes import check_path

        token, _, raw = tail[len("preauth:") :].partition("/")
        path = check_path("/" + raw)
        grant = preauth.WRITE if method == "PUT" else preauth.READ
        user = self.signer.check(token, tree.uri(path), grant)
        if method == "GET":
            return files.cavern_get(tree, user, path)
        if method == "PUT":
            return await files.cavern_put(tree, user, path, request)
        raise errors.unsupported(request.method, "GET, HEAD, PUT")

    def vault_files(
        self, request: Request, tree: Tree, user: str | None, path: str, base: str
    ) -> Response:
        path, info = files.follow(tree, user, path)
        if info.st_mode & 0o170000 == 0o040000:
            raise errors.bad("GET for directories not supported")
        if not tree.readable(user, path, info):
            raise errors.denied(tree.uri(path))
        artifact = tree.artifact(path)
        if artifact is None or not artifact.exists():
            return Response(204, b"", None)
        location = self.minoc_url(base, tree, path, user, write=False)
        if request.query:
            location += "?" + request.query.decode("latin-1")
        return Response(303, b"", None, {"Location": location})

    def minoc_url(self, base: str, tree: Tree, path: str, user: str | None, *, write: bool) -> str:
        from urllib.parse import quote

        storage_id = tree.props.read(tree.fs(path)).get(STORAGE_ID, "")
        uri = files.artifact_uri(storage_id)
        token = self.signer.token(uri, preauth.WRITE if write else preauth.READ, user, node=path)
        url = f"{base}/minoc/files/{token}/{uri}"
        return url if write else f"{url}:fo/{quote(path.rsplit('/', 1)[-1])}"

    async def minoc(self, request: Request, method: str, base: str, rest: str) -> Response:
        token, storage_id = files.minoc_parse(rest)
        tree = self.tree("vault")
        uri = files.artifact_uri(storage_id)
        assert tree.service.artifacts is not None
        artifact = tree.service.artifacts / storage_id
        if method == "GET":
            self.signer.check(token, uri, preauth.READ)
            name = rest.rsplit(":fo/", 1)[1] if ":fo/" in rest else storage_id
            return files.minoc_get(tree, artifact, name, request)
        if method == "PUT":
            fields = self.signer.fields(token, uri, preauth.WRITE)
            user = fields.get("sub") or None
            node_path = self.node_of(tree, storage_id, user, fields.get("node"))
            from canfar_cli.local.storage import quota

            try:
                replacing = artifact.stat().st_size
            except FileNotFoundError:
                replacing = 0
            left = quota.remaining(tree, node_path, replacing) if node_path else None
            return await files.minoc_put(tree, node_path or "/", artifact, request, left)
        raise errors.unsupported(request.method, "GET, HEAD, PUT")

    def node_of(
        self, tree: Tree, storage_id: str, user: str | None, hint: str | None
    ) -> str | None:
        """The vault node whose bytes an artifact holds: where the token says, else (moved
        since) looked for in the user's folder."""
        import os

        if hint and tree.props.read(tree.fs(hint)).get(STORAGE_ID) == storage_id:
            return hint
        if user is None:
            return None
        start = tree.allocation_path(user)
        for folder, _dirs, names in os.walk(tree.fs(start)):
            for name in names:
                full = Path(folder) / name
                if tree.props.read(full).get(STORAGE_ID) == storage_id:
                    relative = full.relative_to(tree.service.root).as_posix()
                    return "/" + relative
        return None


def _only(method: str, allowed: str) -> None:
    if method not in allowed.split(", "):
        raise errors.unsupported(method, allowed)
