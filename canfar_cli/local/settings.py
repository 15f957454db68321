"""Settings of the local platform, read from the environment (or given directly by tests).

Environment variables (all optional):
    CANFAR_LOCAL_HOME            state folder (default: platformdirs user_data_dir("canfar")/local)
    CANFAR_LOCAL_USER            the user every request acts as (default: the OS user name)
    CANFAR_LOCAL_CLEANUP         seconds after a headless session ends before it is removed (3600)
    CANFAR_LOCAL_EXPIRY          lifetime of interactive sessions in seconds (345600 = 4 days)
    CANFAR_LOCAL_GRACE           seconds between SIGTERM and SIGKILL when a session is ended (10)
    CANFAR_LOCAL_SUPERVISOR_IDLE seconds the supervisor waits with no job before it exits (30;
                                 at least 2)
    CANFAR_LOCAL_CONTEXT         a JSON file served as /context (default: the shipped context.json)
    CANFAR_LOCAL_IMAGES          a JSON file served as /image (default: the shipped images.json)
    CANFAR_LOCAL_REGISTRY_HOSTS  registry hosts images must come from, space or comma separated
                                 (default: images.canfar.net)
    CANFAR_LOCAL_TICK            seconds between housekeeping sweeps (dead supervisors, expiry),
                                 and the supervisor's longest sleep (1; at least 0.01; tests
                                 set it small; starts and ends of jobs never wait for it)
    CANFAR_LOCAL_TOKEN           the token `canfar local serve` requires (default: a random one)
    CANFAR_LOCAL_PORTABLE        1: leave out the Linux-only paths (/proc), as on macOS
    CANFAR_LOCAL_ARC             root of the users' persistent homes, `<ARC>/home/<user>`
                                 (default: the state folder)
    CANFAR_LOCAL_CORES           cores the jobs may take at once (default: os.cpu_count())
    CANFAR_LOCAL_RAM             GiB the jobs may take at once (default: the machine's memory)
    CANFAR_LOCAL_ADMIT           requests of the skaha API `canfar local serve` takes at once
                                 (arrived, not answered); the next get 503 + Retry-After
                                 (default: no bound while it keeps up; admission.py)
The storage services' own (storage/settings.py): CANFAR_LOCAL_QUOTA, CANFAR_LOCAL_VAULT,
CANFAR_LOCAL_VAULT_LAG, CANFAR_LOCAL_PROPS; and `canfar local serve`'s targeted faults,
CANFAR_LOCAL_FAULTS (faults.py).
"""

from __future__ import annotations

import getpass
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from canfar_cli.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONTEXT = PACKAGE_DIR / "context.json"
DEFAULT_IMAGES = PACKAGE_DIR / "images.json"

INTERACTIVE_EXPIRY = 345600  # skaha.sessionexpiry, chart default (4 days)
HEADLESS_DEADLINE = 1209600  # activeDeadlineSeconds of launch-headless.yaml (14 days)
INTERACTIVE_TTL = 86400  # ttlSecondsAfterFinished of the interactive templates


def default_home() -> Path:
    """$CANFAR_LOCAL_HOME, else `<user data folder>/canfar/local` (one rule, in tokens.py)."""
    from canfar_cli.serve_tokens import local_home

    return local_home()


def arc_root(state_home: Path) -> Path:
    """$CANFAR_LOCAL_ARC, else the state folder: the root under which `home/<user>` lives."""
    raw = os.environ.get("CANFAR_LOCAL_ARC", "").strip()
    return Path(raw).expanduser().resolve() if raw else state_home


def user_home(state_home: Path, user: str) -> Path:
    """A user's persistent home, shared by all their sessions (CANFAR's /arc/home/<user>)."""
    return arc_root(state_home) / "home" / user


def capacity() -> tuple[float, float]:
    """(cores, GiB) the local jobs may take at once: $CANFAR_LOCAL_CORES / $CANFAR_LOCAL_RAM,
    else this machine's cores and memory."""
    raw_cores = os.environ.get("CANFAR_LOCAL_CORES", "").strip()
    raw_ram = os.environ.get("CANFAR_LOCAL_RAM", "").strip()
    if raw_cores:
        cores = _number("CANFAR_LOCAL_CORES", raw_cores, minimum=1)
    else:
        cores = float(os.cpu_count() or 1)
    if raw_ram:
        ram = _number("CANFAR_LOCAL_RAM", raw_ram, minimum=1)
    else:
        from canfar_cli.local import metrics

        ram = metrics.memory_bytes() / (1 << 30) or math.inf  # unknown: no bound
    return cores, ram


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "local"


