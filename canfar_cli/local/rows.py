"""The rows and first events of new sessions, and their insertion with fresh ids.

A create handler checks the request (app.py, skaha.py) and hands what it found here: a headless
session is Pending until the supervisor starts it; interactive kinds and desktop-apps run no
process on the local platform, so they are Running at once, until their expiry time, with a log
and an event that say they are emulated.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from canfar_cli.local import procs, skaha, statedir
from canfar_cli.local.settings import LocalSettings
from canfar_cli.local.skaha import SkahaError, bad_request
from canfar_cli.local.store import LimitReached, Store, dumps_list, session_dir

log = logging.getLogger("canfar_cli.local")

Event = tuple[str, str, str]


def session_row(
    settings: LocalSettings,
    *,
    user: str,
    kind: str,
    label: str,
    image: str,
    resources: tuple[float | None, float | None],
    gpus: int | None,
    params: Any,
) -> tuple[dict[str, Any], list[Event]]:
    """The row and first events of a session of `kind` (checked already)."""
    headless = kind == "headless"
    cores, ram = resources
    row: dict[str, Any] = {
        "appid": "",
        "userid": user,
        "type": kind,
        # Interactive kinds run no process here: Running at once, until their expiry time.
        "status": "Pending" if headless else "Running",
        "start_time": None if headless else time.time(),
        "name": label,
        "image": image,
        "cores": cores,
        "ram": ram,
        "gpus": gpus,
        "fixed": 1 if ram is not None else 0,
        "cmd": params.get("cmd") if headless else None,
        "args": params.get("args") if headless else None,
        "env": dumps_list(skaha.parse_env(params.get_all("env"))) if headless else None,
        "deadline": settings.headless_deadline if headless else settings.interactive_expiry,
        "boot_id": procs.boot_id(),
    }
    events: list[Event] = [
        (
            "Normal",
            "Scheduled",
            f"Successfully assigned session to {settings.hostname} (local platform)",
        )
    ]
    if headless:
        events.append(
            (
                "Normal",
                "Pulled",
                f"Container image {image!r} recorded; the local platform runs the command"
                " as a process on this host, not in the image",
            )
        )
    else:
        events.append(
            (
                "Normal",
                "Emulated",
                f"This {kind} session is emulated locally: it stays Running until its expiry"
                f" time with no process behind it; no {kind} server is started, and"
                " connectURL opens a page that says so",
            )
        )
    return row, events


def app_row(
    settings: LocalSettings,
    *,
    user: str,
    image: str,
    resources: tuple[float | None, float | None],
) -> tuple[dict[str, Any], list[Event]]:
    """The row and first events of a desktop-app (its ids are set by `insert`)."""
    cores, ram = resources
    row: dict[str, Any] = {
        "appid": "",
        "userid": user,
        "type": "desktop-app",
        "status": "Running",
        "start_time": time.time(),
        "name": skaha.app_name(image),
        "image": image,
        "cores": cores,
        "ram": ram,
        "gpus": None,
        "fixed": 1 if ram is not None else 0,
        "deadline": settings.interactive_expiry,
        "boot_id": procs.boot_id(),
    }
    events: list[Event] = [
        (
            "Normal",
            "Scheduled",
            f"Successfully assigned desktop-app to {settings.hostname} (local platform)",
        ),
        (
            "Normal",
            "Emulated",
            "This desktop-app is emulated locally: it stays Running until its expiry time"
            " with no process behind it",
        ),
    ]
    return row, events


def insert(
    store: Store,
    row: dict[str, Any],
    events: list[Event],
    *,
    limit: int | None,
    desktop_id: str | None = None,
) -> str:
    """Insert with a fresh id (or, for a desktop-app, a fresh app id); the id."""
    for _ in range(20):
        if desktop_id is None:
            row["id"] = skaha.new_session_id()
        else:
            row["id"], row["appid"] = desktop_id, skaha.new_app_id()
        row["created"] = time.time()
        try:
            if store.insert(row, events, interactive_limit=limit):
                return str(row["id"])
        except LimitReached as exc:
            raise bad_request(str(exc)) from None
    raise SkahaError(503, "temporarily unavailable: null", {"Retry-After": "1"})


def write_emulated_log(settings: LocalSettings, session_id: str, appid: str, kind: str) -> None:
    """What the log of an emulated session says (the real one would hold the server's)."""
    folder = session_dir(settings.home, session_id, appid)
    try:
        top = session_dir(settings.home, session_id)
        chain = [top, top / "apps", folder] if appid else [top]
        statedir.private_dirs(*chain, folder / "home")
        with os.fdopen(statedir.open_private_log(folder / "log"), "ab") as handle:
            handle.write(
                f"canfar local: this {kind} session is emulated; no {kind} server runs on"
                " the local platform.\n".encode()
            )
    except OSError:  # the log is a courtesy; the session stands without it
        log.warning("cannot write the log of %s", session_id, exc_info=True)
