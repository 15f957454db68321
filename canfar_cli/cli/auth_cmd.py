"""`canfar login`, `canfar auth status|logout` and `canfar platform ls|use`.

Light at import (typer only): the sign-in code (canfar_cli.auth, and through it httpx and
cryptography) is imported inside the commands, and only the commands that need the network
load httpx at all.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import CliState, state_of
from canfar_cli.errors import CredentialError, UsageError

if TYPE_CHECKING:
    from canfar_cli.auth.settings import SigninSettings
    from canfar_cli.auth.state import SigninState

IDPS = ("cadc", "srcnet")
auth_app = typer.Typer(help="Who is signed in, and signing out.", no_args_is_help=True)
platform_app = typer.Typer(
    help="The platforms you may use, and the active one.", no_args_is_help=True
)


def _signin_settings(state: CliState, signin: SigninState | None = None) -> SigninSettings:
    """What talking to the sign-in services needs: for a local server in use (--server,
    CANFAR_URL, the config's server, else the active platform), its own sign-in services."""
    from canfar_cli.auth.settings import signin_settings

    active = None
    if signin is not None and state.platform is None:
        found = signin.find_platform(signin.active_platform_name() or "")
        active = found.url if found else None
    return signin_settings(server=state.server, timeout=state.timeout, active=active)


def _signin_state(state: CliState) -> SigninState:
    from canfar_cli.auth.state import SigninState

    signin = SigninState.load()
    state.show_notices()
    return signin


def _stdin_line(what: str) -> str:
    """The first line of stdin; text that is not UTF-8 is a usage error (exit 2)."""
    try:
        return sys.stdin.readline().rstrip("\r\n")
    except UnicodeDecodeError:
        raise UsageError(
            f"{what} on stdin is not UTF-8 text", hint="give it as one line of UTF-8 text"
        ) from None


def _text_arg(value: str, what: str) -> str:
    """An argument as the services can take it: bytes that are not UTF-8 are refused."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not UTF-8 text", hint="give it as UTF-8 text") from None
    return value


def _ask(out: Any, question: str) -> str:
    out.stderr.write(question)
    out.stderr.flush()
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise UsageError("the answer is not UTF-8 text") from None
    if not line:
        raise UsageError("no answer (end of input)")
    return line.strip()


def _choose(out: Any, title: str, options: list[str]) -> int:
    out.message(title)
    for number, option in enumerate(options, 1):
        out.message(f"  {number}) {option}")
    while True:
        answer = _ask(out, f"Choose 1-{len(options)}: ")
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return int(answer) - 1
        out.message(f"please answer a number from 1 to {len(options)}")


def _until(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def login(
    ctx: typer.Context,
    idp: str | None = typer.Argument(
        None, metavar="[cadc|srcnet]", help="Identity provider; asked when left out."
    ),
    username: str | None = typer.Option(None, "--username", "-u", help="CADC user name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the CADC password from the first line of stdin."
    ),
    days: int = typer.Option(30, "--days", min=1, max=30, help="Days the certificate holds."),
    force: bool = typer.Option(False, "--force", help="A new certificate even if one holds."),
    platform: str | None = typer.Option(
        None, "--platform", metavar="NAME", help="Make this platform the active one."
    ),
    discovery_timeout: float = typer.Option(
        10.0, "--timeout", min=0.1, metavar="S", help="Seconds for platform discovery in all."
    ),
) -> None:
    """Sign in: a CADC certificate, or an SRCNet device login; then find your platforms.

    The sign-in services are those of the server in use when it is a local platform
    (--server local, or its https://127.0.0.1:PORT/skaha URL), else the public ones. The
    certificate goes to --cert PATH when given (default ~/.ssl/cadcproxy.pem). The active
    platform changes only with --platform, or when none is active (or it is gone).

    \b
    Examples:
      canfar login cadc --username alice
      echo "$PW" | canfar login cadc -u alice --password-stdin
      canfar login srcnet --platform ukCAM
      canfar --server local login cadc -u alice
    """
    state = state_of(ctx)
    out = state.out
    if idp is None:
        if not out.stdin_is_terminal():
            raise UsageError("say which identity: `canfar login cadc` or `canfar login srcnet`")
        idp = IDPS[
            _choose(
                out, "Sign in with:", ["cadc (CADC certificate)", "srcnet (SKA Regional Centres)"]
            )
        ]
    idp = idp.lower()
    if idp not in IDPS:
        raise UsageError(f"unknown identity provider {idp!r}", hint="cadc or srcnet")
    if idp == "srcnet" and (username or password_stdin):
        raise UsageError("--username and --password-stdin are for `canfar login cadc`")
    if username is not None:
        _text_arg(username, "--username")
    signin = _signin_state(state)
    settings = _signin_settings(state, signin)
    if platform is not None:
        _check_platform(signin, settings, idp, platform)  # before anything is signed
    if idp == "cadc":
        _login_cadc(state, settings, signin, username, password_stdin, days, force)
    else:
        _login_srcnet(state, settings)
        signin = _signin_state(state)
    _after_login(state, settings, signin, idp, platform, discovery_timeout)


def _check_platform(signin: SigninState, settings: SigninSettings, idp: str, name: str) -> None:
    """--platform must name a platform of this identity: one known, or in its registry."""
    from canfar_cli.auth.discovery import listed
    from canfar_cli.auth.state import find

    known = signin.find_platform(name)
    if known is not None and known.identity in ("", idp):
        return
    if find(name, listed(idp, settings)) is None:
        raise UsageError(
            f"platform {name!r} is not one of {idp}'s",
            hint="`canfar platform ls` lists them; nothing was signed in",
        )


def _login_cadc(
    state: CliState,
    settings: SigninSettings,
    signin: SigninState,
    username: str | None,
    password_stdin: bool,
    days: int,
    force: bool,
) -> None:
    from canfar_cli.auth.cadc import login_cadc
    from canfar_cli.auth.certificates import read_certificate
    from canfar_cli.errors import CanfarError

    out = state.out
    stored = signin.certificate()
    path = signin.certificate_path()
    # A valid certificate is kept only when nothing asks for a new sign-in: no user name, no
    # password, no --cert, no --force, and it came from the same sign-in services.
    same_services = (
        stored is None
        or not stored.registry
        or (stored.registry == settings.service("registry_cadc"))
    )
    ask_nothing = username is None and not password_stdin and state.certificate is None
    if not force and ask_nothing and same_services and path.is_file():
        try:
            info = read_certificate(path)
        except CanfarError:
            info = None
        if info is not None and info.seconds_left > 0:
            if signin.active_identity != "cadc":
                signin.update(lambda fresh: setattr(fresh, "active_identity", "cadc"))
            out.message(
                f"signed in as {info.user}: certificate {info.path}, valid until"
                f" {_until(info.not_after)} (kept; --force or --username for a new one)"
            )
            return
    if username is None:
        if not out.stdin_is_terminal() or password_stdin:
            raise UsageError("--username is needed when not on a terminal")
        username = _text_arg(_ask(out, "Username: "), "the user name")
    if password_stdin:
        password = _stdin_line("the password")
        if not password:
            raise UsageError("--password-stdin: the first line of stdin is empty")
    else:
        if not out.stdin_is_terminal():
            raise UsageError("no terminal to ask the password on", hint="use --password-stdin")
        import getpass

        # getpass only writes to and flushes it: typeshed wants a TextIO, Output has IO[str].
        try:
            password = getpass.getpass("Password: ", stream=cast("TextIO", out.stderr))
        except UnicodeDecodeError:
            raise UsageError("the password is not UTF-8 text") from None
    _text_arg(password, "the password")
    info = login_cadc(
        username, password, days, settings=settings, path=state.certificate, state=signin
    )
    out.message(
        f"signed in as {info.user}: certificate {info.path}, valid until {_until(info.not_after)}"
    )


def _login_srcnet(state: CliState, settings: SigninSettings) -> None:
    from canfar_cli.auth.oidc import start_device_login

    out = state.out
    login = start_device_login(settings)
    out.message(f"To sign in, open {login.verification_uri} and enter the code {login.user_code}")
    if login.verification_uri_complete and _has_display():
        import webbrowser

        with contextlib.suppress(Exception):  # no browser: the URL above still works
            webbrowser.open(login.verification_uri_complete)
    with out.live() as update:

        def tick(left: float) -> None:
            minutes, seconds = divmod(int(left), 60)
            update(f"waiting for approval … {minutes}:{seconds:02d} left (Ctrl-C to stop)")

        user = login.wait(on_tick=tick)
    out.message(f"signed in to SRCNet as {user or 'an unnamed user'}")


def _after_login(
    state: CliState,
    settings: SigninSettings,
    signin: SigninState,
    idp: str,
    wanted: str | None,
    timeout: float,
) -> None:
    """Discovery, reported platform by platform; the active platform changes only when asked,
    or when there is none (or it is gone), and the line says so."""
    from canfar_cli.auth import discovery
    from canfar_cli.errors import CanfarError

    out = state.out
    try:
        found = discovery.discover([idp], settings, timeout, state=signin)
    except CanfarError as exc:
        out.warning(f"signed in, but the platforms could not be found: {exc.message}")
        if exc.hint:
            out.message(f"hint: {exc.hint}")
        return
    for p in found:
        detail = f" ({p.detail})" if p.detail and p.status != "reachable" else ""
        out.message(f"  {p.name:<10} {p.status}{detail}  {p.url}")
    chosen, why = discovery.after_login(signin, found, wanted)
    if chosen is None:
        active = signin.active_platform_name()
        if why == "kept" and active is not None:
            out.message(
                f"active platform: {active} (unchanged; `canfar platform use NAME` to change it)"
            )
        else:
            out.warning("no platform answered; choose one later with `canfar platform use NAME`")
        return
    reachable = [p for p in found if p.status == "reachable"]
    if wanted is None and len(reachable) > 1 and out.stdin_is_terminal():
        index = _choose(out, "Platforms:", [f"{p.name}  {p.url}" for p in reachable])
        chosen = reachable[index]
    discovery.use_platform(chosen.name, settings, signin)
    out.message(f"active platform: {chosen.name} ({chosen.url}), {why}")


# --- auth status / logout -------------------------------------------------------------------


def auth_status(
    ctx: typer.Context,
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> None:
    """Who is signed in, with which credential, until when, and the platform in use.

    Exit 3 when no usable credential is found.
    """
    from canfar_cli.auth.credentials import WARN_SECONDS, status

    state = state_of(ctx)
    out = state.out
    settings = state.settings()
    report = status(settings)
    if resolve_format(output, as_json) == "json":
        out.json(report)
    else:
        blocks = []
        platform = report["platform"]
        head = [
            ("active identity", report["active"] or "-"),
            ("platform", f"{platform['name'] or '-'} ({platform['url']})"),
        ]
        head.append(("in use", report["in_use"]["says"]))
        blocks.append(head)
        for entry in report["identities"]:
            block = [
                ("identity", entry["identity"]),
                (
                    "credential",
                    entry["credential"] + (f" {entry['path']}" if entry.get("path") else ""),
                ),
                ("from", entry.get("source") or "-"),
                ("user", entry.get("user") or "-"),
                ("expires", entry.get("expires") or "-"),
            ]
            if entry.get("renewable"):
                block.append(("renewable", "yes (renewed as needed)"))
            if entry.get("problem"):
                block.append(("problem", entry["problem"]))
            blocks.append(block)
        out.blocks(blocks)
    for entry in report["identities"]:
        left = entry.get("seconds_left")
        if (
            entry.get("usable")
            and left is not None
            and 0 < left < WARN_SECONDS
            and not entry.get("renewable")
        ):
            name = entry["identity"]
            out.warning(
                f"the {name} {entry['credential']} expires in {left // 3600} h"
                f" {left % 3600 // 60} min: `canfar login {name}`"
            )
    for problem in report["problems"]:
        out.warning(problem)
    if not report["usable"]:
        raise CredentialError("no usable credential", hint="sign in: `canfar login`")


def auth_logout(
    ctx: typer.Context,
    idp: str | None = typer.Argument(None, metavar="[cadc|srcnet]", help="Only this one."),
    certificate: bool = typer.Option(
        False,
        "--certificate",
        help="Also remove a certificate canfar did not write (e.g. from cadc-get-cert).",
    ),
) -> None:
    """Sign out: forget the stored tokens and remove the certificate canfar wrote.

    A certificate canfar did not write is kept (and named) unless --certificate is given. The
    message says what was removed and what was kept.
    """
    from canfar_cli.auth.signout import logout

    state = state_of(ctx)
    done = logout(idp.lower() if idp else None, certificate=certificate)
    state.show_notices()
    for line in done or ["nothing to sign out of"]:
        state.out.message(line)


# --- platform ls / use ----------------------------------------------------------------------


def platform_ls(
    ctx: typer.Context,
    output: Format | None = output_option(),
    as_json: bool = json_option(),
    refresh: bool = typer.Option(False, "--refresh", help="Ask the registries again."),
) -> None:
    """The platforms you may use (found at sign-in; asked for now when none is known).

    \b
    Examples:
      canfar platform ls
      canfar platform ls --refresh -o json
    """
    from canfar_cli.auth.discovery import platforms

    state = state_of(ctx)
    out = state.out
    signin = _signin_state(state)
    found = platforms(_signin_settings(state, signin), refresh=refresh, state=signin)
    active = signin.active_platform_name()
    if resolve_format(output, as_json) == "json":
        out.json([{**p.as_dict(), "active": p.name == active} for p in found])
        return
    rows = [
        ["*" if p.name == active else "", p.name, p.identity or "-", p.status, p.url] for p in found
    ]
    out.table(["ACTIVE", "NAME", "IDENTITY", "STATUS", "URL"], rows)


def platform_use(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="A name from `canfar platform ls`."),
) -> None:
    """Make NAME the active platform (used when no --server or --platform is given)."""
    from canfar_cli.auth.discovery import use_platform

    state = state_of(ctx)
    signin = _signin_state(state)
    chosen = use_platform(name, _signin_settings(state, signin), signin)
    state.out.message(f"active platform: {chosen.name} ({chosen.url})")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    auth_app.command("status")(auth_status)
    auth_app.command("logout")(auth_logout)
    platform_app.command("ls")(platform_ls)
    platform_app.command("use")(platform_use)
    app.add_typer(auth_app, name="auth")
    app.add_typer(platform_app, name="platform")
