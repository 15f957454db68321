"""The storage services' settings, from the environment.

CANFAR_LOCAL_QUOTA      bytes each user may keep in each allocation (their arc home, their
                        vault folder); suffixes K, M, G, T (powers of 1024; 10G, 1.5T, 512MiB);
                        none by default
CANFAR_LOCAL_VAULT      the vault's folder (default: `<state folder>/vault`)
CANFAR_LOCAL_VAULT_LAG  seconds a vault listing keeps showing a file's size from before a
                        completed PUT (default 0), as vault's background size worker does
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from canfar_cli.errors import ConfigError

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_size(raw: str, name: str = "CANFAR_LOCAL_QUOTA") -> int:
    """`10G` → 10 GiB in bytes; a bare number is bytes."""
    match = _SIZE.match(raw)
    if not match:
        raise ConfigError(
            f"${name} must be a size such as 10G, 500M or 1048576, got {raw!r}",
            hint="a number of bytes, optionally with K, M, G or T (powers of 1024)",
        )
    value = float(match.group(1)) * 1024 ** _UNITS[match.group(2).lower()]
    if not math.isfinite(value):
        raise ConfigError(f"${name} is too large: {raw!r}")
    return int(value)


@dataclass(frozen=True)
class StorageSettings:
    arc: Path
    vault: Path
    quota: int | None = None
    vault_lag: float = 0.0

    @classmethod
    def from_env(cls, state_home: Path) -> StorageSettings:
        from canfar_cli.local.settings import arc_root

        env = os.environ
        raw_quota = env.get("CANFAR_LOCAL_QUOTA", "").strip()
        quota = parse_size(raw_quota) if raw_quota else None
        raw_vault = env.get("CANFAR_LOCAL_VAULT", "").strip()
        vault = Path(raw_vault).expanduser().resolve() if raw_vault else state_home / "vault"
        raw_lag = env.get("CANFAR_LOCAL_VAULT_LAG", "").strip()
        lag = 0.0
        if raw_lag:
            try:
                lag = float(raw_lag)
            except ValueError:
                lag = math.nan
            if not math.isfinite(lag) or lag < 0:
                raise ConfigError(
                    f"$CANFAR_LOCAL_VAULT_LAG must be a number of seconds >= 0, got {raw_lag!r}"
                )
        return cls(arc=arc_root(state_home), vault=vault, quota=quota, vault_lag=lag)
