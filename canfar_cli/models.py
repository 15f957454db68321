"""Kinds, statuses, the rules a create must obey, and the shaping of what the server sends back.

Pure functions, no I/O: the session core calls them before anything is sent (so a refusal costs
no request) and the CLI uses them to filter listings. Every refusal is a `UsageError` whose message
says what is wrong and whose hint says what to do instead; the server's own behaviour behind each
rule is in `shared/skaha-api.md` (section 4.3 and the quirks of section 6).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from canfar_cli import cmdline
from canfar_cli.errors import UsageError
from canfar_cli.vocabulary import KINDS as KINDS  # re-exported: models.KINDS as before
from canfar_cli.vocabulary import STATUSES as STATUSES

# Older servers said Succeeded/Error where newer ones say Completed/Failed: the same states.
_STATUS_ALIASES = {"succeeded": "Completed", "error": "Failed"}
FINISHED_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Succeeded", "Error"})

DEFAULT_REGISTRY = "images.canfar.net"

# A DNS label: the server uses the lowercased name as the pod's hostname, so anything else fails
# (with a 500) or is silently truncated. Upper case is refused rather than lowercased behind the
# user's back, so the name they gave is the name they will see and can select by.
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
# A Kubernetes label value (the server looks sessions up by label): also keeps `/`, `?` and `..`
# out of the request path.
_ID_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z")
MAX_NAME_LENGTH = 63
# Replicas are made one POST (one Kubernetes Job) each. Far above any real batch, this bound keeps
# a slip of the keyboard (`-r 1000000000`) from building a billion names in memory first.
MAX_REPLICAS = 10_000


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


def normalize_kind(kind: str) -> str:
    """The kind as the server spells it, or a UsageError naming the known kinds."""
    if not isinstance(kind, str) or kind.strip().lower() not in KINDS:
        raise UsageError(
            f"unknown session kind {kind!r}",
            hint=f"use one of: {', '.join(KINDS)}",
        )
    return kind.strip().lower()


def check_name(name: str) -> str:
    """One name exactly as it will be sent; refused if the server would reject or mangle it."""
    if not isinstance(name, str) or not name:
        raise UsageError("a session name is required", hint="give a name such as 'fit-1'")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"session name {name!r} is {len(name)} characters long, more than {MAX_NAME_LENGTH}",
            hint="the name (with its replica suffix) must make a DNS label; use a shorter name",
        )
    if not _NAME_RE.match(name):
        if re.fullmatch(r"[A-Za-z0-9-]+", name) and name.lower() != name:
            raise UsageError(
                f"session name {name!r} has upper-case letters, which the server lowercases",
                hint=f"use {name.lower()!r}",
            )
        if re.fullmatch(r"[A-Za-z0-9-]+", name):
            raise UsageError(
                f"session name {name!r} starts or ends with '-'",
                hint="a name must start and end with a letter or digit",
            )
        suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        raise UsageError(
            f"session name {name!r} has characters the server refuses",
            hint=f"use {suggestion!r} (lower-case letters, digits and '-')"
            if suggestion and _NAME_RE.match(suggestion)
            else "use only lower-case letters, digits and '-', e.g. 'fit-1'",
        )
    return name


def check_replicas(replicas: Any) -> int:
    """A whole number from 1 to MAX_REPLICAS."""
    count = check_count("replicas", replicas)
    if count > MAX_REPLICAS:
        raise UsageError(
            f"replicas must be at most {MAX_REPLICAS:,}, got {count:,}",
            hint="create larger sweeps in several batches",
        )
    return count


def replica_names(name: str, replicas: int) -> list[str]:
    """The names to send: `name` for one replica, `name-1 ... name-N` for more, each checked."""
    replicas = check_replicas(replicas)
    if replicas == 1 or not isinstance(name, str) or not name:
        return [check_name(name)]
    longest = f"{name}-{replicas}"
    if len(longest) > MAX_NAME_LENGTH:
        raise UsageError(
            f"session name {longest!r} (the last replica's) is {len(longest)} characters long,"
            f" more than {MAX_NAME_LENGTH}",
            hint=f"use a name of at most {MAX_NAME_LENGTH - len(str(replicas)) - 1} characters",
        )
    return [check_name(f"{name}-{index}") for index in range(1, replicas + 1)]


def check_count(what: str, value: Any) -> int:
    """cores, ram, replicas, gpus: a whole number of at least 1 (2.0 is 2)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{what} must be a number, got {value!r}")
    if isinstance(value, float) and math.isinf(value):
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    if not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UsageError(f"{what} must be a whole number, got {value!r}")
    if not value >= 1:  # also refuses NaN
        raise UsageError(f"{what} must be at least 1, got {value!r}")
    return int(value)


