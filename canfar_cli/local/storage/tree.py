"""The node tree over a folder: what a path is as a node, who may read and write it, and the
changes the nodes API makes (create, update properties, delete, move, recursive delete).

Cavern maps nodes onto a POSIX tree one to one (§7): a folder is a ContainerNode, a regular file a
DataNode, a symlink a LinkNode; `#date` is the mtime, `#ispublic` the other-read bit, every other
property a `user.<URI>` xattr (props.py). The same `Tree` serves vault (`Service.vault`): there a
DataNode is an empty placeholder file whose bytes live apart, in an artifact named by the node's
storage ID (files.py writes them), as vault keeps nodes in a database and bytes in minoc.

Ownership follows the allocations: everything under `/home/<user>` (vault: `/<user>`) belongs to
that user; `/` and `/home` belong to no one and are readable by all. A caller may read what is
theirs or public (every container on the way must be readable too), and write only inside their
own allocation; other users' homes are refused with 403 (anonymous callers too). Paths never go
through symlinks on the way to a node (a link is a node, not a folder), so no node can reach a
file outside the tree, or another user's home, by a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from canfar_cli.local.storage import errors
from canfar_cli.local.storage.nodes import (
    CONTAINER,
    CREATOR,
    DATA,
    DATE,
    IMMUTABLE,
    INHERIT,
    ISPUBLIC,
    LENGTH,
    LINK,
    MD5,
    QUOTA,
    READABLE,
    WRITABLE,
    Node,
    NodeDocument,
    node_uri,
    parent_of,
    path_of_uri,
)
from canfar_cli.local.storage.props import INTERNAL, MD5_STAMP, STORAGE_ID, PropertyStore, stamp

FILE_MODE = 0o660  # cavern's rw-rw---- for files made through the API
DIR_MODE = 0o770


@dataclass(frozen=True)
class Service:
    name: str  # the URL prefix: arc, cavern, vault
    authority: str  # vos://AUTHORITY/...
    root: Path  # the folder the nodes are
    vault: bool = False
    artifacts: Path | None = None  # vault: the bytes, one file per storage ID
    # Top-level names served (cavern: its allocation parents; the rest of ARC stays hidden,
    # since ARC may be the state folder itself). None: all (vault).
    top: tuple[str, ...] | None = ("home", "projects")


def format_date(seconds: float) -> str:
    """IVOA date as cadc-util writes it: UTC, milliseconds, no `Z`."""
    whole = int(seconds // 1)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}"


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | None:
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:  # gone since the scan
        return None


def kind_of(info: os.stat_result) -> str | None:
    if stat.S_ISDIR(info.st_mode):
        return CONTAINER
    if stat.S_ISREG(info.st_mode):
        return DATA
    if stat.S_ISLNK(info.st_mode):
        return LINK
    return None


def usage_of(folder: Path) -> int:
    """Bytes of the regular files under `folder` (what CephFS reports as rbytes)."""
    total, stack = 0, [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


class Tree:
    def __init__(
        self, service: Service, props: PropertyStore, quota: int | None = None, lag: float = 0.0
    ) -> None:
        self.service = service
        self.props = props
        self.quota = quota
        self.lag = lag
        self.authority = service.authority
        self._root = str(service.root)

    # --- names ----------------------------------------------------------------------------

    def uri(self, path: str) -> str:
        return node_uri(self.authority, path)

    def path_of(self, uri: str) -> str:
        return path_of_uri(self.authority, uri)

    def fs(self, path: str) -> Path:
        return self.service.root / path.lstrip("/") if path != "/" else self.service.root

    def where(self, path: str) -> str:
        """fs() as a string: cheaper where every child of a big folder needs one."""
        return self._root if path == "/" else self._root + path

    def allocation(self, path: str) -> tuple[str, str] | None:
        """(allocation path, its user) of the allocation holding `path`, or None."""
        parts = path.strip("/").split("/")
        if self.service.vault:
            return ("/" + parts[0], parts[0]) if parts[0] else None
        if len(parts) >= 2 and parts[0] == "home":
            return (f"/home/{parts[1]}", parts[1])
        return None

    def owner(self, path: str) -> str | None:
        found = self.allocation(path)
        return found[1] if found else None

    def allocation_path(self, user: str) -> str:
        return f"/{user}" if self.service.vault else f"/home/{user}"

    def ensure_allocation(self, user: str) -> None:
        """Make the user's allocation (cavern: the same home folder the jobs get, 0700)."""
        folder = self.fs(self.allocation_path(user))
        if folder.is_dir():
            return
        from canfar_cli.local import statedir

        chain = [folder.parent, folder] if not self.service.vault else [folder]
        self.service.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        statedir.private_dirs(*chain)
        os.chmod(folder, 0o700)

    # --- looking up -------------------------------------------------------------------------

    def _visible(self, path: str) -> bool:
        top = self.service.top
        first = path.strip("/").split("/", 1)[0]
        return top is None or path == "/" or first in top

    def lstat(self, path: str) -> os.stat_result | None:
        if not self._visible(path):
            return None
        try:
            return os.lstat(self.where(path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _open_to_all(self, path: str) -> bool:
        """The root and the allocation parent: public whatever the folder's mode (ARC may be
        the private state folder)."""
        return path == "/" or (not self.service.vault and path == "/home")

    def readable(self, user: str | None, path: str, info: os.stat_result) -> bool:
        if self._open_to_all(path):
            return True
        if user is not None and self.owner(path) == user:
            return True
        return bool(info.st_mode & stat.S_IROTH)

    def writable(self, user: str | None, path: str) -> bool:
        return user is not None and self.owner(path) == user

    def resolve(
        self, user: str | None, path: str, *, missing: str = "node"
    ) -> os.stat_result | None:
        """The leaf's lstat (None when it does not exist), after checking every container on the
        way exists, is a folder and is readable: 404 (NodeNotFound of the path, or
        ContainerNotFound when `missing` is "container") or 403."""
        parts = path.strip("/").split("/") if path != "/" else []
        current = "/"
        for part in parts[:-1]:
            current = current.rstrip("/") + "/" + part
            info = self.lstat(current)
            if info is None or not stat.S_ISDIR(info.st_mode):
                if missing == "container":
                    raise errors.container_not_found(self.uri(current))
                raise errors.not_found(self.uri(path))
            if not self.readable(user, current, info):
                raise errors.denied(self.uri(path))
        return self.lstat(path)

    def existing(self, user: str | None, path: str) -> os.stat_result:
        info = self.resolve(user, path)
        if info is None:
            raise errors.not_found(self.uri(path))
        return info

    # --- nodes ---------------------------------------------------------------------------------

    def link_target(self, path: str) -> str:
        raw = os.readlink(self.fs(path))
        absolute = Path(os.path.normpath(self.fs(parent_of(path)) / raw))
        root = self.service.root
        if absolute == root or root in absolute.parents:
            rel = "/" + absolute.relative_to(root).as_posix()
            return self.uri(rel if rel != "/." else "/")
        return absolute.as_uri()

    def artifact(self, path: str, stored: dict[str, str] | None = None) -> Path | None:
        """vault: the artifact of a DataNode (which may not exist yet)."""
        if self.service.artifacts is None:
            return None
        values = stored if stored is not None else self.props.read(self.fs(path))
        storage_id = values.get(STORAGE_ID)
        return self.service.artifacts / storage_id if storage_id else None

    def node(
        self,
        path: str,
        info: os.stat_result,
        *,
        user: str | None = None,
        detail: str = "properties",
        listing: bool = False,
    ) -> Node:
        kind = kind_of(info)
        if kind is None:  # cavern: any other file type is a server error
            raise RuntimeError(f"{self.uri(path)} is neither a file, a folder nor a link")
        node = Node(path=path, kind=kind)
        if detail == "min":
            if kind == LINK:
                node.target = self.link_target(path)
            return node
        stored = {} if kind == LINK else self.props.read(self.where(path))
        props = {
            k: v for k, v in stored.items() if not k.startswith(INTERNAL) and k not in IMMUTABLE
        }
        props[DATE] = format_date(info.st_mtime)
        public = info.st_mode & stat.S_IROTH or self._open_to_all(path)
        props[ISPUBLIC] = "true" if public else "false"
        owner = self.owner(path)
        if owner is not None:
            props[CREATOR] = owner
        if kind == CONTAINER:
            props.setdefault(INHERIT, "false")
            allocation = self.allocation(path)
            if allocation is not None and allocation[0] == path:
                props[LENGTH] = str(self.usage(path))
                if self.quota is not None:
                    props[QUOTA] = str(self.quota)
        elif kind == DATA:
            length, md5 = self.data_facts(path, info, stored, listing=listing)
            props[LENGTH] = str(length)
            if md5 is not None:
                props[MD5] = md5
        else:
            node.target = self.link_target(path)
        if detail == "max":
            props[READABLE] = str(self.readable(user, path, info)).lower()
            props[WRITABLE] = str(self.writable(user, path)).lower()
        node.props = props
        return node

    def data_facts(
        self, path: str, info: os.stat_result, stored: dict[str, str], *, listing: bool = False
    ) -> tuple[int, str | None]:
        """(length, MD5 or None) of a DataNode: the file's, or (vault) its artifact's. A vault
        listing may show the length from before the last PUT for `lag` seconds (§4.5)."""
        holder, facts = info, stored
        if self.service.vault:
            artifact = self.artifact(path, stored)
            if artifact is None:
                return 0, None
            try:
                holder = os.stat(artifact)
            except OSError:
                return 0, None  # a node whose bytes never came: length 0
            facts = self.props.read(artifact)
            if listing and self.lag:
                previous = facts.get(INTERNAL + "previous-length")
                if previous is not None and time.time() - holder.st_mtime < self.lag:
                    return int(previous), None
        md5 = facts.get(MD5)
        if md5 is not None and facts.get(MD5_STAMP) != stamp(holder):
            md5 = None  # changed since the MD5 was computed: it no longer describes the bytes
        if md5 is not None and md5.startswith("md5:"):
            md5 = md5[4:]
        return holder.st_size, md5

    def children(
        self, user: str | None, path: str, *, detail: str = "properties"
    ) -> Iterator[Node]:
        """The container's children, one at a time (cavern: directory order; vault: by name)."""
        folder = self.where(path)
        prefix = path.rstrip("/")
        if detail == "min" and not self.service.vault:
            yield from self._bare_children(path, folder, prefix)
            return
        listed: Iterator[tuple[str, os.stat_result | None]]
        try:
            if self.service.vault:
                listed = ((name, None) for name in sorted(os.listdir(folder)))
            else:  # directory order, each entry's lstat from the scan
                listed = ((entry.name, _lstat(entry)) for entry in os.scandir(folder))
        except OSError:
            return
        for name, found in listed:
            child = f"{prefix}/{name}"
            if path == "/" and not self._visible(child):
                continue
            info = found if found is not None else self.lstat(child)
            if info is None or kind_of(info) is None:
                continue
            yield self.node(child, info, user=user, detail=detail, listing=True)

    def _bare_children(self, path: str, folder: str | Path, prefix: str) -> Iterator[Node]:
        """A cavern listing without properties: the kind from the scan's file type, no stat
        and no xattr read per child (a 10,000-entry folder is listed in a few scans)."""
        try:
            scan = os.scandir(folder)
        except OSError:
            return
        with scan:
            for entry in scan:
                child = f"{prefix}/{entry.name}"
                if path == "/" and not self._visible(child):
                    continue
                try:
                    if entry.is_symlink():
                        node = Node(path=child, kind=LINK)
                        node.target = self.link_target(child)
                    elif entry.is_dir(follow_symlinks=False):
                        node = Node(path=child, kind=CONTAINER)
                    elif entry.is_file(follow_symlinks=False):
                        node = Node(path=child, kind=DATA)
                    else:
                        continue  # a socket or a device: not a node
                except OSError:  # gone since the scan
                    continue
                yield node

    def usage(self, path: str) -> int:
        if not self.service.vault:
            return usage_of(self.fs(path))
        total, stack = 0, [self.fs(path)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    artifact = self.artifact("", self.props.read(Path(entry.path)))
                    with contextlib.suppress(OSError):
                        total += os.stat(artifact).st_size if artifact else 0
        return total

    # --- changes ---------------------------------------------------------------------------

    def _writable_parent(self, user: str | None, path: str) -> os.stat_result:
        parent = parent_of(path)
        info = self.resolve(user, parent, missing="container")
        if info is None or not stat.S_ISDIR(info.st_mode):
            raise errors.container_not_found(self.uri(parent))
        if not self.writable(user, parent):
            raise errors.denied(self.uri(path))
        return info

    def create(self, user: str | None, path: str, doc: NodeDocument) -> Node:
        if path == "/":
            raise errors.duplicate(self.uri(path))
        self._writable_parent(user, path)
        target = self.fs(path)
        if self.lstat(path) is not None:
            raise errors.duplicate(self.uri(path))
        try:
            if doc.kind == CONTAINER:
                os.mkdir(target, DIR_MODE)
            elif doc.kind == DATA:
                self.create_data(path)
            else:
                os.symlink(self.link_path(path, doc.target), target)
        except FileExistsError:
            raise errors.duplicate(self.uri(path)) from None
        if doc.kind != LINK:
            self.apply(path, doc.props)
        return self.node(path, os.lstat(target), user=user, detail="max")

    def create_data(self, path: str) -> None:
        """An empty DataNode (vault: a placeholder with a storage ID, no bytes yet)."""
        fd = os.open(self.fs(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        os.close(fd)
        if self.service.vault:
            self.props.write(self.fs(path), {STORAGE_ID: str(uuid.uuid4())})

    def link_path(self, path: str, target: str | None) -> str:
        """What a LinkNode's symlink points at: relative inside the tree, absolute for file://."""
        if not target:
            raise errors.invalid_argument("a LinkNode needs a target")
        if target.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            return unquote(urlsplit(target).path)
        if target.startswith("vos://"):
            aimed = self.fs(self.path_of(target))
            return os.path.relpath(aimed, self.fs(parent_of(path)))
        raise errors.invalid_uri(f"link target is not a vos or file URI: {target}")

    def apply(self, path: str, values: dict[str, str | None]) -> None:
        """Set (or, for None, delete) the settable properties of a node."""
        target = self.fs(path)
        changes: dict[str, str | None] = {}
        for key, value in values.items():
            if key in IMMUTABLE or key.startswith(INTERNAL) or key.startswith("canfar-local"):
                continue
            if key == ISPUBLIC:
                mode = stat.S_IMODE(os.lstat(target).st_mode)
                public = value is not None and value.strip().lower() == "true"
                bits = stat.S_IROTH | (stat.S_IXOTH if target.is_dir() else 0)
                os.chmod(target, mode | bits if public else mode & ~bits)
                continue
            changes[key] = value
        if changes:
            self.props.write(target, changes)

    def update(self, user: str | None, path: str, doc: NodeDocument) -> Node:
        info = self.existing(user, path)
        kind = kind_of(info)
        if doc.kind != kind:
            raise errors.invalid_argument(f"node type mismatch: {doc.kind} != {kind}")
        if not self.writable(user, path):
            raise errors.denied(self.uri(path))
        if kind != LINK:
            self.apply(path, doc.props)
        return self.node(path, os.lstat(self.fs(path)), user=user, detail="max")

    def delete(self, user: str | None, path: str) -> None:
        info = self.existing(user, path)
        if path == "/" or not self.writable(user, parent_of(path)):
            raise errors.denied(self.uri(path))
        target = self.fs(path)
        artifact = self.artifact(path) if kind_of(info) == DATA else None
        try:
            if stat.S_ISDIR(info.st_mode):
                os.rmdir(target)
            else:
                os.unlink(target)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise errors.bad(
                    f"container node '{path.rsplit('/', 1)[-1]}' is not empty"
                ) from None
            if exc.errno == errno.ENOENT:
                raise errors.not_found(self.uri(path)) from None
            raise
        self.props.removed(target)
        if artifact is not None:
            self._drop_artifact(artifact)

    def _drop_artifact(self, artifact: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            artifact.unlink()
        self.props.removed(artifact)

    def move(self, user: str | None, source: str, destination: str) -> str:
        """InternalTransferAction's rules (§3.6); the node's new path."""
        info = self.existing(user, source)
        if (
            source == "/"
            or not self.writable(user, parent_of(source))
            or not self.writable(user, source)
        ):
            raise errors.denied(self.uri(source))
        dest_info = self.resolve(user, destination)
        if dest_info is not None and stat.S_ISDIR(dest_info.st_mode):
            final = destination.rstrip("/") + "/" + source.rsplit("/", 1)[-1]
            container = destination
        elif dest_info is not None:
            raise errors.duplicate(self.uri(destination))
        else:
            final = destination
            container = parent_of(destination)
            parent_info = self.lstat(container)
            if parent_info is None or not stat.S_ISDIR(parent_info.st_mode):
                raise errors.not_found(self.uri(container))
        if not self.writable(user, container):
            raise errors.denied(self.uri(destination))
        if stat.S_ISDIR(info.st_mode) and (final == source or final.startswith(source + "/")):
            raise errors.invalid_argument(f"cannot move {self.uri(source)} into itself")
        if self.lstat(final) is not None:
            raise errors.duplicate(self.uri(final))
        old, new = self.fs(source), self.fs(final)
        os.rename(old, new)
        self.props.moved(old, new)
        return final

    def delete_tree(self, user: str | None, path: str) -> tuple[int, list[str]]:
        """Leaves first, going on past failures (at most 100); (deleted, error lines)."""
        info = self.existing(user, path)
        deleted, failures = 0, list[str]()
        if stat.S_ISDIR(info.st_mode) and self.readable(user, path, info):
            for child in list(self._entries(path)):
                if len(failures) >= 100:
                    break
                more, errs = self.delete_tree(user, child)
                deleted += more
                failures += errs
        try:
            self.delete(user, path)
            deleted += 1
        except Exception as exc:  # each failure is reported, the rest goes on
            failures.append(getattr(exc, "message", str(exc)))
        return deleted, failures

    def update_tree(
        self, user: str | None, path: str, values: dict[str, str | None]
    ) -> tuple[int, list[str]]:
        """async-setprops: the properties set on the node and everything under it that the
        caller may write (links carry none); (updated, error lines)."""
        info = self.existing(user, path)
        updated, failures = 0, list[str]()
        kind = kind_of(info)
        if kind == LINK:
            return 0, []
        if not self.writable(user, path):
            failures.append(errors.denied(self.uri(path)).message)
        else:
            self.apply(path, values)
            updated += 1
        if kind == CONTAINER and self.readable(user, path, info):
            for child in self._entries(path):
                if len(failures) >= 100:
                    break
                more, errs = self.update_tree(user, child, values)
                updated += more
                failures += errs
        return updated, failures

    def _entries(self, path: str) -> list[str]:
        try:
            return [f"{path.rstrip('/')}/{name}" for name in os.listdir(self.fs(path))]
        except OSError:
            return []
