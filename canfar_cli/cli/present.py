"""Shaping core results for people: session rows, relative times, batch outcomes to exit codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from canfar_cli.cli.units import cores, gib_from_gb
from canfar_cli.models import is_finished
from canfar_cli.output import Output

if TYPE_CHECKING:
    from canfar_cli.errors import ExitCode
    from canfar_cli.outcomes import Outcome

# RAM in GiB (the unit of -m), said once here: the server's decimal GB are converted (units.py).
TABLE_COLUMNS = [
    "ID",
    "NAME",
    "KIND",
    "STATUS",
    "IMAGE",
    "CPU",
    "RAM(GiB)",
    "GPU",
    "AGE",
    "EXPIRES",
]
# Server fields already shown by the table columns (wide adds every other one).
_SHOWN = {
    "id",
    "name",
    "type",
    "status",
    "image",
    "requestedCPUCores",
    "requestedRAM",
    "requestedGPUCores",
    "startTime",
    "expiryTime",
}
# Friendly titles for the wide columns we know; unknown fields get their own name upper-cased.
_WIDE_TITLES = {
    "userid": "USER",
    "cpuCoresInUse": "CPU-USED",
    "ramInUse": "RAM-USED(GiB)",
    "isFixedResources": "FIXED",
    "connectURL": "URL",
    "runAsUID": "UID",
    "runAsGID": "GID",
    "supplementalGroups": "GROUPS",
    "appid": "APPID",
}


def _parse(text: Any) -> datetime | None:
    from canfar_cli.models import try_parse_time

    return try_parse_time(text)


def span(seconds: float) -> str:
    """A short human duration: 45s, 12m, 5h, 3d (two units above an hour: 1h20m, 3d4h)."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes and hours < 10 else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours and days < 10 else f"{days}d"


def age(session: Mapping[str, Any], now: datetime) -> str:
    started = _parse(session.get("startTime"))
    return span((now - started).total_seconds()) if started else "-"


def expires(session: Mapping[str, Any], now: datetime) -> str:
    expiry = _parse(session.get("expiryTime"))
    # A finished session keeps the server's expiryTime, but nothing will expire any more:
    # "in 13d" beside Completed would read as time left to run.
    if expiry is None or is_finished(session.get("status")):
        return "-"
    left = (expiry - now).total_seconds()
    return f"in {span(left)}" if left > 0 else "expired"


def when(text: Any, now: datetime) -> str:
    """`2026-11-27 12:00:00 UTC (5m ago)` / `(in 3d4h)`: a date and time plus the distance."""
    moment = _parse(text)
    if moment is None:
        return str(text)
    delta = (moment - now).total_seconds()
    distance = f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"
    stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({distance})"


def _value(session: Mapping[str, Any], key: str, suffix: str = "") -> str:
    value = session.get(key)
    if value is None or value == "":
        return "-"
    return f"{value}{suffix}"


def wide_keys(sessions: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = [key for key in _WIDE_TITLES if any(key in s for s in sessions)]
    for session in sessions:
        for key in session:
            if key not in _SHOWN and key not in keys:
                keys.append(key)
    return keys


def size_cells(session: Mapping[str, Any], ceiling: tuple[str, str] | None) -> tuple[str, str]:
    """The CPU and RAM (GiB) cells of a session, one rule for every table: a fixed session's
    request; a flexible one's ceiling (`≤8`, `≤32`) when known, else `-`."""
    if session.get("isFixedResources") is False and "requestedRAM" not in session:
        return ceiling if ceiling is not None else ("-", "-")
    cpu = session.get("requestedCPUCores")
    ram = session.get("requestedRAM")
    return (
        cores(cpu) or _value(session, "requestedCPUCores"),
        gib_from_gb(ram) or _value(session, "requestedRAM"),
    )


def session_rows(
    sessions: Sequence[Mapping[str, Any]],
    *,
    wide: bool = False,
    now: datetime | None = None,
    ceiling: tuple[str, str] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """The table of sessions; `ceiling` is what a flexible session's CPU and RAM show
    (e.g. `≤8`, `≤32G`), as it has no request of its own."""
    now = now or datetime.now(timezone.utc)
    extra = wide_keys(sessions) if wide else []
    columns = TABLE_COLUMNS + [_WIDE_TITLES.get(key, key.upper()) for key in extra]
    rows = []
    for session in sessions:
        row = [
            _value(session, "id"),
            _value(session, "name"),
            _value(session, "type"),
            _value(session, "status"),
            _value(session, "image"),
            *size_cells(session, ceiling),
            _value(session, "requestedGPUCores"),
            age(session, now),
            expires(session, now),
        ]
        for key in extra:
            value = session.get(key)
            if key == "ramInUse":
                row.append(gib_from_gb(value) or _value(session, key))
            elif key == "cpuCoresInUse":
                row.append(cores(value) or _value(session, key))
            elif isinstance(value, bool):
                row.append("yes" if value else "no")
            elif isinstance(value, list):
                row.append(",".join(str(v) for v in value) or "-")
            else:
                row.append(_value(session, key))
        rows.append(row)
    return columns, rows


def show_sessions(
    out: Output,
    sessions: Sequence[Mapping[str, Any]],
    fmt: str,
    ceiling: tuple[str, str] | None = None,
) -> None:
    """ps-style output of session objects in the chosen format."""
    if fmt == "json":
        out.json(list(sessions))
    elif fmt == "quiet":
        out.ids(str(s.get("id", "")) for s in sessions)
    else:
        out.table(*session_rows(sessions, wide=fmt == "wide", ceiling=ceiling))


def unique(ids: Sequence[str]) -> list[str]:
    """The ids in order, each once (a repeated id would otherwise be reported twice)."""
    return list(dict.fromkeys(ids))


def report_failures(out: Output, outcomes: Sequence[Outcome[Any]]) -> ExitCode:
    """Print each failed outcome on stderr (the same line once: ten replicas refused for one
    image are one refusal) and return the exit code of the batch
    (canfar_cli.outcomes.batch_exit_code, the rule BatchError follows too)."""
    from canfar_cli.outcomes import batch_exit_code

    shown: set[tuple[str, str | None]] = set()
    for outcome in outcomes:
        error = outcome.error
        if error is None:
            continue
        message = error.message
        if outcome.key and outcome.key not in message:
            message = f"{outcome.key}: {message}"
        if (message, error.hint) not in shown:
            shown.add((message, error.hint))
            out.error(message, error.hint)
    return batch_exit_code(outcomes)