def check_size(what: str, value: Any) -> int:
    """cores and ram: a whole number of at least 1 (the server reads them with Integer.valueOf,
    so `1.5` is refused there: "Invalid value for 'cores': 1.5")."""
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer() and value >= 1:
        unit = " GiB" if what == "ram" else ""
        raise UsageError(
            f"{what} must be a whole number, got {value!r}{unit}; the server refuses fractions",
            hint=f"give a whole number, e.g. {math.ceil(value)}",
        )
    return check_count(what, value)


def check_gpu(gpu: Any) -> int | None:
    if gpu is None:
        return None
    if not isinstance(gpu, bool) and gpu == 0:
        raise UsageError("gpu=0 is refused by the server", hint="leave the GPU option out for none")
    return check_count("gpu", gpu)


def check_image(image: str) -> str:
    """The image as the server's public list spells it: `project/repo:tag` gets the default
    registry prefixed, a reference without a tag gets `:latest` (the server treats an id not
    exactly in its list as private); a digest (`@sha256:…`) is kept as is."""
    if not isinstance(image, str) or not image.strip():
        raise UsageError(
            "an image is required", hint=f"e.g. {DEFAULT_REGISTRY}/skaha/terminal:1.1.1"
        )
    if image != image.strip() or any(ch.isspace() for ch in image):
        raise UsageError(f"image {image!r} contains whitespace")
    if not image.isprintable():  # surrogates (argv bytes that are not UTF-8) are not
        raise UsageError(
            f"image {image!r} holds bytes that are not UTF-8 or control characters",
            hint=f"e.g. {DEFAULT_REGISTRY}/skaha/terminal:1.1.1",
        )
    first, slash, _rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return with_tag(image)
    if slash:
        return with_tag(f"{DEFAULT_REGISTRY}/{image}")
    raise UsageError(
        f"image {image!r} has no registry host",
        hint=f"write it in full, e.g. {DEFAULT_REGISTRY}/skaha/terminal:1.1.1",
    )


def with_tag(image: str) -> str:
    """`:latest` added to a reference that names neither a tag nor a digest."""
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else f"{image}:latest"


