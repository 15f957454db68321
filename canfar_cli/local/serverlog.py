"""Where the local platform's own log goes.

`canfar local serve`, and the supervisor: their stderr (the operator's terminal, or
supervisor.log), as before. In process (`--server local`), the platform shares its process with
the user's command, whose stderr carries that command's messages only: a server's warning or
traceback there reads as the command's own failure. So while an in-process app answers a
request, what it logs goes to `server.log` in its state folder instead (0600).

The app sets the file for the request it is answering (a context variable, so several apps in one
process, as in the tests, each keep their own).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

LOG_FILE = "server.log"
LOGGER = "canfar_cli.local"

_current: ContextVar[Path | None] = ContextVar("canfar_local_log", default=None)


class _Router(logging.Handler):
    """The log file of the app answering now, else Python's last-resort handler (stderr), which
    is what a logger without handlers had."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            path = _current.get()
            if path is None:
                if logging.lastResort is not None:
                    logging.lastResort.handle(record)  # as if this handler were not here
                return
            text = self.format(record) + "\n"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(text)
        except Exception:  # a log that cannot be written must not fail the request
            self.handleError(record)


def _install() -> None:
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, _Router) for h in logger.handlers):
        handler = _Router(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)


_install()


@contextlib.contextmanager
def logging_to(path: Path | None) -> Iterator[None]:
    """While the block runs, the platform's log goes to `path` (None: stderr)."""
    token = _current.set(path)
    try:
        yield
    finally:
        _current.reset(token)
