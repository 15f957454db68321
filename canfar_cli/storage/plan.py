"""What a cp, sync, mv or rm does, decided before anything moves, then carried out.

Planning looks at both sides (one stat per operand; one listing per folder, in parallel, for
trees) and makes the report's items: folders to make (action "mkdir"), files to copy, nodes to
delete. POSIX cp's rules hold: an existing folder receives; several sources need a folder; a
folder needs `recursive`; a folder into itself and a file over a folder are refused. Carrying
out runs the phases in order (folders top-down, then files in parallel, then deletions), and an
interruption in any phase leaves the later ones "not done" in the report.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anyio

from canfar_cli.errors import CanfarError, NotFoundError, UsageError
from canfar_cli.storage.batch import run_items
from canfar_cli.storage.engine import QUIET, Engine
from canfar_cli.storage.paths import LocalPath, RemotePath, StoragePath
from canfar_cli.storage.progress import Progress
from canfar_cli.storage.results import (
    Node,
    TransferInterrupted,
    TransferItem,
    TransferReport,
)
from canfar_cli.storage.services import Service

__all__ = ["Planner", "make_folders", "remote_tree"]

Job = Callable[[TransferItem], Awaitable[None]]
ServiceOf = Callable[[str], Awaitable[Service]]
# A remote date later than a local one by less than this is "the same moment" (clock skew,
# the server's milliseconds).
DATE_SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class Entry:
    """A file or folder on either side, as far as planning needs it."""

    kind: str  # "file", "folder", "link"
    size: int | None = None
    modified: datetime | None = None
    md5: str | None = None


def _entry(node: Node) -> Entry:
    return Entry(node.kind, node.size, node.modified, node.md5)


def _local_entry(path: Path) -> Entry | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CanfarError(f"{path}: cannot read ({exc.strerror or exc})") from None
    kind = "folder" if path.is_dir() else "file"
    when = datetime.fromtimestamp(info.st_mtime, timezone.utc)
    return Entry(kind, info.st_size if kind == "file" else None, when)


def _local_tree(root: Path) -> dict[str, Entry]:
    """Every file and folder under `root` by relative path ("a/b"); links to files are
    followed, links to folders are not (as cp -r does without -L). One scandir pass and one
    stat per file (a sync of an unchanged tree is mostly this and one listing)."""
    found: dict[str, Entry] = {}
    folders: list[tuple[str, str]] = [(str(root), "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:  # as os.walk: a folder that cannot be listed is passed over
            continue
        for entry in entries:
            rel = prefix + entry.name
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                if not entry.is_symlink():
                    found[rel] = Entry("folder")
                    folders.append((entry.path, rel + "/"))
                continue
            try:
                info = entry.stat()
            except FileNotFoundError:  # a dangling link, or gone since the scan
                continue
            except OSError as exc:
                raise CanfarError(f"{entry.path}: cannot read ({exc.strerror or exc})") from None
            if stat.S_ISDIR(info.st_mode):  # became a folder since the scan
                continue
            when = datetime.fromtimestamp(info.st_mtime, timezone.utc)
            found[rel] = Entry("file", info.st_size, when)
    return found


async def remote_tree(
    engine: Engine, service: Service, root: RemotePath, concurrency: int
) -> dict[str, Node]:
    """Every node under `root` by relative path, listed folder by folder in parallel."""
    found: dict[str, Node] = {}
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    failures: list[BaseException] = []

    async def visit(group: anyio.abc.TaskGroup, rel: str) -> None:
        path = root.child_path(rel)
        try:
            async with limiter:
                _node, children = await engine.read_node(service, path, children=True)
        except Exception as exc:  # the first one is raised once the others are stopped
            failures.append(exc)
            group.cancel_scope.cancel()
            return
        for child in children:
            child_rel = f"{rel}/{child.name}" if rel else child.name
            found[child_rel] = child
            if child.kind == "folder":
                group.start_soon(visit, group, child_rel)

    async with anyio.create_task_group() as group:
        group.start_soon(visit, group, "")
    if failures:
        raise failures[0]
    return found


async def make_folders(engine: Engine, service: Service, path: RemotePath) -> Node:
    """mkdir -p: the folder and any missing above it; an existing folder is fine."""
    try:
        node, _ = await engine.read_node(service, path, children=False)
    except NotFoundError:
        pass
    else:
        if node.kind != "folder":
            raise UsageError(f"{path}: exists and is not a folder")
        return node
    missing = [path]
    parent = path.parent
    while not parent.is_root:
        try:
            node, _ = await engine.read_node(service, parent, children=False)
        except NotFoundError:
            missing.append(parent)
            parent = parent.parent
            continue
        if node.kind != "folder":
            raise UsageError(f"{parent}: exists and is not a folder")
        break
    made: Node | None = None
    for folder in reversed(missing):
        try:
            made = await engine.make_folder(service, folder)
        except CanfarError as exc:
            if getattr(exc, "status", None) != 409:  # made meanwhile: fine
                raise
            made, _ = await engine.read_node(service, folder, children=False)
    assert made is not None
    return made


def unchanged(source: Entry, dest: Entry, *, by_date: bool) -> bool:
    """Whether `dest` already holds `source`: same size; the same MD5 where both have one; and
    (sync) not older than the source. An MD5 alone is never trusted (arc's can be stale, §7)."""
    if dest.kind != "file" or source.size != dest.size:
        return False
    if source.md5 and dest.md5 and source.md5 != dest.md5:
        return False
    if by_date and source.modified and dest.modified:
        return source.modified <= dest.modified + DATE_SLACK
    return True


class Planner:
    def __init__(self, engine: Engine, service_of: ServiceOf, concurrency: int) -> None:
        self.engine = engine
        self.service_of = service_of
        self.concurrency = concurrency
        self.jobs: dict[int, Job] = {}
        self.relays = False
        self._totals = [0, 0]
        self._look = False

    # --- looking at either side ----------------------------------------------------------------

    async def entry(self, path: StoragePath) -> Entry | None:
        if isinstance(path, LocalPath):
            return await anyio.to_thread.run_sync(_local_entry, Path(path.path))
        service = await self.service_of(path.service)
        try:
            node, _ = await self.engine.read_node(service, path, children=False)
        except NotFoundError:
            return None
        return _entry(node)

    async def tree(self, path: StoragePath) -> dict[str, Entry]:
        if isinstance(path, LocalPath):
            return await anyio.to_thread.run_sync(_local_tree, Path(path.path))
        service = await self.service_of(path.service)
        nodes = await remote_tree(self.engine, service, path, self.concurrency)
        return {rel: _entry(node) for rel, node in nodes.items()}

    def _add(self, report: TransferReport, item: TransferItem, job: Job | None) -> None:
        report.items.append(item)
        if job is not None:
            self.jobs[id(item)] = job

    # --- cp -------------------------------------------------------------------------------------

    async def plan_copy(
        self,
        sources: list[StoragePath],
        dest: StoragePath,
        *,
        recursive: bool,
        resume: bool,
        look: bool = False,
    ) -> tuple[TransferReport, dict[int, Job]]:
        """The items of a cp. `look`: check every source exists even where the transfer would
        find out by itself (a dry run)."""
        self._look = look
        report = TransferReport()
        dest_entry = await self.entry(dest)
        if len(sources) > 1 and (dest_entry is None or dest_entry.kind != "folder"):
            raise UsageError(
                f"{dest}: not an existing folder, and there are {len(sources)} sources",
                hint=f"make it first (`canfar data mkdir -p {dest}`), or copy one at a time",
            )
        for source in sources:
            try:
                await self._plan_one(report, source, dest, dest_entry, recursive, resume)
            except CanfarError as exc:
                if len(sources) == 1:
                    raise
                report.items.append(
                    TransferItem(str(source), str(dest), 0, status="failed", error=exc)
                )
        return report, self.jobs

    async def _plan_one(
        self,
        report: TransferReport,
        source: StoragePath,
        dest: StoragePath,
        dest_entry: Entry | None,
        recursive: bool,
        resume: bool,
    ) -> None:
        if isinstance(source, LocalPath) and isinstance(dest, LocalPath):
            raise UsageError(
                f"{source} → {dest}: both are local", hint="name a remote side (SERVICE:PATH)"
            )
        source_entry = await self._source_entry(source, recursive or resume)
        target, target_entry = await self._target(source, dest, dest_entry)
        if source_entry.kind == "folder":
            if not recursive:
                raise UsageError(f"{source}: is a folder", hint="copy folders with -r")
            if target_entry is not None and target_entry.kind != "folder":
                raise UsageError(f"{target}: cannot overwrite a file with the folder {source}")
            if _inside(source, target):
                raise UsageError(f"{source}: cannot copy a folder into itself ({target})")
            await self._plan_tree(report, source, target, target_entry, resume)
            return
        if target_entry is not None and target_entry.kind == "folder":
            raise UsageError(f"{target}: cannot overwrite a folder with the file {source}")
        _check_local_parent(target)
        item = TransferItem(str(source), str(target), source_entry.size or 0)
        if resume and target_entry and unchanged(source_entry, target_entry, by_date=False):
            item.status = "skipped"
            self._add(report, item, None)
            return
        self._add(report, item, self._copy_job(source, target, source_entry, resume))

    async def _source_entry(self, source: StoragePath, look: bool) -> Entry:
        if isinstance(source, RemotePath) and not (look or source.slash or self._look):
            # One remote file asked for: its GET says whether it exists or is a folder, so no
            # request is spent looking first (its size comes with the answer).
            return Entry("file")
        found = await self.entry(source)
        if found is None:
            raise NotFoundError(f"{source}: no such file or folder", status=404)
        return found

    async def _target(
        self, source: StoragePath, dest: StoragePath, dest_entry: Entry | None
    ) -> tuple[StoragePath, Entry | None]:
        """Where a source goes (POSIX cp): into an existing folder, else to `dest` itself."""
        if dest_entry is not None and dest_entry.kind == "folder":
            target = dest.child(source.name) if source.name else dest
            return target, await self.entry(target)
        if dest_entry is None and dest.slash:
            raise NotFoundError(
                f"{dest}: no such folder",
                status=404,
                hint=f"make it first: `canfar data mkdir -p {dest}`",
            )
        return dest, dest_entry

    async def _plan_tree(
        self,
        report: TransferReport,
        source: StoragePath,
        target: StoragePath,
        target_entry: Entry | None,
        resume: bool,
        *,
        sync: bool = False,
        delete: bool = False,
    ) -> None:
        source_tree, target_tree = await self._trees(source, target, target_entry is not None)
        if target_tree and isinstance(target, RemotePath):
            await self._fresh_sizes(target, source_tree, target_tree)
        if target_entry is None:
            self._add(report, self._mkdir_item(target), self._mkdir_job(target))
        for rel in sorted(source_tree):
            src, dst = source.child_path(rel), target.child_path(rel)
            self._plan_entry(report, src, dst, source_tree[rel], target_tree.get(rel), resume, sync)
        if delete:
            self._plan_deletions(report, target, source_tree, target_tree)

    async def _trees(
        self, source: StoragePath, target: StoragePath, target_exists: bool
    ) -> tuple[dict[str, Entry], dict[str, Entry]]:
        """Both sides' trees, listed at the same time (the local walk runs in a thread while
        the remote listing is on the wire); the source's failure first when both fail."""
        if not target_exists:
            return await self.tree(source), {}
        trees: dict[int, dict[str, Entry]] = {}
        failures: dict[int, Exception] = {}

        async def one(side: int, path: StoragePath) -> None:
            try:
                trees[side] = await self.tree(path)
            except Exception as exc:  # raised below, unwrapped from the task group
                failures[side] = exc

        async with anyio.create_task_group() as group:
            group.start_soon(one, 0, source)
            group.start_soon(one, 1, target)
        if failures:
            raise failures[min(failures)]
        return trees[0], trees[1]

    def _plan_entry(
        self,
        report: TransferReport,
        src: StoragePath,
        dst: StoragePath,
        entry: Entry,
        there: Entry | None,
        resume: bool,
        sync: bool,
    ) -> None:
        """The item of one file or folder of a tree copy."""
        if entry.kind == "folder":
            if there is None:
                self._add(report, self._mkdir_item(dst), self._mkdir_job(dst))
            elif there.kind != "folder":
                failed = TransferItem(str(src), str(dst), 0, status="failed", action="mkdir")
                failed.error = UsageError(f"{dst}: a file is in the way of the folder {src}")
                report.items.append(failed)
            return
        if entry.kind != "file":
            return  # links are not followed
        item = TransferItem(str(src), str(dst), entry.size or 0)
        if there is not None and there.kind == "folder":
            item.status = "failed"
            item.error = UsageError(f"{dst}: cannot overwrite a folder with the file {src}")
            report.items.append(item)
        elif there is not None and (resume or sync) and unchanged(entry, there, by_date=sync):
            item.status = "skipped"
            self._add(report, item, None)
        else:
            self._add(report, item, self._copy_job(src, dst, entry, resume))

    def _plan_deletions(
        self,
        report: TransferReport,
        target: StoragePath,
        source_tree: dict[str, Entry],
        target_tree: dict[str, Entry],
    ) -> None:
        """sync --delete: what the target has and the source not (a folder once, not its
        contents)."""
        covered: list[str] = []
        for rel in sorted(rel for rel in target_tree if rel not in source_tree):
            if any(rel.startswith(top + "/") for top in covered):
                continue
            folder = target_tree[rel].kind == "folder"
            if folder:
                covered.append(rel)
            dst = target.child_path(rel)
            item = TransferItem("", str(dst), target_tree[rel].size or 0, action="delete")
            self._add(report, item, self._delete_job(dst, folder))

    async def _fresh_sizes(
        self, target: RemotePath, source_tree: dict[str, Entry], target_tree: dict[str, Entry]
    ) -> None:
        """Vault's listings may show a size from before the last PUT (its size worker lags,
        storage.md §4.5), but a node's own GET is current: the files whose listed size differs
        from the source's are looked at one by one before they are copied again."""
        service = await self.service_of(target.service)
        if not service.is_vault:
            return
        suspects = [
            rel
            for rel, entry in source_tree.items()
            if entry.kind == "file"
            and rel in target_tree
            and target_tree[rel].kind == "file"
            and target_tree[rel].size != entry.size
        ]
        limiter = anyio.CapacityLimiter(max(1, self.concurrency))

        async def look(rel: str) -> None:
            async with limiter:
                try:
                    node, _ = await self.engine.read_node(
                        service, target.child_path(rel), children=False
                    )
                except CanfarError:
                    return
            target_tree[rel] = _entry(node)

        async with anyio.create_task_group() as group:
            for rel in suspects:
                group.start_soon(look, rel)

    @staticmethod
    def _mkdir_item(path: StoragePath) -> TransferItem:
        return TransferItem("", str(path), 0, action="mkdir")

    def _mkdir_job(self, path: StoragePath) -> Job:
        async def job(item: TransferItem) -> None:
            if isinstance(path, LocalPath):
                try:
                    await anyio.to_thread.run_sync(lambda: os.makedirs(path.path, exist_ok=True))
                except OSError as exc:
                    raise CanfarError(f"{path}: cannot make ({exc.strerror or exc})") from None
                return
            service = await self.service_of(path.service)
            await make_folders(self.engine, service, path)

        return job

    def _delete_job(self, path: StoragePath, folder: bool) -> Job:
        async def job(item: TransferItem) -> None:
            if isinstance(path, LocalPath):
                await anyio.to_thread.run_sync(_remove_local, Path(path.path))
                return
            service = await self.service_of(path.service)
            await self._remove_remote(service, path, folder)

        return job

    def _copy_job(self, source: StoragePath, dest: StoragePath, entry: Entry, resume: bool) -> Job:
        if isinstance(source, RemotePath) and isinstance(dest, RemotePath):
            # Each such copy holds two requests at once (a read feeding a write).
            self.relays = True

        async def job(item: TransferItem) -> None:
            progress = self.progress
            if isinstance(source, LocalPath):
                assert isinstance(dest, RemotePath)
                service = await self.service_of(dest.service)
                item.bytes = await self.engine.upload(
                    Path(source.path), service, dest, progress=progress
                )
            elif isinstance(dest, LocalPath):
                service = await self.service_of(source.service)
                target = Path(dest.path)
                item.bytes = await self.engine.download(
                    service,
                    source,
                    target,
                    resume=resume,
                    progress=progress,
                    on_length=None if entry.size is not None else self._grew,
                    mtime=entry.modified.timestamp() if entry.modified else None,
                )
            else:
                src_service = await self.service_of(source.service)
                dst_service = await self.service_of(dest.service)
                item.bytes = await self.engine.copy_remote(
                    (src_service, source),
                    (dst_service, dest),
                    size=entry.size,
                    progress=progress,
                )

        return job

    progress: Progress = QUIET

    # --- sync -----------------------------------------------------------------------------------

    async def plan_sync(
        self, source: StoragePath, dest: StoragePath, *, delete: bool
    ) -> tuple[TransferReport, dict[int, Job]]:
        if isinstance(source, LocalPath) and isinstance(dest, LocalPath):
            raise UsageError(
                f"{source} → {dest}: both are local", hint="name a remote side (SERVICE:PATH)"
            )
        source_entry = await self.entry(source)
        if source_entry is None:
            raise NotFoundError(f"{source}: no such folder", status=404)
        if source_entry.kind != "folder":
            raise UsageError(f"{source}: sync mirrors a folder", hint="copy a file with cp")
        dest_entry = await self.entry(dest)
        if dest_entry is not None and dest_entry.kind != "folder":
            raise UsageError(f"{dest}: is a file, not a folder")
        if _inside(source, dest) or _inside(dest, source):
            raise UsageError(f"{source} and {dest}: one is inside the other")
        report = TransferReport()
        await self._plan_tree(report, source, dest, dest_entry, False, sync=True, delete=delete)
        return report, self.jobs

    # --- carrying out ---------------------------------------------------------------------------

    def _grew(self, nbytes: int) -> None:
        """A file of unknown size turned out to have `nbytes`: the totals grow."""
        self._totals[1] += nbytes
        self.progress.start(*self._totals)

    async def execute(
        self, report: TransferReport, jobs: dict[int, Job], progress: Progress | None
    ) -> TransferReport:
        self.progress = progress or QUIET
        copies = [i for i in report.items if i.action == "copy" and i.status == "planned"]
        self._totals = [len(copies), sum(i.bytes for i in copies)]
        self.progress.start(*self._totals)

        def done(item: TransferItem) -> None:
            if item.action == "copy":
                self.progress.file_done(item.dest, item.status == "done")

        async def work(item: TransferItem) -> None:
            job = jobs.get(id(item))
            if job is not None:
                await job(item)

        phases = [
            ([i for i in report.items if i.action == "mkdir" and i.status == "planned"], 1),
            (copies, max(1, self.concurrency // 2) if self.relays else self.concurrency),
            ([i for i in report.items if i.action == "delete" and i.status == "planned"], 1),
        ]
        for number, (items, width) in enumerate(phases):
            if not items:
                continue
            try:
                await run_items(TransferReport(items), work, concurrency=width, on_done=done)
            except TransferInterrupted:
                for later, _width in phases[number + 1 :]:
                    for item in later:
                        if item.status == "planned":
                            item.status = "not done"
                raise TransferInterrupted(report) from None
        return report

    # --- rm -------------------------------------------------------------------------------------

    async def _remove_remote(self, service: Service, path: RemotePath, folder: bool) -> None:
        if not folder:
            await self.engine.delete_node(service, path)
            return
        if service.async_delete:
            uri = self.engine.uri(service, path)
            await self.engine.run_job(str(path), service.async_delete, form={"target": uri})
            return
        nodes = await remote_tree(self.engine, service, path, self.concurrency)
        files = [rel for rel, node in nodes.items() if node.kind != "folder"]
        limiter = anyio.CapacityLimiter(self.concurrency)

        failures: list[BaseException] = []

        async def drop(rel: str) -> None:
            try:
                async with limiter:
                    await self.engine.delete_node(service, path.child_path(rel))
            except Exception as exc:
                failures.append(exc)

        async with anyio.create_task_group() as group:
            for rel in files:
                group.start_soon(drop, rel)
        if failures:
            raise failures[0]
        folders = sorted(
            (rel for rel, node in nodes.items() if node.kind == "folder"),
            key=lambda r: -r.count("/"),
        )
        for rel in folders:
            await self.engine.delete_node(service, path.child_path(rel))
        await self.engine.delete_node(service, path)

    async def remove(
        self, paths: list[RemotePath], *, recursive: bool, dry_run: bool
    ) -> TransferReport:
        report = TransferReport(dry_run=dry_run)
        for path in paths:
            item = TransferItem("", str(path), 0, action="delete")
            try:
                service = await self.service_of(path.service)
                node, _ = await self.engine.read_node(service, path, children=False)
                folder = node.kind == "folder"
                if folder and not recursive:
                    raise UsageError(f"{path}: is a folder", hint="remove folders with -r")
                item.bytes = node.size or 0
                if dry_run and folder:
                    nodes = await remote_tree(self.engine, service, path, self.concurrency)
                    for rel in sorted(nodes, key=lambda r: (-r.count("/"), r)):
                        child = nodes[rel]
                        report.items.append(
                            TransferItem(
                                "", f"{path.child_path(rel)}", child.size or 0, action="delete"
                            )
                        )
                self._add(report, item, self._delete_job(path, folder))
            except CanfarError as exc:
                if len(paths) == 1:
                    raise
                item.status, item.error = "failed", exc
                report.items.append(item)
        if dry_run:
            return report

        async def work(item: TransferItem) -> None:
            job = self.jobs.get(id(item))
            if job is not None:
                await job(item)

        await run_items(report, work, concurrency=self.concurrency)
        return report

    # --- mv -------------------------------------------------------------------------------------

    async def move(self, sources: list[StoragePath], dest: StoragePath) -> TransferReport:
        report = TransferReport()
        dest_entry = await self.entry(dest)
        if len(sources) > 1 and (dest_entry is None or dest_entry.kind != "folder"):
            raise UsageError(
                f"{dest}: not an existing folder, and there are {len(sources)} sources",
                hint=f"make it first (`canfar data mkdir -p {dest}`)",
            )
        for source in sources:
            item = TransferItem(str(source), str(dest), 0, action="move")
            report.items.append(item)
            try:
                await self._move_one(item, source, dest, dest_entry)
                item.status = "done"
            except CanfarError as exc:
                if len(sources) == 1:
                    raise
                item.status, item.error = "failed", exc
        return report

    async def _move_one(
        self,
        item: TransferItem,
        source: StoragePath,
        dest: StoragePath,
        dest_entry: Entry | None,
    ) -> None:
        if (
            isinstance(source, RemotePath)
            and isinstance(dest, RemotePath)
            and source.service == dest.service
        ):
            service = await self.service_of(source.service)
            if service.transfers:
                if _inside(source, dest):
                    raise UsageError(f"{source}: cannot move a folder into itself ({dest})")
                from canfar_cli.storage import nodes as docs

                document = docs.move_document(
                    self.engine.uri(service, source), self.engine.uri(service, dest)
                )
                await self.engine.run_job(str(source), service.transfers, content=document)
                return
        # Across services (or with a local side): copy, then remove the source when whole.
        planner = Planner(self.engine, self.service_of, self.concurrency)
        copied, jobs = await planner.plan_copy([source], dest, recursive=True, resume=False)
        await planner.execute(copied, jobs, None)
        failed = [i for i in copied.items if i.status == "failed"]
        if failed:
            first = failed[0].error
            raise CanfarError(
                f"{source}: {len(failed)} file(s) could not be copied ({first}); the source is kept"
            )
        item.bytes = copied.bytes_done
        entry = await self.entry(source)
        folder = entry is not None and entry.kind == "folder"
        if isinstance(source, LocalPath):
            await anyio.to_thread.run_sync(_remove_local, Path(source.path))
        else:
            service = await self.service_of(source.service)
            await self._remove_remote(service, source, folder)


def _check_local_parent(target: StoragePath) -> None:
    if isinstance(target, LocalPath):
        parent = Path(target.path).parent
        if not parent.is_dir():
            raise NotFoundError(
                f"{target}: its folder does not exist",
                status=404,
                hint=f"make it first: `mkdir -p {parent}`",
            )


def _inside(outer: StoragePath, inner: StoragePath) -> bool:
    """Whether `inner` is `outer` or under it (same side)."""
    if isinstance(outer, RemotePath) and isinstance(inner, RemotePath):
        return outer.contains(inner)
    if isinstance(outer, LocalPath) and isinstance(inner, LocalPath):
        a = os.path.realpath(outer.path)
        b = os.path.realpath(inner.path)
        return b == a or b.startswith(a.rstrip("/") + "/")
    return False


def _remove_local(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
