"""Statuses, session ids, and the shaping of what the server sends back (times, events, exit
codes), and the selection of sessions from a listing.

Pure functions, no I/O: the session core reads the server's records with them and the CLI uses
them to filter listings. What a create may ask for and sends is in `canfar_cli.create_request`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from canfar_cli.errors import UsageError
from canfar_cli.vocabulary import STATUSES

# Older servers said Succeeded/Error where newer ones say Completed/Failed: the same states.
_STATUS_ALIASES = {"succeeded": "Completed", "error": "Failed"}
FINISHED_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Succeeded", "Error"})

# A Kubernetes label value (the server looks sessions up by label): also keeps `/`, `?` and `..`
# out of the request path.
_ID_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z")


def normalize_status(status: str) -> str:
    """The canonical spelling of a status: case folded, Succeeded -> Completed, Error -> Failed.

    Unknown values come back capitalized as given, so a newer server's state still shows."""
    text = status.strip()
    lowered = text.lower()
    if lowered in _STATUS_ALIASES:
        return _STATUS_ALIASES[lowered]
    for known in STATUSES:
        if known.lower() == lowered:
            return known
    return text


def is_finished(status: Any) -> bool:
    """Completed or Failed (under any spelling); False for anything else, a server's value of
    the wrong type included."""
    return isinstance(status, str) and normalize_status(status) in FINISHED_STATUSES


def check_id(session_id: str) -> str:
    """A session id safe to put in a URL path (a Kubernetes label value, as the server requires)."""
    if not isinstance(session_id, str) or not _ID_RE.match(session_id):
        raise UsageError(
            f"{session_id!r} is not a session id",
            hint="session ids are short codes like 'x7k2m9qa'; list yours with `canfar ps`",
        )
    return session_id


def is_id(token: str) -> bool:
    """Whether `token` can be a session id (check_id would take it)."""
    return isinstance(token, str) and _ID_RE.match(token) is not None


# The ids skaha makes: 8 characters [a-z0-9], the first a letter (RandomStringGenerator(8)).
_SKAHA_ID_RE = re.compile(r"^[a-z][a-z0-9]{7}\Z")


def looks_like_skaha_id(token: str) -> bool:
    """Whether `token` has the form of the ids skaha makes (a name may have it too)."""
    return isinstance(token, str) and _SKAHA_ID_RE.match(token) is not None


def check_ids(ids: str | Iterable[str]) -> list[str]:
    """One id or several, as a list; every one checked before anything is sent."""
    items = [ids] if isinstance(ids, str) else list(ids)
    return [check_id(item) for item in items]


# --- times ---------------------------------------------------------------------------------

_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_time(text: str) -> datetime:
    """A server time as an aware datetime (UTC when no offset is given).

    Accepts what the server writes: `2025-04-10T15:45:33Z`, `2025-04-10T15:45Z` (Java omits `:00`
    seconds), fractions of any length (nanoseconds are cut to microseconds) and `+hh:mm` offsets.
    Raises ValueError for anything else."""
    match = _TIME_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone is None or zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(sign * offset)
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz
    )


def try_parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


# --- events --------------------------------------------------------------------------------

# The event types Kubernetes has (and kubectl's `<none>`): only these start an event's row.
_EVENT_TYPES = frozenset({"Normal", "Warning", "<none>"})
_EVENT_RE = re.compile(r"^(\S+)\s+(\S+)\s+(?:(.*?)\s+)?(\S+)\s+(\S+)\s*$")


def _time_cell(cell: str) -> bool:
    return cell == "<none>" or try_parse_time(cell) is not None


