"""Private files, written whole: the one way canfar writes a file that may hold a secret (the
config file, sign-in tokens and certificates, the local platform's token and CA files, caches).

Standard library only and light at import: the command line, the core and the local platform
all use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_private(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` atomically (a reader sees the old file or the new one, never half),
    mode 0600 from the first byte whatever the umask; a missing folder is made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes for the block (fcntl.flock on `path`, a lock file made
    0600 if missing); closing the file releases it, even when the process dies."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