_USER_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")


def _number(name: str, raw: str, *, minimum: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"${name} must be a number >= {minimum:g}, got {raw!r}")
    return value


def tick() -> float:
    """$CANFAR_LOCAL_TICK (seconds, default 1): how often housekeeping runs, and the
    supervisor's longest sleep (the supervisor reads it from the environment it inherits)."""
    raw = os.environ.get("CANFAR_LOCAL_TICK", "").strip()
    return _number("CANFAR_LOCAL_TICK", raw, minimum=0.01) if raw else 1.0


def admit_limit() -> int | None:
    """$CANFAR_LOCAL_ADMIT (at least 1): the requests `canfar local serve` takes at once at any
    time; None (the default) bounds them only past its capacity (admission.py)."""
    raw = os.environ.get("CANFAR_LOCAL_ADMIT", "").strip()
    return int(_number("CANFAR_LOCAL_ADMIT", raw, minimum=1)) if raw else None


@dataclass(frozen=True)
class LocalSettings:
    home: Path
    user: str
    cleanup_seconds: float = 3600.0
    interactive_expiry: int = INTERACTIVE_EXPIRY
    headless_deadline: int = HEADLESS_DEADLINE
    grace_seconds: float = 10.0
    # The supervisor exits after this long with nothing to run (and starts again on demand).
    supervisor_idle: float = 30.0
    context_file: Path = DEFAULT_CONTEXT
    images_file: Path = DEFAULT_IMAGES
    registry_hosts: tuple[str, ...] = ("images.canfar.net",)
    # Serving only (the in-process app never asks for credentials).
    token: str | None = field(default=None, repr=False)
    # Value of `skaha_hostname` in a job's environment.
    hostname: str = "localhost"
    # Requests larger than this are refused with 413.
    max_body_bytes: int = 1 << 20
    # Lazy housekeeping (dead supervisors, reboots, expiry, cleanup) runs at most this often
    # (CANFAR_LOCAL_TICK).
    sweep_interval: float = 1.0

    def __post_init__(self) -> None:
        if not _USER_RULE.match(self.user):
            raise ConfigError(
                f"local user name {self.user!r} is not usable",
                hint="use letters, digits, '.', '_' or '-' (set CANFAR_LOCAL_USER or --user)",
            )

    @classmethod
    def from_env(cls, **overrides: object) -> LocalSettings:
        env = os.environ
        values: dict[str, object] = {}
        values["home"] = default_home()
        values["user"] = env.get("CANFAR_LOCAL_USER", "").strip() or default_user()
        if env.get("CANFAR_LOCAL_CLEANUP", "").strip():
            values["cleanup_seconds"] = _number(
                "CANFAR_LOCAL_CLEANUP", env["CANFAR_LOCAL_CLEANUP"], minimum=0
            )
        if env.get("CANFAR_LOCAL_EXPIRY", "").strip():
            values["interactive_expiry"] = int(
                _number("CANFAR_LOCAL_EXPIRY", env["CANFAR_LOCAL_EXPIRY"], minimum=1)
            )
        if env.get("CANFAR_LOCAL_GRACE", "").strip():
            values["grace_seconds"] = _number(
                "CANFAR_LOCAL_GRACE", env["CANFAR_LOCAL_GRACE"], minimum=0
            )
        if env.get("CANFAR_LOCAL_SUPERVISOR_IDLE", "").strip():
            values["supervisor_idle"] = _number(
                "CANFAR_LOCAL_SUPERVISOR_IDLE", env["CANFAR_LOCAL_SUPERVISOR_IDLE"], minimum=2
            )
        for key, name in (
            ("context_file", "CANFAR_LOCAL_CONTEXT"),
            ("images_file", "CANFAR_LOCAL_IMAGES"),
        ):
            raw = env.get(name, "").strip()
            if raw:
                path = Path(raw).expanduser()
                if not path.is_file():
                    raise ConfigError(f"${name} names {raw}, which is not a file")
                values[key] = path
        if env.get("CANFAR_LOCAL_TICK", "").strip():
            values["sweep_interval"] = tick()
        hosts = env.get("CANFAR_LOCAL_REGISTRY_HOSTS", "").replace(",", " ").split()
        if hosts:
            values["registry_hosts"] = tuple(hosts)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
