"""Session: the blocking twin of AsyncSession.

The same methods, arguments, results and docstrings: each method here is made from its async
original by `_blocking` (or `_blocking_iterator` for the async iterators, `_direct` for the few
plain methods), so the two cannot drift apart. The async implementation runs on an anyio blocking
portal in a thread of its own, so a Session also works where an event loop is already running in
the caller's thread (a Jupyter notebook).
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import httpx

from canfar_cli.config import Settings
from canfar_cli.http import RetryPolicy
from canfar_cli.session import AsyncSession

__all__ = ["BlockingTwin", "PortalHost", "Session", "blocking", "blocking_iterator", "direct"]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


async def _next(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class BlockingTwin(Protocol):
    """What `blocking` needs of a blocking twin (Session, and Storage in canfar_cli.storage):
    the async object it wraps, and the portal it runs on."""

    _async: Any

    def _portal(self) -> Any: ...


class _Runner:
    """The portal thread of a blocking twin and the async object living on it."""

    def __init__(self, session: _Closable) -> None:
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


def blocking(
    method: Callable[Concatenate[Any, P], Awaitable[T]], owner: str = "Session"
) -> Callable[Concatenate[BlockingTwin, P], T]:
    """The blocking twin of an async method: runs it on the twin's portal."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: BlockingTwin, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bound = getattr(self._async, name)
        return _interruptible(self._portal(), functools.partial(bound, *args, **kwargs))  # type: ignore[no-any-return]

    return _as_member(call, owner)


_blocking = blocking


class _Cancel:
    """The cancel scope of one call on the portal, cancellable before it exists (both sides
    run in the portal's thread, so no lock is needed)."""

    def __init__(self) -> None:
        self.scope: Any = None
        self.requested = False

    def cancel(self) -> None:
        self.requested = True
        if self.scope is not None:
            self.scope.cancel()


