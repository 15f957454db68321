"""`canfar local …`: the local platform (the skaha v1 API on this machine).

Light at import (typer only): uvicorn and the platform itself are imported inside the command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.errors import ExitCode

if TYPE_CHECKING:
    from canfar_cli.output import Output

local_app = typer.Typer(help="The local platform: the skaha v1 API on this machine.")


@local_app.callback()
def _local() -> None:
    """The local platform: the skaha v1 API on this machine."""


def _within(name: str, value: float, low: float, high: float) -> float:
    """A numeric flag of `local serve` checked as the client's are: a finite number in range
    (nan, inf and 1e26 are refused, never served with)."""
    from canfar_cli.errors import UsageError

    if not low <= value <= high:  # False for nan as well
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        raise UsageError(f"{name} must be between {low:g} and {high:g}, got {shown}")
    return value


def _rate(name: str, value: float) -> float:
    return _within(name, value, 0.0, 1.0)


# The largest injected latency (ms) and Retry-After (s): beyond a minute and a day no client
# waits, and larger values only overflow the timers that would carry them.
MAX_LATENCY_MS = 60_000.0
MAX_RETRY_AFTER = 86_400


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@local_app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="ADDRESS", help="Address to listen on."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        metavar="PORT",
        help="Port to listen on (0: any free port) [the last one of this state folder, else any].",
    ),
    token_file: str | None = typer.Option(
        None,
        "--token-file",
        metavar="PATH",
        help="Require the token in PATH as 'Authorization: Bearer' [env CANFAR_LOCAL_TOKEN;"
        " default: a random one, recorded 0600 in the state folder].",
    ),
    no_auth: bool = typer.Option(
        False,
        "--no-auth",
        help="Accept requests without a token (loopback only: any local user can then run"
        " commands as you).",
    ),
    token: str | None = typer.Option(None, "--token", hidden=True),
    user: str | None = typer.Option(
        None, "--user", metavar="NAME", help="The user every request acts as [OS user]."
    ),
    home: str | None = typer.Option(
        None,
        "--home",
        metavar="DIR",
        help="State folder [env CANFAR_LOCAL_HOME; user data folder].",
    ),
    latency: float = typer.Option(
        0.0, "--latency", metavar="MS", help="Milliseconds added to every response."
    ),
    fail_rate: float = typer.Option(
        0.0, "--fail-rate", metavar="P", help="Share of requests answered --fail-status instead."
    ),
    fail_status: int = typer.Option(
        503, "--fail-status", metavar="CODE", help="Status of injected failures."
    ),
    drop_rate: float = typer.Option(
        0.0, "--drop-rate", metavar="P", help="Share of connections closed with no response."
    ),
    retry_after: int = typer.Option(
        1, "--retry-after", metavar="S", help="Retry-After of injected 503s (seconds)."
    ),
    tls: bool = typer.Option(
        False,
        "--tls",
        help="Serve HTTPS with the local CA; the API then needs a client certificate or a token.",
    ),
) -> ExitCode:
    """Serve the local platform on loopback until interrupted.

    The first line of stdout is the base URL, e.g. http://127.0.0.1:PORT/skaha; point
    --server (or CANFAR_URL) at it. Every request must carry the server's token: a random one
    unless --token-file or CANFAR_LOCAL_TOKEN gives it, recorded (0600) in the state folder,
    where canfar finds it for that URL by itself.
    The same host:port serves the sign-in services too: registries (/reg/cadc/resource-caps,
    /reg/srcnet/resource-caps), a credential service (/cred) and an OIDC provider (/oidc).
    """
    from canfar_cli.cli.state import state_of
    from canfar_cli.errors import UsageError
    from canfar_cli.local.portable import require_posix

    require_posix()
    if token is not None:
        raise UsageError(
            "--token is not accepted: a token on the command line is visible to every user"
            " of this machine (ps, /proc)",
            hint="use --token-file PATH or CANFAR_LOCAL_TOKEN, or leave it out for a random one",
        )
    if port is not None:
        _within("--port", port, 0, 65535)
    _within("--latency", latency, 0.0, MAX_LATENCY_MS)
    if not 400 <= fail_status <= 599:
        raise UsageError(f"--fail-status must be an HTTP error status (400-599), got {fail_status}")
    _within("--retry-after", retry_after, 0, MAX_RETRY_AFTER)
    if user is not None and not user.strip():
        raise UsageError("--user must not be empty", hint="leave it out to act as your OS user")
    options = ServeOptions(
        host=host[1:-1] if host.startswith("[") and host.endswith("]") else host,  # [::1]
        port=port,
        token_file=token_file,
        no_auth=no_auth,
        user=user,
        home=home,
        latency=latency,
        fail_rate=_rate("--fail-rate", fail_rate),
        fail_status=fail_status,
        drop_rate=_rate("--drop-rate", drop_rate),
        retry_after=retry_after,
        tls=tls,
    )
    from canfar_cli import serve_tokens

    starting = serve_tokens.mark_starting(_home(home))  # a `--server local` login waits for it
    if starting is not None:
        ctx.call_on_close(lambda: starting.unlink(missing_ok=True))
    return run_serve(options, state_of(ctx).out)


@dataclass(frozen=True)
class ServeOptions:
    """A `local serve` as parsed (and checked) from its flags."""

    host: str
    port: int | None  # None: the port this state folder's server had last time, else any
    token_file: str | None = None
    no_auth: bool = False
    user: str | None = None
    home: str | None = None
    latency: float = 0.0
    fail_rate: float = 0.0
    fail_status: int = 503
    drop_rate: float = 0.0
    retry_after: int = 1
    tls: bool = False


def run_serve(options: ServeOptions, out: Output) -> ExitCode:
    """Serve until interrupted: the URL on stdout once ready (the token's file on stderr)."""
    from canfar_cli.errors import CanfarError
    from canfar_cli.local.faults import Faults
    from canfar_cli.local.serve import serve as run_server
    from canfar_cli.local.settings import LocalSettings
    from canfar_cli.local.skaha import SkahaError

    secret = _serve_token(options, out)
    faults = Faults(
        latency_ms=options.latency,
        fail_rate=options.fail_rate,
        fail_status=options.fail_status,
        drop_rate=options.drop_rate,
        retry_after=options.retry_after,
    )
    overrides: dict[str, object] = {"token": secret}
    if options.user:
        overrides["user"] = options.user
    if options.home:
        overrides["home"] = Path(options.home).expanduser()
    settings = LocalSettings.from_env(**overrides)

    def ready(url: str, token_path: Path | None) -> None:
        # Stderr first: the URL on stdout says "ready", and what comes with it is written.
        if token_path is not None:
            out.message(f"token: in {token_path} (canfar finds it for {url}; mode 0600)")
            if out.is_terminal(out.stderr):
                out.message(f"token: {secret}")
        if out.is_terminal(out.stderr):
            # The one setting to export; canfar finds the token, the CA and the sign-in
            # services of this server by itself (`--server local` signs in to it too).
            out.message(f"to use it: export CANFAR_URL={url}  (nothing else is needed)")
        out.write(url + "\n")

    host, port = options.host, options.port
    from canfar_cli.cli.entry import work_begins

    work_begins()  # a server runs for long: the collector as usual
    try:
        code = run_server(settings, host, port, faults, ready, tls=options.tls, note=out.message)
    except SkahaError as exc:  # the state folder cannot be used: its message says why
        raise CanfarError(
            exc.message.replace(" (set CANFAR_LOCAL_HOME", " (set --home or CANFAR_LOCAL_HOME")
        ) from None
    except OSError as exc:
        raise CanfarError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one) or --host",
        ) from None
    return ExitCode(code)


