"""What the local platform needs of the system, and the switch off its Linux-only fast paths.

The platform runs on any POSIX system (Linux, macOS): fork/exec, process groups, FIFOs and
flock. On Linux it reads a process's identity (start time) and usage from /proc and the uptime
from CLOCK_BOOTTIME, which is fast; elsewhere, or with `CANFAR_LOCAL_PORTABLE=1` (how the tests
run the portable paths on Linux), it uses `ps` and a signal probe instead (procs.py).
"""

from __future__ import annotations

import os

from canfar_cli.errors import ConfigError

POSIX_NEEDED = "the local platform needs a POSIX system (Linux or macOS)"


def is_posix() -> bool:
    return os.name == "posix"


def require_posix() -> None:
    """ConfigError (exit 2) on a system where the local platform cannot run (Windows)."""
    if not is_posix():
        raise ConfigError(
            POSIX_NEEDED, hint="use a remote server (--server URL), or run canfar under WSL"
        )


_LINUX: bool | None = None


def linux_paths() -> bool:
    """True when the Linux-only fast paths (/proc, CLOCK_BOOTTIME) may be used (decided once
    per process; tests that flip CANFAR_LOCAL_PORTABLE in-process call `reset()`)."""
    global _LINUX
    if _LINUX is None:
        off = os.environ.get("CANFAR_LOCAL_PORTABLE", "").strip() not in ("", "0")
        _LINUX = not off and os.path.isdir("/proc/self")
    return _LINUX


def reset() -> None:
    global _LINUX
    _LINUX = None
