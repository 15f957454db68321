"""AsyncSession: the library API over skaha v1 (its blocking twin `Session` is in blocking.py).

Every batch method has an `*_each` form that returns one `Outcome` per input, in input order, with
the server's reason for each failure; the seed methods (`create`, `info`, `logs`, `destroy`, ...)
are built on them. Everything goes through `canfar_cli.http.HttpClient`, which bounds the requests
in flight, retries what may be retried and turns failures into `canfar_cli.errors`. The watching
methods (`wait`, `follow_logs`, `follow_events`, `watch_sessions`) look every `poll_interval`
seconds (the setting, unless given).

This module never writes to a terminal: `logs(verbose=True)` and `events(verbose=True)` hand the
texts to `canfar_cli.output.print_texts`, the terminal writer.

Each name is imported from the module that defines it: `Session` (blocking.py), `Outcome`,
`BatchError`, `WaitTimeoutError` (outcomes.py), `CreateRequest`, `CreateSpec`, `PlannedRequest`
(create_request.py), `resolve_server` (servers.py); `canfar_cli` gives the two session classes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import httpx

from canfar_cli import models
from canfar_cli.config import Settings
from canfar_cli.create_request import (
    FORM_TYPE,
    CreateRequest,
    CreateSpec,
    Limits,
    PlannedRequest,
    parse_limits,
    plan_requests,
)
from canfar_cli.errors import (
    CanfarError,
    NotFoundError,
    ServerError,
    SessionStateError,
    UnreachableError,
    UsageError,
)
from canfar_cli.http import HttpClient, RetryPolicy, log_at_least, public_url
from canfar_cli.outcomes import CreateInterrupted, Outcome, WaitTimeoutError, settle
from canfar_cli.servers import SERVER_URL_HINT, library_settings, resolve_server

__all__ = ["AsyncSession"]

T = TypeVar("T")

# Seconds the requests of a create in flight may take to answer after an interruption.
CREATE_GRACE = 5.0
# How far the server's clock may lag ours when a session's start is compared with a batch's.
CLOCK_SLACK_SECONDS = 5.0
# A session id: what skaha makes (8 lower-case letters and digits; longer ones are accepted).
_CREATED_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}\Z")


class _NotLaunched(Exception):
    """A create's POST that was not sent because the batch was interrupted."""


@dataclasses.dataclass
class _LaunchGate:
    """Which POSTs of a create batch went out, and whether to send more (not after Ctrl-C)."""

    stopping: bool = False
    launched: set[str] = dataclasses.field(default_factory=set)

    def before_send(self, session_name: str) -> None:
        if self.stopping:
            raise _NotLaunched
        self.launched.add(session_name)


def _not_sent(name: str, launched: bool) -> CanfarError:
    if launched:
        return UnreachableError(
            f"{name}: interrupted before the server answered; the session may exist",
            hint="look with `canfar ps`",
            maybe_done=True,
        )
    return CanfarError(f"{name}: not sent (interrupted)")


def _interrupted(
    names: list[str], results: Mapping[str, Outcome[str]], launched: set[str]
) -> CreateInterrupted:
    """A create batch cut short: every replica's outcome (made, refused, or not sent)."""
    outcomes = [results.get(n) or Outcome(n, error=_not_sent(n, n in launched)) for n in names]
    return CreateInterrupted(outcomes, unsure=sum(1 for n in launched if n not in results))


def _maybe_done(error: CanfarError | None) -> bool:
    return isinstance(error, UnreachableError) and error.maybe_done


def _created_id(session_name: str, response: httpx.Response) -> str:
    """The id in a create's answer: it must look like one (never an HTML page or a word)."""
    session_id = response.text.strip()
    if not _CREATED_ID.match(session_id):
        shown = ascii(response.text[:80]) if response.text.strip() else "nothing"
        raise ServerError(
            f"the server answered the create of {session_name} without a session id: {shown}",
            status=response.status_code,
            reason=response.text[:200],
            hint="the session may exist: look with `canfar ps`; " + SERVER_URL_HINT,
        )
    return session_id