def _serve_token(options: ServeOptions, out: Output) -> str | None:
    """The token every request must carry: --token-file, CANFAR_LOCAL_TOKEN, or a random one;
    None under --no-auth (loopback only, with a warning)."""
    import os

    from canfar_cli import serve_tokens as tokens
    from canfar_cli.errors import UsageError

    secret = _given_token(options.token_file, os.environ.get("CANFAR_LOCAL_TOKEN"))
    if not options.no_auth:
        return secret if secret is not None else tokens.new_token()
    if secret is not None:
        raise UsageError("--no-auth and a token (--token-file, CANFAR_LOCAL_TOKEN) conflict")
    if not _is_loopback(options.host):
        # Every request runs commands as you: only this machine may ask without a token.
        raise UsageError(
            f"refusing to serve on {options.host} without a token",
            hint="anyone who can reach it could run commands as you; leave out --no-auth",
        )
    out.warning(
        "serving without a token (--no-auth): every user of this machine can run commands"
        " as you through it"
    )
    return None


def _given_token(token_file: str | None, env_value: str | None) -> str | None:
    """The token from --token-file (first) or $CANFAR_LOCAL_TOKEN; None when neither."""
    from pathlib import Path

    from canfar_cli.config import check_token
    from canfar_cli.errors import UsageError

    if token_file is not None:
        try:
            raw = Path(token_file).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not text"
            raise UsageError(f"cannot read --token-file {token_file}: {reason}") from None
        if not raw:
            raise UsageError(f"--token-file {token_file} is empty")
        return check_token(raw, f"--token-file {token_file}")
    if env_value is not None and env_value.strip():
        return check_token(env_value.strip(), "$CANFAR_LOCAL_TOKEN")
    return None


