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


def write_token(home: Path, port: int, url: str, token: str | None, ca: Path | None = None) -> Path:
    """Record a serving server for its port (0600, written whole then renamed): its URL, pid,
    token (None under --no-auth) and, over --tls, the CA that signed its certificate."""
    from canfar_cli.files import write_private

    folder = home / SERVE_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)  # whatever an older folder had
    path = token_path(home, port)
    record: dict[str, object] = {"url": url, "token": token, "pid": os.getpid()}
    if ca is not None:
        record["ca"] = str(ca)
    write_private(path, json.dumps(record))
    return path


def remembered_port(home: Path) -> int | None:
    """The port the last `canfar local serve` of this state folder listened on (kept across
    restarts, so URLs, stored platforms and settings stay right); None when there is none."""
    try:
        value = json.loads((home / SERVE_DIR / "port.json").read_bytes()).get("port")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and 0 < value < 65536 else None


def remember_port(home: Path, port: int) -> None:
    from canfar_cli.files import write_private

    with contextlib.suppress(OSError):
        write_private(home / SERVE_DIR / "port.json", json.dumps({"port": port}))


def remove_token(home: Path, port: int) -> None:
    """Forget the token of a server that stops (only if the file is still this process's)."""
    path = token_path(home, port)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_bytes()).get("pid") == os.getpid():
            path.unlink()


def loopback_port(server: str) -> int | None:
    """The port of an http(s) URL on a loopback host; None for anything else."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(server.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or port is None:
        return None
    if host not in ("localhost", "::1") and not host.startswith("127."):
        return None
    return port


def _record(path: Path) -> dict[str, object] | None:
    """A record this user's server wrote (ours and private, not a link), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            return None
        data = json.loads(os.read(fd, 65536))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def served(server: str, home: Path | None = None) -> dict[str, object] | None:
    """What the local server at `server` (a loopback URL whose scheme matches) recorded in the
    state folder: url, token, pid, ca; None when it is not such a server. Never raises."""
    port = loopback_port(server)
    if port is None:
        return None
    try:
        record = _record(token_path(home or local_home(), port))
    except (OSError, ValueError, ImportError):
        return None
    if record is None or not isinstance(record.get("url"), str):
        return None
    scheme = str(record["url"]).partition(":")[0]
    return record if server.strip().lower().startswith(scheme + ":") else None


def mark_starting(home: Path) -> Path | None:
    """Say a server of this state folder is starting (`serve/starting-<pid>`), so that a
    sign-in started meanwhile (`canfar local serve --tls &` then `canfar --server local login`)
    waits for it rather than finding none. Removed once the server is recorded (or gone)."""
    with contextlib.suppress(OSError):
        folder = home / SERVE_DIR
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        path = folder / f"starting-{os.getpid()}"
        path.touch(mode=0o600)
        return path
    return None


def _starting(folder: Path) -> bool:
    for path in folder.glob("starting-*"):
        pid = path.name.removeprefix("starting-")
        if pid.isdigit() and _alive(int(pid)):
            return True
        # The mark of a start that ended before its command ran (a usage error, a Ctrl-C).
        with contextlib.suppress(OSError):
            path.unlink()
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def running(home: Path | None = None, wait: float = 15.0) -> str | None:
    """The base URL (http(s)://127.0.0.1:PORT/skaha) of a `canfar local serve` of this state
    folder that is running: the remembered port's first, else any recorded. One that is still
    starting is waited for (up to `wait` seconds). None when none is."""
    import time

    deadline = time.monotonic() + wait
    while True:
        url = _running(home)
        if url is not None:
            return url
        try:
            folder = (home or local_home()) / SERVE_DIR
        except ImportError:
            return None
        if time.monotonic() >= deadline or not _starting(folder):
            return None
        time.sleep(0.1)


def _running(home: Path | None) -> str | None:
    try:
        folder = (home or local_home()) / SERVE_DIR
        names = sorted(p.name for p in folder.glob("*.json") if p.stem.isdigit())
    except (OSError, ImportError):
        return None
    first = remembered_port(folder.parent)
    if first is not None and f"{first}.json" in names:
        names.remove(f"{first}.json")
        names.insert(0, f"{first}.json")
    for name in names:
        record = _record(folder / name)
        pid = record.get("pid") if record else None
        url = record.get("url") if record else None
        if isinstance(pid, int) and isinstance(url, str) and _alive(pid):
            return url
    return None


def find_token(server: str, home: Path | None = None) -> str | None:
    """The token of the local server at `server` (a loopback URL) recorded in the state folder;
    None when `server` is not loopback or no such server recorded one. Never raises."""
    record = served(server, home)
    token = record.get("token") if record else None
    return token if isinstance(token, str) and token else None


def find_ca(server: str, home: Path | None = None) -> str | None:
    """The CA certificate of the local server at `server` (an https loopback URL of this state
    folder's server), to trust it with no setting; None otherwise. Never raises."""
    record = served(server, home)
    ca = record.get("ca") if record else None
    return ca if isinstance(ca, str) and os.path.isfile(ca) else None
