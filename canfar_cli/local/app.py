"""The local platform's ASGI app: the skaha v1 API at `/skaha/v1/...`, on this machine.

`create_app()` returns a plain ASGI callable. It works with or without the lifespan protocol
(httpx.ASGITransport sends none), so all housekeeping is lazy: at most once per
`sweep_interval`, a request first fails sessions whose supervisor died or whose machine
rebooted, ends interactive sessions past their expiry, and removes sessions that ended longer ago
than the cleanup delay (housekeeping.py).

Handlers are synchronous and short: a create is one SQLite transaction and a poke of the
supervisor (supervisor.py), which starts the job; interactive kinds run no process at all. The
one slow answer, a log, is streamed.

This module is routing, authentication and thin handlers; what they use lives beside it: the
skaha rules and bodies in skaha.py, new rows and their events in rows.py, resource checks and
`view=stats` in resources.py, a job's usage and the machine's memory in metrics.py, waking the
supervisor and ending a removed session's processes in control.py.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from canfar_cli.errors import ConfigError
from canfar_cli.local import control, housekeeping, metrics, portable, resources, serverlog, skaha
from canfar_cli.local import rows as new_rows
from canfar_cli.local.asgi import (
    JSON,
    ClientDisconnected,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error_response,
    text,
)
from canfar_cli.local.settings import DEFAULT_IMAGES, LocalSettings
from canfar_cli.local.signin.routes import SigninServices, bearer_token
from canfar_cli.local.skaha import SkahaError, bad_request
from canfar_cli.local.storage.routes import StorageServices
from canfar_cli.local.store import LimitReached, Store, session_dir

log = logging.getLogger("canfar_cli.local")

API = "/skaha/v1"
SESSION_METHODS = "GET, POST, DELETE"


def _image_list(extra: Path) -> list[dict[str, Any]]:
    """The shipped images, extended by those of CANFAR_LOCAL_IMAGES (a JSON array like it)."""
    images: list[dict[str, Any]] = _load_json(DEFAULT_IMAGES, "images")
    if Path(extra) != DEFAULT_IMAGES:
        added = _load_json(extra, "images")
        if not isinstance(added, list) or not all(isinstance(i, dict) for i in added):
            raise ConfigError(f"the images file {extra} must hold a JSON array of objects")
        known = {image.get("id") for image in images}
        images += [image for image in added if image.get("id") not in known]
    return images


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read the local platform's {what} file {path}: {exc}") from None


class LocalApp:
    """The ASGI app. One instance per server or per in-process client."""

    def __init__(self, settings: LocalSettings, *, in_process: bool = False) -> None:
        self.settings = settings
        # In process, the platform logs to a file of its state folder, not the user's stderr.
        self.log_file: Path | None = settings.home / serverlog.LOG_FILE if in_process else None
        self.context: dict[str, Any] = _load_json(settings.context_file, "context")
        self.context_body = skaha.compact(self.context)
        self.images = _image_list(settings.images_file)
        self.image_ids = {str(image.get("id")) for image in self.images}
        try:
            self.max_interactive = int(self.context.get("maxInteractiveSessions", 5))
        except (TypeError, ValueError):
            self.max_interactive = 5
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._last_sweep = 0.0
        self.uid = str(os.getuid()) if hasattr(os, "getuid") else ""
        self.gid = str(os.getgid()) if hasattr(os, "getgid") else ""
        # The sign-in services (registry, credentials, OIDC): their own router, by path prefix.
        self.signin = SigninServices(settings.home)
        # The storage services (cavern at /arc and /cavern, vault at /vault and /minoc).
        self.storage = StorageServices(settings.home, self.caller, self.known_users)

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
        with serverlog.logging_to(self._log_file_if_usable()):
            await self._answer(scope, receive, send)

    def _log_file_if_usable(self) -> Path | None:
        if self.log_file is None:
            return None
        if not self.log_file.parent.is_dir():
            try:
                _ = self.store  # makes the state folder (0700), as the first request would
            except SkahaError:
                return None  # a folder that cannot be made: stderr, and the request says why
        return self.log_file

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = scope.get("method", "").upper() == "HEAD"
        try:
            request = await Request.read(
                scope, receive, self.settings.max_body_bytes, stream=self.storage.streams(scope)
            )
            if self.storage.serves(request.path):
                response = await self.storage.handle(request)
            elif self.signin.serves(request.path):
                response = await self.signin.handle(request)
            else:
                response = self.handle(request)
            if response.wake:
                await self.wake_supervisor()
        except SkahaError as exc:
            response = error_response(exc)
        except ClientDisconnected:  # gone mid-body: nobody to answer (the handler cleaned up)
            return
        except sqlite3.OperationalError as exc:
            # A database locked for longer than the busy timeout: a transient condition.
            log.warning("local platform state busy: %s", exc)
            response = text(503, "temporarily unavailable: null\n", {"Retry-After": "1"})
        except Exception as exc:  # a bug: answered like cadc-rest's handleUnexpected
            log.exception("unexpected error in the local platform")
            where = f" (details in {self.log_file})" if self.log_file is not None else ""
            response = text(500, f"unexpected exception: {exc!r}{where}")
        await response.send(send, head=head, receive=receive)

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
        if path == "/skaha/availability":  # (capabilities: the sign-in services' router)
            return self.vosi(request, "availability")
        if path.startswith("/session/"):  # a connectURL: what stands in for the web app
            return emulated_page(path)
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

    def _credential_user(self, request: Request) -> tuple[str | None, str | None]:
        """(the user of the request's credential, its bearer token): the serve token's user (the
        local user), else the user of a credential the sign-in services issued (an OIDC access
        token, a client certificate over --tls); the user is None when there is neither."""
        token = self.settings.token
        bearer = bearer_token(request)
        if (
            token is not None
            and bearer is not None
            and hmac.compare_digest(bearer.encode(), token.encode())
        ):
            return self.settings.user, bearer
        return self.signin.identify(request, bearer), bearer

    def _credentials_required(self) -> bool:
        return self.settings.token is not None or self.signin.require_credentials

    def authenticate(self, request: Request) -> str:
        """The user a request acts as: its credential's (`_credential_user`), else the local
        user when the server asks for nothing."""
        user, _bearer = self._credential_user(request)
        if user is not None:
            return user
        if self._credentials_required():
            raise SkahaError(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})
        return self.settings.user

    def caller(self, request: Request) -> str | None:
        """The user a storage request acts as, as `authenticate` finds it, except that a request
        with no credential where the server asks for one is anonymous (None), not refused: the
        storage services serve public nodes to anyone and refuse the rest with 403."""
        user, bearer = self._credential_user(request)
        if user is not None:
            return user
        if self._credentials_required():
            if bearer is not None:  # a token that is not one of ours
                raise SkahaError(
                    401, "NotAuthenticated: invalid token", {"WWW-Authenticate": "Bearer"}
                )
            return None
        return self.settings.user

    def known_users(self) -> list[str]:
        """The local user and the users of the sign-in services (each has a home)."""
        names = [self.settings.user]
        try:
            names += [n for n in self.signin.users.names() if n not in names]
        except Exception:  # an unreadable users file: the sign-in services report it
            log.warning("cannot read the local users file", exc_info=True)
        return names

    def vosi(self, request: Request, which: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise self.unsupported(request.method, "GET")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">\n'
            "  <vosi:available>true</vosi:available>\n"
            "  <vosi:note>the local platform is serving</vosi:note>\n"
            "</vosi:availability>\n"
        )
        return Response(200, body.encode(), "text/xml")

    def session_route(self, request: Request, method: str, user: str, tail: str | None) -> Response:
        if tail is None:
            segments: list[str] = []
        else:
            segments = tail[1:].split("/")
            if len(segments) > 3:
                raise bad_request(f"Invalid request: {tail}")
        handlers = {
            "GET": self._session_get,
            "POST": self._session_post,
            "DELETE": self._session_delete,
        }
        handler = handlers.get(method)
        if handler is None:
            raise self.unsupported(request.method, SESSION_METHODS)
        return handler(request, user, segments)

    # `session[/ID[/app[/APPID]]]`: segments are [], [ID], [ID, "app"] or [ID, "app", APPID].

    def _session_get(self, request: Request, user: str, segments: list[str]) -> Response:
        if not segments:
            return self.list_sessions(request, user)
        if len(segments) == 1:
            return self.get_session(request, user, segments[0])
        if len(segments) == 2:
            return self.list_apps(request, user)
        return self.get_app(user, segments[0], segments[2])

    def _session_post(self, request: Request, user: str, segments: list[str]) -> Response:
        if not segments:
            return self.create(request, user)
        if len(segments) == 1:
            return self.renew(request, user, segments[0])
        if len(segments) == 2:
            return self.create_app_session(request, user, segments[0])
        raise bad_request("Cannot modify an existing app.")

    def _session_delete(self, _request: Request, user: str, segments: list[str]) -> Response:
        if not segments:
            raise bad_request("Cannot kill all sessions.")
        if len(segments) == 1:
            self.delete(user, segments[0], None)
        elif len(segments) == 2:
            raise bad_request("Missing app ID")
        else:
            self.delete(user, segments[0], segments[2])
        return Response(200, b"", None)

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
            return self.listing(rows, request)
        everyone = view == "all"
        rows = self.store.sessions(None if everyone else user)
        rows = self._filter(rows, kind, status)
        return self.listing(rows, request, public=everyone)

    def listing(self, rows: list[Any], request: Request, *, public: bool = False) -> Response:
        """A JSON array of the rows' records (see `record`)."""
        bodies = [self.record(row, request, public=public) for row in rows]
        return Response(200, skaha.gson([body for body in bodies if body is not None]), JSON)

    def record(
        self, row: Any, request: Request | None, *, public: bool = False
    ) -> dict[str, Any] | None:
        """A row's record. A row a bug or an older version left damaged must never cost the
        user every other session, nor the `rm` that would remove it: it is shown with only
        the fields that can be read (None when not even those can), and named in the server's
        log."""
        try:
            if public:
                return skaha.public_session(row)
            return self.session_body(row, request)
        except Exception:
            log.exception(
                "the record of session %s (user %s) is damaged: shown without its other fields",
                _column(row, "id"),
                _column(row, "userid"),
            )
        try:
            return skaha.minimal_session(row, public=public)
        except Exception:
            log.exception("session %s left out: nothing of it can be read", _column(row, "id"))
            return None

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

    def session_body(self, row: Any, request: Request | None = None) -> dict[str, Any]:
        if row["fixed"] and row["cores"] is None:
            # RAM given alone, stored by a version that did not record the default cores.
            row = dict(zip(row.keys(), row, strict=True))
            row["cores"] = resources.with_default_cores((None, row["ram"]), self.context)[0]
        usage = metrics.usage(row) if row["status"] == "Running" else None
        base = _own_base(request) if request is not None else ""
        return skaha.session_object(row, uid=self.uid, gid=self.gid, usage=usage, base=base)

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
            return self.one_record(rows[0], request)
        skaha.check_label_id(session_id)
        row = self._own(user, session_id)
        if row is None:
            raise SkahaError(404, f"session {session_id} not found")
        return self.one_record(row, request)

    def one_record(self, row: Any, request: Request | None) -> Response:
        body = self.record(row, request)
        if body is None:
            raise SkahaError(500, f"unexpected exception: the record of {_column(row, 'id')}")
        return Response(200, skaha.gson(body), JSON)

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
        return self.listing(rows, request, public=everyone)

    def get_app(self, user: str, session_id: str, appid: str) -> Response:
        row = self._own(user, session_id, appid) if appid else None
        if row is None:
            raise SkahaError(
                404, f"desktop app with session {session_id} and app ID {appid} was not found"
            )
        return self.one_record(row, None)

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
        return resources.stats(self.store, self.context)

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
        requested = resources.with_default_cores(
            resources.requested(params, self.context), self.context
        )
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
            options = resources.options(self.context, "gpus")
            gpus = skaha.check_gpus(params.get("gpus") or "", options)
        self.check_registry_auth(request, image)
        label = skaha.label_name(name)
        if not label:
            raise bad_request("canfar.net/name label value cannot be blank")
        skaha.check_hostname(name)
        if kind == "headless":
            check_job_yaml(
                params.get("cmd"), params.get("args"), skaha.parse_env(params.get_all("env"))
            )
        row, events = new_rows.session_row(
            self.settings,
            user=user,
            kind=kind,
            label=label,
            image=image,
            resources=requested,
            gpus=gpus,
            params=params,
        )
        session_id = new_rows.insert(self.store, row, events, limit=limit)
        if kind == "headless":
            response = text(200, session_id + "\n")
            response.wake = True  # the supervisor starts the job
            return response
        new_rows.write_emulated_log(self.settings, session_id, "", kind)
        return text(200, session_id + "\n")

    def check_limit(self, user: str, limit: int) -> None:
        if self.store.count_interactive(user) >= limit:
            raise bad_request(str(LimitReached(user, limit)))

    async def wake_supervisor(self) -> None:
        await control.wake_supervisor(self.store, self.settings)

    def check_registry_auth(self, request: Request, image: str) -> None:
        """An image id exactly in the image list (the server's public cache) needs no header;
        any other is private or unknown and needs one. A header given is checked either way."""
        raw = request.headers.get("x-skaha-registry-auth")
        if raw is None:
            if image in self.image_ids:
                return
            raise bad_request(
                "No authentication provided for unknown or private image.  Use"
                " x-skaha-registry-auth request header with base64Encode(username:secret)."
            )
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
        # By the key's index: a renew never reads the user's other sessions.
        rows = self.store.query(
            "SELECT * FROM sessions WHERE id = ? AND userid = ?"
            " AND status IN ('Pending', 'Running')",
            (session_id, user),
        )
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

    def create_app_session(self, request: Request, user: str, session_id: str) -> Response:
        params = request.params
        image = params.get("image")
        if image is None:
            raise bad_request("Missing parameter 'image'")
        requested = resources.with_default_cores(
            resources.requested(params, self.context), self.context
        )
        desktop = self._own(user, session_id)
        if desktop is None or desktop["type"] != "desktop" or desktop["status"] != "Running":
            raise SkahaError(404, f"session {session_id} not found")
        row, events = new_rows.app_row(self.settings, user=user, image=image, resources=requested)
        new_rows.insert(self.store, row, events, limit=None, desktop_id=session_id)
        new_rows.write_emulated_log(self.settings, session_id, row["appid"], "desktop-app")
        return text(200, row["appid"] + "\n")

    def delete(self, user: str, session_id: str, appid: str | None) -> None:
        """Remove at once; the supervisor ends the job's process group, then its files."""
        try:
            removed = self.store.delete(session_id, user, appid)
        except sqlite3.Error:  # the real DeleteAction logs and answers 200 whatever happens
            log.warning("delete of %s failed", session_id, exc_info=True)
            return
        for row in removed:
            control.end_processes(self.store, self.settings, row)

    # --- housekeeping --------------------------------------------------------------------------

    def sweep(self) -> bool:
        """Lazy housekeeping, at most once per sweep_interval (cheap: /proc reads and a query);
        True when the supervisor should be woken for sessions it has not claimed."""
        now = time.monotonic()
        if now - self._last_sweep < self.settings.sweep_interval:
            return False
        self._last_sweep = now
        return housekeeping.sweep(self.store, self.settings)


def _column(row: Any, key: str) -> str:
    try:
        return str(row[key])
    except (IndexError, KeyError, TypeError):
        return "?"


def _own_base(request: Request) -> str:
    """scheme://host[:port] this request reached (the sessions' host, as SKAHA_SESSIONS_HOSTNAME
    is the server's own on a small deployment)."""
    scope = request.scope or {}
    host = request.headers.get("host", "")
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scope.get('scheme', 'http')}://{host}"


