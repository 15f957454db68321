"""The progress of `canfar create --wait` on stderr: a live line on a terminal, else one plain
line each time the counts change, and a last `done:` line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from canfar_cli.models import normalize_status
from canfar_cli.output import Output, printable

Sessions = Sequence[Mapping[str, Any]]


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
