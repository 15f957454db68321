"""The skaha v1 rules the local platform reproduces (see shared/skaha-api.md): no I/O here.

Validation messages, the shapes of the JSON bodies, the Java-flavoured details (String.split,
OffsetDateTime and Instant printing) and the kubectl events table all live here, so the app module
only routes and the supervisor only runs.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

INTERACTIVE_TYPES = ("notebook", "desktop", "carta", "contributed", "firefly")
CREATE_TYPES = (*INTERACTIVE_TYPES, "headless")
IMAGE_TYPES = ("carta", "notebook", "desktop", "contributed", "headless", "firefly", "desktop-app")

_ALNUM = string.ascii_lowercase + string.digits
NAME_RULE = re.compile(r"[A-Za-z0-9\-]+")
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Kubernetes label value syntax (empty allowed), as checked by SessionLabels.validateLabelValue.
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")


class SkahaError(Exception):
    """A refusal with the contract's status and text (sent as text/plain `message\\n`)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> SkahaError:
    return SkahaError(400, message)


def new_session_id() -> str:
    """8 chars [a-z0-9], the first a letter (RandomStringGenerator(8) of opencadc/uws)."""
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(_ALNUM) for _ in range(7)
    )


def new_app_id() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(3))


def java_split(text: str, sep: str) -> list[str]:
    """Java's `String.split` with a literal one-character separator: trailing empty strings are
    dropped, inner and leading ones kept, and a text without the separator is itself
    (`"".split(" ")` is `[""]`)."""
    if sep not in text:
        return [text]
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def parse_env(entries: Iterable[str]) -> list[tuple[str, str]]:
    """`KEY=VALUE` entries as the server keeps them: anything not exactly 2 parts is dropped."""
    kept = []
    for entry in entries:
        parts = java_split(entry, "=")
        # An empty or NUL-holding name cannot become a process environment variable.
        if len(parts) == 2 and parts[0] and "\0" not in entry:
            kept.append((parts[0], parts[1]))
    return kept


def check_label_id(session_id: str) -> None:
    """The 400s of GET /session/{id} for ids that are not Kubernetes label values."""
    if len(session_id) > 63:
        raise bad_request("canfar.net/id label value exceeds 63 characters")
    if not _LABEL_VALUE.fullmatch(session_id):
        raise bad_request("canfar.net/id label value must match Kubernetes label value syntax")


def label_name(name: str) -> str:
    """The name label: lowercased, at most 63 chars, cut back to a valid label value."""
    lowered = name.lower()[:63]
    match = _LABEL_PREFIX.match(lowered)
    return match.group(0) if match else ""


def check_hostname(name: str) -> None:
    """The real platform sets the pod's hostname to the name; one that is not a DNS label makes
    the job creation fail there (a 500). Here it is refused up front, with the reason."""
    if not _HOSTNAME.fullmatch(name.lower()):
        raise bad_request(
            f"name '{name}' cannot be used as a host name: at most 63 characters, starting and"
            " ending with a letter or digit"
        )


def app_name(image: str) -> str:
    """A desktop-app's name: the image's last path segment, ':._' turned into '-', lowercased."""
    last = image.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[:._]", "-", last).lower()


def parse_java_int(raw: str) -> int:
    """Integer.valueOf: an optional sign and digits, nothing else (no blanks, no fraction), in
    range; raises ValueError otherwise."""
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise ValueError(raw)
    value = int(raw)
    if not -(2**31) <= value < 2**31:
        raise ValueError(raw)
    return value


def check_option(param: str, raw: str, options: Sequence[int]) -> float:
    """cores/ram: a whole number (Integer.valueOf in science-platform 1.4.0, so `1.5` is
    refused) that is one of the /context options."""
    try:
        value = parse_java_int(raw)
    except ValueError:
        raise bad_request(f"Invalid value for '{param}': {raw}") from None
    if value not in options:
        raise bad_request(f"Invalid value for '{param}': {raw}")
    return float(value)


def check_gpus(raw: str, options: Sequence[int]) -> int:
    text = raw.strip() if raw.strip() == raw else raw  # Integer.parseInt refuses blanks
    if not re.fullmatch(r"[+-]?\d{1,10}", text) or int(text) not in options:
        raise bad_request(f"Invalid value for 'gpus': {raw}")
    return int(text)


# --- time formats ------------------------------------------------------------------------


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc)


