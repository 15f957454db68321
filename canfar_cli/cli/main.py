"""The `canfar` Typer app: global options, the one error wrapper, and the registration of commands.

Every command module stays light at import (typer and the standard library only); httpx, anyio,
rich and the local platform are imported inside the command functions, so `canfar --help` and a
TAB completion start fast.

The error wrapper lives in `CanfarGroup.invoke`, so it covers the real program and Typer's
in-process test runner alike, and it is the one route to an exit code: a command either returns
an `ExitCode` (its failures reported already, e.g. by `present.report_failures`) or raises; a
CanfarError becomes its one line (+ hint) on stderr and its exit code (`ReportedError`: the code
alone), an interrupt exits 130, and anything unexpected is one line asking for `--verbose`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup

if TYPE_CHECKING:
    import typer._click as click

from canfar_cli import __version__
from canfar_cli.cli import (
    auth_cmd,
    completion,
    config_cmd,
    create,
    data,
    events,
    images,
    info,
    limits,
    logs,
    open_cmd,
    prune,
    ps,
    renew,
    rm,
    run,
    stats,
    wait,
)
from canfar_cli.cli.local import local_app
from canfar_cli.cli.state import CliState, attach_verbose_logging, state_of
from canfar_cli.errors import ExitCode, exit_code_summary, failure_of
from canfar_cli.output import Output

ROOT_HELP = """Sessions of the CANFAR Science Platform: notebooks, desktops, CARTA, Firefly,
contributed apps and headless jobs, over the skaha v1 API.

\b
Examples:
  canfar --server local create headless images.canfar.net/skaha/terminal:1.1.1 -- echo hi
  canfar ps -a
  canfar logs -f ID
  canfar ps -q | xargs canfar rm -f
  canfar data cp fit.py arc:~/

\b
"""
ROOT_HELP += "\n".join(textwrap.wrap("Exit codes: " + exit_code_summary(), 65)) + "\n"


def _usage_exit(exc: ClickUsageError) -> typer.Exit:
    """A usage error as every other error looks: `error: …` and a `hint:` line (click would
    print four lines: usage, "Try …", a blank, "Error: …")."""
    hint = None
    ctx = exc.ctx
    if ctx is not None:
        usage = ctx.get_usage().strip().removeprefix("Usage: ")
        hint = f"usage: {usage}  (`{ctx.command_path} -h` for help)"
    # click lays some messages out over lines ("Choose from:\n\theadless,\n\t…"): one line here.
    _out(ctx).error(" ".join(exc.format_message().split()), hint)
    return typer.Exit(int(ExitCode.USAGE))


def _missing_command_exit(exc: NoArgsIsHelpError) -> typer.Exit:
    """`canfar` or `canfar config` alone: the commands and the usage, not the whole help page."""
    ctx = exc.ctx
    commands: list[str] = []
    if ctx is not None and isinstance(ctx.command, TyperGroup):
        commands = [
            name
            for name in ctx.command.list_commands(ctx)
            if not getattr(ctx.command.get_command(ctx, name), "hidden", False)
        ]
    message = "a command is required" + (f" (one of: {', '.join(commands)})" if commands else "")
    hint = None
    if ctx is not None:
        usage = ctx.get_usage().strip().removeprefix("Usage: ")
        hint = f"usage: {usage}  (`{ctx.command_path} -h` for help)"
    _out(ctx).error(message, hint)
    return typer.Exit(int(ExitCode.USAGE))


# The global options, also accepted after the subcommand (`canfar ps -a --server local -v`), as
# kubectl and gh do; there the value wins over one given before. A command's own option of the
# same name (`wait --timeout`, `local serve --token-file`) keeps its meaning there.
GLOBAL_AFTER: list[tuple[tuple[str, ...], str, Any, str, str]] = [
    (("--server",), "server", str, "URL|local", "skaha service URL, or 'local' (global option)."),
    (("--platform",), "platform", str, "NAME", "A platform by name (global option)."),
    (("--token-file",), "token_file", str, "PATH", "File holding a bearer token (global option)."),
    (("--cert",), "certificate", str, "PATH", "PEM with certificate and key (global option)."),
    (("--timeout",), "timeout", float, "S", "Seconds per request (global option)."),
    (("--concurrency",), "concurrency", int, "N", "Requests in flight at most (global option)."),
    (("-v", "--verbose"), "verbose", bool, "", "Log each request on stderr (global option)."),
    (("--no-color",), "no_color", bool, "", "No colour, no live display (global option)."),
]


def _set_global(field: str) -> Callable[[Any, Any, Any], None]:
    def callback(ctx: Any, _param: Any, value: Any) -> None:
        if value is None or value is False:
            return
        state = state_of(ctx)
        if field == "verbose":
            if not state.verbose:
                state.verbose = True
                attach_verbose_logging(ctx)
            return
        if field == "no_color":
            state.no_color = True
            state.out = state.out.with_no_color(True)
            return
        setattr(state, field, value)
        state._settings = None

    return callback


def add_global_options(command: Any) -> None:
    """Give a command (and every command of a group, recursively) the global options."""
    from typer.core import TyperOption

    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            add_global_options(sub)
        return
    taken = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    for opts, field, kind, metavar, help_text in GLOBAL_AFTER:
        if any(opt in taken for opt in opts):
            continue
        flag = kind is bool
        command.params.append(
            TyperOption(
                param_decls=list(opts),
                is_flag=flag,
                default=False if flag else None,
                type=None if flag else kind,
                metavar=metavar or None,
                expose_value=False,
                callback=_set_global(field),
                help=help_text,
            )
        )


class CanfarGroup(TyperGroup):
    """The root group: every command runs inside this error wrapper."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            add_global_options(command)

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        # The root's own options (`--timeout abc`) are parsed here, before invoke.
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError as exc:
            raise _missing_command_exit(exc) from None
        except ClickUsageError as exc:
            raise _usage_exit(exc) from None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # An unknown command is answered by meaning, then spelling (cli/suggest.py).
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from canfar_cli.cli.suggest import unknown_command

            visible = [
                command
                for command in self.list_commands(ctx)
                if not getattr(self.get_command(ctx, command), "hidden", False)
            ]
            raise unknown_command(name, visible)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
        except NoArgsIsHelpError as exc:  # a group (`canfar config`) given no command
            raise _missing_command_exit(exc) from None
        except ClickUsageError as exc:  # a subcommand's flags and arguments
            raise _usage_exit(exc) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # Typer/click's own signals and usage errors (exit 2) are handled by Typer
        except (Exception, KeyboardInterrupt) as exc:
            failure = failure_of(exc)
            state = _given_state(ctx)
            if failure.internal and state is not None and state.verbose:
                import traceback

                _out(ctx).message(traceback.format_exc().rstrip("\n"))
            if isinstance(exc, BrokenPipeError):
                _silence_stdout()
            if failure.is_error:
                _out(ctx).report(failure)
            else:
                with contextlib.suppress(Exception):  # stderr may be gone too; the code says it
                    _out(ctx).report(failure)
            raise typer.Exit(failure.code) from None
        if isinstance(result, ExitCode) and result != ExitCode.OK:
            raise typer.Exit(int(result))  # a command's failures, each reported already
        return result


