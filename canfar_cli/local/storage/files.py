"""The byte endpoints (§4.4, §4.5), streamed both ways in 64 KiB chunks.

Cavern `/files/{path}` (and `/files/preauth:TOKEN/{path}`): GET/HEAD with `Digest: md5=<base64>`,
204 for an empty file, 400 for a folder, no Range (a Range header gets the whole body, 200); PUT
truncates the file in place and rewrites it, 201 with `Digest` and `Content-Length: 0`; a request
Digest that does not match, a quota reached, a client gone mid-body: the file is left at 0 bytes.

Vault `/files/{path}`: a 303 to its byte host, `BASE/minoc/files/{TOKEN}/{artifact URI}...`, which
serves a single Range (206; several ranges: 416) and takes PUTs of whole artifacts.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hashlib
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from canfar_cli.local.asgi import CHUNK, Request, Response
from canfar_cli.local.skaha import SkahaError
from canfar_cli.local.storage import errors, quota
from canfar_cli.local.storage.nodes import ENCODING, LINK, MD5, TYPE, parent_of
from canfar_cli.local.storage.props import INTERNAL, MD5_STAMP, stamp
from canfar_cli.local.storage.tree import Tree, kind_of

PREVIOUS_LENGTH = INTERNAL + "previous-length"
MAX_LINKS = 8


def digest_header(md5_hex: str) -> str:
    return "md5=" + base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii")


async def receive_body(
    request: Request, handle: BinaryIO, left: int | None, expected: str | None
) -> str:
    """Write a PUT's body to `handle` and return its MD5 (hex), as cavern and minoc take one:
    413 as soon as the declared length or the bytes received pass the `left` quota, 412 when
    the client's Digest (`expected`) differs. The caller undoes what was written on failure."""
    declared = request.headers.get("content-length", "").strip()
    if left is not None and declared.isdigit() and int(declared) > left:
        raise errors.quota_exceeded(left)
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    async for chunk in request.chunks():
        size += len(chunk)
        if left is not None and size > left:
            raise errors.quota_exceeded(left)
        handle.write(chunk)
        digest.update(chunk)
    actual = digest.hexdigest()
    if expected is not None and expected != actual:
        raise SkahaError(412, f"checksum mismatch: md5:{expected} != md5:{actual}")
    return actual


def requested_md5(request: Request) -> str | None:
    """The hex MD5 of a request's `Digest: md5=<base64>` (other algorithms ignored)."""
    raw = request.headers.get("digest")
    if not raw:
        return None
    for part in raw.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "md5":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise errors.bad(f"invalid Digest header: {raw}") from None
            if len(decoded) != 16:
                raise errors.bad(f"invalid Digest header: {raw}")
            return decoded.hex()
    return None


