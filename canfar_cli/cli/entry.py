"""The program's entry point (`canfar`, `python -m canfar_cli`).

A shell completion request is answered here, before Typer is imported: every TAB runs it.
Everything else goes to the Typer app in main.py.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    instruction = os.environ.get("_CANFAR_COMPLETE")
    if instruction:
        from canfar_cli.cli.complete import answer

        sys.exit(answer(instruction, os.environ))
    from canfar_cli.cli.main import main as run_app

    run_app()
