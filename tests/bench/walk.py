"""The walk of one command: which canfar_cli files run code from argv to the wire (issue 18).
Not a test; load-independent (it counts files, not time).

    .venv/bin/python tests/bench/walk.py create headless skaha/terminal:1.1.1 -r 3 -- python3 fit.py
    .venv/bin/python tests/bench/walk.py --before "create headless skaha/terminal:1.1.1 -- true" \
        wait
    .venv/bin/python tests/bench/walk.py --names ps -a

The command runs in-process against the in-process local platform (`--server local`, a fresh
state folder), with a profiler on: every canfar_cli function that is called counts its file
(module and class bodies, run at import, do not; the local platform, which plays the server, is
left out). `--before` runs a command first, unwatched, in the same process, and adds the ids it
prints to the watched command's arguments. Printed: the files of the command line and of the
core, and with `--names` the functions called in each.

The core part of a create's walk (from its arguments to the POST body) is checked by
tests/core/test_create_request.py; this counts the whole road.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

# A function's frame (not a module's or a class body's): its code has new locals.
CO_NEWLOCALS = 0x2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="", help="a command to run first, unwatched")
    parser.add_argument("--names", action="store_true", help="list the functions of each file")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the canfar command to walk")
    options = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="canfar-walk-"))
    os.environ["HOME"] = str(state / "home")
    for name in ("CONFIG_DIR", "LOCAL_HOME", "CACHE_DIR"):
        os.environ[f"CANFAR_{name}"] = str(state / name.lower())

    import canfar_cli
    from canfar_cli.cli.entry import main as canfar

    package = Path(canfar_cli.__file__).resolve().parent
    walked: dict[str, set[str]] = {}

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        code = frame.f_code
        if event != "call" or not code.co_flags & CO_NEWLOCALS:
            return
        path = Path(code.co_filename)
        if path.is_relative_to(package):
            relative = path.relative_to(package).as_posix()
            if not relative.startswith("local/"):
                walked.setdefault(relative, set()).add(code.co_name)

    def run(argv: list[str]) -> Any:
        sys.argv = ["canfar", "--server", "local", *argv]
        try:
            canfar()
        except SystemExit as exit:
            return exit.code
        return 0

    command = list(options.command)
    if options.before:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            run(options.before.split())
        command += printed.getvalue().split()
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        code = run(command)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    cli = sorted(name for name in walked if name.startswith("cli/"))
    core = sorted(name for name in walked if not name.startswith("cli/"))
    report = sys.stderr
    print(f"canfar {' '.join(command)}: exit {code}, {len(walked)} files", file=report)
    print(f"  command line ({len(cli)}): {' '.join(cli)}", file=report)
    print(f"  core ({len(core)}): {' '.join(core)}", file=report)
    if options.names:
        for name in sorted(walked):
            print(f"  {name}: {', '.join(sorted(walked[name]))}", file=report)


if __name__ == "__main__":
    main()