def format_number(value: int | float) -> str:
    """2 -> "2", 2.0 -> "2", 1.5 -> "1.5": what the server parses as a Double."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class CreateSpec:
    """A checked create: what every replica's form holds. Made once per create by
    `CreateRequest.check()`; planning and sending read it and check nothing again. `names` is
    empty until the create is named (`named`), so a create can be checked before its default
    name is chosen."""

    names: list[str]
    image: str
    kind: str
    cores: int | None
    ram: int | None
    gpu: int | None
    replicas: int
    # What is sent for cmd, args and env, and what the job will see (canfar_cli.cmdline).
    line: cmdline.CommandLine
    # The X-Skaha-Registry-Auth value (base64 of user:secret), or None; never shown.
    registry_header: str | None = field(default=None, repr=False)

    @property
    def cmd(self) -> str | None:
        """The program as given (None when no command was given)."""
        return self.line.argv[0] if self.line.has_cmd else None

    @property
    def args(self) -> list[str]:
        """The arguments as given."""
        return self.line.argv[1:] if self.line.has_cmd else list(self.line.argv)

    @property
    def env(self) -> list[tuple[str, str]]:
        """The environment as given, in order."""
        return [pair for pair in self.line.job_env if pair[0] != cmdline.SPACE_VARIABLE]

    @property
    def argv(self) -> list[str]:
        """The argv the job will see: exactly cmd and args as given."""
        return list(self.line.argv)

    def named(self, name: str) -> CreateSpec:
        """This create under `name` (checked, with the replica suffixes): nothing else is
        checked again."""
        return replace(self, names=replica_names(name, self.replicas))

    def job_env(self, index: int) -> list[tuple[str, str]]:
        """The environment replica `index` (0-based) gets from the create, as the job sees it."""
        return [*self.line.job_env, *self._replica_env(index)]

    def _replica_env(self, index: int) -> list[tuple[str, str]]:
        return [("REPLICA_ID", str(index + 1)), ("REPLICA_COUNT", str(len(self.names)))]

    def form(self, index: int) -> list[tuple[str, str]]:
        """The form fields of replica `index` (0-based), in the order they are sent."""
        fields = [
            ("name", self.names[index]),
            ("image", self.image),
            ("type", self.kind),
        ]
        # Neither sent: a flexible session, which may grow to the context's defaultLimit.
        if self.cores is not None:
            fields.append(("cores", format_number(self.cores)))
        if self.ram is not None:
            fields.append(("ram", format_number(self.ram)))
        if self.gpu is not None:
            fields.append(("gpus", str(self.gpu)))
        if self.kind == "headless":
            if self.line.cmd is not None:
                fields.append(("cmd", self.line.cmd))
            if self.line.args is not None:
                fields.append(("args", self.line.args))
            env = [*self.line.env, *self._replica_env(index)]
            fields.extend(("env", f"{key}={value}") for key, value in env)
        return fields


@dataclass(frozen=True)
class CreateRequest:
    """Everything a create takes, defined once: the arguments of `AsyncSession.create`,
    `create_each`, `plan_create` and `check_create` (and of their blocking twins), in order.

    `name` None only to check a create before its name is chosen (`check_create`, then
    `CreateSpec.named`); `cores` and `ram` (GiB) are whole numbers of at least 1, or None to
    leave them to the server (None for both: a flexible session, request from the context's
    defaultRequest, limit its defaultLimit; the defaults 2 and 4 make a fixed one); `gpu` None
    for none; `cmd`, `args` and `env` apply to headless sessions only (`args` a list, or a text
    split on whitespace); `replicas` N sessions named name-1 ... name-N; `registry_auth`
    "user:secret" or (user, secret) for a private image (sent in a header, never shown)."""

    name: str | None
    image: str
    cores: int | float | None = 2
    ram: int | float | None = 4
    kind: str = "headless"
    gpu: int | None = None
    cmd: str | None = None
    args: str | Sequence[str] | None = None
    env: Mapping[str, Any] | None = None
    replicas: int = 1
    registry_auth: str | tuple[str, str] | None = field(default=None, repr=False)

    def check(self) -> CreateSpec:
        """Every refusal of a create, in the order a user would fix them; the command line is
        encoded here, once."""
        kind = normalize_kind(self.kind)
        if kind != "headless":
            given = [
                what
                for what, value in (("cmd", self.cmd), ("args", self.args), ("env", self.env))
                if value is not None and value != [] and value != {}
            ]
            if given:
                verb, them = ("only applies", "it") if len(given) == 1 else ("only apply", "them")
                raise UsageError(
                    f"{' and '.join(given)} {verb} to headless sessions; the server ignores"
                    f" {them} for a {kind} session",
                    hint="leave them out, or create a headless session",
                )
        replicas = check_replicas(self.replicas)
        names = [] if self.name is None else replica_names(self.name, replicas)
        image = check_image(self.image)
        cores = None if self.cores is None else check_size("cores", self.cores)
        ram = None if self.ram is None else check_size("ram", self.ram)
        gpu = check_gpu(self.gpu)
        line = cmdline.encode(self.cmd, self.args, self.env)
        for key, _value in line.job_env:
            if key in ("REPLICA_ID", "REPLICA_COUNT"):
                raise UsageError(
                    f"environment variable {key} is set by canfar for every replica",
                    hint="leave it out of env",
                )
        registry_header = None
        if self.registry_auth is not None:
            registry_header = encode_registry_auth(self.registry_auth)
        return CreateSpec(
            names=names,
            image=image,
            kind=kind,
            cores=cores,
            ram=ram,
            gpu=gpu,
            replicas=replicas,
            line=line,
            registry_header=registry_header,
        )


def encode_registry_auth(registry_auth: str | tuple[str, str]) -> str:
    """The X-Skaha-Registry-Auth value: base64 of "user:secret"."""
    import base64

    if isinstance(registry_auth, tuple) and len(registry_auth) == 2:
        user, secret = registry_auth
    elif isinstance(registry_auth, str) and ":" in registry_auth:
        user, _, secret = registry_auth.partition(":")
    else:
        raise UsageError(
            "registry_auth must be 'username:secret' or (username, secret)",
            hint="the registry account that may pull the image",
        )
    if not user or not secret or ":" in user or ":" in secret:
        raise UsageError(
            "registry_auth must be a user name and a secret, neither containing ':'",
            hint="the server splits the value on ':'",
        )
    try:
        raw = f"{user}:{secret}".encode()
    except UnicodeEncodeError:
        raise UsageError(
            "registry_auth holds bytes that are not UTF-8", hint="check the user name and secret"
        ) from None
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Limits:
    """What one session may ask for, from /context: a flexible session's request and limit,
    the values -c/-m/-g may take (a fixed session), and the interactive-session limit."""

    cores_request: float | None
    cores_limit: float | None
    cores_options: list[int]
    ram_request: float | None
    ram_limit: float | None
    ram_options: list[int]
    gpu_options: list[int]
    max_interactive: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "flexible": {
                "cores": {"request": self.cores_request, "limit": self.cores_limit},
                "ramGiB": {"request": self.ram_request, "limit": self.ram_limit},
            },
            "fixed": {"cores": self.cores_options, "ramGiB": self.ram_options},
            "gpus": self.gpu_options,
            "maxInteractiveSessions": self.max_interactive,
        }


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _options(section: Any) -> list[int]:
    values = section.get("options") if isinstance(section, Mapping) else None
    if not isinstance(values, list):
        return []
    return [int(v) for v in values if isinstance(v, (int, float, str)) and str(v).isdigit()]


def parse_limits(context: Mapping[str, Any]) -> Limits:
    """/context as Limits (absent or odd fields become None or [])."""
    cores = context.get("cores") if isinstance(context.get("cores"), Mapping) else {}
    ram = context.get("memoryGB") if isinstance(context.get("memoryGB"), Mapping) else {}
    assert isinstance(cores, Mapping) and isinstance(ram, Mapping)
    most = _number(context.get("maxInteractiveSessions"))
    return Limits(
        cores_request=_number(cores.get("defaultRequest")),
        cores_limit=_number(cores.get("defaultLimit")),
        cores_options=_options(cores),
        ram_request=_number(ram.get("defaultRequest")),
        ram_limit=_number(ram.get("defaultLimit")),
        ram_options=_options(ram),
        gpu_options=_options(context.get("gpus")),
        max_interactive=None if most is None else int(most),
    )


def ranges(values: Sequence[int]) -> str:
    """[1, 2, 3, 4, 6, 8] -> "1-4, 6, 8": a list of options, short."""
    parts: list[str] = []
    ordered = sorted(set(values))
    start = 0
    for index in range(1, len(ordered) + 1):
        if index == len(ordered) or ordered[index] != ordered[index - 1] + 1:
            first, last = ordered[start], ordered[index - 1]
            parts.append(str(first) if first == last else f"{first}-{last}")
            start = index
    return ", ".join(parts)


def check_against(limits: Limits, cores: Any, ram: Any, gpu: Any) -> None:
    """-c/-m/-g refused before sending when /context does not offer them (the server's own
    refusal would be "Invalid value for 'ram': 3")."""
    for what, value, options, unit in (
        ("cores", cores, limits.cores_options, ""),
        ("ram", ram, limits.ram_options, " GiB"),
        ("gpus", gpu, limits.gpu_options, ""),
    ):
        if value is None or not options:
            continue
        if isinstance(value, (int, float)) and float(value).is_integer() and int(value) in options:
            continue
        raise UsageError(
            f"the server does not offer {what}={format_number(value)}",
            hint=f"{what} may be one of: {ranges(options)}{unit}"
            + (" (or leave -c/-m out for a flexible session)" if what != "gpus" else ""),
        )


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
