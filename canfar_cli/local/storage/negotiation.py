"""Transfer negotiation (§4.1-§4.3), the async transfer and move jobs (§3.6), and the recursive
delete job (§3.5).

    POST synctrans (XML)        303 → transfers/{id}/results/transferDetails → 303 → xfer/{id}
    synctrans?TARGET&DIRECTION&PROTOCOL   303 straight to the first endpoint; errors: status + text
    POST transfers (XML)        303 → transfers/{id}; a move when the direction is a vos URI
    transfers/{id}[/phase|/error|/results/transferDetails], xfer/{id}
    POST async-delete target=URI   303 → async-delete/{id}

Endpoints (cavern, CavernURLGenerator): pre-authorized URLs first; for a protocol asked for
without a security method, a preauth URL (and for a pull the plain one too); with one, the plain
`files` URL with that method. Vault always answers preauth URLs of its byte host. An XML
negotiation that fails still answers 303; the job is then in phase ERROR, `/error` says why and
`/xfer/{id}` has no protocols at all.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from canfar_cli.local.asgi import Request, Response, text
from canfar_cli.local.skaha import SkahaError
from canfar_cli.local.storage import errors, preauth, quota
from canfar_cli.local.storage.nodes import VOS_NS, parent_of, parse_xml
from canfar_cli.local.storage.tree import Tree, kind_of
from canfar_cli.local.storage.uws import ABORTED, FINAL, PENDING, Job, job_document

if TYPE_CHECKING:
    from canfar_cli.local.storage.routes import StorageServices

Work = Callable[[Job], None]

PUSH, PULL, BOTH = "pushToVoSpace", "pullFromVoSpace", "biDirectional"
PROTOCOL = "ivo://ivoa.net/vospace/core#"
GETS = (PROTOCOL + "httpsget", PROTOCOL + "httpget")
PUTS = (PROTOCOL + "httpsput", PROTOCOL + "httpput")
XML = "text/xml"
CERT = "ivo://ivoa.net/sso#tls-with-certificate"
TOKEN = "ivo://ivoa.net/sso#token"


@dataclass
class Transfer:
    target: str
    direction: str
    protocols: list[tuple[str, list[str]]]
    keep_bytes: bool = True
    version: str = "2.1"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_transfer(body: bytes) -> Transfer:
    root = parse_xml(body, "transfer document")
    if _local(root.tag) != "transfer":
        raise errors.invalid_argument("invalid transfer document: the root is not vos:transfer")
    version = root.get("version") or "2.0"
    target = direction = ""
    keep = True
    protocols: list[tuple[str, list[str]]] = []
    for element in root:
        name = _local(element.tag)
        if name == "target" and not target:
            target = (element.text or "").strip()
        elif name == "direction":
            direction = (element.text or "").strip()
        elif name == "keepBytes":
            keep = (element.text or "").strip().lower() != "false"
        elif name == "protocol":
            methods = []
            if version != "2.0":
                methods = [m.get("uri", "") for m in element if _local(m.tag) == "securityMethod"]
            protocols.append((element.get("uri", ""), [m for m in methods if m]))
    if not target or not direction:
        raise errors.invalid_argument("invalid transfer document: target and direction needed")
    return Transfer(target, direction, protocols, keep, version)


def transfer_document(
    target: str, direction: str, endpoints: list[tuple[str, str, str | None]]
) -> str:
    protocols = "".join(
        f"  <vos:protocol uri={quoteattr(proto)}>\n    <vos:endpoint>{escape(url)}</vos:endpoint>\n"
        + (f"    <vos:securityMethod uri={quoteattr(method)} />\n" if method else "")
        + "  </vos:protocol>\n"
        for proto, url, method in endpoints
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<vos:transfer xmlns:vos="{VOS_NS}" version="2.1">\n'
        f"  <vos:target>{escape(target)}</vos:target>\n"
        f"  <vos:direction>{escape(direction)}</vos:direction>\n"
        f"{protocols}"
        "  <vos:keepBytes>true</vos:keepBytes>\n"
        "</vos:transfer>\n"
    )


# --- negotiation ----------------------------------------------------------------------------


def prepare(tree: Tree, user: str | None, path: str, direction: str) -> str:
    """The side effects and checks of a negotiation; the DataNode's path (links followed)."""
    if direction == PUSH:
        parent = parent_of(path)
        parent_info = tree.resolve(user, parent, missing="container")
        if parent_info is None or not stat.S_ISDIR(parent_info.st_mode):
            raise errors.container_not_found(tree.uri(parent))
        info = tree.lstat(path)
        if info is not None and kind_of(info) != "vos:DataNode":
            raise errors.bad("transfer destination is not a data node")
        if info is None:
            if not tree.writable(user, parent):
                raise errors.denied(tree.uri(path))
            tree.create_data(path)  # the empty DataNode exists from now on (§4.3)
        elif not tree.writable(user, path):
            raise errors.denied(tree.uri(path))
        quota.check_negotiation(tree, path)
        return path
    from canfar_cli.local.storage.files import follow

    path, info = follow(tree, user, path)
    if kind_of(info) != "vos:DataNode":
        raise errors.bad("target is not a data node")
    if not tree.readable(user, path, info):
        raise errors.denied(tree.uri(path))
    return path