def offset_datetime(ts: float) -> str:
    """OffsetDateTime.toString(): seconds are left out when they are :00."""
    moment = _utc(ts)
    if moment.second == 0:
        return moment.strftime("%Y-%m-%dT%H:%MZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(ts: float) -> str:
    """Instant.toString() of a whole second."""
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- bodies ------------------------------------------------------------------------------


def gson(value: Any) -> bytes:
    """Gson with pretty printing and no HTML escaping (nulls are left out by the callers)."""
    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def compact(value: Any) -> bytes:
    """org.json's compact form."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decimal_gb(gib: float) -> str:
    return f"{gib * 1.073741824:.2f}"


def cores_text(cores: float) -> str:
    return str(int(cores)) if float(cores).is_integer() else f"{cores:.3f}"


def connect_url(kind: str, session_id: str, user: str, base: str = "") -> str:
    """The URL shapes of SessionURLBuilder, on `base` (scheme://host:port of this server): the
    local platform answers them with a page saying the session is emulated."""
    if not base or kind in ("headless", "desktop-app"):
        return ""
    if kind == "desktop":
        path = f"session/desktop/{session_id}/"
        return f"{base}/{path}?password={session_id}&path={path}"
    if kind == "notebook":
        return f"{base}/session/notebook/{session_id}/lab/tree/home/{user}?token={session_id}"
    if kind == "contributed":
        return f"{base}/session/contrib/{session_id}/"
    if kind == "firefly":
        return f"{base}/session/firefly/{session_id}/firefly/"
    return f"{base}/session/{kind}/{session_id}/"


def session_object(
    row: Any,
    *,
    uid: str = "",
    gid: str = "",
    usage: dict[str, str] | None = None,
    base: str = "",
) -> dict[str, Any]:
    """The Session JSON object, fields in the declaration order of Session.java, nulls omitted."""
    body: dict[str, Any] = {
        "id": row["id"],
        "userid": row["userid"],
        "runAsUID": uid,
        "runAsGID": gid,
        "supplementalGroups": [],
    }
    if row["appid"]:
        body["appid"] = row["appid"]
    body["image"] = row["image"]
    body["type"] = row["type"]
    body["status"] = row["status"]
    body["name"] = row["name"]
    if row["start_time"] is not None:
        body["startTime"] = offset_datetime(row["start_time"])
        body["expiryTime"] = instant(int(row["start_time"]) + int(row["deadline"]))
    body["connectURL"] = connect_url(row["type"], row["id"], row["userid"], base)
    if row["fixed"]:
        # A row of an older version may lack its cores (RAM given alone): the field is left out
        # rather than the record (or, worse, the whole listing) failing.
        if row["ram"] is not None:
            body["requestedRAM"] = decimal_gb(row["ram"])
        if row["cores"] is not None:
            body["requestedCPUCores"] = cores_text(row["cores"])
    # GPUs are not enabled on the local platform (as on a cluster without GPU_ENABLED).
    body["requestedGPUCores"] = "0"
    if usage:
        body.update(usage)
    body["isFixedResources"] = bool(row["fixed"])
    return body


def minimal_session(row: Any, *, public: bool = False) -> dict[str, Any]:
    """What can be shown of a damaged row: the fields every record has, as text."""
    keys = ("userid", "type", "status") if public else ("id", "userid", "type", "status")
    body = {key: str(row[key]) for key in keys}
    if not public:
        body["name"] = str(row["name"])
        body["image"] = str(row["image"])
        if row["appid"]:
            body["appid"] = str(row["appid"])
    return body


def public_session(row: Any) -> dict[str, Any]:
    body = {"userid": row["userid"], "type": row["type"], "status": row["status"]}
    if row["start_time"] is not None:
        body["startTime"] = offset_datetime(row["start_time"])
    return body


def events_table(events: Sequence[Any]) -> str:
    """`kubectl get event -o custom-columns=...` output: tabwriter(minwidth 10, padding 3)."""
    if not events:
        return "<none>\n"
    rows = [["TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME"]]
    for event in events:
        rows.append(
            [
                event["type"] or "<none>",
                event["reason"] or "<none>",
                # One event is one line of the table.
                " ".join(str(event["message"]).split()) or "<none>",
                instant(event["first"]),
                instant(event["last"]),
            ]
        )
    widths = [max(10, max(len(row[col]) for row in rows) + 3) for col in range(4)]
    lines = []
    for row in rows:
        cells = [row[col].ljust(widths[col]) for col in range(4)]
        lines.append("".join(cells) + row[4] + "\n")
    return "".join(lines)
