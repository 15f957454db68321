"""The access tokens of `canfar local serve`, and how a client finds them. Light at import.

A server started without a token of its own makes a random one and writes it, with its URL and
pid, to `<state folder>/serve/<port>.json` (mode 0600, in a 0700 folder); every request must then
carry `Authorization: Bearer <token>`. A client pointed at a loopback URL
(`http://127.0.0.1:PORT/skaha`, `localhost`, `[::1]`) with no token of its own reads the file of
that port in its state folder (`CANFAR_LOCAL_HOME`, or the default), as Jupyter's clients find
their server's token: `find_token` is the one function the core calls for that. Only the owner of
the state folder can read the file, so only they can use the server.

This module imports nothing beyond the standard library's light parts: the core imports it on
every start that names a loopback server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

SERVE_DIR = "serve"


def local_home() -> Path:
    """The local platform's state folder: $CANFAR_LOCAL_HOME, else the user data folder's."""
    raw = os.environ.get("CANFAR_LOCAL_HOME", "").strip()
    if raw:
        return Path(raw).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("canfar", appauthor=False)) / "local"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_path(home: Path, port: int) -> Path:
    return home / SERVE_DIR / f"{port}.json"


def write_token(home: Path, port: int, url: str, token: str) -> Path:
    """Record a serving server's token for its port (0600, written whole then renamed)."""
    from canfar_cli.files import write_private

    folder = home / SERVE_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)  # whatever an older folder had
    path = token_path(home, port)
    write_private(path, json.dumps({"url": url, "token": token, "pid": os.getpid()}))
    return path


def remove_token(home: Path, port: int) -> None:
    """Forget the token of a server that stops (only if the file is still this process's)."""
    path = token_path(home, port)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_bytes()).get("pid") == os.getpid():
            path.unlink()


def _loopback_port(server: str) -> int | None:
    """The port of an http URL on a loopback host; None for anything else."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(server.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or port is None:
        return None
    if host not in ("localhost", "::1") and not host.startswith("127."):
        return None
    return port


def find_token(server: str, home: Path | None = None) -> str | None:
    """The token of the local server at `server` (a loopback URL) recorded in the state folder;
    None when `server` is not loopback or no such server recorded one. Never raises."""
    port = _loopback_port(server)
    if port is None:
        return None
    try:
        path = token_path(home or local_home(), port)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except (OSError, ValueError, ImportError):
        return None
    try:
        info = os.fstat(fd)
        # Ours and private, or not a file a server of ours wrote.
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            return None
        data = json.loads(os.read(fd, 65536))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None