def _interruptible(portal: Any, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work()` on the portal. A KeyboardInterrupt in the caller's thread cancels it there
    (nothing goes on in the background) and waits for it to end: what it raised on the way out
    (CreateInterrupted with the ids made) is raised here; otherwise the KeyboardInterrupt."""
    import anyio

    handle = _Cancel()

    async def run() -> tuple[bool, Any]:
        with anyio.CancelScope() as scope:
            handle.scope = scope
            if handle.requested:
                scope.cancel()
            return True, await work()
        return False, None

    future = portal.start_task_soon(run)
    try:
        done, value = future.result()
    except KeyboardInterrupt as interrupt:
        portal.call(handle.cancel)
        try:
            done, value = future.result()
        except Exception as exc:
            raise exc from interrupt
        if not done:
            raise
    if not done:  # cancelled from elsewhere (the portal closed)
        raise KeyboardInterrupt
    return value  # type: ignore[no-any-return]


def _as_member(call: F, owner: str = "Session") -> F:
    # functools.wraps copied the async method's names: say where this one lives.
    call.__module__ = __name__ if owner == "Session" else "canfar_cli.storage.blocking"
    call.__qualname__ = f"{owner}.{call.__name__}"
    return call


def blocking_iterator(
    method: Callable[Concatenate[Any, P], AsyncIterator[T]], owner: str = "Session"
) -> Callable[Concatenate[BlockingTwin, P], Iterator[T]]:
    """The blocking twin of an async iterator method: a plain iterator over the same items."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: BlockingTwin, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        portal = self._portal()
        iterator = getattr(self._async, name)(*args, **kwargs)
        try:
            while True:
                try:
                    yield portal.call(_next, iterator)
                except StopAsyncIteration:
                    return
        finally:
            portal.call(iterator.aclose)

    signature = inspect.signature(method)
    returns = str(signature.return_annotation).replace("AsyncIterator", "Iterator")
    call.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    return _as_member(call, owner)


_blocking_iterator = blocking_iterator


def direct(
    method: Callable[Concatenate[Any, P], T], owner: str = "Session"
) -> Callable[Concatenate[BlockingTwin, P], T]:
    """A method that does no I/O (plan_create): called as it is."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: BlockingTwin, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return getattr(self._async, name)(*args, **kwargs)  # type: ignore[no-any-return]

    return _as_member(call, owner)


_direct = direct


class PortalHost:
    """The portal thread of a blocking twin: started on first use, stopped by `close()` (or with
    the object, or at interpreter exit). Subclasses set `self._async` before any call."""

    _async: Any

    def __init__(self) -> None:
        self._runner: _Runner | None = None
        self._finalizer: weakref.finalize[[_Runner], PortalHost] | None = None
        # One runner per object whatever the threads calling it: the first call of each of
        # several racing threads must not start a portal of its own.
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connections and stop the portal thread (a new one starts if used again)."""
        with self._lock:
            finalizer, self._finalizer = self._finalizer, None
            self._runner = None
            if finalizer is not None:
                finalizer()

    def _portal(self) -> Any:
        with self._lock:
            if self._runner is None:
                self._runner = _Runner(self._async)
                # Closed with the object, or at interpreter exit, if the caller forgets.
                self._finalizer = weakref.finalize(self, _close_runner, self._runner)
            return self._runner.portal


class Session(PortalHost):
    """The blocking twin of AsyncSession: the same methods, arguments and results.

    Use as `with Session() as s:`, or keep one around and `close()` it. The async implementation
    runs on a blocking portal in a thread of its own (started on first use), so this also works
    inside a running event loop, as in Jupyter. The arguments are those of AsyncSession."""

    _async: AsyncSession

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
            poll_interval=poll_interval,
            platform=platform,
        )
        super().__init__()

    def __repr__(self) -> str:
        return (
            f"Session(server={self._async.base_url!r}, concurrency={self._async._http.concurrency})"
        )

    @property
    def settings(self) -> Settings:
        """The settings in use (see canfar_cli.config.Settings)."""
        return self._async.settings

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. https://ws-uv.canfar.net/skaha/v1 (never with credentials)."""
        return self._async.base_url

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    check_create = _direct(AsyncSession.check_create)
    plan_create = _direct(AsyncSession.plan_create)
    plan_checked = _direct(AsyncSession.plan_checked)
    create_each = _blocking(AsyncSession.create_each)
    create_checked = _blocking(AsyncSession.create_checked)
    create = _blocking(AsyncSession.create)
    fetch = _blocking(AsyncSession.fetch)
    resolve_ids = _blocking(AsyncSession.resolve_ids)
    exit_codes = _blocking(AsyncSession.exit_codes)
    info_each = _blocking(AsyncSession.info_each)
    info = _blocking(AsyncSession.info)
    logs_each = _blocking(AsyncSession.logs_each)
    read_logs_each = _blocking(AsyncSession.read_logs_each)
    logs = _blocking(AsyncSession.logs)
    events_text = _blocking(AsyncSession.events_text)
    events_each = _blocking(AsyncSession.events_each)
    events = _blocking(AsyncSession.events)
    stats = _blocking(AsyncSession.stats)
    context = _blocking(AsyncSession.context)
    images = _blocking(AsyncSession.images)
    image_kinds = _blocking(AsyncSession.image_kinds)
    limits = _blocking(AsyncSession.limits)
    connect_url = _blocking(AsyncSession.connect_url)
    connect_urls_each = _blocking(AsyncSession.connect_urls_each)
    open = _blocking(AsyncSession.open)
    destroy_each = _blocking(AsyncSession.destroy_each)
    destroy = _blocking(AsyncSession.destroy)
    destroy_with = _blocking(AsyncSession.destroy_with)
    renew_each = _blocking(AsyncSession.renew_each)
    renew = _blocking(AsyncSession.renew)
    wait = _blocking(AsyncSession.wait)
    follow_logs = _blocking_iterator(AsyncSession.follow_logs)
    follow_events = _blocking_iterator(AsyncSession.follow_events)
    watch_sessions = _blocking_iterator(AsyncSession.watch_sessions)