def endpoints(
    services: StorageServices,
    tree: Tree,
    user: str | None,
    path: str,
    direction: str,
    protocols: list[tuple[str, list[str]]],
    base: str,
) -> list[tuple[str, str, str | None]]:
    wanted = GETS if direction == PULL else PUTS
    first: list[tuple[str, str, str | None]] = []
    rest: list[tuple[str, str, str | None]] = []
    seen: set[tuple[str, str, str | None]] = set()

    def add(bucket: list[tuple[str, str, str | None]], entry: tuple[str, str, str | None]) -> None:
        if entry not in seen:
            seen.add(entry)
            bucket.append(entry)

    from urllib.parse import quote

    for proto, methods in protocols:
        if proto not in wanted:
            continue
        write = direction == PUSH
        if tree.service.vault:
            add(first, (proto, services.minoc_url(base, tree, path, user, write=write), None))
            continue
        files = f"{base}/{tree.service.name}/files"
        plain = files + quote(path, safe="/:@!$&'()*+,;=-._~")
        if not methods:
            grant = preauth.WRITE if write else preauth.READ
            token = services.signer.token(tree.uri(path), grant, user)
            add(
                first,
                (proto, f"{files}/preauth:{token}" + quote(path, safe="/:@!$&'()*+,;=-._~"), None),
            )
            if not write:
                add(rest, (proto, plain, None))
        else:
            for method in methods:
                add(rest, (proto, plain, method))
    return first + rest


def negotiate(
    services: StorageServices, tree: Tree, user: str | None, transfer: Transfer, base: str
) -> list[tuple[str, str, str | None]]:
    if transfer.direction not in (PUSH, PULL):
        raise errors.bad(f"unsupported direction: {transfer.direction}")
    path = prepare(tree, user, tree.path_of(transfer.target), transfer.direction)
    found = endpoints(services, tree, user, path, transfer.direction, transfer.protocols, base)
    if not found:
        raise errors.bad("requested transfer specs not supported")
    return found


def caller_method(request: Request, user: str | None) -> str | None:
    if user is None:
        return None
    if request.headers.get("authorization"):
        return TOKEN
    return CERT


# --- routes -----------------------------------------------------------------------------------


