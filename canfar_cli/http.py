"""The wire: one httpx client per session object, the in-flight bound, retries and error mapping.

Everything that touches httpx's client lives here; the connection pools under it are in
transports.py. `HttpClient.request` is the one door every request of the core goes through, so the
concurrency bound, the retry policy, the request log and the translation of failures into
`canfar_cli.errors` hold for every method and every batch size alike.

Retries: GET and DELETE are idempotent on skaha (a DELETE of a gone session answers 200), so they
are retried on connection errors, timeouts, dropped connections and 502/503/504. A POST creates a
session, so it is retried only when it provably never reached the server (the connection was never
made, or the pool never handed one out): a retry must never make a second session.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import anyio
import httpx

from canfar_cli.config import check_token
from canfar_cli.errors import (
    AuthError,
    CanfarError,
    ConfigError,
    NotFoundError,
    ServerError,
    UnreachableError,
)
from canfar_cli.transports import pooled_transport, proxy_configured
from canfar_cli.wire import (
    HIDDEN,
    USER_AGENT,
    describe,
    public_url,
    redact_headers,
    retry_after_seconds,
    tls_hint,
    tls_verification_failed,
)

log = logging.getLogger("canfar_cli.http")


def log_at_least(level: int) -> None:
    """Make the request log at least this verbose (a library's `loglevel`); a more verbose
    level the application set stays."""
    if log.level == logging.NOTSET or log.level > level:
        log.setLevel(level)


__all__ = [
    "HIDDEN",
    "Body",
    "HttpClient",
    "Refusal",
    "RetryPolicy",
    "public_url",
    "redact_headers",
    "retry_after_seconds",
]

RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})
# Transport failures worth another try: the network, a timeout, a connection closed mid-way.
# (Not e.g. UnsupportedProtocol or LocalProtocolError: trying again cannot help those.)
RETRY_FAILURES = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)
# A request sent whose answer did not come within the timeout (not a connection never made).
ANSWER_TIMEOUTS = (httpx.ReadTimeout, httpx.WriteTimeout)

MAYBE_DONE_HINT = (
    "the request may still have reached the server: look with `canfar ps` before trying again"
)
AUTH_HINT = (
    "check your credentials: a token (CANFAR_TOKEN or --token-file) or a current proxy certificate"
    " (--cert, CANFAR_CERTIFICATE or ~/.ssl/cadcproxy.pem; renew it with `canfar login cadc`)"
)


# A request body: bytes, or a factory of a fresh async iterable of chunks for each attempt (so a
# retried upload sends its body again from the start, streamed, never held in memory).
Body = bytes | Callable[[], AsyncIterable[bytes]] | None
# A caller's own translation of a refused response (method, URL as shown, response with its body
# read, retries so far) into an error; None lets the client's own rules answer.
Refusal = Callable[[str, str, httpx.Response, int], "CanfarError | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `attempts` counts the first try; the backoff doubles from `backoff` up to
    `max_backoff` with full jitter; a server's Retry-After is honoured up to `retry_after_cap`."""

    attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 4.0
    retry_after_cap: float = 10.0

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if response is not None:
            advised = retry_after_seconds(response.headers.get("retry-after"))
            if advised is not None:
                return min(advised, self.retry_after_cap)
        ceiling = min(self.max_backoff, self.backoff * (2.0 ** (retry - 1)))
        # Full jitter, with a floor so a burst of retries never lands all at once on a sick server.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _check_certificate(certificate: str) -> None:
    _load_certificate(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), certificate)


def _ssl_context(certificate: str | None, ca_bundle: str | None = None) -> ssl.SSLContext:
    context = (
        ssl.create_default_context(cafile=ca_bundle) if ca_bundle else httpx.create_ssl_context()
    )
    if certificate is not None:
        _load_certificate(context, certificate)
    return context


def _load_certificate(context: ssl.SSLContext, certificate: str) -> None:
    try:
        context.load_cert_chain(certificate)
    except (OSError, ssl.SSLError) as exc:
        reason = (
            getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
        )
        raise ConfigError(
            f"certificate {certificate} cannot be used: {reason}",
            hint="it must be a PEM file holding both the certificate and its key",
        ) from None


