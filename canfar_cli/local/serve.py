"""`canfar local serve`: the local platform on a loopback socket, on uvicorn.

The socket is bound and listening, and the token recorded (canfar_cli/serve_tokens.py), before
the base URL is handed to the command to print, so a client that reads the first line of stdout
can connect at once (connections wait in the backlog until uvicorn accepts).
SIGINT and SIGTERM shut the server down gracefully and the process exits 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from canfar_cli import serve_tokens as tokens
from canfar_cli.local.admission import Admission, admitting
from canfar_cli.local.app import create_app
from canfar_cli.local.faults import FaultInjection, Faults, parse_rules
from canfar_cli.local.settings import LocalSettings, admit_limit


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says it is TCP; without it every keep-alive response waits ~40 ms
    # (Nagle's algorithm meeting the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/skaha"


def serve(
    settings: LocalSettings,
    host: str,
    port: int | None,
    faults: Faults,
    ready: Callable[[str, Path | None], None],
    *,
    tls: bool = False,
    note: Callable[[str], None] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM. `ready(url, token_file)` is called once the socket listens
    (token_file: where the token was recorded for clients, None without a token), and
    `note(text)` for a message to the operator: the command line writes both through its
    terminal writer, nothing here prints."""
    import uvicorn

    local_app = create_app(settings)
    # Open the state folder now: one it cannot use is a start-up error (SkahaError, for the
    # command to report), not a 500 on every request after a URL that looked fine.
    _ = local_app.store
    # The sign-in services' settings too (a bad CANFAR_LOCAL_* lifetime is a ConfigError).
    _ = local_app.signin.settings
    # And the storage services' (a bad CANFAR_LOCAL_QUOTA, VAULT or VAULT_LAG); every local
    # user's home and vault folder exist from the start.
    local_app.storage.prepare()
    app: Any = local_app
    rules = os.environ.get("CANFAR_LOCAL_FAULTS", "").strip()
    if rules:  # targeted faults for tests (faults.py says how to write them)
        faults = dataclasses.replace(faults, rules=faults.rules + parse_rules(rules))
    if faults.active:
        app = FaultInjection(app, faults)
    # Past capacity: 503 and Retry-After at once, not a queue that grows for minutes. Decided
    # by the HTTP protocol as each request arrives (admission.py says why).
    admission = Admission(app, limit=admit_limit())
    config = uvicorn.Config(
        admission,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        backlog=2048,
        # h11: the pure-Python protocol is always there (httptools is an optional extra).
        http=admitting(_protocol(tls), admission),
        timeout_keep_alive=30,
    )
    ca_path = None
    if tls:
        ca_path = _use_tls(config, local_app)
    server = uvicorn.Server(config)

    # uvicorn installs its own handlers while it runs, and re-raises the signal that stopped it
    # once it is done, to let the previous handler act. Ours only asks the server to stop: that
    # covers a signal that comes before uvicorn's handlers are in place, and makes the re-raise
    # harmless, so a requested stop ends with exit status 0 and no traceback.
    def stop(_signum: int, _frame: object) -> None:
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    sock = _bind_remembered(settings.home, host) if port is None else bind(host, port)
    url = base_url(sock, "https" if tls else "http")
    bound_port = sock.getsockname()[1]
    tokens.remember_port(settings.home, bound_port)
    # Before the URL is shown: a client that reads the URL finds the token (and CA) already
    # there. Recorded under --no-auth too, so `--server local` sign-ins find the server.
    record = tokens.write_token(settings.home, bound_port, url, settings.token, ca_path)
    token_file = record if settings.token is not None else None
    with contextlib.suppress(OSError):  # recorded: no longer "starting" (cli/local.py)
        (settings.home / tokens.SERVE_DIR / f"starting-{os.getpid()}").unlink(missing_ok=True)
    # The CA line too: whoever reads the URL line may look for it at once.
    if ca_path is not None and note is not None:
        note(f"local CA certificate (for CANFAR_CA_BUNDLE): {ca_path}")
    try:
        ready(url, token_file)
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
        tokens.remove_token(settings.home, bound_port)
    return 0


def _bind_remembered(home: Path, host: str) -> socket.socket:
    """The port this state folder's server had last time (URLs, stored platforms and settings
    stay right across restarts); any free one when there is none or it is taken."""
    remembered = tokens.remembered_port(home)
    if remembered is not None:
        with contextlib.suppress(OSError):
            return bind(host, remembered)
    return bind(host, 0)


def _protocol(tls: bool) -> type[Any]:
    """uvicorn's h11 protocol, or under --tls the one that hands the app client certificates."""
    if tls:
        from canfar_cli.local.signin.tls import ClientCertH11Protocol

        return ClientCertH11Protocol
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


def _use_tls(config: Any, local_app: Any) -> Any:
    """HTTPS with a server certificate from the local CA (signin/tls.py says how client
    certificates reach the app: its protocol is the config's already); the skaha API then needs
    a client certificate or a token.
    Returns the CA certificate's path."""
    import tempfile
    from pathlib import Path

    from canfar_cli.local.signin.tls import configure

    ca = local_app.signin.ca
    # A fresh server certificate per start, in a private temporary folder (two servers on one
    # state folder cannot mix their keys); gone once loaded into the SSL context.
    with tempfile.TemporaryDirectory(dir=ca.path.parent, prefix=".server-") as folder:
        cert_file, key_file = ca.server_files(Path(folder))
        config.ssl_certfile, config.ssl_keyfile = str(cert_file), str(key_file)
        config.load()  # builds config.ssl; Server.run skips loading a loaded config
    configure(config.ssl, ca.path)
    local_app.signin.require_credentials = True
    return ca.path