def emulated_page(path: str) -> Response:
    """What a connectURL opens: a page saying the session is emulated (no web app runs here)."""
    import html

    parts = path.split("/")
    kind = parts[2] if len(parts) > 2 else ""
    session_id = parts[3] if len(parts) > 3 else ""
    body = (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>canfar local: emulated'
        f" {html.escape(kind)} session</title></head>\n<body><h1>Emulated {html.escape(kind)}"
        f" session {html.escape(session_id)}</h1>\n<p>The canfar local platform emulates"
        " interactive sessions: it keeps their records, expiry and limits as CANFAR does, but"
        " runs no web application. On CANFAR this address opens the session itself.</p>\n"
        "</body></html>\n"
    )
    return Response(200, body.encode("utf-8"), "text/html; charset=utf-8")


def check_job_yaml(cmd: str | None, args: str | None, env: list[tuple[str, str]]) -> None:
    """The server writes cmd, args and env values unescaped into the job's YAML: what cannot be
    read there fails the create with a 500, as on CANFAR (see local/jobspec.py)."""
    from canfar_cli.local import jobspec

    try:
        jobspec.decode(cmd, args, env)
    except jobspec.JobSpecError as exc:
        raise SkahaError(500, f"unexpected exception: {exc}") from None


def create_app(settings: LocalSettings | None = None, *, in_process: bool = False) -> LocalApp:
    """The local platform as a plain ASGI app (settings from the environment when not given);
    ConfigError on a system that is not POSIX (Windows). in_process: the app answers inside
    the user's own command (`--server local`), so its log goes to server.log in its state
    folder rather than to stderr."""
    portable.require_posix()
    return LocalApp(settings or LocalSettings.from_env(), in_process=in_process)
