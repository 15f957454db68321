"""AsyncSession and Session: the library API over skaha v1.

`AsyncSession` holds the one implementation. `Session` is its blocking twin: the same methods,
parameters and results, run on an anyio blocking portal in a thread of its own, so it also works
where an event loop is already running in the caller's thread (a Jupyter notebook).

Every batch method has an `*_each` form that returns one `Outcome` per input, in input order, with
the server's reason for each failure; the seed methods (`create`, `info`, `logs`, `destroy`, ...)
are built on them. Everything goes through `canfar_cli.http.HttpClient`, which bounds the requests
in flight, retries what may be retried and turns failures into `canfar_cli.errors`.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import sys
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import anyio
import httpx

from canfar_cli import models
from canfar_cli.config import Settings, load_settings
from canfar_cli.errors import (
    CanfarError,
    ConfigError,
    ExitCode,
    NotFoundError,
    ServerError,
    UsageError,
)
from canfar_cli.http import HIDDEN, HttpClient, RetryPolicy, public_url

__all__ = [
    "AsyncSession",
    "BatchError",
    "Outcome",
    "PlannedRequest",
    "Session",
    "WaitTimeoutError",
]

T = TypeVar("T")
LOCAL_BASE = "http://local/skaha"
SERVER_URL_HINT = (
    "check the server URL (--server, CANFAR_URL, `canfar config get server`):"
    " the skaha service, e.g. https://ws-uv.canfar.net/skaha"
)
log = logging.getLogger("canfar_cli.http")


@dataclass
class Outcome(Generic[T]):
    """What became of one item of a batch: its value, or the error with the server's reason."""

    key: str
    value: T | None = None
    error: CanfarError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class BatchError(CanfarError):
    """Some items of a batch failed. `outcomes` holds every item's result, the good ones too, so
    nothing (e.g. the id of a session that was created) is lost."""

    def __init__(
        self, message: str, *, outcomes: Sequence[Outcome[Any]], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.outcomes = list(outcomes)
        failures = [o.error for o in self.outcomes if o.error is not None]
        # Everything failed the same way: the exit code says how (e.g. 5 when the server is down).
        if len(failures) == len(self.outcomes) and len({type(e) for e in failures}) == 1:
            self.exit_code = failures[0].exit_code
        elif any(e.exit_code == ExitCode.AUTH for e in failures):
            # Credentials gave out part-way (a sign-in revoked): the fix is to sign in again.
            self.exit_code = ExitCode.AUTH


class WaitTimeoutError(CanfarError):
    """`wait` gave up before every session was Running or had ended."""


@dataclass(frozen=True)
class PlannedRequest:
    """One request exactly as `create_each` sends it; `headers` show credentials as "<hidden>"."""

    method: str
    url: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    # The path relative to the API base.
    path: str = field(default="session", repr=False)

    @classmethod
    def with_secrets(cls, secret_headers: dict[str, str], **fields: Any) -> PlannedRequest:
        """A plan that also carries the real values of its hidden headers, kept out of the
        fields so that repr(), == and dataclasses.asdict() never see them."""
        plan = cls(**fields)
        object.__setattr__(plan, "_secret_headers", dict(secret_headers))
        return plan

    @property
    def secret_headers(self) -> dict[str, str]:
        return dict(getattr(self, "_secret_headers", {}))

    @property
    def name(self) -> str:
        return dict(self.form).get("name", "")

    @property
    def body(self) -> bytes:
        return urlencode(self.form).encode("ascii")


def resolve_server(server: str, version: str) -> tuple[str, httpx.AsyncBaseTransport | None]:
    """The API base URL (ending in /<version>) and, for "local", the in-process transport."""
    if not isinstance(version, str) or not version.strip("/"):
        raise ConfigError(f"API version {version!r} is not usable", hint="use 'v1'")
    version = version.strip("/")
    if server.strip().lower() == "local":
        try:
            from canfar_cli.local.app import create_app
        except ImportError as exc:  # pragma: no cover - only when the package is broken
            raise ConfigError(f"the local platform cannot be loaded: {exc}") from None
        transport = httpx.ASGITransport(app=create_app(), raise_app_exceptions=False)
        return f"{LOCAL_BASE}/{version}", transport
    try:
        url = httpx.URL(server.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"server {server!r} is not a URL",
            hint="use e.g. https://ws-uv.canfar.net/skaha, or 'local' for the local platform",
        )
    if url.userinfo:
        # httpx would send it as Basic auth in place of the token; skaha does not take passwords.
        raise ConfigError(
            f"server URL {public_url(url)} must not hold a user name or password",
            hint="leave them out of the URL; use a token or a certificate",
        )
    base = str(url.copy_with(query=None, fragment=None)).rstrip("/")
    if base.endswith(f"/{version}"):
        base = base[: -len(version) - 1]
    return f"{base}/{version}", None


def _encode_registry_auth(registry_auth: str | tuple[str, str]) -> str:
    if isinstance(registry_auth, tuple) and len(registry_auth) == 2:
        user, secret = registry_auth
    elif isinstance(registry_auth, str) and ":" in registry_auth:
        user, _, secret = registry_auth.partition(":")
    else:
        raise UsageError(
            "registry_auth must be 'username:secret' or (username, secret)",
            hint="the registry account that may pull the image",
        )
    if not user or not secret or ":" in user or ":" in secret:
        raise UsageError(
            "registry_auth must be a user name and a secret, neither containing ':'",
            hint="the server splits the value on ':'",
        )
    return base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")


def _settle(outcomes: list[Outcome[T]], failed_what: str) -> list[T]:
    """The values when every item succeeded; otherwise the one error, or a BatchError."""
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return [o.value for o in outcomes]  # type: ignore[misc]
    first = failed[0].error
    assert first is not None
    if len(outcomes) == 1:
        raise first
    raise BatchError(
        f"{len(failed)} of {len(outcomes)} {failed_what}: {first.message}",
        outcomes=outcomes,
        hint=first.hint,
    )


def _write_raw(text: str) -> None:
    """Log text to stdout as the job's bytes (surrogates back to the bytes they stand for)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    buffer.write(text.encode("utf-8", "surrogateescape"))
    buffer.flush()


def _set_loglevel(loglevel: int) -> None:
    # Make the request log at least this verbose; a more verbose level the application set stays.
    logger = logging.getLogger("canfar_cli.http")
    if logger.level == logging.NOTSET or logger.level > loglevel:
        logger.setLevel(loglevel)


class AsyncSession:
    """Sessions on a skaha v1 server, asynchronously. Use as `async with AsyncSession() as s:`.

    Arguments left out come from the configuration (flag > environment > config file > default,
    see canfar_cli.config): `server` is a base URL (with or without a trailing /v1) or "local" for
    the in-process local platform; `token` a bearer token; `certificate` a PEM with certificate and
    key. `concurrency` bounds the requests in flight across everything this object does.
    """

    def __init__(
        self,
        server: str | None = None,
        version: str = "v1",
        token: str | None = None,
        certificate: str | None = None,
        timeout: float | None = None,
        concurrency: int | None = None,
        loglevel: int = logging.WARNING,
        *,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        platform: str | None = None,
    ) -> None:
        if settings is None:
            settings = load_settings(
                platform=platform,
                server=server,
                token=token,
                certificate=certificate,
                timeout=timeout,
                concurrency=concurrency,
            )
        else:
            given = {
                "server": server,
                "token": token,
                "certificate": certificate,
                "timeout": timeout,
                "concurrency": concurrency,
            }
            settings = dataclasses.replace(
                settings, **{k: v for k, v in given.items() if v is not None}
            )
            if certificate is not None:
                settings = dataclasses.replace(settings, certificate_explicit=True)
            if server is not None:
                settings = dataclasses.replace(settings, platform=None)
        self.settings = settings
        _set_loglevel(loglevel)
        base_url, local_transport = resolve_server(settings.server, version)
        # An explicit transport (tests, or a caller's own) replaces the network, not the URL.
        transport = transport or local_transport
        from canfar_cli.auth.credentials import credentials_for

        # Chosen (and checked, a token refreshed) before anything is sent.
        credentials = credentials_for(settings)
        self._http = HttpClient(
            base_url,
            token=credentials.token,
            certificate=credentials.certificate if transport is None else None,
            ca_bundle=settings.ca_bundle,
            refresh_token=credentials.refresh,
            timeout=settings.timeout,
            concurrency=settings.concurrency,
            transport=transport,
            retry=retry,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(server={public_url(self._http.base_url)!r},"
            f" concurrency={self._http.concurrency})"
        )

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. https://ws-uv.canfar.net/skaha/v1 (never with credentials)."""
        return public_url(self._http.base_url)

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- plumbing ---------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self._http.request("GET", path, params=dict(params) if params else None)

    async def _get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, expect: type = dict
    ) -> Any:
        """The JSON answer, which must be an object (expect=dict) or an array of objects
        (expect=list): anything else is not skaha speaking, and is said so rather than shown
        as data or left to fail later as a bug."""
        response = await self._get(path, params)
        url = self._http.url(path)
        try:
            body = response.json()
        except ValueError:
            raise ServerError(
                f"the server's answer to GET {url} is not JSON",
                status=response.status_code,
                reason=response.text[:200],
                hint=SERVER_URL_HINT,
            ) from None
        shaped = isinstance(body, expect) and (
            expect is not list or all(isinstance(item, dict) for item in body)
        )
        if not shaped:
            wanted = "an array of objects" if expect is list else "an object"
            raise ServerError(
                f"the server's answer to GET {url} is JSON but not {wanted}",
                status=response.status_code,
                reason=response.text[:200],
                hint=SERVER_URL_HINT,
            )
        return body

    async def _get_collection(
        self, path: str, params: Mapping[str, str] | None = None, *, expect: type = list
    ) -> Any:
        """A GET of a collection (session, context, image): these always exist on a skaha
        server, so a 404 means the base URL points at no skaha API, not that something is
        unknown. Reported as such (exit 1), never as "not found" (exit 4)."""
        try:
            return await self._get_json(path, params, expect=expect)
        except NotFoundError as exc:
            raise ServerError(
                f"no skaha API at {self.base_url} (GET {self._http.url(path)}: HTTP 404"
                + (f" {exc.reason})" if exc.reason else ")"),
                status=exc.status,
                reason=exc.reason,
                hint=SERVER_URL_HINT,
            ) from None

    @staticmethod
    async def _each(keys: list[str], work: Callable[[str], Awaitable[T]]) -> list[Outcome[T]]:
        """Run `work` for every distinct key at once (the HTTP layer bounds what is in flight);
        one Outcome per key, in the input's order."""
        results: dict[str, Outcome[T]] = {}
        bugs: list[BaseException] = []

        async def one(key: str) -> None:
            try:
                results[key] = Outcome(key, value=await work(key))
            except CanfarError as exc:
                results[key] = Outcome(key, error=exc)
            except Exception as exc:  # a bug: re-raised below, not wrapped in an ExceptionGroup
                bugs.append(exc)

        async with anyio.create_task_group() as group:
            for key in dict.fromkeys(keys):
                group.start_soon(one, key)
        if bugs:
            raise bugs[0]
        return [dataclasses.replace(results[key]) for key in keys]

    async def _listing(self) -> dict[str, dict[str, Any]]:
        """The caller's sessions by id: one GET serves a whole batch's look-up."""
        sessions = await self._get_collection("session")
        return {s["id"]: s for s in sessions if isinstance(s, dict) and "id" in s}

    async def _log_text(self, session_id: str) -> str:
        """The log exactly as sent: UTF-8, with any byte that is not UTF-8 kept as a surrogate
        (as Python does for file names), so `text.encode("utf-8", "surrogateescape")` gives the
        job's bytes back. (response.text would turn each such byte into U+FFFD for good.)"""
        response = await self._get(f"session/{session_id}", {"view": "logs"})
        return response.content.decode("utf-8", "surrogateescape")

    @staticmethod
    def _not_found(session_id: str) -> NotFoundError:
        text = f"session {session_id} not found"
        return NotFoundError(text, status=404, reason=text)

    # --- create -----------------------------------------------------------------------------

    def plan_create(
        self,
        name: str,
        image: str,
        cores: int | float = 2,
        ram: int | float = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[PlannedRequest]:
        """The POSTs a create would send, checked, without sending anything (for --dry-run)."""
        spec = models.check_create(name, image, cores, ram, kind, gpu, cmd, args, env, replicas)
        secret: dict[str, str] = {}
        if registry_auth is not None:
            secret["X-Skaha-Registry-Auth"] = _encode_registry_auth(registry_auth)
        shown = {
            **self._http.headers,
            "Content-Type": "application/x-www-form-urlencoded",
            **{key: HIDDEN for key in secret},
        }
        return [
            PlannedRequest.with_secrets(
                secret,
                method="POST",
                url=self._http.url("session"),
                headers=dict(shown),
                form=spec.form(index),
            )
            for index in range(len(spec.names))
        ]

    async def create_each(
        self,
        name: str,
        image: str,
        cores: int | float = 2,
        ram: int | float = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[Outcome[str]]:
        """Create the sessions; one Outcome per replica (key: the name sent, value: the new id)."""
        plans = self.plan_create(
            name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
        )
        by_name = {plan.name: plan for plan in plans}

        async def send(session_name: str) -> str:
            plan = by_name[session_name]
            response = await self._http.request(
                plan.method,
                plan.path,
                content=plan.body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    **plan.secret_headers,
                },
            )
            session_id = response.text.strip()
            if not session_id or any(ch.isspace() for ch in session_id):
                raise ServerError(
                    f"the server answered the create of {session_name} without a session id",
                    status=response.status_code,
                    reason=response.text[:200],
                )
            return session_id

        return await self._each([plan.name for plan in plans], send)

    async def create(
        self,
        name: str,
        image: str,
        cores: int | float = 2,
        ram: int | float = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[str]:
        """Create sessions; their ids in replica order. With replicas > 1 the sessions are named
        name-1 ... name-N and each headless container gets REPLICA_ID and REPLICA_COUNT.
        Raises BatchError (with every outcome, ids included) when only some were created."""
        outcomes = await self.create_each(
            name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
        )
        return _settle(outcomes, "sessions were not created")

    # --- reading ----------------------------------------------------------------------------

    async def fetch(
        self, kind: str | None = None, status: str | None = None, view: str | None = None
    ) -> list[dict[str, Any]]:
        """The caller's sessions (view="all": everyone's, as public records).

        The status filter is applied here, with Succeeded == Completed, so it means the same on
        older and newer servers; kind is the server's type filter."""
        params: dict[str, str] = {}
        if kind is not None:
            params["type"] = kind
        if view is not None:
            params["view"] = view
        sessions = await self._get_collection("session", params)
        if status is not None and isinstance(sessions, list):
            sessions = models.select_sessions(sessions, statuses=[status])
        return sessions

    async def info_each(self, ids: str | Iterable[str]) -> list[Outcome[dict[str, Any]]]:
        """Each session's object. A batch larger than one round of requests is answered from one
        listing (the same objects, one request instead of hundreds, and far cheaper for the
        server); ids the listing lacks are still asked one by one, so each gets the server's
        own answer (its 404 text, or a session created since the listing)."""
        checked = models.check_ids(ids)
        listed: Mapping[str, dict[str, Any]] = {}
        if len(set(checked)) > self._http.concurrency:
            listed = await self._listing()

        async def one(session_id: str) -> dict[str, Any]:
            if session_id in listed:
                return listed[session_id]
            return await self._get_json(f"session/{session_id}")

        return await self._each(checked, one)

    async def info(self, ids: str | Iterable[str]) -> list[dict[str, Any]]:
        """The session objects, in the order of the ids."""
        return _settle(await self.info_each(ids), "sessions could not be read")

    async def logs_each(self, ids: str | Iterable[str]) -> list[Outcome[str]]:
        """Each session's log text exactly as the server sends it. The server answers 200 with
        nothing for an unknown id, so the sessions are looked up first (one request)."""
        checked = models.check_ids(ids)
        known = await self._listing()

        async def one(session_id: str) -> str:
            if session_id not in known:
                raise self._not_found(session_id)
            return await self._log_text(session_id)

        return await self._each(checked, one)

    async def logs(self, ids: str | Iterable[str], verbose: bool = False) -> dict[str, str] | None:
        """{id: log text}; with verbose=True the logs are printed to stdout instead."""
        outcomes = await self.logs_each(ids)
        texts = dict(
            zip([o.key for o in outcomes], _settle(outcomes, "logs could not be read"), strict=True)
        )
        if not verbose:
            return texts
        for session_id, text in texts.items():
            if len(texts) > 1:
                sys.stdout.write(f"==> {session_id} <==\n")
            _write_raw(text)
        sys.stdout.flush()
        return None

    async def events_text(self, id: str) -> str:
        """The server's events table for one session, as sent."""
        session_id = models.check_id(id)
        return (await self._get(f"session/{session_id}", {"view": "events"})).text

    async def events_each(self, ids: str | Iterable[str]) -> list[Outcome[list[dict[str, Any]]]]:
        async def one(session_id: str) -> list[dict[str, Any]]:
            return models.parse_events(await self.events_text(session_id))

        return await self._each(models.check_ids(ids), one)

    async def events(self, ids: str | Iterable[str], verbose: bool = False) -> list[dict] | None:
        """[{"id": id, "events": [event, ...]}, ...] in the order of the ids (each event: type,
        reason, message, first_time, last_time, or {"raw": line}); verbose=True prints the
        server's tables to stdout instead."""
        checked = models.check_ids(ids)
        if verbose:
            texts = _settle(await self._each(checked, self.events_text), "events could not be read")
            for session_id, text in zip(checked, texts, strict=True):
                if len(checked) > 1:
                    sys.stdout.write(f"==> {session_id} <==\n")
                sys.stdout.write(text)
            sys.stdout.flush()
            return None
        outcomes = await self.events_each(checked)
        parsed = _settle(outcomes, "events could not be read")
        return [{"id": key, "events": events} for key, events in zip(checked, parsed, strict=True)]

    async def stats(self) -> dict[str, Any]:
        """The platform's cores and RAM: requested, available, and the per-session maxima."""
        return await self._get_collection("session", {"view": "stats"}, expect=dict)

    async def context(self) -> dict[str, Any]:
        """The resource options the server accepts (cores, memoryGB, gpus, ...)."""
        return await self._get_collection("context", expect=dict)

    async def images(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The public images, optionally only those of one kind."""
        return await self._get_collection("image", {"type": kind} if kind is not None else None)

    # --- changing ---------------------------------------------------------------------------

    async def _delete_known(self, ids: list[str], known: Mapping[str, Any]) -> list[Outcome[None]]:
        async def one(session_id: str) -> None:
            if session_id not in known:
                raise self._not_found(session_id)
            await self._http.request("DELETE", f"session/{session_id}")
            return None

        return await self._each(ids, one)

    async def destroy_each(self, ids: str | Iterable[str]) -> list[Outcome[None]]:
        """Delete sessions. The server answers 200 even for an unknown id, so the sessions are
        looked up first (one request): unknown ids get NotFoundError and are not sent."""
        checked = models.check_ids(ids)
        return await self._delete_known(checked, await self._listing())

    async def destroy(self, ids: str | Iterable[str]) -> dict[str, bool]:
        """{id: deleted?}. `destroy_each` tells why an id was not deleted."""
        return {o.key: o.ok for o in await self.destroy_each(ids)}

    async def destroy_with(
        self, prefix: str, kind: str | None = "headless", status: str | None = "Succeeded"
    ) -> dict[str, bool]:
        """Delete the sessions whose name starts with `prefix` (literally; names are lower case on
        the server, so the match ignores case) of that kind and status (None: any).
        "Succeeded" and "Completed" are the same state."""
        if not isinstance(prefix, str) or not prefix:
            raise UsageError(
                "an empty prefix would match every session", hint="give the start of the names"
            )
        sessions = await self.fetch(kind=kind)
        if kind is not None:
            sessions = models.select_sessions(sessions, kinds=[kind])
        if status is not None:
            sessions = models.select_sessions(sessions, statuses=[status])
        lowered = prefix.lower()
        chosen = [s for s in sessions if str(s.get("name", "")).lower().startswith(lowered)]
        known = {s["id"]: s for s in chosen}
        outcomes = await self._delete_known(list(known), known)
        return {o.key: o.ok for o in outcomes}

    async def renew_each(self, ids: str | Iterable[str]) -> list[Outcome[None]]:
        """Push back the expiry of interactive sessions (the server's action=renew)."""

        async def one(session_id: str) -> None:
            await self._http.request(
                "POST",
                f"session/{session_id}",
                content=urlencode({"action": "renew"}).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            return None

        return await self._each(models.check_ids(ids), one)

    async def renew(self, ids: str | Iterable[str]) -> dict[str, bool]:
        return {o.key: o.ok for o in await self.renew_each(ids)}

    # --- watching ---------------------------------------------------------------------------

    async def _status(self, session_id: str) -> str | None:
        """The session's status, or None when it is gone."""
        try:
            return str((await self._get_json(f"session/{session_id}")).get("status", ""))
        except NotFoundError:
            return None

    async def follow_logs(self, id: str, interval: float = 1.0) -> AsyncIterator[str]:
        """Yield new log text as it appears, until the session has ended (Completed, Failed or
        gone). The log is read once more after the end is seen, so nothing is lost."""
        session_id = models.check_id(id)
        status = await self._status(session_id)
        if status is None:
            raise self._not_found(session_id)
        seen = ""
        while True:
            # The status is read before the log: once it says ended, this read is the last word.
            text = await self._log_text(session_id)
            if text.startswith(seen):
                new = text[len(seen) :]
            elif status is None and not text:
                new = ""  # gone, and its log with it
            else:
                new = text  # the log was cut or restarted: show it whole rather than lose it
            if new:
                yield new
            seen = text if text or status is not None else seen
            if status is None or models.is_finished(status):
                return
            await anyio.sleep(interval)
            status = await self._status(session_id)

    async def wait(
        self,
        ids: str | Iterable[str],
        timeout: float | None = None,
        interval: float = 1.0,
        on_update: Callable[[list[dict[str, Any]]], Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Poll until every session is Running or has ended; the last records, in id order.

        One listing per round; `on_update(records)` is called after each. A session that
        disappears while waited for counts as ended. Raises WaitTimeoutError after `timeout`."""
        checked = models.check_ids(ids)
        deadline = None if timeout is None else anyio.current_time() + timeout
        last: dict[str, dict[str, Any]] = {}
        gone: set[str] = set()
        while True:
            listing = await self._listing()
            for session_id in checked:
                if session_id in listing:
                    last[session_id] = listing[session_id]
                elif session_id in last:
                    gone.add(session_id)
                else:
                    raise self._not_found(session_id)
            records = [last[session_id] for session_id in checked]
            if on_update is not None:
                on_update(records)
            waiting = [
                record
                for session_id, record in zip(checked, records, strict=True)
                if session_id not in gone
                and models.normalize_status(str(record.get("status", ""))) != "Running"
                and not models.is_finished(record.get("status"))
            ]
            if not waiting:
                return records
            now = anyio.current_time()
            if deadline is not None and now >= deadline:
                states = sorted({str(r.get("status")) for r in waiting})
                raise WaitTimeoutError(
                    f"timed out after {timeout:g} s: {len(waiting)} of {len(checked)} sessions"
                    f" still {', '.join(states)}",
                    hint="wait longer, or look at `canfar events ID` for why",
                )
            pause = interval if deadline is None else max(0.0, min(interval, deadline - now))
            await anyio.sleep(pause)


async def _next(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


class _Runner:
    """The portal thread of a Session and the AsyncSession living on it."""

    def __init__(self, session: AsyncSession) -> None:
        # Imported here: only the blocking twin needs a portal, and the CLI (one anyio.run per
        # command) should not pay for importing it on every start.
        from anyio.from_thread import start_blocking_portal

        self.session = session
        self._manager = start_blocking_portal()
        self.portal = self._manager.__enter__()

    def close(self) -> None:
        try:
            self.portal.call(self.session.aclose)
        finally:
            self._manager.__exit__(None, None, None)


def _close_runner(runner: _Runner) -> None:
    runner.close()


class Session:
    """The blocking twin of AsyncSession: the same methods, arguments and results.

    Use as `with Session() as s:`, or keep one around and `close()` it. The async implementation
    runs on a blocking portal in a thread of its own (started on first use), so this also works
    inside a running event loop, as in Jupyter."""

    def __init__(
        self,
        server: str | None = None,
        version: str = "v1",
        token: str | None = None,
        certificate: str | None = None,
        timeout: float | None = None,
        concurrency: int | None = None,
        loglevel: int = logging.WARNING,
        *,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        platform: str | None = None,
    ) -> None:
        self._async = AsyncSession(
            server,
            version,
            token,
            certificate,
            timeout,
            concurrency,
            loglevel,
            settings=settings,
            retry=retry,
            transport=transport,
            platform=platform,
        )
        self._runner: _Runner | None = None
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        return (
            f"Session(server={self._async.base_url!r}, concurrency={self._async._http.concurrency})"
        )

    @property
    def settings(self) -> Settings:
        return self._async.settings

    @property
    def base_url(self) -> str:
        return self._async.base_url

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._runner = None
        self._finalizer = None

    def _portal(self) -> Any:
        if self._runner is None:
            self._runner = _Runner(self._async)
            # Closed with the object, or at interpreter exit, if the caller forgets.
            self._finalizer = weakref.finalize(self, _close_runner, self._runner)
        return self._runner.portal

    def _call(self, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._portal().call(functools.partial(method, *args, **kwargs))

    def plan_create(
        self,
        name: str,
        image: str,
        cores: int | float = 2,
        ram: int | float = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[PlannedRequest]:
        return self._async.plan_create(
            name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
        )

    def create_each(
        self,
        name: str,
        image: str,
        cores: int | float = 2,
        ram: int | float = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[Outcome[str]]:
        return self._call(
            self._async.create_each,
            name,
            image,
            cores,
            ram,
            kind,
            gpu,
            cmd,
            args,
            env,
            replicas,
            registry_auth,
        )

    def create(
        self,
        name: str,
        image: str,
        cores: int | float = 2,
        ram: int | float = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[str]:
        return self._call(
            self._async.create,
            name,
            image,
            cores,
            ram,
            kind,
            gpu,
            cmd,
            args,
            env,
            replicas,
            registry_auth,
        )

    def fetch(
        self, kind: str | None = None, status: str | None = None, view: str | None = None
    ) -> list[dict[str, Any]]:
        return self._call(self._async.fetch, kind, status, view)

    def info_each(self, ids: str | Iterable[str]) -> list[Outcome[dict[str, Any]]]:
        return self._call(self._async.info_each, ids)

    def info(self, ids: str | Iterable[str]) -> list[dict[str, Any]]:
        return self._call(self._async.info, ids)

    def logs_each(self, ids: str | Iterable[str]) -> list[Outcome[str]]:
        return self._call(self._async.logs_each, ids)

    def logs(self, ids: str | Iterable[str], verbose: bool = False) -> dict[str, str] | None:
        return self._call(self._async.logs, ids, verbose)

    def events_text(self, id: str) -> str:
        return self._call(self._async.events_text, id)

    def events_each(self, ids: str | Iterable[str]) -> list[Outcome[list[dict[str, Any]]]]:
        return self._call(self._async.events_each, ids)

    def events(self, ids: str | Iterable[str], verbose: bool = False) -> list[dict] | None:
        return self._call(self._async.events, ids, verbose)

    def stats(self) -> dict[str, Any]:
        return self._call(self._async.stats)

    def context(self) -> dict[str, Any]:
        return self._call(self._async.context)

    def images(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self._call(self._async.images, kind)

    def destroy_each(self, ids: str | Iterable[str]) -> list[Outcome[None]]:
        return self._call(self._async.destroy_each, ids)

    def destroy(self, ids: str | Iterable[str]) -> dict[str, bool]:
        return self._call(self._async.destroy, ids)

    def destroy_with(
        self, prefix: str, kind: str | None = "headless", status: str | None = "Succeeded"
    ) -> dict[str, bool]:
        return self._call(self._async.destroy_with, prefix, kind, status)

    def renew_each(self, ids: str | Iterable[str]) -> list[Outcome[None]]:
        return self._call(self._async.renew_each, ids)

    def renew(self, ids: str | Iterable[str]) -> dict[str, bool]:
        return self._call(self._async.renew, ids)

    def follow_logs(self, id: str, interval: float = 1.0) -> Iterator[str]:
        """Blocking iterator twin of AsyncSession.follow_logs."""
        portal = self._portal()
        iterator = self._async.follow_logs(id, interval)
        try:
            while True:
                try:
                    yield portal.call(_next, iterator)
                except StopAsyncIteration:
                    return
        finally:
            portal.call(iterator.aclose)

    def wait(
        self,
        ids: str | Iterable[str],
        timeout: float | None = None,
        interval: float = 1.0,
        on_update: Callable[[list[dict[str, Any]]], Any] | None = None,
    ) -> list[dict[str, Any]]:
        return self._call(self._async.wait, ids, timeout, interval, on_update)