def _user_in_use(ctx: typer.Context) -> str:
    """The user the local platform in use runs jobs as, given the credentials in use: the
    signed-in user for a served platform that takes the sign-in, else the OS user."""
    from canfar_cli.cli.state import state_of
    from canfar_cli.errors import CanfarError
    from canfar_cli.local.settings import default_user
    from canfar_cli.serve_tokens import loopback_port

    state = state_of(ctx)
    try:
        settings = state.settings()
        if loopback_port(settings.server) is not None:
            from canfar_cli.auth.credentials import user_in_use

            return user_in_use(settings) or default_user()
    except CanfarError:
        pass
    return default_user()


def _home(home: str | None) -> Path:
    from canfar_cli.local.settings import default_home

    if home:
        return Path(home).expanduser()
    import os

    env = os.environ.get("CANFAR_LOCAL_HOME", "").strip()
    return Path(env).expanduser() if env else default_home()


@contextlib.contextmanager
def _state_folder(home: Path) -> Iterator[None]:
    """What a local command does in the state folder: a folder it cannot make, read or write
    (a missing parent, /proc, no permission) is one ConfigError line naming it, not a crash."""
    from canfar_cli.errors import ConfigError

    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(home) else ""
        raise ConfigError(
            f"cannot use the local platform's state folder {home}: {reason}{where}",
            hint="set --home or CANFAR_LOCAL_HOME to a folder you can write",
        ) from None


def _home_option() -> Any:
    return typer.Option(
        None,
        "--home",
        metavar="DIR",
        help="State folder [env CANFAR_LOCAL_HOME; user data folder].",
    )


users_app = typer.Typer(help="Users of the local sign-in services.", no_args_is_help=True)
local_app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The user name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    home: str | None = _home_option(),
) -> None:
    """Add a user (or set a user's password) for the local credential service and OIDC provider.

    Without --password-stdin a password is generated and printed on stdout.

    \b
    Example:
      canfar local users add alice
      printf 's3cret\\n' | canfar local users add bob --password-stdin
    """
    import sys

    from canfar_cli.cli.state import state_of
    from canfar_cli.errors import UsageError
    from canfar_cli.local.signin.users import Users, check_name, generate_password

    out = state_of(ctx).out
    check_name(name)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password on stdin", hint="give one line holding the password")
    else:
        password = generate_password()
    folder = _home(home)
    with _state_folder(folder):
        new = Users(folder).add(name, password)
    if not password_stdin:
        out.write(password + "\n")
    out.message(f"{'added user' if new else 'changed the password of'} {name}")