def _given_state(ctx: click.Context | None) -> CliState | None:
    """The invocation's CliState, when there is one yet (the root callback makes it; a test may
    hand one in with `obj=`)."""
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, CliState) else None


def _out(ctx: click.Context | None) -> Output:
    state = _given_state(ctx)
    return state.out if state is not None else Output()


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so Python's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


app = typer.Typer(
    name="canfar",
    cls=CanfarGroup,
    help=ROOT_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        _out(ctx).write(f"canfar {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    server: str | None = typer.Option(
        None,
        "--server",
        metavar="URL|local",
        help="skaha service URL, or 'local' for the local platform [env CANFAR_URL].",
    ),
    platform: str | None = typer.Option(
        None,
        "--platform",
        metavar="NAME",
        help="A platform by name, e.g. ukCAM (`canfar platform ls`) [env CANFAR_PLATFORM].",
    ),
    token_file: str | None = typer.Option(
        None,
        "--token-file",
        metavar="PATH",
        help="File holding a bearer token [env CANFAR_TOKEN holds the token itself].",
    ),
    cert: str | None = typer.Option(
        None,
        "--cert",
        metavar="PATH",
        help="PEM with certificate and key [env CANFAR_CERTIFICATE; ~/.ssl/cadcproxy.pem].",
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", metavar="S", help="Seconds per request [env CANFAR_TIMEOUT; 30]."
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        metavar="N",
        help="Requests in flight at most [env CANFAR_CONCURRENCY; 32].",
    ),
    verbose: bool = typer.Option(
        False, "-v", "--verbose", help="Log each request on stderr (credentials hidden)."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colour, no live display."),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_show_version,
        help="Print the version and exit.",
    ),
) -> None:
    # A CliState handed in (`invoke(app, args, obj=CliState(…))`) keeps its terminal and its
    # session factory; the flags always come from this command line.
    given = _given_state(ctx) or CliState()
    no_color = no_color or given.no_color
    state = replace(
        given,
        server=server,
        token_file=token_file,
        certificate=cert,
        timeout=timeout,
        concurrency=concurrency,
        platform=platform,
        verbose=verbose or given.verbose,
        no_color=no_color,
        out=given.out.with_no_color(no_color),
        _settings=None,
    )
    ctx.obj = state
    if state.verbose:
        attach_verbose_logging(ctx)
    state_of(ctx)  # a sub-context finds it through find_root()


create.register(app)
ps.register(app)
info.register(app)
logs.register(app)
events.register(app)
stats.register(app)
rm.register(app)
wait.register(app)
prune.register(app)
run.register(app)
open_cmd.register(app)
renew.register(app)
images.register(app)
limits.register(app)
app.add_typer(config_cmd.config_app, name="config")
completion.register(app)
app.add_typer(local_app, name="local")
auth_cmd.register(app)
data.register(app)


def main() -> None:
    """Entry point of `canfar` and `python -m canfar_cli`."""
    try:
        app(prog_name="canfar")
    except (Exception, KeyboardInterrupt) as exc:
        # An interrupt outside any command (while parsing, say), a closed pipe, or something the
        # wrapper in CanfarGroup.invoke missed: still one line and the code.
        failure = failure_of(exc)
        if isinstance(exc, BrokenPipeError):
            _silence_stdout()
        Output().report(failure)
        sys.exit(failure.code)
