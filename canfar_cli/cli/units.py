"""CPU and RAM shown one way everywhere: cores as numbers, RAM in GiB, the unit users type with
`-m` (and the server's `ram` parameter takes).

The server speaks three units: a session's `requestedRAM` and `ramInUse` are decimal GB
(`"8.59"` for `-m 8`), `view=stats` quantities are Kubernetes quantities (`"100G"`, `"32Gi"`),
and with a LimitRange its per-session maximum is written `"<n>G"` although it is GiB
(skaha-api.md §4.8). Every figure is turned into GiB here; tables say "GiB" once, in a heading.
"""

from __future__ import annotations

import math
import re
from typing import Any

GB_PER_GIB = 1.073741824
_QUANTITY = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(Ei|Pi|Ti|Gi|Mi|Ki|E|P|T|G|M|K)?\s*")
_FACTORS = {
    None: 1.0,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def number(value: float) -> str:
    """`8`, `0.5`, `12.88`: at most two decimals, no trailing zeros."""
    rounded = round(value, 2)
    return f"{rounded:g}" if abs(rounded) < 1e15 else f"{rounded:.3g}"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def gib_from_gb(value: Any) -> str | None:
    """A decimal-GB figure of a session record (`"8.59"`) in GiB (`"8"`); None when absent or
    not a number."""
    gb = _finite(value)
    return None if gb is None else number(gb / GB_PER_GIB)


def gib_from_quantity(value: Any, *, g_means_gib: bool = False) -> str | None:
    """A Kubernetes quantity (`"100G"`, `"32Gi"`, a bare number of GB) in GiB. g_means_gib: the
    server's LimitRange maximum, whose `G` stands for GiB."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        gb = _finite(value)
        return None if gb is None else number(gb / GB_PER_GIB)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value)
    if match is None:
        return None
    amount, suffix = float(match.group(1)), match.group(2)
    if suffix is None:  # a bare number: GB, as the requestedRAM of a session
        return number(amount / GB_PER_GIB)
    if g_means_gib and suffix == "G":
        suffix = "Gi"
    return number(amount * _FACTORS[suffix] / 2.0**30)


def cores(value: Any) -> str | None:
    """A core count (`"2"`, `"1.500"`, 8.0) as a number (`2`, `1.5`, `8`)."""
    count = _finite(value)
    return None if count is None else number(count)
