"""The program's entry point (`canfar`, `python -m canfar_cli`): a help page stored in
help_pages.txt is printed from there, without Typer; everything else goes to the Typer app in
main.py. TAB completion never comes here: the shipped scripts (completions/) are static.
"""

from __future__ import annotations

import gc
import sys

# Start-up makes a few hundred thousand objects that live as long as the process (modules,
# classes, functions) and the collector's passes over them while they are being made find
# nothing to free: about 4% of the instructions of `canfar ps`. So the first generation's
# threshold is raised while the program loads, and put back by `work_begins` once the command's
# work starts, with what was loaded set aside (gc.freeze) so that no later pass walks it again.
# A command that never calls it still collects, only less often.
STARTUP_THRESHOLD = 100_000
_USUAL_THRESHOLD = gc.get_threshold()


def work_begins() -> None:
    """The program has loaded what its command needs: the collector as usual from here on."""
    if gc.get_threshold()[0] == STARTUP_THRESHOLD:
        gc.freeze()
        gc.set_threshold(*_USUAL_THRESHOLD)


def main() -> None:
    # Ctrl-C while the modules are still loading (the first ~100 ms of every command) is an
    # interrupt like any other: one line and 130, not a traceback through the import machinery.
    try:
        _main()
    except KeyboardInterrupt as exc:
        from canfar_cli.output import exit_on

        exit_on(exc)


def _main() -> None:
    gc.set_threshold(STARTUP_THRESHOLD, *_USUAL_THRESHOLD[1:])
    args = sys.argv[1:]
    if args and args[-1] in ("--help", "-h"):
        from canfar_cli.cli.help_pages import stored_page

        page = stored_page(args)
        if page is not None:
            _print_page(page)
            return
    _mark_serve_starting(args)
    # httpx's package init imports its optional command line (httpx._main), which pulls in click,
    # rich and pygments when they are installed (they are, here): ~80 ms on every command that
    # talks to a server. A None entry makes that import fail, and httpx falls back to a stub
    # `httpx.main`; the program never uses it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from canfar_cli.cli.main import main as run_app

    run_app()


def _mark_serve_starting(args: list[str]) -> None:
    """`canfar local serve` says it is starting before it loads anything more. A `--server local`
    login waits for a server marked starting, and `canfar local serve --tls &` followed at once
    by a login (the documented recipe) must find the mark even when the server's imports are
    slow (a loaded machine): so the mark is made here, not once the command runs. The command
    marks again (the same file) and removes the mark when it is recorded or ends."""
    at = next((i for i in range(len(args) - 1) if args[i : i + 2] == ["local", "serve"]), None)
    if at is None:
        return
    home = None
    rest = args[at + 2 :]
    for i, arg in enumerate(rest):
        if arg == "--" or arg in ("--help", "-h"):
            return  # not a server start (help), or the rest is not options
        if arg == "--home" and i + 1 < len(rest):
            home = rest[i + 1]
        elif arg.startswith("--home="):
            home = arg.partition("=")[2]
    from pathlib import Path

    from canfar_cli import serve_tokens

    serve_tokens.mark_starting(Path(home).expanduser() if home else serve_tokens.local_home())


def _print_page(page: str) -> None:
    """A stored help page on stdout, as click prints one: a reader gone early (`| head -1`) is
    answered as anywhere else (no message, exit 141)."""
    from canfar_cli.output import Output, exit_on

    try:
        Output().write(page)
    except (Exception, KeyboardInterrupt) as exc:
        exit_on(exc)
