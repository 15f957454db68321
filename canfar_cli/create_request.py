"""A create, from the arguments asked for to the POSTs sent: one module for the whole road.

`CreateRequest` holds the arguments of every create method of `AsyncSession` (`check_create`,
`plan_create`, `create_each`, `create`); its `check()` applies every rule of a create, in the
order a user would fix them, and gives the checked `CreateSpec` (names, image, sizes, kind, and
the command line encoded once by `canfar_cli.cmdline`); `plan_requests` makes of a named
`CreateSpec` the POSTs exactly as they are sent (`PlannedRequest`: form body, headers, the registry
credentials kept out of sight). `Limits` is what the server's /context lets one session ask for,
and `check_against` the pre-check of -c/-m/-g against it.

Pure functions, no I/O: the session core calls them before anything is sent (so a refusal costs
no request). Every refusal is a `UsageError` whose message says what is wrong and whose hint says
what to do instead; the server's own behaviour behind each rule is in `shared/skaha-api.md`
(section 4.3 and the quirks of section 6).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from canfar_cli import cmdline
from canfar_cli.errors import UsageError
from canfar_cli.vocabulary import KINDS
from canfar_cli.wire import HIDDEN

REGISTRY_AUTH_HEADER = "X-Skaha-Registry-Auth"
FORM_TYPE = "application/x-www-form-urlencoded"
DEFAULT_REGISTRY = "images.canfar.net"

# A DNS label: the server uses the lowercased name as the pod's hostname, so anything else fails
# (with a 500) or is silently truncated. Upper case is refused rather than lowercased behind the
# user's back, so the name they gave is the name they will see and can select by.
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
MAX_NAME_LENGTH = 63
# Replicas are made one POST (one Kubernetes Job) each. Far above any real batch, this bound keeps
# a slip of the keyboard (`-r 1000000000`) from building a billion names in memory first.
MAX_REPLICAS = 10_000


# --- the rules of the arguments ------------------------------------------------------------


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


# --- the create, checked ------------------------------------------------------------------


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
    """Everything a create takes: the arguments of `AsyncSession.create`, `create_each`,
    `plan_create` and `check_create` (and of their blocking twins), in this order. Each method
    spells them out, so that a reader and a type checker see them; tests/core/test_shape_core.py
    keeps the methods in step with these fields.

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


# --- the POSTs it sends -------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRequest:
    """One request exactly as `create_each` sends it; `headers` show credentials as "<hidden>"."""

    method: str
    url: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    # The path relative to the API base.
    path: str = field(default="session", repr=False)
    # A headless create: the argv and the environment (from the form) the job will see, after
    # Kubernetes has expanded what canfar encoded (canfar_cli.cmdline). Empty otherwise.
    argv: list[str] = field(default_factory=list)
    job_env: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def with_secrets(cls, secret_headers: dict[str, str], **fields: Any) -> PlannedRequest:
        """A plan that also carries the real values of its hidden headers, kept out of the
        fields so that repr(), == and dataclasses.asdict() never see them."""
        plan = cls(**fields)
        object.__setattr__(plan, "_secret_headers", dict(secret_headers))
        return plan

    @property
    def secret_headers(self) -> dict[str, str]:
        return dict(getattr(self, "_secret_headers", {}))

    @property
    def name(self) -> str:
        return dict(self.form).get("name", "")

    @property
    def body(self) -> bytes:
        return urlencode(self.form).encode("ascii")


def plan_requests(spec: CreateSpec, url: str, headers: Mapping[str, str]) -> list[PlannedRequest]:
    """The POSTs of a checked create, one per replica; `headers` are the client's own (shown
    as they are), the registry credentials are added hidden. Nothing is checked again."""
    if not spec.names:
        raise UsageError("a session name is required", hint="give a name such as 'fit-1'")
    secret: dict[str, str] = {}
    if spec.registry_header is not None:
        secret[REGISTRY_AUTH_HEADER] = spec.registry_header
    shown = {**headers, "Content-Type": FORM_TYPE, **{key: HIDDEN for key in secret}}
    return [
        PlannedRequest.with_secrets(
            secret,
            method="POST",
            url=url,
            headers=dict(shown),
            form=spec.form(index),
            argv=spec.argv if spec.kind == "headless" else [],
            job_env=spec.job_env(index) if spec.kind == "headless" else [],
        )
        for index in range(len(spec.names))
    ]


# --- what /context lets a session ask for ---------------------------------------------------


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
