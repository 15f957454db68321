"""The program's entry point (`canfar`, `python -m canfar_cli`): everything goes to the Typer app
in main.py. TAB completion never comes here: the shipped scripts (completions/) are static.

The one direct write of the program outside output.py is here: the "interrupted" line for a
Ctrl-C that arrives while the modules are still being imported, when output.py itself may not be
loaded yet (tests/cli/test_writers.py allows exactly this one).
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # canfar_cli.errors.ExitCode.INTERRUPTED, without importing it first


def main() -> None:
    # Ctrl-C while the modules are still loading (the first ~100 ms of every command) is an
    # interrupt like any other: one line and 130, not a traceback through the import machinery.
    try:
        _main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(INTERRUPTED)


def _main() -> None:
    # httpx's package init imports its optional command line (httpx._main), which pulls in click,
    # rich and pygments when they are installed (they are, here): ~80 ms on every command that
    # talks to a server. A None entry makes that import fail, and httpx falls back to a stub
    # `httpx.main`; the program never uses it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from canfar_cli.cli.main import main as run_app

    run_app()