@local_app.command("approve")
def approve(
    ctx: typer.Context,
    code: str = typer.Argument(..., metavar="CODE", help="The user code a device login shows."),
    user: str = typer.Option(..., "--user", metavar="NAME", help="The user who signs in."),
    deny: bool = typer.Option(False, "--deny", help="Deny the request instead."),
    home: str | None = _home_option(),
) -> None:
    """Approve (or deny) a pending device login of the local OIDC provider, as its
    verification page would.

    \b
    Example:
      canfar local approve BCDF-GHJK --user alice
    """
    from canfar_cli.cli.state import state_of
    from canfar_cli.errors import CanfarError, NotFoundError
    from canfar_cli.local.signin.oidc import DeviceCodeError, Provider
    from canfar_cli.local.signin.settings import SigninSettings
    from canfar_cli.local.signin.users import check_name

    check_name(user)
    folder = _home(home)
    try:
        with _state_folder(folder):
            Provider(folder, SigninSettings()).decide(code, user, approve=not deny)
    except DeviceCodeError as exc:
        if exc.reason == "unknown":
            raise NotFoundError(
                exc.message, status=404, hint="the code is shown by `canfar login srcnet`"
            ) from None
        raise CanfarError(exc.message) from None
    state_of(ctx).out.message(f"{'denied' if deny else 'approved'} {code.upper()} for {user}")


@local_app.command("ca-path")
def ca_path(ctx: typer.Context, home: str | None = _home_option()) -> None:
    """Print the path of the local CA certificate (made if missing), for CANFAR_CA_BUNDLE.

    \b
    Example:
      export CANFAR_CA_BUNDLE=$(canfar local ca-path)
    """
    from canfar_cli.cli.state import state_of
    from canfar_cli.local.signin.ca import LocalCA

    folder = _home(home)
    with _state_folder(folder):
        path = LocalCA.load_or_create(folder).path
    state_of(ctx).out.write(f"{path}\n")


@local_app.command("home")
def home_path(
    ctx: typer.Context,
    home: str | None = _home_option(),
    user: str | None = typer.Option(
        None, "--user", metavar="NAME", help="Whose home [env CANFAR_LOCAL_USER; you]."
    ),
) -> None:
    """Print the path of your persistent home (made if missing), HOME of every local job.

    Whose: the user your jobs run as on the server in use: the signed-in user (certificate or
    SRCNet sign-in) when a `canfar local serve` takes that sign-in, else you (your OS user).

    `<state folder>/home/<user>`, or `<ARC>/home/<user>` with CANFAR_LOCAL_ARC=ARC. Every
    session of the user shares it, as /arc/home/<user> on CANFAR; rm, prune and the hourly
    cleanup never delete it.

    \b
    Examples:
      cp fit.py "$(canfar local home)/"
      canfar --server local create headless skaha/terminal:1.1.1 -- python3 fit.py
    """
    import os

    from canfar_cli.cli.state import state_of
    from canfar_cli.errors import UsageError
    from canfar_cli.local import statedir
    from canfar_cli.local.settings import LocalSettings, arc_root, user_home

    state = _home(home)
    name = user or os.environ.get("CANFAR_LOCAL_USER", "").strip() or _user_in_use(ctx)
    try:
        LocalSettings(home=state, user=name)  # the same rule for user names as the platform
    except Exception as exc:
        raise UsageError(str(exc)) from None
    root = arc_root(state)
    path = user_home(state, name)
    with _state_folder(state):
        if root == state:
            statedir.check(state)
        else:
            root.mkdir(parents=True, exist_ok=True)
        statedir.private_dirs(path.parent, path)
        os.chmod(path, 0o700)
    state_of(ctx).out.write(f"{path}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
