"""Storage: the blocking twin of AsyncStorage, made method by method with canfar_cli.blocking's
machinery (the async core runs on a portal thread, so it also works inside Jupyter's loop).

`open` is the one method built by hand: it hands back a plain file object (read/iterate or
write) whose calls run on the portal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

from canfar_cli.blocking import PortalHost, blocking, blocking_iterator
from canfar_cli.storage.core import AsyncStorage

if TYPE_CHECKING:
    import httpx

    from canfar_cli.config import Settings
    from canfar_cli.http import RetryPolicy

__all__ = ["BlockingReader", "BlockingWriter", "Storage"]

_OWNER = "Storage"


class Storage(PortalHost):
    """The blocking twin of AsyncStorage: the same methods, arguments and results.

    Use as `with Storage() as s:`, or keep one and `close()` it. The arguments are those of
    AsyncStorage."""

    def __init__(
        self,
        server: str | None = None,
        *,
        token: str | None = None,
        certificate: str | None = None,
        platform: str | None = None,
        concurrency: int | None = None,
        timeout: float | None = None,
        settings: Settings | None = None,
        user: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        loglevel: int = logging.WARNING,
    ) -> None:
        self._async = AsyncStorage(
            server,
            token=token,
            certificate=certificate,
            platform=platform,
            concurrency=concurrency,
            timeout=timeout,
            settings=settings,
            user=user,
            retry=retry,
            transport=transport,
            loglevel=loglevel,
        )
        super().__init__()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Storage({self._async!r})"

    @overload
    def open(self, path: str | Any, mode: Literal["rb"] = "rb") -> BlockingReader: ...

    @overload
    def open(self, path: str | Any, mode: Literal["wb"]) -> BlockingWriter: ...

    def open(
        self, path: str | Any, mode: Literal["rb", "wb"] = "rb"
    ) -> BlockingReader | BlockingWriter:
        """A remote file as a plain file object (use it in a `with` block): "rb" → read(n),
        iteration over chunks; "wb" → write(data), the upload ends at close(). See
        AsyncStorage.open."""
        portal = self._portal()
        # The async context runs in one task of its own on the portal (its task group and
        # cancel scopes must be entered and left by the same task).
        manager = portal.wrap_async_context_manager(self._async.open(path, mode))
        handle = manager.__enter__()
        if mode == "rb":
            return BlockingReader(portal, manager, handle)
        return BlockingWriter(portal, manager, handle)

    services = blocking(AsyncStorage.services, _OWNER)
    user = blocking(AsyncStorage.user, _OWNER)
    resolve = blocking(AsyncStorage.resolve, _OWNER)
    ls = blocking(AsyncStorage.ls, _OWNER)
    walk = blocking_iterator(AsyncStorage.walk, _OWNER)
    stat = blocking(AsyncStorage.stat, _OWNER)
    exists = blocking(AsyncStorage.exists, _OWNER)
    usage = blocking(AsyncStorage.usage, _OWNER)
    get = blocking(AsyncStorage.get, _OWNER)
    put = blocking(AsyncStorage.put, _OWNER)
    copy = blocking(AsyncStorage.copy, _OWNER)
    sync = blocking(AsyncStorage.sync, _OWNER)
    move = blocking(AsyncStorage.move, _OWNER)
    remove = blocking(AsyncStorage.remove, _OWNER)
    mkdir = blocking(AsyncStorage.mkdir, _OWNER)
    url = blocking(AsyncStorage.url, _OWNER)


class _BlockingHandle:
    def __init__(self, portal: Any, manager: Any, handle: Any) -> None:
        self._portal = portal
        self._manager = manager
        self._handle = handle
        self.closed = False

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._finish(exc_type, exc, tb)

    def close(self) -> None:
        self._finish(None, None, None)

    def _finish(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.closed:
            self.closed = True
            self._manager.__exit__(exc_type, exc, tb)


class BlockingReader(_BlockingHandle):
    """A remote file open for reading (see AsyncStorage.open)."""

    def read(self, n: int = -1) -> bytes:
        return self._portal.call(self._handle.read, n)  # type: ignore[no-any-return]

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(1 << 20)
            if not chunk:
                return
            yield chunk


class BlockingWriter(_BlockingHandle):
    """A remote file open for writing (see AsyncStorage.open)."""

    def write(self, data: bytes) -> int:
        return self._portal.call(self._handle.write, data)  # type: ignore[no-any-return]

    def writable(self) -> bool:
        return True
