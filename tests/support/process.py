"""Running `canfar` as a real process, the way a user or a script does."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support import REPO


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


def bash_complete(line: str, env: dict[str, str] | None = None) -> list[str]:
    """What the shipped bash script offers for `line` (the cursor at its end), run in a fresh
    bash with `env` (the test's own environment when None)."""
    words = line.split(" ")
    script = (REPO / "completions" / "canfar.bash").read_text()
    program = (
        f"{script}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(word) for word in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_canfar\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=env,
    )
    return [line for line in result.stdout.splitlines() if line]
