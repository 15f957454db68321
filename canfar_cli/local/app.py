"""The local platform's ASGI app: the skaha v1 API at `/skaha/v1/...`, on this machine.

`create_app()` returns a plain ASGI callable. It works with or without the lifespan protocol
(httpx.ASGITransport sends none), so all housekeeping is lazy: at most once per
`sweep_interval`, a request first fails sessions whose supervisor died or whose machine
rebooted, ends interactive sessions past their expiry, and removes sessions that ended longer ago
than the cleanup delay (housekeeping.py).

Handlers are synchronous and short: a create is one SQLite transaction and a poke of the
supervisor (supervisor.py), which starts the job; interactive kinds run no process at all. The
one slow answer, a log, is streamed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import anyio.to_thread

from canfar_cli.errors import ConfigError
from canfar_cli.local import housekeeping, procs, skaha
from canfar_cli.local.asgi import (
    JSON,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error_response,
    text,
)
from canfar_cli.local.settings import LocalSettings
from canfar_cli.local.skaha import SkahaError, bad_request
from canfar_cli.local.store import LimitReached, Store, dumps_list, session_dir

log = log_module = logging.getLogger("canfar_cli.local")

API = "/skaha/v1"
SESSION_METHODS = "GET, POST, DELETE"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Resources of the templates that hard-code them (request cores, request GiB).
_TEMPLATE_REQUESTS = {"desktop": (0.25, 1.0), "firefly": (0.1, 4.0)}


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read the local platform's {what} file {path}: {exc}") from None


def _options(context: dict[str, Any], key: str) -> list[int]:
    try:
        return [int(v) for v in context[key]["options"]]
    except (KeyError, TypeError, ValueError):
        return []


class LocalApp:
    """The ASGI app. One instance per server or per in-process client."""

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self.context: dict[str, Any] = _load_json(settings.context_file, "context")
        self.context_body = skaha.compact(self.context)
        self.images: list[dict[str, Any]] = _load_json(settings.images_file, "images")
        try:
            self.max_interactive = int(self.context.get("maxInteractiveSessions", 5))
        except (TypeError, ValueError):
            self.max_interactive = 5
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._last_sweep = 0.0
        self.uid = str(os.getuid()) if hasattr(os, "getuid") else ""
        self.gid = str(os.getgid()) if hasattr(os, "getgid") else ""

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    try:
                        self._store = Store(self.settings.home)
                    except (OSError, sqlite3.Error) as exc:
                        reason = getattr(exc, "strerror", None) or str(exc)
                        raise SkahaError(
                            500,
                            f"the local platform cannot use its state folder"
                            f" {self.settings.home}: {reason} (set CANFAR_LOCAL_HOME to a"
                            " writable folder)",
                        ) from None
        return self._store

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        head = scope.get("method", "").upper() == "HEAD"
        try:
            request = await Request.read(scope, receive, self.settings.max_body_bytes)
            response = self.handle(request)
            if response.wake:
                await self.wake_supervisor()
        except SkahaError as exc:
            response = error_response(exc)
        except sqlite3.OperationalError as exc:
            # A database locked for longer than the busy timeout: a transient condition.
            log.warning("local platform state busy: %s", exc)
            response = text(503, "temporarily unavailable: null\n", {"Retry-After": "1"})
        except Exception as exc:  # a bug: answered like cadc-rest's handleUnexpected
            log.exception("unexpected error in the local platform")
            response = text(500, f"unexpected exception: {exc!r}")
        await response.send(send, head=head)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- routing ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/skaha/availability", "/skaha/capabilities"):
            return self.vosi(request, path.rsplit("/", 1)[1])
        if not (path == API or path.startswith(API + "/")):
            raise SkahaError(404, f"not found: {path}")
        user = self.authenticate(request)
        rest = path[len(API) :]
        parts = rest.split("/", 2)  # "", resource, tail
        resource = parts[1] if len(parts) > 1 else ""
        tail = "/" + parts[2] if len(parts) > 2 else None
        method = "GET" if request.method == "HEAD" else request.method
        try:
            wake = self.sweep()
            if resource == "session":
                response = self.session_route(request, method, user, tail)
            elif resource in ("context", "image", "repository"):
                if method != "GET":
                    raise self.unsupported(request.method, "GET")
                response = getattr(self, f"get_{resource}")(request)
            else:
                raise SkahaError(404, f"not found: {path}")
        except SkahaError as exc:  # refusals after authentication carry the header too
            exc.headers.setdefault("x-vo-authenticated", user)
            raise
        response.headers.setdefault("x-vo-authenticated", user)
        response.wake = response.wake or wake
        return response

    def unsupported(self, method: str, allow: str) -> SkahaError:
        error = SkahaError(405, f"unsupported: HTTP {method}", {"Allow": allow})
        return error

    def authenticate(self, request: Request) -> str:
        token = self.settings.token
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                raise SkahaError(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})
        return self.settings.user

    def vosi(self, request: Request, which: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise self.unsupported(request.method, "GET")
        if which == "availability":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">\n'
                "  <vosi:available>true</vosi:available>\n"
                "  <vosi:note>the local platform is serving</vosi:note>\n"
                "</vosi:availability>\n"
            )
        else:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0">\n'
                "</vosi:capabilities>\n"
            )
        return Response(200, body.encode(), "text/xml")

    def session_route(self, request: Request, method: str, user: str, tail: str | None) -> Response:
        if tail is None:
            segments: list[str] = []
        else:
            segments = tail[1:].split("/")
            if len(segments) > 3:
                raise bad_request(f"Invalid request: {tail}")
        if method == "GET":
            if not segments:
                return self.list_sessions(request, user)
            if len(segments) == 1:
                return self.get_session(request, user, segments[0])
            if len(segments) == 2:
                return self.list_apps(request, user)
            return self.get_app(user, segments[0], segments[2])
        if method == "POST":
            if not segments:
                return self.create(request, user)
            if len(segments) == 1:
                return self.renew(request, user, segments[0])
            if len(segments) == 2:
                return self.create_app_session(request, user, segments[0])
            raise bad_request("Cannot modify an existing app.")
        if method == "DELETE":
            if not segments:
                raise bad_request("Cannot kill all sessions.")
            if len(segments) == 1:
                self.delete(user, segments[0], None)
            elif len(segments) == 2:
                raise bad_request("Missing app ID")
            else:
                self.delete(user, segments[0], segments[2])
            return Response(200, b"", None)
        raise self.unsupported(request.method, SESSION_METHODS)

    # --- reading -----------------------------------------------------------------------------

    def list_sessions(self, request: Request, user: str) -> Response:
        params = request.params
        view = params.get("view")
        if view == "stats":
            return Response(200, skaha.gson(self.stats()), JSON)
        kind = params.get("type")
        status = params.get("status")
        if view is not None and view.lower() == "interactive":
            rows = [r for r in self.store.sessions(user) if r["type"] != "headless"]
            rows = [r for r in rows if status is None or r["status"].lower() == status.lower()]
            return Response(200, skaha.gson([self.session_body(r) for r in rows]), JSON)
        everyone = view == "all"
        rows = self.store.sessions(None if everyone else user)
        rows = self._filter(rows, kind, status)
        if everyone:
            return Response(200, skaha.gson([skaha.public_session(r) for r in rows]), JSON)
        return Response(200, skaha.gson([self.session_body(r) for r in rows]), JSON)

    @staticmethod
    def _filter(rows: list[Any], kind: str | None, status: str | None) -> list[Any]:
        apps = kind is not None and kind.lower() == "desktop-app"
        kept = []
        for row in rows:
            if row["type"] == "desktop-app" and not apps:
                continue
            if kind is not None and row["type"].lower() != kind.lower():
                continue
            if status is not None and row["status"].lower() != status.lower():
                continue
            kept.append(row)
        return kept

    def session_body(self, row: Any) -> dict[str, Any]:
        usage = self.usage(row) if row["status"] == "Running" else None
        return skaha.session_object(row, uid=self.uid, gid=self.gid, usage=usage)

    def usage(self, row: Any) -> dict[str, str] | None:
        """ramInUse and cpuCoresInUse of the job's leader process, as a metrics API would."""
        fields = procs.live_stat(row["job_pid"], row["job_start"], row["boot_id"])
        if fields is None:
            return None
        try:
            ticks = _CLOCK_TICKS
            rss_pages = int(fields[21])
            cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks
            # CLOCK_BOOTTIME is /proc/uptime without reading a file.
            uptime = time.clock_gettime(time.CLOCK_BOOTTIME)
            elapsed = max(uptime - int(fields[19]) / ticks, 1e-3)
        except (OSError, ValueError, IndexError, AttributeError):
            return None
        ram_bytes = rss_pages * _PAGE_SIZE
        return {
            "ramInUse": f"{ram_bytes / 1e9:.2f}",
            "cpuCoresInUse": f"{cpu_seconds / elapsed:.3f}",
        }

    def get_session(self, request: Request, user: str, session_id: str) -> Response:
        view = request.params.get("view")
        if view == "logs":
            return self.logs(user, session_id)
        if view == "events":
            row = self._own(user, session_id)
            if row is None:
                raise SkahaError(404, f"session {session_id} not found.")
            body = skaha.events_table(self.store.events(session_id, ""))
            return Response(200, body.encode("utf-8"), "text/plain")
        if session_id == "":
            rows = [r for r in self.store.sessions(user) if r["type"] != "desktop-app"]
            if not rows:
                raise SkahaError(404, "session  not found")
            return Response(200, skaha.gson(self.session_body(rows[0])), JSON)
        skaha.check_label_id(session_id)
        row = self._own(user, session_id)
        if row is None:
            raise SkahaError(404, f"session {session_id} not found")
        return Response(200, skaha.gson(self.session_body(row)), JSON)

    def _own(self, user: str, session_id: str, appid: str = "") -> Any:
        row = self.store.get(session_id, appid)
        return row if row is not None and row["userid"] == user else None

    def logs(self, user: str, session_id: str) -> Response:
        row = self._own(user, session_id)
        if row is None:
            return Response(200, b"", "text/plain")
        path = session_dir(self.settings.home, session_id) / "log"
        return Response(200, b"", "text/plain", file=path)

    def list_apps(self, request: Request, user: str) -> Response:
        status = request.params.get("status")
        everyone = request.params.get("view") == "all"
        rows = self.store.sessions(None if everyone else user)
        rows = [r for r in rows if r["type"] == "desktop-app"]
        rows = [r for r in rows if status is None or r["status"].lower() == status.lower()]
        if everyone:
            return Response(200, skaha.gson([skaha.public_session(r) for r in rows]), JSON)
        return Response(200, skaha.gson([self.session_body(r) for r in rows]), JSON)

    def get_app(self, user: str, session_id: str, appid: str) -> Response:
        row = self._own(user, session_id, appid) if appid else None
        if row is None:
            raise SkahaError(
                404, f"desktop app with session {session_id} and app ID {appid} was not found"
            )
        return Response(200, skaha.gson(self.session_body(row)), JSON)

    def get_context(self, request: Request) -> Response:
        return Response(200, self.context_body, JSON)

    def get_image(self, request: Request) -> Response:
        kind = request.params.get("type")
        if kind is not None and kind not in skaha.IMAGE_TYPES:
            raise bad_request(f"unknown type: {kind}")
        images = [i for i in self.images if kind is None or kind in i.get("types", [])]
        return Response(200, skaha.gson(images), JSON)

    def get_repository(self, request: Request) -> Response:
        return Response(200, skaha.compact(list(self.settings.registry_hosts)), JSON)

    def stats(self) -> dict[str, Any]:
        cores_req = ram_req = 0.0
        defaults = self.context.get("cores", {}), self.context.get("memoryGB", {})
        for row in self.store.active():
            if row["status"] != "Running":
                continue
            if row["fixed"]:
                cores_req += row["cores"] or 0
                ram_req += row["ram"] or 0
                continue
            cores, ram = _TEMPLATE_REQUESTS.get(
                row["type"],
                (
                    row["cores"] or float(defaults[0].get("defaultRequest", 1)),
                    float(defaults[1].get("defaultRequest", 4)),
                ),
            )
            cores_req += cores
            ram_req += ram
        max_cores = float(defaults[0].get("defaultLimit", 8))
        max_ram = int(defaults[1].get("defaultLimit", 32))
        return {
            "cores": {
                "requestedCPUCores": round(cores_req, 3),
                "cpuCoresAvailable": float(os.cpu_count() or 1),
                "maxCPUCores": {"cpuCores": max_cores, "withRam": f"{max_ram}Gi"},
            },
            "ram": {
                "requestedRAM": _quantity_g(ram_req * 1.073741824),
                "ramAvailable": _quantity_g(_memory_bytes() / 1e9),
                "maxRAM": {"ram": f"{max_ram}Gi", "withCPUCores": max_cores},
            },
        }

    # --- writing -----------------------------------------------------------------------------

    def create(self, request: Request, user: str) -> Response:
        params = request.params
        image = params.get("image")
        if image is None:
            raise bad_request("Missing parameter 'image'")
        if not image.strip():
            raise bad_request("image is required")
        hosts = self.settings.registry_hosts
        if not any(image.startswith(host) for host in hosts):
            raise bad_request(f"session image '{image}' must come from one of [{', '.join(hosts)}]")
        raw_type = params.get("type")
        kind = (raw_type or "").strip().lower() or "headless"
        if kind not in skaha.CREATE_TYPES:
            raise bad_request(f"Invalid session type: {raw_type}")
        cores, ram = self.resources(params)
        name = params.get("name")
        if name is None or not name.strip():
            raise bad_request("Missing parameter 'name'")
        if not skaha.NAME_RULE.fullmatch(name):
            raise bad_request("name can only contain alpha-numeric chars and '-'")
        limit = self.max_interactive if kind != "headless" else None
        if limit is not None:
            self.check_limit(user, limit)
        gpus = None
        if params.get("gpus") is not None:
            gpus = skaha.check_gpus(params.get("gpus") or "", _options(self.context, "gpus"))
        self.check_registry_auth(request)
        label = skaha.label_name(name)
        if not label:
            raise bad_request("canfar.net/name label value cannot be blank")
        skaha.check_hostname(name)
        headless = kind == "headless"
        env_pairs = skaha.parse_env(params.get_all("env")) if headless else []
        if headless:
            check_job_yaml(params.get("cmd"), params.get("args"), env_pairs)
        now = time.time()
        row: dict[str, Any] = {
            "appid": "",
            "userid": user,
            "type": kind,
            # Interactive kinds run no process here: Running at once, until their expiry time.
            "status": "Pending" if headless else "Running",
            "start_time": None if headless else now,
            "name": label,
            "image": image,
            "cores": cores,
            "ram": ram,
            "gpus": gpus,
            "fixed": 1 if ram is not None else 0,
            "cmd": params.get("cmd") if headless else None,
            "args": params.get("args") if headless else None,
            "env": dumps_list(env_pairs) if headless else None,
            "deadline": self.settings.headless_deadline
            if headless
            else self.settings.interactive_expiry,
            "boot_id": procs.boot_id(),
        }
        events = [
            (
                "Normal",
                "Scheduled",
                f"Successfully assigned session to {self.settings.hostname} (local platform)",
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
                    f" time with no process behind it; no {kind} server is started, so"
                    " connectURL is empty",
                )
            )
        session_id = self.insert(row, events, limit=limit)
        if headless:
            response = text(200, session_id + "\n")
            response.wake = True  # the supervisor starts the job
            return response
        self.write_emulated_log(session_id, "", kind)
        return text(200, session_id + "\n")

    def write_emulated_log(self, session_id: str, appid: str, kind: str) -> None:
        """What the log of an emulated session says (the real one would hold the server's)."""
        folder = session_dir(self.settings.home, session_id, appid)
        try:
            (folder / "home").mkdir(parents=True, exist_ok=True)
            with open(folder / "log", "ab") as log:
                log.write(
                    f"canfar local: this {kind} session is emulated; no {kind} server runs on"
                    " the local platform.\n".encode()
                )
        except OSError:  # the log is a courtesy; the session stands without it
            log_failure = f"cannot write the log of {session_id}"
            log_module.warning(log_failure, exc_info=True)

    def insert(
        self,
        row: dict[str, Any],
        events: list[tuple[str, str, str]],
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
                if self.store.insert(row, events, interactive_limit=limit):
                    return row["id"]
            except LimitReached as exc:
                raise bad_request(str(exc)) from None
        raise SkahaError(503, "temporarily unavailable: null", {"Retry-After": "1"})

    def check_limit(self, user: str, limit: int) -> None:
        if self.store.count_interactive(user) >= limit:
            raise bad_request(str(LimitReached(user, limit)))

    async def wake_supervisor(self) -> None:
        """Poke the supervisor (a write to its FIFO, microseconds), or start one in a worker
        thread (fork+exec; the event loop keeps serving meanwhile)."""
        settings = self.settings
        if procs.poke(settings.home):
            return
        try:
            await anyio.to_thread.run_sync(
                procs.STARTER.wake,
                settings.home,
                settings.grace_seconds,
                settings.hostname,
                settings.supervisor_idle,
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            for row in self.store.active():
                if (
                    row["type"] == "headless"
                    and row["status"] == "Pending"
                    and not row["runner_pid"]
                ):
                    self.store.transition(
                        row["id"],
                        row["appid"],
                        status="Failed",
                        event=(
                            "Warning",
                            "FailedCreate",
                            f"cannot start the local platform's supervisor: {reason}",
                        ),
                        only_from=("Pending",),
                        end_time=time.time(),
                    )

    def check_registry_auth(self, request: Request) -> None:
        """Images from the registry hosts count as cached: the header is optional, but checked."""
        raw = request.headers.get("x-skaha-registry-auth")
        if raw is None:
            return
        try:
            decoded = base64.b64decode(raw.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        if len(skaha.java_split(decoded, ":")) != 2:
            raise bad_request("Invalid input.  Must be in form of username:secret")

    def renew(self, request: Request, user: str, session_id: str) -> Response:
        action = request.params.get("action")
        if action is None:
            raise bad_request("Cannot modify an existing session")
        if action.lower() != "renew":
            raise bad_request("unrecognized action")
        rows = [
            r
            for r in self.store.sessions(user)
            if r["id"] == session_id and r["status"] in ("Pending", "Running")
        ]
        if not rows:
            raise bad_request(f"No active job for user {user} with session {session_id}")
        now = time.time()
        expiry = self.settings.interactive_expiry
        for row in rows:
            start = row["start_time"]
            elapsed = 0.0 if start is None else max(0.0, now - start)
            remaining = row["deadline"] - elapsed
            if expiry > remaining:
                self.store.update(row["id"], row["appid"], deadline=int(elapsed + expiry))
        return Response(200, b"", None)

    def resources(self, params: Any) -> tuple[float | None, float | None]:
        """`cores` and `ram` as given (None when absent), each checked against /context's
        options, as both a session's and a desktop-app's create check them."""
        cores = ram = None
        if params.get("cores") is not None:
            cores = skaha.check_option(
                "cores", params.get("cores") or "", _options(self.context, "cores")
            )
        if params.get("ram") is not None:
            ram = skaha.check_option(
                "ram", params.get("ram") or "", _options(self.context, "memoryGB")
            )
        return cores, ram

    def create_app_session(self, request: Request, user: str, session_id: str) -> Response:
        params = request.params
        image = params.get("image")
        if image is None:
            raise bad_request("Missing parameter 'image'")
        cores, ram = self.resources(params)
        desktop = self._own(user, session_id)
        if desktop is None or desktop["type"] != "desktop" or desktop["status"] != "Running":
            raise SkahaError(404, f"session {session_id} not found")
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
            "deadline": self.settings.interactive_expiry,
            "boot_id": procs.boot_id(),
        }
        events = [
            (
                "Normal",
                "Scheduled",
                f"Successfully assigned desktop-app to {self.settings.hostname} (local platform)",
            ),
            (
                "Normal",
                "Emulated",
                "This desktop-app is emulated locally: it stays Running until its expiry time"
                " with no process behind it",
            ),
        ]
        self.insert(row, events, limit=None, desktop_id=session_id)
        self.write_emulated_log(session_id, row["appid"], "desktop-app")
        return text(200, row["appid"] + "\n")

    def delete(self, user: str, session_id: str, appid: str | None) -> None:
        """Remove at once; the supervisor ends the job's process group, then its files."""
        try:
            rows = self.store.delete(session_id, user, appid)
        except sqlite3.Error:  # the real DeleteAction logs and answers 200 whatever happens
            log.warning("delete of %s failed", session_id, exc_info=True)
            return
        for row in rows:
            self.end_processes(row)

    def end_processes(self, row: Any) -> None:
        home = self.settings.home
        if row["job_pid"] and procs.is_alive(row["job_pid"], row["job_start"], row["boot_id"]):
            if procs.is_alive(row["runner_pid"], row["runner_start"], row["boot_id"]):
                # SIGTERM, the grace period, SIGKILL: the supervisor's to carry out (a request
                # answers at once), and it removes the files once the job has ended.
                self.store.request_kill(row, self.settings.grace_seconds)
                if procs.poke(home):
                    return
            # No supervisor: nobody is left to wait out a grace period.
            procs.terminate_job_directly(row["job_pid"], row["job_start"], row["boot_id"])
        elif row["runner_pid"] and row["status"] == "Pending":
            # Claimed and perhaps being started this very moment: the supervisor finds the row
            # gone when it records the start, ends the job and removes the files itself.
            return
        shutil.rmtree(session_dir(home, row["id"], row["appid"]), ignore_errors=True)

    # --- housekeeping --------------------------------------------------------------------------

    def sweep(self) -> bool:
        """Lazy housekeeping, at most once per sweep_interval (cheap: /proc reads and a query);
        True when the supervisor should be woken for sessions it has not claimed."""
        now = time.monotonic()
        if now - self._last_sweep < self.settings.sweep_interval:
            return False
        self._last_sweep = now
        return housekeeping.sweep(self.store, self.settings)


def _memory_bytes() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError):
        return 0.0


def _quantity_g(value: float) -> str:
    text_value = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text_value}G"


def check_job_yaml(cmd: str | None, args: str | None, env: list[tuple[str, str]]) -> None:
    """The server writes cmd, args and env values unescaped into the job's YAML: what cannot be
    read there fails the create with a 500, as on CANFAR (see local/jobspec.py)."""
    from canfar_cli.local import jobspec

    try:
        jobspec.decode(cmd, args, env)
    except jobspec.JobSpecError as exc:
        raise SkahaError(500, f"unexpected exception: {exc}") from None


def create_app(settings: LocalSettings | None = None) -> LocalApp:
    """The local platform as a plain ASGI app (settings from the environment when not given)."""
    return LocalApp(settings or LocalSettings.from_env())
