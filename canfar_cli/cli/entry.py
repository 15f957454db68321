"""The program's entry point (`canfar`, `python -m canfar_cli`): a help page stored in
help_pages.txt is printed from there, without Typer; everything else goes to the Typer app in
main.py. TAB completion never comes here: the shipped scripts (completions/) are static.
"""

from __future__ import annotations

import sys


def main() -> None:
    # Ctrl-C while the modules are still loading (the first ~100 ms of every command) is an
    # interrupt like any other: one line and 130, not a traceback through the import machinery.
    try:
        _main()
    except KeyboardInterrupt as exc:
        from canfar_cli.errors import failure_of
        from canfar_cli.output import Output

        failure = failure_of(exc)
        Output().report(failure)
        sys.exit(failure.code)


def _main() -> None:
    args = sys.argv[1:]
    if args and args[-1] in ("--help", "-h"):
        from canfar_cli.cli.help_pages import stored_page

        page = stored_page(args)
        if page is not None:
            _print_page(page)
            return
    # httpx's package init imports its optional command line (httpx._main), which pulls in click,
    # rich and pygments when they are installed (they are, here): ~80 ms on every command that
    # talks to a server. A None entry makes that import fail, and httpx falls back to a stub
    # `httpx.main`; the program never uses it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from canfar_cli.cli.main import main as run_app

    run_app()


def _print_page(page: str) -> None:
    """A stored help page on stdout, as click prints one: a reader gone early (`| head -1`) is
    answered as anywhere else (no message, exit 141)."""
    from canfar_cli.output import Output

    try:
        Output().write(page)
    except (Exception, KeyboardInterrupt) as exc:
        from canfar_cli.errors import failure_of
        from canfar_cli.output import silence_stdout

        failure = failure_of(exc)
        if isinstance(exc, BrokenPipeError):
            silence_stdout()
        Output().report(failure)
        sys.exit(failure.code)
