"""`canfar local …`: the local platform (the skaha v1 API on this machine).

Light at import (typer only): uvicorn and the platform itself are imported inside the command.
"""

from __future__ import annotations

import typer

local_app = typer.Typer(help="The local platform: the skaha v1 API on this machine.")


@local_app.callback()
def _local() -> None:
    """The local platform: the skaha v1 API on this machine."""


def _rate(name: str, value: float) -> float:
    from canfar_cli.errors import UsageError

    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{name} must be between 0 and 1, got {value:g}")
    return value


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
    port: int = typer.Option(
        0, "--port", metavar="PORT", help="Port to listen on (0: any free port)."
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
) -> None:
    """Serve the local platform on loopback until interrupted.

    The first line of stdout is the base URL, e.g. http://127.0.0.1:PORT/skaha; point
    --server (or CANFAR_URL) at it. Every request must carry the server's token: a random one
    unless --token-file or CANFAR_LOCAL_TOKEN gives it, recorded (0600) in the state folder,
    where canfar finds it for that URL by itself.
    """
    import os
    from pathlib import Path

    from canfar_cli.cli.state import state_of
    from canfar_cli.errors import CanfarError, UsageError
    from canfar_cli.local.portable import require_posix

    require_posix()

    from canfar_cli.local import tokens
    from canfar_cli.local.faults import Faults
    from canfar_cli.local.serve import serve as run_server
    from canfar_cli.local.settings import LocalSettings
    from canfar_cli.local.skaha import SkahaError

    out = state_of(ctx).out
    if token is not None:
        raise UsageError(
            "--token is not accepted: a token on the command line is visible to every user"
            " of this machine (ps, /proc)",
            hint="use --token-file PATH or CANFAR_LOCAL_TOKEN, or leave it out for a random one",
        )
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    if latency < 0:
        raise UsageError(f"--latency must be >= 0, got {latency:g}")
    if not 400 <= fail_status <= 599:
        raise UsageError(f"--fail-status must be an HTTP error status (400-599), got {fail_status}")
    if retry_after < 0:
        raise UsageError(f"--retry-after must be >= 0, got {retry_after}")
    if user is not None and not user.strip():
        raise UsageError("--user must not be empty", hint="leave it out to act as your OS user")
    secret = _given_token(token_file, os.environ.get("CANFAR_LOCAL_TOKEN"))
    if no_auth:
        if secret is not None:
            raise UsageError("--no-auth and a token (--token-file, CANFAR_LOCAL_TOKEN) conflict")
        if not _is_loopback(host):
            # Every request runs commands as you: only this machine may ask without a token.
            raise UsageError(
                f"refusing to serve on {host} without a token",
                hint="anyone who can reach it could run commands as you; leave out --no-auth",
            )
        out.warning(
            "serving without a token (--no-auth): every user of this machine can run commands"
            " as you through it"
        )
    elif secret is None:
        secret = tokens.new_token()
    faults = Faults(
        latency_ms=latency,
        fail_rate=_rate("--fail-rate", fail_rate),
        fail_status=fail_status,
        drop_rate=_rate("--drop-rate", drop_rate),
        retry_after=retry_after,
    )
    overrides: dict[str, object] = {"token": secret}
    if user:
        overrides["user"] = user
    if home:
        overrides["home"] = Path(home).expanduser()
    settings = LocalSettings.from_env(**overrides)

    def ready(url: str, token_path: Path | None) -> None:
        # Stderr first: the URL on stdout says "ready", and what comes with it is written.
        if token_path is not None:
            out.message(f"token: in {token_path} (canfar finds it for {url}; mode 0600)")
            if _is_terminal(out.stderr):
                out.message(f"token: {secret}")
        out.write(url + "\n")

    try:
        code = run_server(settings, host, port, faults, ready)
    except SkahaError as exc:  # the state folder cannot be used: its message says why
        raise CanfarError(
            exc.message.replace(" (set CANFAR_LOCAL_HOME", " (set --home or CANFAR_LOCAL_HOME")
        ) from None
    except OSError as exc:
        raise CanfarError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one) or --host",
        ) from None
    raise typer.Exit(code)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


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
