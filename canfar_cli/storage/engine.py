"""Moving bytes and nodes: one request per file where the service allows it (storage.md §4).

- Reads: cavern's `/files` GET straight away with the credential (§4.4); vault's `/files`
  answers with a 303 to its byte host, followed without the credential (the URL is
  pre-authorized); a service without `/files`: synctrans (parameter form, §4.2).
- Writes: cavern's `/files` PUT; vault (or a cavern refusing the direct PUT): synctrans
  pushToVoSpace, then the PUT to the endpoint it hands out.
- Integrity: each upload carries `Digest: md5=…` (a first read pass computes it) unless it is
  larger than DIGEST_PASS_LIMIT: then the MD5 is computed while sending and compared with the
  Digest the server returns (a second pass over a large file would cost more than the
  transfer on loopback). Either way the server's Digest is checked. Downloads go to NAME.part,
  are checked against the server's Digest and renamed only when whole. A body of
  direct.DIRECT_MIN or more is read on a blocking socket of its own (storage/direct.py), where
  the client has one to open (not in-process, no proxy); the checks are the same.
- Retries (on top of the HTTP client's for getting an answer): a body cut off mid-way is asked
  again (from where it stopped when the server honours Range, else from the start); an upload
  refused with 412 is sent once more; 413 never.
- A remote file whose upload failed or was cancelled once its body started is deleted (the
  server leaves it at 0 bytes, §4.4); a .part of a cancelled download is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import anyio
import httpx

from canfar_cli.errors import CanfarError, ServerError, UnreachableError
from canfar_cli.http import HttpClient
from canfar_cli.storage import direct
from canfar_cli.storage import nodes as docs
from canfar_cli.storage.direct import Direct
from canfar_cli.storage.paths import RemotePath
from canfar_cli.storage.results import Node
from canfar_cli.storage.services import Service
from canfar_cli.storage.wire import digest_header, md5_of_digest, with_subject
from canfar_cli.wire import describe, public_url

if TYPE_CHECKING:
    from canfar_cli.storage.progress import Progress

log = logging.getLogger("canfar_cli.http")

CHUNK = 1 << 20
DIGEST_PASS_LIMIT = 64 << 20
MAX_HOPS = 5
HTTPSGET = "ivo://ivoa.net/vospace/core#httpsget"
HTTPSPUT = "ivo://ivoa.net/vospace/core#httpsput"
HTTPGET = "ivo://ivoa.net/vospace/core#httpget"
HTTPPUT = "ivo://ivoa.net/vospace/core#httpput"
SSO_CERT = "ivo://ivoa.net/sso#tls-with-certificate"
SSO_TOKEN = "ivo://ivoa.net/sso#token"
VAULT_PAGE = 1000
JOB_POLL = 0.05
JOB_POLL_MAX = 1.0
JOB_DEADLINE = 600.0


class _Quiet:
    """A progress that listens to nothing."""

    def start(self, total_files: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def file_done(self, path: str, ok: bool) -> None:
        pass


QUIET = _Quiet()


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"


class IntegrityError(ServerError):
    """The bytes that arrived are not those the server says it has (or has stored)."""


class Engine:
    """The requests of one AsyncStorage: nodes, jobs and file bodies, over its HttpClient."""

    def __init__(self, http: HttpClient, *, anonymous: bool, token: bool) -> None:
        self.http = http
        self.anonymous = anonymous
        # The security method our credential is, for negotiation documents.
        self.methods = [] if anonymous else [SSO_TOKEN if token else SSO_CERT]
        # Services whose direct /files PUT was refused once: negotiate from then on.
        self._no_direct_put: set[str] = set()

    # --- URLs ---------------------------------------------------------------------------------

    @staticmethod
    def node_url(service: Service, path: RemotePath) -> str:
        return service.nodes + (path.url_path() if path.path != "/" else "")

    @staticmethod
    def files_url(service: Service, path: RemotePath) -> str:
        assert service.files is not None
        return service.files + path.url_path()

    @staticmethod
    def uri(service: Service, path: RemotePath) -> str:
        return service.vos_base + path.url_path()

    def _credentials_for(self, service: Service, url: str) -> bool:
        """Our credential goes only to the service's own origin, never with a pre-authorized
        URL (vosfs's rule, storage.md §2.2)."""
        if "preauth:" in url:
            return False
        base = service.nodes.rsplit("/", 1)[0] + "/"
        return url.startswith(base)

    # --- nodes --------------------------------------------------------------------------------

    async def read_node(
        self, service: Service, path: RemotePath, *, children: bool, properties: bool = True
    ) -> tuple[Node, list[Node]]:
        """The node (and, with `children`, all its children: one document on cavern, pages
        on vault), parsed as the bytes arrive. `properties=False` asks for names, kinds and
        link targets only (`detail=min`: a sixth of the document, and cheaper on both sides)."""
        url = self.node_url(service, path)
        params = {"limit": "0"} if not children else {}
        if children and service.is_vault:
            params = {"limit": str(VAULT_PAGE)}
        if not properties:
            params["detail"] = "min"
        node, kids = await self._node_page(service, path, url, params)
        if children and service.is_vault and len(kids) >= VAULT_PAGE:
            # Vault pages with an inclusive cursor: each page starts with the last child again.
            while True:
                cursor = kids[-1].uri
                _node, page = await self._node_page(service, path, url, {**params, "uri": cursor})
                fresh = page[1:] if page and page[0].uri == cursor else page
                kids.extend(fresh)
                if len(page) < VAULT_PAGE or not fresh:
                    break
        return node, kids

    async def _node_page(
        self, service: Service, path: RemotePath, url: str, params: dict[str, str]
    ) -> tuple[Node, list[Node]]:
        parser = docs.NodeParser(service.name)
        try:
            async with self.http.stream(
                "GET", url, params=params or None, headers={"Accept": "text/xml"}
            ) as response:
                async for chunk in response.aiter_bytes():
                    parser.feed(chunk)
            parser.close()
        except CanfarError as exc:
            raise with_subject(exc, str(path)) from None
        except httpx.HTTPError as exc:
            raise UnreachableError(
                f"{path}: the listing was cut off ({describe(exc)})", hint="try again"
            ) from None
        assert parser.node is not None
        return parser.node, parser.children

    async def make_folder(self, service: Service, path: RemotePath) -> Node:
        document = docs.container_document(self.uri(service, path))
        try:
            # Retried like a GET: a second try of a create that did happen answers 409.
            async with self.http.stream(
                "PUT",
                self.node_url(service, path),
                content=document,
                headers={"Content-Type": "text/xml", "Accept": "text/xml"},
                idempotent=True,
            ) as response:
                content = await response.aread()
        except CanfarError as exc:
            raise with_subject(exc, str(path)) from None
        try:
            node, _ = docs.parse_nodes(service.name, [content])
            return node
        except CanfarError:
            node, _ = await self.read_node(service, path, children=False)
            return node

    async def delete_node(self, service: Service, path: RemotePath) -> None:
        try:
            await self.http.request("DELETE", self.node_url(service, path))
        except CanfarError as exc:
            raise with_subject(exc, str(path)) from None

    # --- UWS jobs (move, recursive delete, XML negotiation) -----------------------------------

    async def run_job(
        self,
        subject: str,
        url: str,
        *,
        content: bytes | None = None,
        form: dict[str, str] | None = None,
    ) -> str:
        """Create an async job (303 to it), run it and wait for it to end; its URL. A job
        ending in ERROR raises with the text of its /error."""
        from urllib.parse import urlencode

        body = content if content is not None else urlencode(form or {}).encode()
        kind = "text/xml" if content is not None else "application/x-www-form-urlencoded"
        try:
            async with self.http.stream(
                "POST",
                url,
                content=body,
                headers={"Content-Type": kind},
                ok=lambda r: r.status_code < 400,
            ) as response:
                location = response.headers.get("location")
            if not location:
                raise ServerError(
                    f"{subject}: the server made no job (HTTP {response.status_code})",
                    status=response.status_code,
                )
            job = urljoin(url, location)
            await self.http.request(
                "POST",
                f"{job}/phase",
                content=b"PHASE=RUN",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            phase = await self._wait_job(job)
            if phase != "COMPLETED":
                raise await self._job_error(subject, job, phase)
            return str(job)
        except CanfarError as exc:
            raise with_subject(exc, subject) from None

    async def _wait_job(self, job: str) -> str:
        delay = JOB_POLL
        deadline = anyio.current_time() + JOB_DEADLINE
        while True:
            response = await self.http.request(
                "GET", f"{job}/phase", headers={"Accept": "text/plain"}
            )
            phase = response.text.strip().upper()
            if phase in ("COMPLETED", "ERROR", "ABORTED"):
                return phase
            if anyio.current_time() > deadline:
                return phase
            await anyio.sleep(delay)
            delay = min(JOB_POLL_MAX, delay * 2)

    async def _job_error(self, subject: str, job: str, phase: str) -> CanfarError:
        """The job's own reason (its /error), mapped as a direct refusal would be."""
        from canfar_cli.storage.wire import fault_of

        try:
            response = await self.http.request(
                "GET", f"{job}/error", headers={"Accept": "text/plain"}
            )
            text = response.text.strip()
        except CanfarError:
            text = ""
        fault, detail = fault_of(text)
        status = {
            "NodeNotFound": 404,
            "ContainerNotFound": 404,
            "PermissionDenied": 403,
            "NotAuthenticated": 401,
            "DuplicateNode": 409,
            "QuotaExceeded": 413,
            "RequestEntityTooLarge": 413,
            "NodeLocked": 423,
            "NodeBusy": 409,
        }.get(fault)
        if status is not None:
            from canfar_cli.storage.wire import refusal

            fake = httpx.Response(status, text=text, headers={"content-type": "text/plain"})
            mapped = refusal("POST", job, fake, 0)
            if mapped is not None:
                return mapped
        reason = text or f"the job ended {phase}"
        if fault and detail:
            reason = f"{fault}: {detail}"
        return ServerError(f"{subject}: {reason}", status=400, reason=text)

    # --- negotiation ----------------------------------------------------------------------------

    async def negotiate(
        self, service: Service, path: RemotePath, direction: str, *, anonymous: bool = False
    ) -> str:
        """A byte URL for `path` from synctrans: the parameter form (303 straight to the first
        endpoint), else the XML form (its /error read when it fails, never "no endpoint")."""
        if not service.synctrans:
            raise ServerError(
                f"{path}: the service {service.name} offers no transfer negotiation",
                status=501,
            )
        secure = service.synctrans.startswith("https:")
        protocol = (
            (HTTPSGET if secure else HTTPGET)
            if direction == "pullFromVoSpace"
            else (HTTPSPUT if secure else HTTPPUT)
        )
        params = {
            "TARGET": self.uri(service, path),
            "DIRECTION": direction,
            "PROTOCOL": protocol,
        }
        subject = str(path)
        try:
            async with self.http.stream(
                "POST",
                service.synctrans,
                params=params,
                ok=lambda r: r.status_code < 400,
                idempotent=direction == "pullFromVoSpace",
            ) as response:
                location = response.headers.get("location")
                status = response.status_code
            if 300 <= status < 400 and location and "/transfers/" not in location:
                return str(urljoin(service.synctrans, location))
        except CanfarError as exc:
            if getattr(exc, "status", None) not in (400, 405, 501):
                raise with_subject(exc, subject) from None
        return await self._negotiate_xml(service, path, direction, protocol, anonymous)

    async def negotiate_xml_anonymous(
        self, service: Service, path: RemotePath, direction: str
    ) -> str:
        """A pre-authorized endpoint from the XML form, asking for no security method."""
        secure = (service.synctrans or "").startswith("https:")
        if direction == "pullFromVoSpace":
            protocol = HTTPSGET if secure else HTTPGET
        else:
            protocol = HTTPSPUT if secure else HTTPPUT
        return await self._negotiate_xml(service, path, direction, protocol, True)

    async def _negotiate_xml(
        self, service: Service, path: RemotePath, direction: str, protocol: str, anonymous: bool
    ) -> str:
        assert service.synctrans is not None
        subject = str(path)
        document = docs.transfer_document(
            self.uri(service, path), direction, protocol, [] if anonymous else self.methods
        )
        try:
            url = service.synctrans
            body: bytes | None = document
            method = "POST"
            for _hop in range(MAX_HOPS):
                async with self.http.stream(
                    method,
                    url,
                    content=body,
                    headers={"Content-Type": "text/xml"} if body else None,
                    ok=lambda r: r.status_code < 400,
                ) as response:
                    location = response.headers.get("location")
                    status = response.status_code
                    content = await response.aread() if status == 200 else b""
                if 300 <= status < 400 and location:
                    url, body, method = urljoin(url, location), None, "GET"
                    continue
                break
            else:
                raise ServerError(f"{subject}: the negotiation went round in circles", status=310)
            root = docs.parse_document(content, "transfer document")
            found = docs.endpoints(root)
            if found:
                return str(found[0][1])
            # No endpoint: the job failed. Its reason is at /transfers/{id}/error (§5).
            job = url.replace("/xfer/", "/transfers/") if "/xfer/" in url else None
            if job and service.transfers:
                job = f"{service.transfers}/{url.rstrip('/').rsplit('/', 1)[-1]}"
            if job:
                raise await self._job_error(subject, job, "ERROR")
            raise ServerError(f"{subject}: the server offered no way to move the bytes", status=200)
        except CanfarError as exc:
            raise with_subject(exc, subject) from None

    # --- reading --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open_read(
        self, service: Service, path: RemotePath, *, offset: int = 0
    ) -> AsyncIterator[httpx.Response]:
        """The response carrying the file's bytes (status 200, 206 from `offset`, or 204 for an
        empty file), redirects followed, the credential only where it belongs."""
        subject = str(path)
        if service.files:
            url = self.files_url(service, path)
        else:
            url = await self.negotiate(service, path, "pullFromVoSpace")
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        yielded = False
        try:
            for _hop in range(MAX_HOPS):
                credentials = self._credentials_for(service, url)
                shown = public_url(url) if credentials else f"{subject} (pre-authorized URL)"
                async with self.http.stream(
                    "GET",
                    url,
                    headers={"Accept": "*/*", **headers},
                    shown=shown,
                    credentials=credentials,
                    ok=lambda r: r.status_code < 400,
                ) as response:
                    location = response.headers.get("location")
                    if 300 <= response.status_code < 400 and location:
                        url = urljoin(url, location)
                        continue
                    yielded = True
                    yield response
                    return
            raise ServerError(f"{subject}: too many redirects", status=310)
        except CanfarError as exc:
            if yielded:  # raised by the caller's block: not ours to re-word
                raise
            raise with_subject(exc, subject) from None

    async def download(
        self,
        service: Service,
        path: RemotePath,
        dest: Path,
        *,
        resume: bool = False,
        progress: Progress = QUIET,
        on_length: Callable[[int], None] | None = None,
        mtime: float | None = None,
    ) -> int:
        """Fetch a file to `dest` through `dest.part`: verified, then renamed (and dated
        `mtime` when given). Returns bytes. `on_length(n)` is told the file's size when the
        answer says it (once). A small file is held whole and written in one step (one
        thread hop in place of five: most of a small file's cost)."""
        part = dest.with_name(dest.name + ".part")
        fetch = _Fetch(part, progress, on_length, self.http)
        try:
            if resume and part.is_file():
                fetch.have = await anyio.to_thread.run_sync(_hash_into, part, fetch.hasher)
                progress.advance(fetch.have)
            await self._fetch(service, path, fetch)
            fetch.check(str(path))
            await anyio.to_thread.run_sync(_finish_download, part, dest, fetch.small, mtime)
            return fetch.have
        except OSError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            raise CanfarError(
                f"{dest}: cannot write ({exc.strerror or exc}); nothing was kept",
                hint="check the disk space and the folder's permissions",
            ) from None
        except anyio.get_cancelled_exc_class():
            with contextlib.suppress(OSError):
                part.unlink()
            raise

    async def _fetch(self, service: Service, path: RemotePath, fetch: _Fetch) -> None:
        """The body into `fetch`, asked again when it breaks off (from where it stopped when
        the server honours Range, else from the start)."""
        attempts = self.http.retry.attempts
        for tries in range(1, attempts + 1):
            try:
                async with self.open_read(service, path, offset=fetch.have) as response:
                    await fetch.take(response)
                return
            except httpx.HTTPError as exc:
                if tries >= attempts:
                    raise UnreachableError(
                        f"{path}: the download broke off after {fetch.have} bytes"
                        f" ({describe(exc)}); {fetch.part.name} is kept",
                        hint="continue it with `canfar data cp --continue`",
                    ) from None
                await anyio.sleep(self.http.retry.delay(tries))

    # --- writing --------------------------------------------------------------------------------

    async def _write_url(self, service: Service, path: RemotePath) -> str:
        if service.files and not service.is_vault and service.name not in self._no_direct_put:
            return self.files_url(service, path)
        return await self.negotiate(service, path, "pushToVoSpace")

    async def put_stream(
        self,
        service: Service,
        path: RemotePath,
        body: Callable[[], Any],
        *,
        length: int | None,
        md5: str | None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """One PUT of a body (a factory of a fresh iterable per attempt): direct, or through
        negotiation when the service needs it or refused the direct way."""
        url = await self._write_url(service, path)
        headers = {"Content-Type": content_type or "application/octet-stream"}
        if md5:
            headers["Digest"] = digest_header(bytes.fromhex(md5))
        if length is not None:
            headers["Content-Length"] = str(length)
        for _direct_refused in range(2):
            credentials = self._credentials_for(service, url)
            shown = public_url(url) if credentials else f"{path} (pre-authorized URL)"
            try:
                async with self.http.stream(
                    "PUT",
                    url,
                    content=body,
                    headers=headers,
                    shown=shown,
                    credentials=credentials,
                    idempotent=True,
                ) as response:
                    await response.aread()
                    return response
            except ServerError as exc:
                direct = service.files is not None and url.startswith(service.files + "/")
                if direct and exc.status in (405, 501) and service.synctrans:
                    self._no_direct_put.add(service.name)
                    url = await self.negotiate(service, path, "pushToVoSpace")
                    continue
                raise
        raise ServerError(f"{path}: the server refused every way to write", status=405)

    async def upload(
        self,
        source: Path,
        service: Service,
        path: RemotePath,
        *,
        progress: Progress = QUIET,
    ) -> int:
        """Send a local file; verified by the server's Digest. Returns bytes sent. A 412 (the
        bytes changed on the way) or a stored MD5 that is not ours is tried once more."""
        for attempt in (1, 2):
            done = await self._upload_once(source, service, path, progress, attempt)
            if done is not None:
                return done
        raise AssertionError("unreachable")  # pragma: no cover

    async def _upload_once(
        self,
        source: Path,
        service: Service,
        path: RemotePath,
        progress: Progress,
        attempt: int,
    ) -> int | None:
        """One try: the bytes sent when the file is there and verified, None to try again."""
        body, sent, size, md5 = await _upload_body(source, progress)
        try:
            response = await self.put_stream(service, path, body, length=size, md5=md5)
        except ServerError as exc:
            progress.advance(-sent.total)
            await self.refused_put(exc, sent, service, path, attempt, needed=size)
            return None
        except BaseException:
            progress.advance(-sent.total)
            if sent.started:
                await self.remove_partial(service, path)
            raise
        returned = md5_of_digest(response.headers.get("digest"))
        ours = md5 or sent.md5.hexdigest()
        if sent.total != size:
            await self.remove_partial(service, path)
            raise CanfarError(f"{source}: it changed while it was sent; nothing was kept")
        if returned is not None and returned != ours:
            await self.remove_partial(service, path)
            if attempt == 1:
                progress.advance(-sent.total)
                return None
            raise IntegrityError(
                f"{path}: the server stored other bytes than were sent (md5 {returned}"
                f" != {ours}); the remote file was removed",
                status=201,
                hint="try again",
            )
        return size

    async def refused_put(
        self,
        exc: ServerError,
        sent: Sent,
        service: Service,
        path: RemotePath,
        attempt: int,
        *,
        needed: int | None,
    ) -> None:
        """After a PUT the server refused: returns when it is worth one more try (a 412 on the
        first: the bytes changed on the way, and the next PUT replaces what this one left);
        otherwise removes what the PUT may have left and raises the error, with the quota
        where the server ran out of room."""
        if exc.status == 412 and attempt == 1:
            return
        if _residue(exc, sent):
            await self.remove_partial(service, path)
        exc = await self.quota_of(service, path, exc, needed=needed)
        raise with_subject(exc, str(path)) from None

    async def quota_of(
        self, service: Service, path: RemotePath, exc: ServerError, *, needed: int | None = None
    ) -> ServerError:
        """A 413 with the allocation's quota and usage when its node reports them ("used X of
        Y"); any other error as it is."""
        from canfar_cli.storage.wire import QuotaError

        if not isinstance(exc, QuotaError):
            return exc
        exc.needed = needed
        parts = [p for p in path.path.split("/") if p]
        depth = 1 if service.is_vault else 2
        if len(parts) <= depth:
            return exc
        allocation = RemotePath(path.service, "/" + "/".join(parts[:depth]))
        try:
            node, _ = await self.read_node(service, allocation, children=False)
        except CanfarError:
            return exc
        if node.quota is None:
            return exc
        used = node.used if node.used is not None else node.size
        return QuotaError(
            exc.message,
            left=exc.left,
            quota=node.quota,
            used=used,
            reason=exc.reason,
            needed=needed,
        )

    async def remove_partial(self, service: Service, path: RemotePath) -> None:
        """Delete what a failed upload left (a 0-byte file, §4.4), shielded from cancellation."""
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(10),
            contextlib.suppress(CanfarError, httpx.HTTPError),
        ):
            await self.http.request("DELETE", self.node_url(service, path))

    async def copy_remote(
        self,
        source: tuple[Service, RemotePath],
        dest: tuple[Service, RemotePath],
        *,
        size: int | None,
        progress: Progress = QUIET,
    ) -> int:
        """Remote to remote, streamed through this machine (no server-side copy exists, §3.6):
        the source's Digest (known before its body) goes with the PUT."""
        src_service, src_path = source
        dst_service, dst_path = dest
        for attempt in (1, 2):
            async with self.open_read(src_service, src_path) as response:
                md5 = md5_of_digest(response.headers.get("digest"))
                length = response.headers.get("content-length")
                total = int(length) if length and length.isdigit() else size
                if response.status_code == 204:
                    total = 0
                sent = Sent()
                used = False

                def body(sent: Sent = sent) -> AsyncIterator[bytes]:
                    nonlocal used
                    if used:
                        raise httpx.StreamConsumed()
                    used = True
                    return _relay(response, sent, progress)

                try:
                    put = await self.put_stream(dst_service, dst_path, body, length=total, md5=md5)
                except ServerError as exc:
                    progress.advance(-sent.total)
                    await self.refused_put(exc, sent, dst_service, dst_path, attempt, needed=total)
                    continue
                except BaseException:
                    progress.advance(-sent.total)
                    if sent.started:
                        await self.remove_partial(dst_service, dst_path)
                    raise
            returned = md5_of_digest(put.headers.get("digest"))
            if returned is not None and returned != sent.md5.hexdigest():
                await self.remove_partial(dst_service, dst_path)
                raise IntegrityError(
                    f"{dst_path}: the server stored other bytes than were sent; removed",
                    status=201,
                )
            return sent.total
        raise AssertionError("unreachable")  # pragma: no cover


def _residue(exc: ServerError, sent: Sent) -> bool:
    """Whether a refused PUT may have left a file behind (the server makes the node, then
    truncates it to 0 bytes on failure, §4.4): checksum, quota and server failures do; a
    refusal of who we are, of the place, or of the name (400, 401, 403, 404, 409) never
    touched the node, which may be the user's own (a folder answers 400)."""
    return exc.status in (412, 413) or exc.status >= 500


async def _upload_body(
    source: Path, progress: Progress
) -> tuple[Callable[[], Any], Sent, int, str | None]:
    """(body factory, its Sent, size, MD5 when known before sending) of a local file: a small
    one read once in one thread hop and sent from memory; up to DIGEST_PASS_LIMIT its MD5 from
    a first read pass (for the Digest header); larger ones streamed, hashed on the way."""
    try:
        size = (await anyio.to_thread.run_sync(source.stat)).st_size
        whole: bytes | None = None
        md5 = None
        if size <= CHUNK:
            data, md5 = await anyio.to_thread.run_sync(_read_whole, source)
            whole, size = data, len(data)
        elif size <= DIGEST_PASS_LIMIT:
            md5 = await anyio.to_thread.run_sync(_hash_file, source)
    except OSError as exc:
        raise CanfarError(f"{source}: cannot read ({exc.strerror or exc})") from None
    sent = Sent()

    def body() -> Any:
        if whole is None:
            return _file_body(source, sent, progress)
        if sent.total:  # a retry: what the last attempt counted is taken back
            progress.advance(-sent.total)
        sent.total, sent.started = len(whole), True
        progress.advance(len(whole))
        return whole

    return body, sent, size, md5


class _Fetch:
    """A download's state across its attempts: where the bytes go, how many have come, their
    MD5 so far, the server's, and a small body held whole. `have` and the MD5 always cover
    exactly what is in the .part, even after a broken attempt (the next asks from there)."""

    def __init__(
        self,
        part: Path,
        progress: Progress,
        on_length: Callable[[int], None] | None,
        http: HttpClient,
    ) -> None:
        self.part = part
        self.progress = progress
        self.on_length = on_length
        self.http = http
        self.hasher: Any = hashlib.md5()
        self.have = 0
        self.expected: str | None = None
        self.small: bytes | None = None

    async def take(self, response: httpx.Response) -> None:
        """One answer's body: a 206 continues the .part, any other answer starts again. A
        small body is held whole; a big one over a real socket is read on a connection of its
        own (canfar_cli.storage.direct); the rest streamed through httpx."""
        if response.status_code == 206 and self.have:
            mode = "ab"
        else:
            if self.have:
                self.progress.advance(-self.have)
            self.have, self.hasher, mode = 0, hashlib.md5(), "wb"
        start = self.have
        self.expected = md5_of_digest(response.headers.get("digest")) or self.expected
        announced = response.headers.get("content-length", "")
        length = int(announced) if announced.isdigit() else None
        if self.on_length is not None and length is not None:
            self.on_length(length + self.have)
            self.on_length = None
        chunks = None if response.status_code == 204 else response.aiter_raw()
        again = self._direct(response, length)
        if mode == "wb" and (chunks is None or (length is not None and length <= CHUNK)):
            self.small, self.have = await _read_small(chunks, self.hasher, self.progress)
        elif again is not None:
            self.small = None
            await response.aclose()  # its connection goes; the body comes on the new one
            await self._take_direct(again, mode)
        else:
            self.small = None
            await _write_stream(self, mode, chunks)
        whole = length is None or self.have == start + length
        if response.status_code in (200, 206) and not whole:
            raise httpx.RemoteProtocolError("body shorter than its length")

    def _direct(self, response: httpx.Response, length: int | None) -> Direct | None:
        """The same request again, to be read on a socket of its own, when the body is big and
        the client reaches the server over a socket of its own (not in-process, no proxy)."""
        if length is None or length < direct.DIRECT_MIN or response.status_code not in (200, 206):
            return None
        url = str(response.request.url)
        route = self.http.own_socket(url)
        if route is None:
            return None
        context, timeout = route
        return Direct(
            url,
            dict(response.request.headers),
            context=context,
            timeout=timeout,
            status=response.status_code,
            length=length,
            shown=public_url(url),
        )

    async def _take_direct(self, body: Direct, mode: str) -> None:
        handle = await anyio.to_thread.run_sync(open, self.part, mode, 0)  # unbuffered
        try:
            await direct.fetch(body, handle, self.hasher, self.progress)
            self.expected = md5_of_digest(body.digest) or self.expected
        finally:
            self.have += body.written
            await anyio.to_thread.run_sync(handle.close)

    def check(self, subject: str) -> None:
        digest = self.hasher.hexdigest()
        if self.expected is not None and digest != self.expected:
            with contextlib.suppress(OSError):
                self.part.unlink()
            raise IntegrityError(
                f"{subject}: the bytes received do not match the server's checksum"
                f" (md5 {digest} != {self.expected}); nothing was kept",
                status=200,
                hint="try again",
            )


class Sent:
    """What an upload body has sent so far (reset for each attempt)."""

    def __init__(self) -> None:
        self.total = 0
        self.started = False
        self.md5 = hashlib.md5()


async def _file_body(source: Path, sent: Sent, progress: Progress) -> AsyncIterator[bytes]:
    if sent.total:
        progress.advance(-sent.total)
    sent.total, sent.md5, sent.started = 0, hashlib.md5(), True
    handle = await anyio.to_thread.run_sync(open, source, "rb")
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(handle.read, CHUNK)
            if not chunk:
                return
            sent.md5.update(chunk)
            sent.total += len(chunk)
            progress.advance(len(chunk))
            yield chunk
    finally:
        handle.close()


async def _relay(response: httpx.Response, sent: Sent, progress: Progress) -> AsyncIterator[bytes]:
    sent.started = True
    if response.status_code == 204:
        return
    async for chunk in response.aiter_raw():
        sent.md5.update(chunk)
        sent.total += len(chunk)
        progress.advance(len(chunk))
        yield chunk


async def _read_small(
    chunks: AsyncIterator[bytes] | None, hasher: Any, progress: Progress
) -> tuple[bytes, int]:
    parts = []
    if chunks is not None:
        async for chunk in chunks:
            hasher.update(chunk)
            parts.append(chunk)
            progress.advance(len(chunk))
    data = b"".join(parts)
    return data, len(data)


def _finish_download(part: Path, dest: Path, small: bytes | None, mtime: float | None) -> None:
    """The last step of a download, in one thread hop: a small body written to the .part; the
    .part renamed over the destination; its date set."""
    if small is not None:
        with open(part, "wb") as handle:
            handle.write(small)
    os.replace(part, dest)
    if mtime is not None:
        os.utime(dest, (mtime, mtime))


def _read_whole(path: Path) -> tuple[bytes, str]:
    data = path.read_bytes()
    return data, hashlib.md5(data).hexdigest()


def _hash_file(path: Path) -> str:
    hasher = hashlib.md5()
    _hash_into(path, hasher)
    return hasher.hexdigest()


def _hash_into(path: Path, hasher: Any) -> int:
    total = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            total += len(chunk)
    return total


async def _write_stream(fetch: _Fetch, mode: str, chunks: AsyncIterator[bytes] | None) -> None:
    """Append the chunks to `fetch.part`, hashing them on the way (`fetch.have` counts them).

    Over TLS the chunks come 16 KiB at a time (one record each), and the event loop is the
    bottleneck of a download: so it only gathers them, a MiB at a time, and a writer hashes and
    writes each MiB in a worker thread (hashlib and os.write release the GIL), overlapping the
    receiving. At most WRITE_QUEUE MiB wait between the two: memory stays flat."""
    handle = await anyio.to_thread.run_sync(open, fetch.part, mode, 0)  # one write a MiB
    send, receive = anyio.create_memory_object_stream[list[bytes]](WRITE_QUEUE)
    failures: list[BaseException] = []

    async def writer() -> None:
        async with receive:
            try:
                async for batch in receive:
                    await anyio.to_thread.run_sync(_hash_and_write, handle, fetch.hasher, batch)
                    size = sum(map(len, batch))
                    fetch.have += size
                    fetch.progress.advance(size)
            except Exception as exc:  # a disk full: the reader stops, the error is raised below
                failures.append(exc)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(writer)
            async with send:
                batch: list[bytes] = []
                size = 0
                try:
                    async for chunk in chunks if chunks is not None else _nothing():
                        batch.append(chunk)
                        size += len(chunk)
                        if size >= CHUNK:
                            await send.send(batch)
                            batch, size = [], 0
                    if batch:
                        await send.send(batch)
                except anyio.BrokenResourceError:  # the writer failed: its error is raised below
                    pass
                except Exception as exc:  # a broken read: raised once the writer is done
                    failures.append(exc)
    finally:
        await anyio.to_thread.run_sync(handle.close)
    if failures:
        raise failures[-1] if isinstance(failures[-1], OSError) else failures[0]


WRITE_QUEUE = 4


def _hash_and_write(handle: Any, hasher: Any, batch: list[bytes]) -> None:
    data = b"".join(batch)
    hasher.update(data)
    view = memoryview(data)
    while view:  # an unbuffered write may write less than asked
        view = view[handle.write(view) :]


async def _nothing() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk
