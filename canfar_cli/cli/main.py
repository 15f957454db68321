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
from canfar_cli.cli.state import CliState, attach_verbose_logging, state_of
from canfar_cli.errors import ExitCode, exit_code_summary, failure_of
from canfar_cli.output import Output, exit_on, silence_stdout

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


# Every command and group of `canfar`, in the order `canfar --help` lists them: the module of
# canfar_cli.cli whose `register(app)` adds it, and its line in that list (None: hidden). Only
# the command that runs is imported and built; the root's help is made from these lines (a test
# checks each against the command's own help). A new command or group is one line here, and a
# `register(app)` in its module.
COMMANDS: dict[str, tuple[str, str | None]] = {
    "create": ("create", "Create sessions; print their ids."),
    "ps": ("ps", "List sessions."),
    "info": ("info", "Show sessions in full."),
    "logs": ("logs", "Print the logs of sessions."),
    "events": ("events", "Show the events of sessions."),
    "stats": ("stats", "Show the platform's cores and RAM."),
    "rm": ("rm", "Remove sessions."),
    "wait": ("wait", "Wait until sessions have ended."),
    "prune": ("prune", "Remove finished sessions."),
    "run": ("run", "Run one headless job and stream its log to stdout as it is written."),
    "open": (
        "open_cmd",
        "Open interactive sessions (notebook, desktop, CARTA, …) in the web browser.",
    ),
    "renew": (
        "renew",
        "Renew interactive sessions: their expiry moves to now + the server's session"
        " lifetime (4 days on CANFAR).",
    ),
    "images": ("images", "List the public images and the kinds each may run as."),
    "limits": (
        "limits",
        "Show the sizes a session may have: flexible and fixed cores and RAM, GPUs, and how"
        " many interactive sessions may run at once.",
    ),
    "completion": ("completion", "Print a shell completion script."),
    "completion-refresh": ("completion", None),
    "login": (
        "auth_cmd",
        "Sign in: a CADC certificate, or an SRCNet device login; then find your platforms.",
    ),
    "config": ("config_cmd", "Read and change the config file."),
    "local": ("local", "The local platform: the skaha v1 API on this machine."),
    "auth": ("auth_cmd", "Who is signed in, and signing out."),
    "platform": ("auth_cmd", "The platforms you may use, and the active one."),
    "data": (
        "data",
        "Your files on the platform's storage: arc (the /arc of every session) and vault.",
    ),
}


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
    if ctx is not None and isinstance(ctx.command, CanfarGroup):
        commands = ctx.command.visible_commands()
    elif ctx is not None and isinstance(ctx.command, TyperGroup):
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


# The commands built so far, by module (see CanfarGroup._load).
_BUILT: dict[str, dict[str, Any]] = {}


class CanfarGroup(TyperGroup):
    """The root group: every command runs inside this error wrapper. Its commands are built on
    demand, from COMMANDS: `canfar ps` imports and builds `ps` only, and `canfar --help` none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            add_global_options(command)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def visible_commands(self) -> list[str]:
        return [name for name, (_module, line) in COMMANDS.items() if line is not None]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self._load(COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def _load(self, module_name: str) -> None:
        """The commands canfar_cli.cli.<module_name>'s `register(app)` adds, built once per
        process (a module registers on its own Typer groups: twice would register twice)."""
        if module_name not in _BUILT:
            import importlib

            from typer.main import get_group

            module = importlib.import_module(f"canfar_cli.cli.{module_name}")
            staging = typer.Typer(
                rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False
            )
            module.register(staging)
            built = dict(get_group(staging).commands)
            for command in built.values():
                add_global_options(command)
            _BUILT[module_name] = built
        for name, command in _BUILT[module_name].items():
            self.commands.setdefault(name, command)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The list of commands from COMMANDS' lines, as click would lay it out, without
        importing or building a single command."""
        from typer._click.utils import make_default_short_help

        names = self.visible_commands()
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, make_default_short_help(str(COMMANDS[name][1]), limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
                silence_stdout()
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


def main() -> None:
    """Entry point of `canfar` and `python -m canfar_cli`."""
    try:
        app(prog_name="canfar")
    except (Exception, KeyboardInterrupt) as exc:
        # An interrupt outside any command (while parsing, say), a closed pipe, or something the
        # wrapper in CanfarGroup.invoke missed: still one line and the code.
        exit_on(exc)
