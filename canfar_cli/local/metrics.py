"""What a metrics API would say about a running job and this machine: the usage fields of a
session (ramInUse, cpuCoresInUse) and the machine's memory, for `/session?view=stats`.

On Linux (portable.linux_paths()) from /proc and CLOCK_BOOTTIME without starting a process;
elsewhere from `ps -o rss=,time=,etime=` and sysconf.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from canfar_cli.local import portable, procs

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _format(ram_bytes: float, cpu_seconds: float, elapsed: float) -> dict[str, str]:
    return {
        "ramInUse": f"{ram_bytes / 1e9:.2f}",
        "cpuCoresInUse": f"{cpu_seconds / max(elapsed, 1e-3):.3f}",
    }


def usage(row: Any) -> dict[str, str] | None:
    """ramInUse and cpuCoresInUse of a running job's leader process; None when unknown."""
    if portable.linux_paths():
        return _linux_usage(row)
    if not procs.is_alive(row["job_pid"], row["job_start"], row["boot_id"]):
        return None
    fields = procs.ps_fields(row["job_pid"], "rss=,time=,etime=")
    if fields is None or len(fields) != 3:
        return None
    try:
        return _format(int(fields[0]) * 1024, ps_seconds(fields[1]), ps_seconds(fields[2]))
    except ValueError:
        return None


def _linux_usage(row: Any) -> dict[str, str] | None:
    fields = procs.live_stat(row["job_pid"], row["job_start"], row["boot_id"])
    if fields is None:
        return None
    try:
        rss_pages = int(fields[21])
        cpu_seconds = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        # CLOCK_BOOTTIME is /proc/uptime without reading a file.
        uptime = time.clock_gettime(time.CLOCK_BOOTTIME)
        elapsed = uptime - int(fields[19]) / _CLOCK_TICKS
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return _format(rss_pages * _PAGE_SIZE, cpu_seconds, elapsed)


def ps_seconds(text: str) -> float:
    """`[[DD-]HH:]MM:SS[.cc]` (ps's time and etime) in seconds; ValueError if not that."""
    days, _, clock = text.rpartition("-")
    parts = [float(part) for part in clock.split(":")]
    if not 1 <= len(parts) <= 3:
        raise ValueError(text)
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds + (int(days) * 86400 if days else 0)


def memory_bytes() -> float:
    """This machine's memory, in bytes (0 when it cannot be told)."""
    if portable.linux_paths():
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    return float(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError, AttributeError):
        pass
    found = procs.run_tool(["sysctl", "-n", "hw.memsize"])  # macOS
    try:
        return float(found) if found else 0.0
    except ValueError:
        return 0.0