class HttpClient:
    """One httpx.AsyncClient, one in-flight bound, one retry policy, one request log."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        certificate: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        stacked_connections: bool | None = None,
        ca_bundle: str | None = None,
        refresh_token: Callable[[str], str] | None = None,
        tls: bool | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Whether to build the TLS context: None → when the base URL is https. A client that
        # sends to absolute URLs of several hosts (storage) says True.
        self._tls = tls
        self._refusal_hook = refusal
        self._ca_bundle = ca_bundle
        # A stored SRCNet token: on a 401, renewed once (blocking call, run in a thread).
        self._refresh_token = refresh_token
        self._refresh_lock: anyio.Lock | None = None
        # None: the CANFAR_SHARDED_POOLS environment variable decides (on unless "0").
        self.stacked_connections = stacked_connections
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {check_token(token, 'the token given')}"
        self._headers = headers
        self._transport = transport
        self._certificate = certificate
        if certificate is not None and transport is None:
            _check_certificate(certificate)  # a bad file is a usage error now, not mid-batch
        # Built on first use, in the event loop that uses it (Session's portal thread), and
        # again after aclose(), so a closed session object can be used again.
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._client: httpx.AsyncClient | None = None
        self._sender: httpx.AsyncBaseTransport | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        # The event loop the client and the bound belong to: a script may run the same session
        # object under `asyncio.run` twice, and the second loop must not reuse the first's.
        self._loop: object | None = None
        self._own_sockets: tuple[bool, ssl.SSLContext | None] = (False, None)

    def _build(self) -> httpx.AsyncClient:
        transport = self._transport
        # One TLS context for every pool (loading the CA bundle takes a while); none is needed
        # for plain http (the local platform on loopback), so none is loaded then.
        wants_tls = self.base_url.startswith("https:") if self._tls is None else self._tls
        needs_tls = wants_tls and transport is None
        verify: ssl.SSLContext | bool = (
            _ssl_context(self._certificate, self._ca_bundle) if needs_tls else False
        )
        # A body may be read on a socket of its own (storage's big downloads) only where the
        # pools would open one themselves: no transport given (the in-process platform has no
        # socket) and no proxy to go through; with the pools' own TLS context.
        self._own_sockets = (
            transport is None and not proxy_configured(),
            verify if isinstance(verify, ssl.SSLContext) else None,
        )
        if transport is None:
            transport = pooled_transport(self.concurrency, verify, stacked=self.stacked_connections)
        # None: httpx builds its own (a proxy is configured), and requests go through the client.
        self._sender = transport
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    def own_socket(self, url: str) -> tuple[ssl.SSLContext | None, float] | None:
        """(TLS context, timeout) for reading `url`'s answer on a blocking socket of its own,
        as the pools would open it; None when the pools open none (an in-process transport, a
        proxy), or an https URL has no TLS context here. Call once a request was made."""
        usable, context = self._own_sockets
        if not usable or (url.startswith("https:") and context is None):
            return None
        return (context if url.startswith("https:") else None), self.timeout

    def __repr__(self) -> str:
        return f"HttpClient({public_url(self.base_url)!r}, concurrency={self.concurrency})"

    @property
    def headers(self) -> dict[str, str]:
        """The headers this client sets on every request, credentials hidden."""
        return redact_headers(self._headers)

    def url(self, path: str) -> str:
        return public_url(f"{self.base_url}/{path.lstrip('/')}")

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self._limiter = None
        self._refresh_lock = None
        same_loop = self._loop is _current_loop()
        self._loop = None
        if client is not None and same_loop:
            await client.aclose()

    def _client_here(self) -> httpx.AsyncClient:
        """The client of the running event loop: built on first use, and built again when the
        loop changed (its connections belong to the old loop, which may be closed by now)."""
        loop = _current_loop()
        if self._client is None or self._loop is not loop:
            # The old loop's client is dropped, not closed: closing needs that loop.
            self._client = self._build()
            self._limiter = None
            self._refresh_lock = None
            self._loop = loop
        return self._client

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """One of the `concurrency` slots for one request. Held on behalf of the request, not
        of the task, so that one task may hold two (a remote-to-remote copy reads a body while
        it sends it)."""
        limiter = self._bound()
        borrower = object()
        await limiter.acquire_on_behalf_of(borrower)
        try:
            yield
        finally:
            limiter.release_on_behalf_of(borrower)

    def _bound(self) -> anyio.CapacityLimiter:
        # Made on first use, inside the event loop that will use it.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    async def _renewed(self, request: httpx.Request) -> str:
        """A new Authorization header after the server refused the token (one renewal at a
        time; a request that finds it already renewed takes the new one)."""
        assert self._refresh_token is not None
        if self._refresh_lock is None:
            self._refresh_lock = anyio.Lock()
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        async with self._refresh_lock:
            current = self._headers.get("Authorization", "").removeprefix("Bearer ")
            if current == sent:
                token = await anyio.to_thread.run_sync(self._refresh_token, sent)
                current = check_token(token, "the renewed token")
                self._headers["Authorization"] = f"Bearer {current}"
                if self._client is not None:
                    self._client.headers["Authorization"] = f"Bearer {current}"
        return f"Bearer {current}"

    def _new_request(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        params: dict[str, str] | None,
        content: bytes | None,
        headers: dict[str, str] | None,
    ) -> httpx.Request:
        """The request as the client would build it (its headers, its timeout), made directly:
        the client's build_request merges URLs, parameters and cookies at about a tenth of a
        request's CPU, for nothing this API uses."""
        if path.startswith(("https://", "http://")):
            url = path  # another service's URL (storage), as the client would take it
        else:
            url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        merged = {**client.headers, **headers} if headers else client.headers
        return httpx.Request(
            method, url, headers=merged, content=content, extensions=self._extensions
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """Send one request, retried as its method allows: a 2xx response, or a CanfarError.

        `before_send()` is called each time a slot is held and the request is about to go out;
        what it raises stops the request there (nothing was sent)."""
        method = method.upper()
        client = self._client_here()
        request = self._new_request(client, method, path, params, content, headers)
        # The base URL never holds credentials (resolve_server refuses them): no re-parse needed.
        shown = str(request.url) if not request.url.userinfo else public_url(request.url)
        retries = 0
        timeouts = 0
        renewed = False
        started = time.perf_counter()
        while True:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s headers=%s", method, shown, redact_headers(request.headers))
            response: httpx.Response | None = None
            failure: httpx.HTTPError | None = None
            try:
                async with self._slot():
                    if before_send is not None:
                        before_send()
                    if self._sender is not None:
                        # Straight to the transport: the client's layers (auth and redirect
                        # flows, cookies, hooks) do nothing for this API, at a cost per request.
                        received = await self._sender.handle_async_request(request)
                        received.request = request
                    else:
                        received = await client.send(request)
                    await received.aread()
                response = received
            except httpx.HTTPError as exc:
                failure = exc
            elapsed = time.perf_counter() - started
            if (
                response is not None
                and response.status_code == 401
                and self._refresh_token is not None
                and not renewed
            ):
                renewed = True
                request.headers["Authorization"] = await self._renewed(request)
                continue
            if response is not None and response.status_code < 400:
                log.info(
                    "%s %s %d %.3fs retries=%d",
                    method,
                    shown,
                    response.status_code,
                    elapsed,
                    retries,
                )
                return response
            if isinstance(failure, ANSWER_TIMEOUTS):
                timeouts += 1
            # A server that let one whole --timeout pass without answering is tried once more,
            # not `attempts` times: against a silent server, `info ID --timeout 2` gives up
            # after two tries (about 4 s), not four (about 20 s).
            if (
                retries + 1 < self.retry.attempts
                and timeouts < 2
                and self._may_retry(method, response, failure)
            ):
                retries += 1
                await self._pause_before_retry(method, shown, response, failure, retries)
                continue
            status = response.status_code if response is not None else describe(failure)
            log.info("%s %s %s %.3fs retries=%d", method, shown, status, elapsed, retries)
            if response is not None:
                raise self._refused(method, shown, response, retries)
            assert failure is not None
            raise self._unreachable(method, shown, failure, retries)

    def _refused(
        self, method: str, shown: str, response: httpx.Response, retries: int
    ) -> CanfarError:
        if self._refusal_hook is not None:
            mine = self._refusal_hook(method, shown, response, retries)
            if mine is not None:
                return mine
        return self._refusal(method, shown, response, retries)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        content: Body = None,
        headers: dict[str, str] | None = None,
        shown: str | None = None,
        idempotent: bool | None = None,
        credentials: bool = True,
        ok: Callable[[httpx.Response], bool] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """One request whose response body is left to read (`aiter_bytes`) inside the block,
        with the same in-flight bound (held until the block ends), retries, 401 renewal,
        logging and error mapping as `request`; the retries cover getting the answer, not the
        reading of its body (the caller starts again when that breaks).

        `content` may be a factory of a fresh async iterable per attempt (a streamed upload);
        `shown` is the URL for logs and errors when the real one must not be shown (a
        pre-authorized one); `idempotent` overrides the method's rule (a whole-file PUT is);
        `credentials=False` sends no Authorization header (a pre-authorized URL needs none);
        `ok(response)` says which answers are not refusals (default: status < 400)."""
        method = method.upper()
        client = self._client_here()
        shown = shown or public_url(url)
        may_repeat = method in IDEMPOTENT if idempotent is None else idempotent
        accept = ok or (lambda r: r.status_code < 400)
        retries = 0
        renewed = False
        started = time.perf_counter()
        extra = dict(headers or {})
        while True:
            body = content() if callable(content) else content
            request = client.build_request(method, url, params=params, content=body, headers=extra)
            if not credentials:
                request.headers.pop("Authorization", None)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s headers=%s", method, shown, redact_headers(request.headers))
            response: httpx.Response | None = None
            failure: httpx.HTTPError | None = None
            async with self._slot():
                try:
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    failure = exc
                if response is not None and accept(response):
                    log.info(
                        "%s %s %d %.3fs retries=%d",
                        method,
                        shown,
                        response.status_code,
                        time.perf_counter() - started,
                        retries,
                    )
                    try:
                        yield response
                    finally:
                        await response.aclose()
                    return
                if response is not None:
                    try:
                        await response.aread()
                    except httpx.HTTPError as exc:
                        failure, response = exc, None
                    finally:
                        await response.aclose() if response is not None else None
            if (
                response is not None
                and response.status_code == 401
                and self._refresh_token is not None
                and credentials
                and not renewed
            ):
                renewed = True
                extra["Authorization"] = await self._renewed(request)
                continue
            repeatable = may_repeat or isinstance(
                failure, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
            )
            if retries + 1 < self.retry.attempts and self._may_retry(
                "GET" if repeatable else "POST", response, failure
            ):
                retries += 1
                await self._pause_before_retry(method, shown, response, failure, retries)
                continue
            elapsed = time.perf_counter() - started
            status = response.status_code if response is not None else describe(failure)
            log.info("%s %s %s %.3fs retries=%d", method, shown, status, elapsed, retries)
            if response is not None:
                raise self._refused(method, shown, response, retries)
            assert failure is not None
            raise self._unreachable(method, shown, failure, retries, idempotent=may_repeat)

    async def _pause_before_retry(
        self,
        method: str,
        shown: str,
        response: httpx.Response | None,
        failure: BaseException | None,
        retries: int,
    ) -> None:
        """Log the retry about to be made and wait its backoff (Retry-After honoured)."""
        wait = self.retry.delay(retries, response)
        what = response.status_code if response is not None else describe(failure)
        log.info("%s %s %s; retry %d in %.2fs", method, shown, what, retries, wait)
        await anyio.sleep(wait)

    @staticmethod
    def _may_retry(
        method: str, response: httpx.Response | None, failure: httpx.HTTPError | None
    ) -> bool:
        if tls_verification_failed(failure):
            return False  # the same certificate will not be trusted on the next try either
        if method in IDEMPOTENT:
            if response is not None:
                return response.status_code in RETRY_STATUSES
            return isinstance(failure, RETRY_FAILURES)
        # Not idempotent: only when the request provably never left this machine.
        return isinstance(failure, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))

    def _refusal(
        self, method: str, shown: str, response: httpx.Response, retries: int
    ) -> CanfarError:
        status = response.status_code
        reason = server_text(response)
        if "html" in response.headers.get("content-type", ""):
            # skaha's errors are text/plain: a web page means something else answered.
            if status in RETRY_STATUSES:
                # A gateway's own page: it is there, the skaha service behind it is not.
                return UnreachableError(
                    f"{method} {shown}: HTTP {status} from a gateway: the skaha service behind"
                    " it did not answer",
                    hint="the server is in trouble; try again later"
                    if method in IDEMPOTENT
                    else MAYBE_DONE_HINT,
                    maybe_done=method not in IDEMPOTENT and status != 503,
                )
            reason = f"HTTP {status} from a web page, not from the skaha API"
            hint = f"check the server URL ({self.base_url} should end in /skaha/v1)"
            if status >= 500:
                return UnreachableError(
                    f"{method} {shown}: {reason}",
                    hint=hint,
                    maybe_done=method not in IDEMPOTENT and status in (502, 504),
                )
            return ServerError(f"{method} {shown}: {reason}", status=status, hint=hint)
        if status >= 500:
            tried = f" after {retries + 1} attempts" if retries else ""
            return UnreachableError(
                f"{method} {shown} failed{tried}: {status} {reason}".rstrip(),
                hint="the server is in trouble; try again later"
                if method in IDEMPOTENT
                else MAYBE_DONE_HINT,
                maybe_done=method not in IDEMPOTENT and status in (502, 504),
            )
        message = reason or f"{method} {shown}: HTTP {status}"
        if status in (401, 403):
            return AuthError(message, status=status, reason=reason, hint=AUTH_HINT)
        if status == 400 and "anonymous" in reason:
            # skaha answers 400 "cannot get group memberships for anonymous" to no credentials.
            return AuthError(message, status=status, reason=reason, hint=AUTH_HINT)
        if status == 404:
            return NotFoundError(message, status=status, reason=reason)
        if "has reached the maximum of" in reason:
            return ServerError(
                message,
                status=status,
                reason=reason,
                hint="remove an interactive session first (`canfar ps`, then `canfar rm ID`);"
                " headless jobs are not limited",
            )
        return ServerError(message, status=status, reason=reason)

    def _unreachable(
        self,
        method: str,
        shown: str,
        failure: httpx.HTTPError,
        retries: int,
        *,
        idempotent: bool | None = None,
    ) -> UnreachableError:
        tried = f" after {retries + 1} attempts" if retries else ""
        if tls_verification_failed(failure):
            return UnreachableError(
                f"cannot reach {shown}: the server's certificate could not be verified",
                hint=tls_hint(self.base_url),
            )
        never_sent = isinstance(failure, (httpx.ConnectError, httpx.ConnectTimeout))
        repeatable = method in IDEMPOTENT if idempotent is None else idempotent
        if not repeatable and not never_sent:
            # Not retried, and it may have done its work: say so rather than invite a repeat.
            return UnreachableError(
                f"{method} {shown}: no answer ({describe(failure)})",
                hint=MAYBE_DONE_HINT,
                maybe_done=True,
            )
        if isinstance(failure, httpx.TimeoutException):
            return UnreachableError(
                f"{method} {shown} timed out{tried} ({self.timeout:g} s each)",
                hint="the server may be slow or down; raise --timeout or try again later",
            )
        if isinstance(failure, httpx.ConnectError) and _loopback(self.base_url):
            # Nothing listens on this machine's port: most likely a `canfar local serve` that
            # stopped, or started again on another port.
            return UnreachableError(
                f"cannot reach {shown}{tried}: {describe(failure)}",
                hint="is `canfar local serve` running? It prints its URL when it starts (a new"
                " port each time unless --port); or use --server local, with no server at all",
            )
        return UnreachableError(
            f"cannot reach {shown}{tried}: {describe(failure)}",
            hint="check the server URL (--server, CANFAR_URL) and your network;"
            " or try the local platform, no account or network needed: --server local",
        )


def _loopback(url: str) -> bool:
    """Whether `url` points at this machine (127.x, ::1, localhost)."""
    import ipaddress

    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _current_loop() -> object | None:
    """The running event loop (asyncio) or run (trio) as an object to compare by identity."""
    import sniffio

    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library != "asyncio":  # pragma: no cover - other backends: one client, as before
        return None
    import asyncio

    return asyncio.get_running_loop()


def server_text(response: httpx.Response) -> str:
    """The text the server sent with an error (skaha's errors are text/plain `message\\n`)."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        text = response.content.decode("utf-8", "replace")
    text = text.strip()
    if len(text) > 500:
        text = text[:500] + "..."
    return text
