"""Running a planned batch: files in parallel up to `concurrency`, each item's own outcome, and
an interruption that stops starting files, cancels those in flight (their clean-up runs
shielded: a partial remote file is deleted, a .part removed) and raises TransferInterrupted
with the report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from canfar_cli.errors import CanfarError
from canfar_cli.storage.results import TransferInterrupted, TransferItem, TransferReport

__all__ = ["run_items"]


async def run_items(
    report: TransferReport,
    work: Callable[[TransferItem], Awaitable[None]],
    *,
    concurrency: int,
    on_done: Callable[[TransferItem], None] | None = None,
) -> TransferReport:
    """Run `work(item)` for every item still "planned"; an item whose work raises a
    CanfarError is "failed" with it, else "done" (work may set "skipped" itself)."""
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    bugs: list[BaseException] = []

    async def one(item: TransferItem) -> None:
        async with limiter:
            item.status = "done"
            try:
                await work(item)
            except CanfarError as exc:
                item.status, item.error = "failed", exc
            except anyio.get_cancelled_exc_class():
                item.status = "not done"
                raise
            except Exception as exc:  # a bug: re-raised below, the report kept
                item.status = "failed"
                bugs.append(exc)
            if on_done is not None:
                on_done(item)

    pending = [item for item in report.items if item.status == "planned"]
    for item in pending:
        item.status = "not done"
    try:
        async with anyio.create_task_group() as group:
            for item in pending:
                item.status = "planned"
                group.start_soon(one, item)
    except anyio.get_cancelled_exc_class():
        for item in report.items:
            if item.status == "planned":
                item.status = "not done"
        raise TransferInterrupted(report) from None
    if bugs:
        raise bugs[0]
    return report