def route(
    services: StorageServices,
    request: Request,
    method: str,
    tree: Tree,
    user: str | None,
    resource: str,
    tail: str,
    base: str,
) -> Response:
    root = f"{base}/{tree.service.name}"
    if resource == "synctrans":
        return synctrans(services, request, method, tree, user, base, root)
    if resource == "xfer":
        job = services.jobs.get(tail, tree.service.name, "transfer")
        if job is None or job.details is None or method != "GET" or not _mine(job, user):
            raise SkahaError(404, f"not found: {tail}")
        return Response(200, job.details.encode(), XML)
    kind = {"transfers": "transfer", "async-delete": "delete"}.get(resource, "setprops")
    jobs_url = f"{root}/{resource}"
    if not tail:
        if method != "POST":
            raise errors.unsupported(request.method, "POST")
        job = create_job(services, request, tree, user, kind, base)
        from canfar_cli.local.storage.routes import params_of

        if (params_of(request).get("PHASE") or "").upper() == "RUN":
            services.jobs.run(job)
        return Response(303, b"", None, {"Location": f"{jobs_url}/{job.id}"})
    job_id, _, part = tail.partition("/")
    job = services.jobs.get(job_id, tree.service.name, kind)
    if job is None or not _mine(job, user):
        raise SkahaError(404, f"not found: {job_id}")
    job_url = f"{jobs_url}/{job.id}"
    return job_route(services, request, method, job, part, job_url, jobs_url, root)


def _mine(job: Job, user: str | None) -> bool:
    return job.owner is None or job.owner == user


def job_route(
    services: StorageServices,
    request: Request,
    method: str,
    job: Job,
    part: str,
    job_url: str,
    jobs_url: str,
    root: str,
) -> Response:
    if part == "":
        return _job_itself(services, request, method, job, jobs_url)
    if part == "phase":
        return _job_phase(services, request, method, job, job_url)
    if part == "error":
        if method != "GET":
            raise errors.unsupported(request.method, "GET")
        return text(200, (job.error or "") + "\n")
    if part == "results/transferDetails" and job.details is not None:
        return Response(303, b"", None, {"Location": f"{root}/xfer/{job.id}"})
    if part == "results" and method == "GET":
        return Response(200, job_document(job).encode(), XML)
    raise SkahaError(404, f"not found: {job.id}/{part}")


def _job_itself(
    services: StorageServices, request: Request, method: str, job: Job, jobs_url: str
) -> Response:
    """GET the job document (WAIT=n waits up to n seconds for an end); DELETE the job."""
    from canfar_cli.local.storage.routes import params_of

    if method == "DELETE":
        services.jobs.remove(job.id)
        return Response(303, b"", None, {"Location": jobs_url})
    if method != "GET":
        raise errors.unsupported(request.method, "GET, DELETE")
    wait = params_of(request).get("WAIT")
    if wait and job.phase not in FINAL and job.phase != PENDING:
        try:
            seconds = min(float(wait), 60.0)
        except ValueError:
            seconds = 0.0
        job.done.wait(max(0.0, seconds))
    return Response(200, job_document(job).encode(), XML)


def _job_phase(
    services: StorageServices, request: Request, method: str, job: Job, job_url: str
) -> Response:
    from canfar_cli.local.storage.routes import params_of

    if method == "GET":
        return text(200, job.phase)
    if method != "POST":
        raise errors.unsupported(request.method, "GET, POST")
    phase = (params_of(request).get("PHASE") or "").upper()
    if phase == "RUN":
        services.jobs.run(job)
    elif phase == "ABORT":
        if job.phase not in FINAL:
            job.phase = ABORTED
            job.done.set()
    else:
        raise errors.bad(f"invalid PHASE: {phase}")
    return Response(303, b"", None, {"Location": job_url})


def _request_text(request: Request) -> str:
    """A job's request document as its jobInfo holds it (without the XML declaration)."""
    return request.body.decode("utf-8", "replace").split("?>", 1)[-1].lstrip() + "\n"


def _ended_with(job: Job, done: int, failures: list[str], what: str) -> None:
    """A recursive job's end: ERROR when nothing was done, else COMPLETED (failures noted)."""
    if failures and not done:
        job.fail(failures[0])
    elif failures:
        job.error = f"{len(failures)} nodes not {what}: {failures[0]}"


def create_job(
    services: StorageServices, request: Request, tree: Tree, user: str | None, kind: str, base: str
) -> Job:
    job = services.jobs.new(user, tree.service.name, kind)
    try:
        if kind == "delete":
            job.work = _delete_work(request, tree, user, job)
        elif kind == "setprops":
            job.work = _setprops_work(request, tree, user, job)
        else:
            job.work = _transfer_work(services, request, tree, user, job, base)
    except BaseException:
        services.jobs.remove(job.id)
        raise
    return job