async def stream_file(handle_path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    """`length` bytes of the file from `start` (what it held when the request came)."""
    with open(handle_path, "rb") as handle:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


# --- cavern ---------------------------------------------------------------------------------


def follow(tree: Tree, user: str | None, path: str) -> tuple[str, os.stat_result]:
    """The node a byte request means: links inside the tree are followed (with the same checks
    on the target), others are 404 UnreadableLinkTarget."""
    for _ in range(MAX_LINKS):
        info = tree.existing(user, path)
        if kind_of(info) != LINK:
            return path, info
        target = tree.link_target(path)
        if not target.startswith(f"vos://{tree.authority}"):
            raise errors.fault(404, "UnreadableLinkTarget", target)
        path = tree.path_of(target)
    raise errors.fault(404, "UnreadableLinkTarget", tree.uri(path))


def cavern_get(tree: Tree, user: str | None, path: str) -> Response:
    path, info = follow(tree, user, path)
    if stat.S_ISDIR(info.st_mode):
        raise errors.bad("GET for directories not supported")
    if not tree.readable(user, path, info):
        raise errors.denied(tree.uri(path))
    stored = tree.props.read(tree.fs(path))
    _, md5 = tree.data_facts(path, info, stored)
    headers = {
        "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}"',
        "Last-Modified": _http_date(info.st_mtime),
    }
    if stored.get(ENCODING):
        headers["Content-Encoding"] = stored[ENCODING]
    if md5 is not None:
        headers["Digest"] = digest_header(md5)
    content_type = stored.get(TYPE) or "application/octet-stream"
    if info.st_size == 0:
        return Response(204, b"", None, headers)
    headers["Content-Length"] = str(info.st_size)
    return Response(
        200, b"", content_type, headers, stream=stream_file(tree.fs(path), 0, info.st_size)
    )


async def cavern_put(tree: Tree, user: str | None, path: str, request: Request) -> Response:
    expected = requested_md5(request)  # a malformed Digest is refused before anything changes
    parent = parent_of(path)
    parent_info = tree.resolve(user, parent, missing="container")
    if parent_info is None:
        raise SkahaError(404, f"not found: parent container {parent}")
    if not stat.S_ISDIR(parent_info.st_mode):
        raise errors.bad(f"parent is not a container node: {parent}")
    info = tree.lstat(path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise errors.bad(f"not a data node: {tree.uri(path)}")
    if not tree.writable(user, path):
        raise errors.denied(tree.uri(path))
    target = tree.fs(path)
    left = quota.remaining(tree, path, replacing=info.st_size if info else 0)
    # Truncated in place and rewritten, as cavern does (no temporary file and rename).
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o660)
    with os.fdopen(fd, "wb", buffering=0) as handle:
        try:
            actual = await receive_body(request, handle, left, expected)
        except BaseException:  # a refusal, a client gone, a full disk, a cancellation
            handle.truncate(0)  # any failure once writing started leaves an empty file
            tree.props.write(target, {MD5: None, MD5_STAMP: None})
            raise
    values: dict[str, str | None] = {MD5: actual, MD5_STAMP: stamp(os.stat(target))}
    content_type = request.headers.get("content-type")
    if content_type:
        values[TYPE] = content_type
    tree.props.write(target, values)
    headers = {"Digest": digest_header(actual)}
    if content_type:
        headers["Content-Type"] = content_type
    return Response(201, b"", None, headers)


# --- vault and its byte host (minoc) ------------------------------------------------------------


def artifact_uri(storage_id: str) -> str:
    return f"cadc:vault/{storage_id}"


def minoc_parse(rest: str) -> tuple[str, str]:
    """(token, storage ID) of `{TOKEN}/cadc:vault/{ID}[:fo/{name}]`."""
    token, _, artifact = rest.partition("/")
    if not artifact.startswith("cadc:vault/"):
        raise SkahaError(404, f"not found: {artifact}")
    storage_id = artifact[len("cadc:vault/") :].split("/", 1)[0].split(":", 1)[0]
    if not storage_id:
        raise SkahaError(404, f"not found: {artifact}")
    return token, storage_id


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `bytes=a-b` range; 416 for several or unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        raise SkahaError(
            416, "multiple ranges are not supported", {"Content-Range": f"bytes */{size}"}
        )
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash:
            raise ValueError
        if first == "":
            count = int(last)
            start, end = max(0, size - count), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        raise SkahaError(
            416, f"invalid range: {header}", {"Content-Range": f"bytes */{size}"}
        ) from None
    end = min(end, size - 1)
    if start > end or start >= size:
        raise SkahaError(
            416, f"range not satisfiable: {header}", {"Content-Range": f"bytes */{size}"}
        )
    return start, end


def minoc_get(tree: Tree, artifact: Path, name: str, request: Request) -> Response:
    try:
        info = os.stat(artifact)
    except FileNotFoundError:
        raise SkahaError(404, f"not found: {artifact.name}") from None
    stored = tree.props.read(artifact)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{name}"',
        "Last-Modified": _http_date(info.st_mtime),
    }
    if stored.get(MD5) and stored.get(MD5_STAMP) == stamp(info):
        headers["Digest"] = digest_header(stored[MD5])
    return _ranged(artifact, info, headers, request)


def _ranged(
    artifact: Path, info: os.stat_result, headers: dict[str, str], request: Request
) -> Response:
    size = info.st_size
    raw = request.headers.get("range")
    span = parse_range(raw, size) if raw and size > 0 else None
    if span is None:
        headers["Content-Length"] = str(size)
        return Response(
            200, b"", "application/octet-stream", headers, stream=stream_file(artifact, 0, size)
        )
    start, end = span
    headers["Content-Length"] = str(end - start + 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(
        206,
        b"",
        "application/octet-stream",
        headers,
        stream=stream_file(artifact, start, end - start + 1),
    )


async def minoc_put(
    tree: Tree, node_path: str, artifact: Path, request: Request, left: int | None
) -> Response:
    """A whole artifact: written aside and renamed when complete and verified, so a failure
    leaves what was there (a node never written stays without bytes: GET 204)."""
    expected = requested_md5(request)
    artifact.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        previous = os.stat(artifact).st_size
    except FileNotFoundError:
        previous = 0
    partial = artifact.with_name(artifact.name + f".part-{time.monotonic_ns()}")
    try:
        with open(partial, "wb", buffering=0) as handle:
            actual = await receive_body(request, handle, left, expected)
        os.replace(partial, artifact)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    tree.props.write(
        artifact,
        {MD5: actual, MD5_STAMP: stamp(os.stat(artifact)), PREVIOUS_LENGTH: str(previous)},
    )
    content_type = request.headers.get("content-type")
    try:
        os.utime(tree.fs(node_path))  # the node's #date moves with its bytes
        if content_type:
            tree.props.write(tree.fs(node_path), {TYPE: content_type})
    except OSError:
        pass  # the node went away meanwhile: the artifact stays an orphan, as in minoc
    return Response(201, b"", None, {"Digest": digest_header(actual)})