def parse_events(text: str) -> list[dict[str, Any]]:
    """The server's events table (kubectl custom-columns) as dicts.

    Each row gives type, reason, message, first_time, last_time (`<none>` cells become None). The
    first and last two columns never hold spaces, so a message with spaces is whatever lies between
    them, whatever the alignment. A line that does not fit becomes {"raw": line}: never dropped."""
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        stripped = line.strip()
        if stripped == "<none>":
            continue
        words = stripped.split()
        if words[:2] == ["TYPE", "REASON"] and words[-2:] == ["FIRST-TIME", "LAST-TIME"]:
            continue
        previous = events[-1] if events and "raw" not in events[-1] else None
        if previous is not None and words[0] not in _EVENT_TYPES:
            # A continuation of a message over several lines (kubectl prints it as it is):
            # only Normal/Warning start an event; the times end the event's last line.
            text, first, last = stripped, None, None
            tail = stripped.rsplit(None, 2)
            if len(tail) == 3 and _time_cell(tail[1]) and _time_cell(tail[2]):
                text, first, last = tail
            previous["message"] = f"{previous['message']}\n{text}".lstrip("\n")
            if first is not None:
                previous["first_time"] = None if first == "<none>" else first
                previous["last_time"] = None if last == "<none>" else last
            continue
        match = _EVENT_RE.match(stripped)
        if words[0] in _EVENT_TYPES and not (
            match and _time_cell(match.group(4)) and _time_cell(match.group(5))
        ):
            # The first line of a message that goes on below: the times come at its end.
            events.append(
                {
                    "type": None if words[0] == "<none>" else words[0],
                    "reason": words[1] if len(words) > 1 and words[1] != "<none>" else None,
                    "message": " ".join(stripped.split(None, 2)[2:]),
                    "first_time": None,
                    "last_time": None,
                }
            )
            continue
        if match and _time_cell(match.group(4)) and _time_cell(match.group(5)):
            kind, reason, message, first, last = match.groups()
            events.append(
                {
                    "type": None if kind == "<none>" else kind,
                    "reason": None if reason == "<none>" else reason,
                    "message": message or "",
                    "first_time": None if first == "<none>" else first,
                    "last_time": None if last == "<none>" else last,
                }
            )
        else:
            events.append({"raw": line})
    return events


# --- selection -----------------------------------------------------------------------------


def select_sessions(
    sessions: Iterable[Mapping[str, Any]],
    *,
    kinds: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    name_pattern: str | None = None,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[Any]:
    """The sessions that pass every given filter, in their order.

    kinds and statuses are case-insensitive, with Succeeded == Completed and Error == Failed;
    name_pattern is a shell glob on the name (names are lower case on the server, so the match is
    case-insensitive); older_than keeps sessions whose startTime is at least that long ago (a
    session with no startTime yet is not older than anything)."""
    kind_set = {kind.strip().lower() for kind in kinds} if kinds is not None else None
    status_set = {normalize_status(s) for s in statuses} if statuses is not None else None
    pattern = name_pattern.lower() if name_pattern is not None else None
    if older_than is not None and now is None:
        now = datetime.now(timezone.utc)
    chosen = []
    for session in sessions:
        if kind_set is not None and str(session.get("type", "")).lower() not in kind_set:
            continue
        if status_set is not None and normalize_status(str(session.get("status", ""))) not in (
            status_set
        ):
            continue
        if pattern is not None and not fnmatch.fnmatchcase(
            str(session.get("name", "")).lower(), pattern
        ):
            continue
        if older_than is not None:
            started = try_parse_time(session.get("startTime"))
            if started is None or now is None or now - started < older_than:
                continue
        chosen.append(session)
    return chosen


# `the process exited with code 3` (the local platform), `Exit Code: 3` (a Kubernetes container
# status), `exitCode=3`; skaha itself gives none (shared/skaha-api.md), so None is common.
_EXIT_RE = re.compile(r"exit(?:ed)?(?: with)? code[ :=]*(-?\d+)|exitCode[ :=]*(-?\d+)", re.I)


def exit_code_of(events: Iterable[Mapping[str, Any]]) -> int | None:
    """The job's exit code when its events give it; the last such event wins. None when no
    event says. The one rule `wait`, `create --wait` and `run` share (AsyncSession.exit_codes)."""
    code = None
    for event in events:
        match = _EXIT_RE.search(str(event.get("message") or event.get("raw") or ""))
        if match:
            code = int(match.group(1) or match.group(2))
    return code