def _delete_work(request: Request, tree: Tree, user: str | None, job: Job) -> Work:
    from canfar_cli.local.storage.routes import params_of

    target = params_of(request).get("target")
    if not target:
        raise errors.invalid_argument("missing parameter: target")
    path = tree.path_of(target)
    job.parameters["target"] = target

    def delete(job: Job) -> None:
        deleted, failures = tree.delete_tree(user, path)
        _ended_with(job, deleted, failures, "deleted")

    return delete


def _setprops_work(request: Request, tree: Tree, user: str | None, job: Job) -> Work:
    from canfar_cli.local.storage.nodes import read_node

    document = read_node(request.body)
    top = tree.path_of(document.uri)
    job.request = _request_text(request)

    def setprops(job: Job) -> None:
        changed, failures = tree.update_tree(user, top, document.props)
        _ended_with(job, changed, failures, "updated")

    return setprops


def _transfer_work(
    services: StorageServices, request: Request, tree: Tree, user: str | None, job: Job, base: str
) -> Work:
    transfer = read_transfer(request.body)
    job.request = _request_text(request)
    if transfer.direction.startswith("vos://"):
        source, destination = tree.path_of(transfer.target), tree.path_of(transfer.direction)

        def move(job: Job) -> None:
            if transfer.keep_bytes:
                raise errors.fault(
                    400, "OptionNotSupported", "keepBytes=true (copy) is not implemented"
                )
            tree.move(user, source, destination)

        return move

    def negotiation(job: Job) -> None:
        try:
            found = negotiate(services, tree, user, transfer, base)
        except SkahaError as exc:
            job.details = transfer_document(transfer.target, transfer.direction, [])
            job.fail(exc.message)
            return
        job.details = transfer_document(transfer.target, transfer.direction, found)
        job.results["transferDetails"] = f"{base}/{tree.service.name}/xfer/{job.id}"

    return negotiation


def synctrans(
    services: StorageServices,
    request: Request,
    method: str,
    tree: Tree,
    user: str | None,
    base: str,
    root: str,
) -> Response:
    from canfar_cli.local.storage.routes import params_of

    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    xml_body = media in ("text/xml", "application/xml") or (
        media != "application/x-www-form-urlencoded" and request.body.lstrip().startswith(b"<")
    )
    if method == "POST" and xml_body:
        transfer = read_transfer(request.body)
        job = services.jobs.new(user, tree.service.name, "transfer")
        job.request = _request_text(request)
        try:
            found = negotiate(services, tree, user, transfer, base)
        except SkahaError as exc:
            job.details = transfer_document(transfer.target, transfer.direction, [])
            job.fail(exc.message)
        else:
            job.details = transfer_document(transfer.target, transfer.direction, found)
            job.results["transferDetails"] = f"{root}/xfer/{job.id}"
            job.complete()
        location = f"{root}/transfers/{job.id}/results/transferDetails"
        return Response(303, b"", None, {"Location": location})
    if method not in ("GET", "POST"):
        raise errors.unsupported(request.method, "GET, POST")
    params = params_of(request)
    target, direction, protocol = (params.get(n) for n in ("TARGET", "DIRECTION", "PROTOCOL"))
    if not target or not direction or not protocol:
        raise errors.bad("missing parameter: TARGET, DIRECTION and PROTOCOL are required")
    if direction not in (PUSH, PULL, BOTH):
        raise errors.bad(f"invalid direction: {direction}")
    protocols: list[tuple[str, list[str]]] = [(protocol, [])]
    method_of_caller = caller_method(request, user)
    if method_of_caller is not None:  # the server adds the caller's own method (§4.2)
        protocols.append((protocol, [method_of_caller]))
    transfer = Transfer(target, PUSH if direction == BOTH else direction, protocols)
    found = negotiate(services, tree, user, transfer, base)
    return Response(303, b"", None, {"Location": found[0][1]})
