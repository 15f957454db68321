"""Running `canfar` as a real process, the way a user or a script does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def canfar_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment (isolated HOME/config/local state) for a child process."""
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run_canfar(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m canfar_cli ARGS` as a real process: stdout, stderr, exit code as a user sees."""
    return subprocess.run(
        [sys.executable, "-m", "canfar_cli", *args],
        capture_output=True,
        text=True,
        env=canfar_env(env),
        timeout=timeout,
        input=input,
        check=False,
    )
