"""Waiting for sessions, shared by `canfar wait` and `canfar create --wait`: the progress on
stderr (`WaitProgress`: a live line on a terminal, else one plain line each time the counts
change, and a last `done:` line), then the verdict: JobFailedError naming each Failed session
(name, id and the exit code its events give)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from canfar_cli.errors import JobFailedError
from canfar_cli.models import normalize_status
from canfar_cli.output import Output, printable

if TYPE_CHECKING:
    from canfar_cli.session import AsyncSession

Sessions = Sequence[Mapping[str, Any]]


def failed_label(record: Mapping[str, Any], code: int | None) -> str:
    """`fit-2 (x7k2m9qa, exit code 3)`; the name is left out when there is none."""
    session_id = str(record.get("id"))
    name = record.get("name")
    inside = session_id + (f", exit code {code}" if code is not None else "")
    return f"{name} ({inside})" if name else inside


def gone_label(record: Mapping[str, Any]) -> str:
    """`fit-2 (x7k2m9qa, last seen Running)`: a session removed before it ended."""
    session_id = str(record.get("id"))
    name = record.get("name")
    status = record.get("status")
    seen = f", last seen {normalize_status(status)}" if isinstance(status, str) and status else ""
    inside = f"{session_id}{seen}"
    return f"{name} ({inside})" if name else inside


def gone_error(labels: Sequence[str], total: int) -> JobFailedError:
    """The one verdict on waited-for sessions that disappeared (removed by `canfar rm`, an
    expiry or the platform's cleanup) before they ended: not Completed, so exit 1, whether the
    waiting was `canfar wait`, `create --wait` or `canfar run`."""
    return JobFailedError(
        f"{len(labels)} of {total} session(s) gone before they ended: " + ", ".join(labels),
        hint="they were removed (canfar rm, expiry or the platform's cleanup); their work did"
        " not complete",
    )


async def wait_for(
    out: Output,
    session: AsyncSession,
    ids: Sequence[str],
    *,
    until: str,
    timeout: float | None,
) -> list[dict[str, Any]]:
    """Wait (core `wait`) with progress on stderr; JobFailedError when any session Failed or
    is gone (removed before it ended). The last records, in id order."""
    progress = WaitProgress(out, len(ids))
    with progress.shown() as on_update:
        records = await session.wait(list(ids), timeout=timeout, on_update=on_update, until=until)
    progress.done(records)
    gone = [r for r in records if r.get("gone") is True]
    failed = [
        r
        for r in records
        if r.get("gone") is not True and normalize_status(str(r.get("status", ""))) == "Failed"
    ]
    if failed:
        codes = await session.exit_codes([str(r.get("id")) for r in failed])
        labels = [failed_label(r, codes.get(str(r.get("id")))) for r in failed]
        first = failed[0].get("id")
        message = f"{len(failed)} of {len(ids)} session(s) Failed: " + ", ".join(labels)
        if gone:
            message += f"; {gone_error([gone_label(r) for r in gone], len(ids)).message}"
        raise JobFailedError(
            message, hint=f"`canfar logs {first}` and `canfar events {first}` may say why"
        )
    if gone:
        raise gone_error([gone_label(r) for r in gone], len(ids))
    return records


class WaitProgress:
    """Counts of the waited-for sessions by status, shown as they change."""

    def __init__(self, out: Output, total: int) -> None:
        self.out = out
        self.total = total
        self._last = ""

    def summary(self, sessions: Sessions) -> str:
        """`waiting for 3 session(s): 1 Pending, 2 Running`."""
        # Server text, shown on a live display: control characters made visible, never obeyed.
        counts = Counter(
            "gone"
            if s.get("gone") is True
            else printable(normalize_status(str(s.get("status", "?"))))
            for s in sessions
        )
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return f"waiting for {self.total} session(s): {parts}"

    @contextmanager
    def shown(self) -> Iterator[Callable[[Sessions], None]]:
        """Yields `on_update(sessions)` for the core's wait; the live line ends with the block."""
        with self.out.live() as update:
            live = self.out.live_allowed()

            def on_update(sessions: Sessions) -> None:
                text = self.summary(sessions)
                if live:
                    update(text)
                elif text != self._last:  # no terminal: one plain line per change
                    self.out.message(text)
                self._last = text

            yield on_update

    def done(self, sessions: Sessions) -> None:
        self.out.message(self.summary(sessions).replace("waiting for", "done:"))
