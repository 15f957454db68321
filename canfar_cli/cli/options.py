"""Options shared by several commands and the small parsers behind them (no I/O, light)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.errors import UsageError
from canfar_cli.vocabulary import KINDS, STATUSES

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta


Kind = Enum("Kind", {kind: kind for kind in KINDS}, type=str)  # type: ignore[misc]
Status = Enum("Status", {status: status for status in STATUSES}, type=str)  # type: ignore[misc]


class Format(str, Enum):
    table = "table"
    wide = "wide"
    json = "json"


# The option factories return Any, as typer.Option itself does: the OptionInfo stands in as the
# default of a parameter typed by what typer will pass (Format | None, bool, list[Kind] | None, …).


def output_option() -> Any:
    return typer.Option(
        None,
        "-o",
        "--output",
        case_sensitive=False,
        help="table (default), wide (every field) or json.",
    )


def json_option() -> Any:
    return typer.Option(False, "--json", help="Shorthand for -o json.")


def kind_option() -> Any:
    return typer.Option(
        None,
        "-k",
        "--kind",
        metavar="KIND",
        case_sensitive=False,
        help="Only this kind (repeatable): headless, notebook, desktop, …",
    )


def status_option(help: str) -> Any:
    return typer.Option(None, "-s", "--status", metavar="STATUS", case_sensitive=False, help=help)


def quiet_option(what: str = "session ids") -> Any:
    return typer.Option(False, "-q", "--quiet", help=f"Print bare {what}, one per line.")


# What a session is made of, for `create` and `run`.
def name_option(help: str) -> Any:
    return typer.Option(None, "-n", "--name", metavar="NAME", help=help)


def cores_option() -> Any:
    return typer.Option(
        None, "-c", "--cores", metavar="N", help="CPU cores (fixed; default: flexible)."
    )


def ram_option() -> Any:
    return typer.Option(
        None, "-m", "--ram", metavar="GiB", help="RAM in GiB (fixed; default: flexible)."
    )


def gpus_option() -> Any:
    return typer.Option(None, "-g", "--gpus", metavar="N", help="GPUs (leave out for none).")


def env_option() -> Any:
    return typer.Option(
        None, "-e", "--env", metavar="K=V", help="Environment variable (repeatable)."
    )


def env_file_option() -> Any:
    return typer.Option(None, "--env-file", metavar="PATH", help="File of K=V lines.")


def resolve_format(output: Format | None, as_json: bool, quiet: bool = False) -> str:
    """'table', 'wide', 'json' or 'quiet', refusing contradictory choices."""
    if as_json and output not in (None, Format.json):
        raise UsageError(f"--json contradicts -o {output.value}", hint="give one of them")
    if quiet and (as_json or output is not None):
        raise UsageError("-q/--quiet prints bare ids; it cannot be combined with -o/--json")
    if quiet:
        return "quiet"
    if as_json:
        return "json"
    return output.value if output is not None else "table"


_DURATION = r"(\d+(?:\.\d+)?)\s*([smhdw])"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `7d`, `1w`, `90s`, or combinations such as `1d12h`."""
    import re
    from datetime import timedelta

    pattern = re.compile(_DURATION, re.IGNORECASE)
    compact = text.strip().replace(" ", "")
    if not compact or pattern.sub("", compact) != "":
        raise UsageError(
            f"cannot read the duration {text!r}",
            hint="write a number and a unit: 45s, 30m, 2h, 7d or 1w (or e.g. 1d12h)",
        )
    seconds = sum(float(n) * _UNITS[u.lower()] for n, u in pattern.findall(compact))
    if seconds <= 0:
        raise UsageError(f"the duration {text!r} must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # beyond timedelta's 999,999,999 days
        raise UsageError(
            f"the duration {text!r} is too long", hint="write at most a few thousand years"
        ) from None


def kind_values(kinds: Sequence[Enum] | None) -> list[str] | None:
    return [kind.value for kind in kinds] if kinds else None


def status_values(statuses: Sequence[Enum] | None) -> list[str] | None:
    return [status.value for status in statuses] if statuses else None