def _event_key(event: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """An event's identity while followed: everything but the time it was last seen."""
    return tuple(sorted((key, str(value)) for key, value in event.items() if key != "last_time"))


class AsyncSession:
    """Sessions on a skaha v1 server, asynchronously. Use as `async with AsyncSession() as s:`.

    Arguments left out come from the configuration (flag > environment > config file > default,
    see canfar_cli.config): `server` is a base URL (with or without a trailing /v1) or "local" for
    the in-process local platform; `token` a bearer token; `certificate` a PEM with certificate and
    key. `concurrency` bounds the requests in flight across everything this object does;
    `poll_interval` is the seconds between two looks while waiting or following.
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
        poll_interval: float | None = None,
        platform: str | None = None,
    ) -> None:
        settings = library_settings(
            type(self).__name__,
            settings,
            server=server,
            token=token,
            certificate=certificate,
            timeout=timeout,
            concurrency=concurrency,
            platform=platform,
            poll_interval=poll_interval,
        )
        self.settings = settings
        log_at_least(loglevel)
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

    def _interval(self, interval: float | None) -> float:
        return self.settings.poll_interval if interval is None else interval

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the object can still be used: it opens new ones)."""
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
        try:
            body: Any = response.json()
        except ValueError:
            raise ServerError(
                f"the server's answer to GET {self._http.url(path)} is not JSON",
                status=response.status_code,
                reason=response.text[:200],
                hint=SERVER_URL_HINT,
            ) from None
        if expect is list:
            shaped = isinstance(body, list) and all(isinstance(item, dict) for item in body)
        else:
            shaped = isinstance(body, expect)
        if not shaped:
            wanted = "an array of objects" if expect is list else "an object"
            raise ServerError(
                f"the server's answer to GET {self._http.url(path)} is JSON but not {wanted}",
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
            raise self._no_api("GET", path, exc) from None

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
        # A record whose id is not text is no session anyone could name: left out.
        return {s["id"]: s for s in sessions if isinstance(s.get("id"), str)}

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

    def check_create(
        self,
        name: str | None,
        image: str,
        cores: int | float | None = 2,
        ram: int | float | None = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> CreateSpec:
        """Every refusal of a create, without sending anything: the checked create, to send
        with `create_checked` (or lay out with `plan_checked`). Takes the arguments of `create`;
        `name` may be None, to name the create later (`CreateSpec.named(name)`)."""
        return CreateRequest(
            name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
        ).check()

    def plan_create(
        self,
        name: str | None,
        image: str,
        cores: int | float | None = 2,
        ram: int | float | None = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[PlannedRequest]:
        """The POSTs a create would send, checked, without sending anything (for --dry-run).

        Takes the arguments of `create`; the registry credentials show as "<hidden>"."""
        return self.plan_checked(
            self.check_create(
                name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
            )
        )

    def plan_checked(self, spec: CreateSpec) -> list[PlannedRequest]:
        """The POSTs a checked and named create would send (`check_create`), sending nothing."""
        return plan_requests(spec, self._http.url("session"), self._http.headers)

    async def create_each(
        self,
        name: str | None,
        image: str,
        cores: int | float | None = 2,
        ram: int | float | None = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[Outcome[str]]:
        """Create the sessions; one Outcome per replica (key: the name sent, value: the new id).

        Takes the arguments of `create`."""
        return await self.create_checked(
            self.check_create(
                name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
            )
        )

    async def create_checked(self, spec: CreateSpec) -> list[Outcome[str]]:
        """Create the sessions of a checked and named create (`check_create`); one Outcome per
        replica, as `create_each`. Every replica's POST at once (bounded by the HTTP layer).
        Two things are never lost:

        - an id made before an interruption: on cancellation (Ctrl-C) no further POST is sent,
          those in flight get `_grace()` seconds to answer, and CreateInterrupted carries every
          outcome;
        - a session made by a POST that got no answer: one listing afterwards finds it by name
          (started after the batch began, and not one of this batch's ids), reported as created
          with a note, or the error says that none was made."""
        plans = self.plan_checked(spec)
        by_name = {plan.name: plan for plan in plans}
        names = list(by_name)
        began = datetime.now(timezone.utc)
        results: dict[str, Outcome[str]] = {}
        gate = _LaunchGate()
        launched = gate.launched
        bugs: list[BaseException] = []

        async def send(session_name: str) -> str:
            plan = by_name[session_name]
            response = await self._http.request(
                plan.method,
                plan.path,
                content=plan.body,
                headers={"Content-Type": FORM_TYPE, **plan.secret_headers},
                before_send=functools.partial(gate.before_send, session_name),
            )
            return _created_id(session_name, response)

        async def one(session_name: str) -> None:
            try:
                outcome = await self._create_outcome(session_name, send)
            except Exception as exc:  # a bug: re-raised below
                bugs.append(exc)
                return
            if outcome is not None:
                results[session_name] = outcome

        batch = anyio.CancelScope(shield=True)
        finished = anyio.Event()

        async def run_batch() -> None:
            with batch:
                async with anyio.create_task_group() as group:
                    for session_name in names:
                        group.start_soon(one, session_name)
            finished.set()

        try:
            async with anyio.create_task_group() as host:
                host.start_soon(run_batch)
                try:
                    await finished.wait()
                except anyio.get_cancelled_exc_class():
                    # Stop launching at once; let what is in flight answer for a short while.
                    gate.stopping = True
                    batch.deadline = anyio.current_time() + self._grace()
                    raise
        except anyio.get_cancelled_exc_class():
            if not launched:
                raise
            raise _interrupted(names, results, launched) from None
        if bugs:
            raise bugs[0]
        outcomes = [dataclasses.replace(results[n]) for n in names]
        return await self._look_for_unanswered(outcomes, began)

    async def _create_outcome(
        self, session_name: str, send: Callable[[str], Awaitable[str]]
    ) -> Outcome[str] | None:
        """What became of one replica's POST; None when it was never sent (interrupted first).
        Anything but a CanfarError is a bug, and raised."""
        try:
            return Outcome(session_name, value=await send(session_name))
        except _NotLaunched:
            return None
        except NotFoundError as exc:
            # The collection always exists on skaha: a 404 means no skaha API at this URL
            # (the same rule, and exit code, as a listing's 404).
            return Outcome(session_name, error=self._no_api("POST", "session", exc))
        except CanfarError as exc:
            return Outcome(session_name, error=exc)

    def _grace(self) -> float:
        """Seconds the requests in flight may take to answer after an interruption."""
        return min(self._http.timeout, CREATE_GRACE)

    def _no_api(self, method: str, path: str, exc: ServerError) -> ServerError:
        """A 404 where a skaha server always answers (a collection, a create): the base URL
        points at no skaha API. Exit 1 with the server-URL hint, never "not found" (exit 4)."""
        return ServerError(
            f"no skaha API at {self.base_url} ({method} {self._http.url(path)}: HTTP 404"
            + (f" {exc.reason})" if exc.reason else ")"),
            status=exc.status,
            reason=exc.reason,
            hint=SERVER_URL_HINT,
        )

    async def _look_for_unanswered(
        self, outcomes: list[Outcome[str]], began: datetime
    ) -> list[Outcome[str]]:
        """The outcomes, with each create that got no answer settled by one listing: its
        session found (by name, started since the batch began, not an id of this batch) is a
        success with a note; none found is an error saying no session was made. No listing
        when every create was answered."""
        if not any(_maybe_done(o.error) for o in outcomes):
            return outcomes
        try:
            sessions = await self.fetch()
        except CanfarError:
            return outcomes  # cannot look: the errors keep saying the session may exist
        ours = {o.value for o in outcomes if o.ok}
        slack = timedelta(seconds=CLOCK_SLACK_SECONDS)
        found: dict[str, list[str]] = {}
        for record in sessions:
            session_id = record.get("id")
            if not isinstance(session_id, str) or session_id in ours:
                continue
            started = models.try_parse_time(record.get("startTime"))
            if started is not None and started < began - slack:
                continue
            found.setdefault(str(record.get("name", "")).lower(), []).append(session_id)
        settled: list[Outcome[str]] = []
        for outcome in outcomes:
            error = outcome.error
            if not _maybe_done(error):
                settled.append(outcome)
                continue
            assert error is not None
            candidates = found.get(outcome.key.lower(), [])
            if candidates:
                session_id = candidates.pop(0)
                settled.append(
                    Outcome(
                        outcome.key,
                        value=session_id,
                        note=f"{outcome.key}: the server did not answer the create"
                        f" ({error.message}), but session {session_id} was made: found in the"
                        " listing",
                    )
                )
            else:
                settled.append(
                    Outcome(
                        outcome.key,
                        error=UnreachableError(
                            f"{error.message}; no session {outcome.key} was made (none in the"
                            " listing)",
                            hint="it is safe to create it again",
                        ),
                    )
                )
        return settled

    async def create(
        self,
        name: str | None,
        image: str,
        cores: int | float | None = 2,
        ram: int | float | None = 4,
        kind: str = "headless",
        gpu: int | None = None,
        cmd: str | None = None,
        args: str | Sequence[str] | None = None,
        env: Mapping[str, Any] | None = None,
        replicas: int = 1,
        registry_auth: str | tuple[str, str] | None = None,
    ) -> list[str]:
        """Create sessions; their ids in replica order.

        `name`, `image`; `cores` and `ram` (GiB, default 2 and 4); `kind` (default "headless");
        `gpu`; for headless sessions `cmd`, `args` and `env`; `replicas` (named name-1 ...
        name-N, each headless container getting REPLICA_ID and REPLICA_COUNT); `registry_auth`
        ("user:secret" for a private image). See canfar_cli.create_request.CreateRequest.
        Raises BatchError (with every outcome, ids included) when only some were created."""
        outcomes = await self.create_checked(
            self.check_create(
                name, image, cores, ram, kind, gpu, cmd, args, env, replicas, registry_auth
            )
        )
        return settle(outcomes, "sessions were not created")

    # --- ids or names, one request per id -------------------------------------------------

    async def _named(
        self,
        tokens: str | Iterable[str],
        work: Callable[[str, dict[str, Any] | None], Awaitable[T]],
        *,
        all_named: bool = False,
        listed: Mapping[str, dict[str, Any]] | None = None,
        unknown: Callable[[CanfarError], bool] | None = None,
        names: bool = True,
    ) -> list[Outcome[T]]:
        """`work(id, record)` for each token, a token being a session id or a session's name.

        Each token of the form of skaha's ids is worked on as an id at once (its record None):
        ids cost nothing more than the work itself. Other tokens, and those whose work
        found no such session (`unknown(error)`, by default a NotFoundError), are looked up in
        one listing for the whole batch, as names (ignoring case, as the server lowers them),
        and worked on with the record found. A name of several sessions stands for all of them
        with all_named=True, else it is a UsageError: raised before anything is done when the
        listing was read first (a token not of an id's form), else that token's outcome.
        `listed`: a listing already read (a large batch), used as the first look instead.
        Outcomes in the tokens' order, keyed by session id (by the token when it names none).

        names=False: every token is an id; the listing is still read once when one is unknown,
        for a 404 of every id may mean the URL has no skaha API (then that is the error, exit
        1, rather than "not found")."""
        is_unknown = unknown or (lambda error: isinstance(error, NotFoundError))
        items = [tokens] if isinstance(tokens, str) else list(tokens)
        distinct = list(dict.fromkeys(items))
        if names and listed is None and not all(models.looks_like_skaha_id(t) for t in distinct):
            listed = await self._listing()  # a name: one listing serves the whole batch
        if listed is not None:
            return await self._named_from(listed, distinct, work, all_named)
        first = await self._each(distinct, lambda token: work(token, None))
        missing = [o.key for o in first if o.error is not None and is_unknown(o.error)]
        if not missing:
            return first
        listing = await self._listing()  # raises "no skaha API" when it 404s too
        if not names:
            return first
        by_token = {o.key: [o] for o in first}
        await self._retry_as_names(listing, missing, by_token, work, all_named)
        return _flatten(distinct, by_token)

    async def _named_from(
        self,
        listed: Mapping[str, dict[str, Any]],
        distinct: list[str],
        work: Callable[[str, dict[str, Any] | None], Awaitable[T]],
        all_named: bool,
    ) -> list[Outcome[T]]:
        """`_named` with the listing read first: names resolved before anything is done."""
        by_name = _names_of(listed)
        direct: list[str] = []
        named: dict[str, list[str]] = {}
        for token in distinct:
            ids = [] if token in listed else _matches(by_name, token)
            if not ids:
                # Neither listed nor named: an id (asked of the server), or refused as not
                # one before anything is done (exit 2).
                direct.append(models.check_id(token))
            elif len(ids) > 1 and not all_named:
                raise _ambiguous(token, ids)
            else:
                named[token] = ids
                direct.extend(i for i in ids if i not in direct)
        done = {o.key: o for o in await self._each(direct, lambda i: work(i, listed.get(i)))}
        by_token = {t: [done[i] for i in named[t]] if t in named else [done[t]] for t in distinct}
        return _flatten(distinct, by_token)

    async def _retry_as_names(
        self,
        listing: Mapping[str, dict[str, Any]],
        missing: list[str],
        by_token: dict[str, list[Outcome[T]]],
        work: Callable[[str, dict[str, Any] | None], Awaitable[T]],
        all_named: bool,
    ) -> None:
        """The tokens that named no session as ids, looked for as names in the listing: the
        work done for the sessions they name (their outcomes put in `by_token`)."""
        by_name = _names_of(listing)
        named: dict[str, list[str]] = {}
        for token in missing:
            ids = _matches(by_name, token)
            if len(ids) > 1 and not all_named:
                by_token[token] = [Outcome(token, error=_ambiguous(token, ids))]
            elif ids:
                named[token] = ids
        # Each session once: one named by a token that was its id too is not done again.
        again = [i for ids in named.values() for i in ids if i not in by_token]
        redone = {o.key: o for o in await self._each(again, lambda i: work(i, listing[i]))}
        for token, ids in named.items():
            by_token[token] = [redone[i] if i in redone else by_token[i][0] for i in ids]

    # --- reading ----------------------------------------------------------------------------

    async def resolve_ids(self, tokens: str | Iterable[str], all_named: bool = False) -> list[str]:
        """Session ids for ids or names, in order, each once: a token that is an id stays; one
        that is no id but the name of exactly one session (names ignore case, as the server
        lowers them) becomes its id; several sessions of that name is a UsageError listing
        their ids; anything else stays as it is (reported as not found later). One listing for
        the whole batch. all_named=True: a name of several sessions stands for all of them.

        A few tokens (no more than one round of requests) are first tried as ids, one GET each,
        so naming sessions by id never costs a listing of thousands; the listing is read only
        when one of them is no id (it may be a name), or for a large batch."""
        items = [tokens] if isinstance(tokens, str) else list(tokens)
        distinct = list(dict.fromkeys(items))
        if not all_named and len(distinct) <= self._http.concurrency:
            found = await self._each(distinct, self._is_session)
            if all(outcome.ok and outcome.value for outcome in found):
                return distinct
        listing = await self._listing()
        by_name: dict[str, list[str]] = {}
        for session_id, record in listing.items():
            by_name.setdefault(str(record.get("name", "")).lower(), []).append(session_id)
        resolved: list[str] = []
        for token in items:
            if token not in listing:
                matches = by_name.get(str(token).lower(), [])
                if len(matches) > 1 and all_named:
                    resolved.extend(matches)
                    continue
                if len(matches) > 1:
                    raise UsageError(
                        f"{len(matches)} sessions are named {token!r}: {', '.join(matches)}",
                        hint=f"use an id; to remove them all: `canfar rm --all-named {token}`"
                        f" or `canfar rm --name '{token}'`",
                    )
                if matches:
                    token = matches[0]
            resolved.append(token)
        return list(dict.fromkeys(resolved))

    async def _is_session(self, token: str) -> bool:
        """Whether `token` is the id of one of the caller's sessions (False for what cannot be
        an id, or an id the server does not know)."""
        try:
            session_id = models.check_id(token)
            await self._get(f"session/{session_id}")
        except (UsageError, NotFoundError):
            return False
        return True

    async def exit_codes(self, ids: Iterable[str]) -> dict[str, int | None]:
        """Each session's exit code where its events give it (None otherwise, or unreadable)."""

        async def one(session_id: str) -> int | None:
            return models.exit_code_of(models.parse_events(await self.events_text(session_id)))

        outcomes = await self._each(models.check_ids(list(ids)), one)
        return {o.key: o.value if o.ok else None for o in outcomes}

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
        sessions: list[dict[str, Any]] = await self._get_collection("session", params)
        if status is not None:
            sessions = models.select_sessions(sessions, statuses=[status])
        return sessions

    async def info_each(
        self, ids: str | Iterable[str], *, names: bool = False, all_named: bool = False
    ) -> list[Outcome[dict[str, Any]]]:
        """Each session's object, one GET each. A batch larger than one round of requests is
        answered from one listing (the same objects, one request instead of hundreds, and far
        cheaper for the server); ids the listing lacks are still asked one by one, so each gets
        the server's own answer (its 404 text, or a session created since the listing).

        names=True: a token may also be a session's name; a name costs one listing for the
        whole batch (see `resolve_ids` for the rules; all_named as there)."""
        tokens = _tokens(ids) if names else models.check_ids(ids)
        listed: Mapping[str, dict[str, Any]] | None = None
        if len(set(tokens)) > self._http.concurrency:
            listed = await self._listing()

        async def one(session_id: str, record: dict[str, Any] | None) -> dict[str, Any]:
            return record if record is not None else await self._record(session_id)

        if names:
            return await self._named(tokens, one, listed=listed, all_named=all_named)
        return await self._each(tokens, lambda i: one(i, listed.get(i) if listed else None))

    async def _record(self, session_id: str) -> dict[str, Any]:
        """GET session/ID: the session's object, which must be that session."""
        record: dict[str, Any] = await self._get_json(f"session/{session_id}")
        if record.get("id") != session_id:
            raise ServerError(
                f"the server's answer to GET {self._http.url(f'session/{session_id}')} is not"
                " that session",
                status=200,
                reason=str(record)[:200],
                hint=SERVER_URL_HINT,
            )
        return record

    async def info(self, ids: str | Iterable[str]) -> list[dict[str, Any]]:
        """The session objects, in the order of the ids."""
        return settle(await self.info_each(ids), "sessions could not be read")

    async def logs_each(self, ids: str | Iterable[str]) -> list[Outcome[str]]:
        """Each session's log text exactly as the server sends it. The server answers 200 with
        nothing for an unknown id, so each session is looked up too (see `read_logs_each`)."""
        return [_second(o) for o in await self.read_logs_each(ids)]

    async def read_logs_each(
        self, ids: str | Iterable[str], *, names: bool = False
    ) -> list[Outcome[tuple[dict[str, Any], str]]]:
        """Each session's object and log text: the fewest requests the API allows. The server
        answers a log of an unknown id with 200 and nothing, so each session is looked up too
        (two requests each), the look-up and the log sent at once (one round, not two): the log
        of an id the look-up does not find is dropped. A batch larger than one round reads one
        listing at the same time as the logs (no round is spent on it before the first log);
        only the ids it lacks are looked up, as soon as it is read. A look-up that 404s is
        confirmed by the listing: when that 404s too, the URL has no skaha API (exit 1), the id
        is not "unknown". names=True as in `info_each`."""
        tokens = _tokens(ids) if names else models.check_ids(ids)
        distinct = list(dict.fromkeys(tokens))
        texts: dict[str, Outcome[str]] = {}
        looked_up: dict[str, Outcome[dict[str, Any]]] = {}
        listed: dict[str, dict[str, Any]] | None = None
        if len(distinct) > self._http.concurrency and all(models.is_id(t) for t in distinct):
            listed, texts, looked_up = await self._logs_beside_listing(distinct)

        async def one(session_id: str, record: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
            read = texts.get(session_id)
            if record is None and session_id in looked_up:
                record = _value_of(looked_up[session_id])
            if record is None:
                if read is None:
                    return await self._record_and_log(session_id)
                record = await self._record(session_id)
            if read is None:
                return record, await self._log_text(session_id)
            return record, _value_of(read)

        return await self._named(distinct, one, listed=listed, names=names)

    async def _record_and_log(self, session_id: str) -> tuple[dict[str, Any], str]:
        """GET session/ID and its log, both in flight at once; the look-up's error first (an
        unknown id's log is the server's empty 200, dropped)."""
        text = ""
        record: dict[str, Any] = {}
        failures: list[Exception] = []  # the look-up's first: it says more than the log's

        async def read() -> None:
            nonlocal text
            try:
                text = await self._log_text(session_id)
            except Exception as exc:
                failures.append(exc)

        # Nothing is raised inside the group: it would cancel the log and come out wrapped.
        async with anyio.create_task_group() as group:
            group.start_soon(read)
            try:
                record = await self._record(session_id)
            except Exception as exc:
                failures.insert(0, exc)
        if failures:
            raise failures[0]
        return record, text

    async def _logs_beside_listing(
        self, ids: list[str]
    ) -> tuple[
        dict[str, dict[str, Any]], dict[str, Outcome[str]], dict[str, Outcome[dict[str, Any]]]
    ]:
        """Every id's log, with the listing read at the same time and each id it lacks looked up
        as soon as it is read: the listing, the logs and the look-ups (by id). The listing's
        error (if any) is raised after the logs."""
        listing: dict[str, dict[str, Any]] = {}
        looked_up: dict[str, Outcome[dict[str, Any]]] = {}
        failure: list[CanfarError] = []

        async def read() -> None:
            try:
                listing.update(await self._listing())
            except CanfarError as exc:
                failure.append(exc)
                return
            unlisted = [i for i in ids if i not in listing]
            looked_up.update((o.key, o) for o in await self._each(unlisted, self._record))

        async with anyio.create_task_group() as group:
            group.start_soon(read)
            done = await self._each(ids, self._log_text)
        if failure:
            raise failure[0]
        return listing, {o.key: o for o in done}, looked_up

    async def logs(self, ids: str | Iterable[str], verbose: bool = False) -> dict[str, str] | None:
        """{id: log text}; with verbose=True the logs go to stdout instead (through
        canfar_cli.output.print_texts, byte for byte, headed `==> id <==` when several)."""
        outcomes = await self.logs_each(ids)
        texts = dict(
            zip([o.key for o in outcomes], settle(outcomes, "logs could not be read"), strict=True)
        )
        if not verbose:
            return texts
        from canfar_cli.output import print_texts

        print_texts(texts)
        return None

    async def events_text(self, id: str) -> str:
        """The server's events table for one session, as sent."""
        session_id = models.check_id(id)
        return (await self._get(f"session/{session_id}", {"view": "events"})).text

    async def events_each(
        self, ids: str | Iterable[str], *, names: bool = False
    ) -> list[Outcome[list[dict[str, Any]]]]:
        """Each session's events, parsed (see `events`); one Outcome per id, one GET each.
        names=True as in `info_each`."""

        async def one(session_id: str, _record: dict[str, Any] | None = None) -> Any:
            return models.parse_events(await self.events_text(session_id))

        if not names:
            return await self._each(models.check_ids(ids), one)
        return await self._named(_tokens(ids), one)

    async def connect_urls_each(
        self, ids: str | Iterable[str], *, names: bool = False
    ) -> list[Outcome[str]]:
        """Each session's connectURL (see `connect_url`): one GET each; names=True as in
        `info_each`."""

        async def one(session_id: str, record: dict[str, Any] | None = None) -> str:
            if record is None:
                record = await self._get_json(f"session/{session_id}")
            return _connect_url(record)

        if not names:
            return await self._each(models.check_ids(ids), one)
        return await self._named(_tokens(ids), one)

    async def events(
        self, ids: str | Iterable[str], verbose: bool = False
    ) -> list[dict[str, Any]] | None:
        """[{"id": id, "events": [event, ...]}, ...] in the order of the ids (each event: type,
        reason, message, first_time, last_time, or {"raw": line}); verbose=True writes the
        server's tables to stdout instead (through canfar_cli.output.print_texts)."""
        checked = models.check_ids(ids)
        if verbose:
            texts = settle(await self._each(checked, self.events_text), "events could not be read")
            from canfar_cli.output import print_texts

            print_texts(dict(zip(checked, texts, strict=True)))
            return None
        outcomes = await self.events_each(checked)
        parsed = settle(outcomes, "events could not be read")
        return [{"id": key, "events": events} for key, events in zip(checked, parsed, strict=True)]

    async def stats(self) -> dict[str, Any]:
        """The platform's cores and RAM: requested, available, and the per-session maxima."""
        stats: dict[str, Any] = await self._get_collection(
            "session", {"view": "stats"}, expect=dict
        )
        return stats

    async def context(self) -> dict[str, Any]:
        """The resource options the server accepts (cores, memoryGB, gpus, ...)."""
        context: dict[str, Any] = await self._get_collection("context", expect=dict)
        return context

    async def images(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The public images, optionally only those of one kind."""
        params = {"type": kind} if kind is not None else None
        images: list[dict[str, Any]] = await self._get_collection("image", params)
        return images

    async def image_kinds(self, kind: str | None = None) -> dict[str, list[str]]:
        """{image id: its kinds} of the public images (optionally of one kind)."""
        return {
            str(image["id"]): [str(t) for t in image.get("types") or []]
            for image in await self.images(kind)
            if isinstance(image.get("id"), str)
        }

    async def limits(self) -> Limits:
        """What one session may ask for (flexible and fixed sizes, GPUs, the interactive
        limit), parsed from `context()`."""
        return parse_limits(await self.context())

    async def connect_url(self, id: str) -> str:
        """The session's connectURL; SessionStateError when it is not Running or has no URL
        (a headless session), NotFoundError when unknown."""
        return _connect_url(await self._get_json(f"session/{models.check_id(id)}"))

    async def open(self, id: str) -> str:
        """Open the session's connectURL in the web browser (webbrowser); the URL."""
        url = await self.connect_url(id)
        import webbrowser

        webbrowser.open(url)
        return url

    # --- changing ---------------------------------------------------------------------------

    async def _delete_known(
        self, ids: list[str], known: Mapping[str, Any] | None
    ) -> list[Outcome[None]]:
        """DELETE each session: those in `known` at once, any other after a GET says it exists
        (the server answers 200 to a DELETE of an unknown id)."""

        async def one(session_id: str, record: dict[str, Any] | None) -> None:
            if record is None:
                await self._record(session_id)
            await self._http.request("DELETE", f"session/{session_id}")
            return None

        if known is not None:
            return await self._each(ids, lambda i: self._delete_listed(i, known))
        return await self._named(ids, one, names=False)

    async def _delete_listed(self, session_id: str, known: Mapping[str, Any]) -> None:
        if session_id not in known:
            raise self._not_found(session_id)
        await self._http.request("DELETE", f"session/{session_id}")

    async def destroy_each(
        self, ids: str | Iterable[str], *, known: Mapping[str, Any] | None = None
    ) -> list[Outcome[None]]:
        """Delete sessions. The server answers 200 even for an unknown id, so the sessions are
        looked up first (one GET each; one listing for a batch larger than one round): unknown
        ids get NotFoundError and are not sent. `known`: the sessions by id, already looked up
        (by `info_each`, say): only those are deleted, without another look."""
        checked = models.check_ids(ids)
        if known is None and len(set(checked)) > self._http.concurrency:
            known = await self._listing()
        return await self._delete_known(checked, known)

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

    async def renew_each(
        self, ids: str | Iterable[str], *, names: bool = False
    ) -> list[Outcome[None]]:
        """Push back the expiry of interactive sessions (the server's action=renew): one POST
        each. names=True as in `info_each` (the server answers a renew of an unknown id with
        400 "No active job", so that answer sends a token to the listing too)."""

        async def one(session_id: str, _record: dict[str, Any] | None) -> None:
            await self._http.request(
                "POST",
                f"session/{session_id}",
                content=urlencode({"action": "renew"}).encode("ascii"),
                headers={"Content-Type": FORM_TYPE},
            )
            return None

        if not names:
            return await self._each(models.check_ids(ids), lambda i: one(i, None))
        return await self._named(_tokens(ids), one, unknown=_no_such_session)

    async def renew(self, ids: str | Iterable[str]) -> dict[str, bool]:
        """{id: renewed?}. `renew_each` tells why an id was not renewed."""
        return {o.key: o.ok for o in await self.renew_each(ids)}

    # --- watching ---------------------------------------------------------------------------

    async def _status(self, session_id: str) -> str | None:
        """The session's status, or None when it is gone."""
        try:
            return str((await self._get_json(f"session/{session_id}")).get("status", ""))
        except NotFoundError:
            return None

    async def follow_logs(self, id: str, interval: float | None = None) -> AsyncIterator[str]:
        """Yield new log text as it appears, until the session has ended (Completed, Failed or
        gone). The log is read once more after the end is seen, so nothing is lost. Looks every
        `interval` seconds (default: the poll_interval setting)."""
        session_id = models.check_id(id)
        pause = self._interval(interval)
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
            await anyio.sleep(pause)
            status = await self._status(session_id)

    async def follow_events(
        self, id: str, interval: float | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the session's new events (a list per look, each event as in `events`; one seen
        before whose last_time changed counts as new) until the session has ended or is gone.
        The events are read once more after the end is seen. Looks every `interval` seconds
        (default: the poll_interval setting). NotFoundError when the session is unknown."""
        session_id = models.check_id(id)
        pause = self._interval(interval)
        seen: dict[tuple[tuple[str, str], ...], str] = {}
        ended = False
        while True:
            try:
                events = models.parse_events(await self.events_text(session_id))
            except NotFoundError:
                if seen:
                    return  # the session went away while followed
                raise
            status = await self._status(session_id)
            fresh = []
            for event in events:
                key = _event_key(event)
                if seen.get(key) != str(event.get("last_time")):
                    seen[key] = str(event.get("last_time"))
                    fresh.append(event)
            if fresh:
                yield fresh
            if ended:
                return
            ended = status is None or models.is_finished(status)
            if not ended:
                await anyio.sleep(pause)

    async def watch_sessions(
        self,
        kind: str | None = None,
        status: str | None = None,
        view: str | None = None,
        interval: float | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield `fetch(kind, status, view)` now and again every `interval` seconds (default:
        the poll_interval setting), until the caller stops iterating."""
        pause = self._interval(interval)
        while True:
            yield await self.fetch(kind, status, view)
            await anyio.sleep(pause)

    async def wait(
        self,
        ids: str | Iterable[str],
        timeout: float | None = None,
        interval: float | None = None,
        on_update: Callable[[list[dict[str, Any]]], Any] | None = None,
        until: str = "running",
    ) -> list[dict[str, Any]]:
        """Poll until every session is Running or has ended (until="running", the default), or
        until every one has ended (until="ended": Completed, Failed or gone); the last records,
        in id order.

        One listing per round, every `interval` seconds (default: the poll_interval setting);
        `on_update(records)` is called after each. A session that disappears while waited for
        (removed, or cleaned up) is no longer waited for: its record is the last one seen, with
        `"gone": True` added, so a caller can tell it from one that ended (it did not complete).
        Raises WaitTimeoutError after `timeout` seconds."""
        if until not in ("running", "ended"):
            raise UsageError(f"until must be 'running' or 'ended', not {until!r}")
        checked = models.check_ids(ids)
        interval = self._interval(interval)
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
                    last[session_id] = {**last[session_id], "gone": True}
                else:
                    raise self._not_found(session_id)
            records = [last[session_id] for session_id in checked]
            if on_update is not None:
                on_update(records)
            waiting = [
                record
                for session_id, record in zip(checked, records, strict=True)
                if session_id not in gone
                and (
                    until == "ended"
                    or models.normalize_status(str(record.get("status", ""))) != "Running"
                )
                and not models.is_finished(record.get("status"))
            ]
            if not waiting:
                return records
            now = anyio.current_time()
            if deadline is not None and now >= deadline:
                states = sorted({str(r.get("status")) for r in waiting})
                late = [str(r.get("id")) for r in waiting]
                shown = " ".join(late[:3]) + (" …" if len(late) > 3 else "")
                raise WaitTimeoutError(
                    f"timed out after {timeout:g} s: {len(waiting)} of {len(checked)} sessions"
                    f" still {', '.join(states)}",
                    hint=f"wait longer, or look at `canfar events {shown}` for why",
                )
            pause = interval if deadline is None else max(0.0, min(interval, deadline - now))
            await anyio.sleep(pause)


def _names_of(listing: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Session ids by lowered name."""
    by_name: dict[str, list[str]] = {}
    for session_id, record in listing.items():
        by_name.setdefault(str(record.get("name", "")).lower(), []).append(session_id)
    return by_name


def _matches(by_name: Mapping[str, list[str]], token: str) -> list[str]:
    return by_name.get(str(token).lower(), [])


def _ambiguous(token: str, ids: list[str]) -> UsageError:
    return UsageError(
        f"{len(ids)} sessions are named {token!r}: {', '.join(ids)}",
        hint=f"use an id; to remove them all: `canfar rm --all-named {token}`"
        f" or `canfar rm --name '{token}'`",
    )


def _flatten(tokens: list[str], by_token: Mapping[str, list[Outcome[T]]]) -> list[Outcome[T]]:
    """The outcomes in the tokens' order, each session once."""
    seen: set[str] = set()
    flat: list[Outcome[T]] = []
    for token in tokens:
        for outcome in by_token[token]:
            if outcome.key not in seen:
                seen.add(outcome.key)
                flat.append(outcome)
    return flat


def _tokens(ids: str | Iterable[str]) -> list[str]:
    return [ids] if isinstance(ids, str) else list(ids)


def _no_such_session(error: CanfarError) -> bool:
    """An answer that means "no session of yours has that id": a 404, or renew's 400."""
    if isinstance(error, NotFoundError):
        return True
    return (
        isinstance(error, ServerError)
        and error.status == 400
        and "No active job" in str(error.message)
    )


def _connect_url(record: Mapping[str, Any]) -> str:
    """A session's connectURL; SessionStateError when it is not Running or has no URL."""
    session_id = record.get("id", "?")
    status = models.normalize_status(str(record.get("status", "")))
    url = str(record.get("connectURL") or "")
    if status != "Running":
        raise SessionStateError(
            f"session {session_id} is {status or 'without a status'}, not Running",
            hint=f"`canfar open --wait {session_id}` waits until it runs",
        )
    if not url:
        raise SessionStateError(
            f"session {session_id} ({record.get('type', '?')}) has no URL to open",
            hint="only notebook, desktop, carta, firefly and contributed sessions have one",
        )
    return url


def _second(outcome: Outcome[tuple[dict[str, Any], str]]) -> Outcome[str]:
    """The outcome of a (record, text) read as that of its text."""
    text = outcome.value[1] if outcome.value is not None else None
    return Outcome(outcome.key, value=text, error=outcome.error, note=outcome.note)


def _value_of(outcome: Outcome[T]) -> T:
    """An outcome's value, or its error raised."""
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]  # an ok outcome holds its value
