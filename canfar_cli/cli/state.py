"""What every command gets from the global options: the flags, the terminal, one way to the core.

The settings are resolved only when a command first needs the server, so `canfar config …` works
even while a setting elsewhere is broken. The core (httpx, anyio) is imported inside `run`, never
at module import, which keeps `canfar --help` and TAB completion fast.

A CliState can be handed in (`CliRunner().invoke(app, args, obj=CliState(out=…,
session_factory=…))`): the root callback takes the global flags from the command line and keeps
the given terminal (`out`: streams and TTY flags) and session factory, so tests pass a fake
terminal or core instead of patching module globals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

import typer

from canfar_cli.cli.entry import work_begins
from canfar_cli.output import Output

if TYPE_CHECKING:
    from canfar_cli.config import Settings
    from canfar_cli.session import AsyncSession

T = TypeVar("T")


class SessionFactory(Protocol):
    """Makes the core for one invocation: `AsyncSession(settings=…, loglevel=…)` by default."""

    def __call__(
        self, *, settings: Settings, loglevel: int
    ) -> AbstractAsyncContextManager[AsyncSession]: ...


@dataclass
class CliState:
    server: str | None = None
    token_file: str | None = None
    certificate: str | None = None
    timeout: float | None = None
    concurrency: int | None = None
    platform: str | None = None
    verbose: bool = False
    no_color: bool = False
    out: Output = field(default_factory=Output)
    # None: canfar_cli.session.AsyncSession, imported when a command first needs the server.
    session_factory: SessionFactory | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from canfar_cli.auth.servers import choose_server
            from canfar_cli.config import load_settings

            settings = load_settings(
                server=self.server,
                token_file=self.token_file,
                certificate=self.certificate,
                timeout=self.timeout,
                concurrency=self.concurrency,
                platform=self.platform,
            )
            # The sign-in state is read here (once) when no server is named, and handed down.
            self._settings = choose_server(settings)
            self.show_notices()
        return self._settings

    def show_notices(self) -> None:
        """Notices the sign-in code gathered (an official config.yaml it could not read, a
        credential file's mode it tightened)."""
        import sys

        guard = sys.modules.get("canfar_cli.auth.guard")
        if guard is not None:
            for text in guard.take_notices():
                self.out.warning(text)

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work(session)` on one fresh AsyncSession, in one event loop for this invocation."""
        import logging

        factory = self.session_factory
        if factory is None:
            from canfar_cli.session import AsyncSession

            factory = AsyncSession
        settings = self.settings()
        level = logging.DEBUG if self.verbose else logging.WARNING

        async def main() -> T:
            async with factory(settings=settings, loglevel=level) as session:
                return await work(session)

        return self.run_async(main)

    def run_async(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run `main()` in one event loop for this invocation (the sessions' core, or the
        storage's: `canfar data`), with one answer for an interrupt and for task groups."""
        import anyio

        async def begun() -> T:
            work_begins()  # the core and the event loop are loaded by now
            return await main()

        try:
            return anyio.run(begun)
        except BaseException as exc:
            inner = unwrap_group(exc)
            if _is_cancellation(inner):
                # Python 3.10: Ctrl-C cancels the main task and anyio.run ends with
                # CancelledError instead of KeyboardInterrupt (3.11+ raises the latter).
                raise KeyboardInterrupt from None
            if inner is exc:
                raise
            raise inner from None
        finally:
            self.show_notices()  # e.g. a credential file's mode tightened while choosing it


def _is_cancellation(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, asyncio.CancelledError)


def unwrap_group(exc: BaseException) -> BaseException:
    """The error inside an exception group (task groups wrap what their tasks raise), so the
    user sees the one real reason; the first leaf when there are several."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, (list, tuple)) or not inner:
            return exc
        exc = inner[0]


def state_of(ctx: typer.Context) -> CliState:
    """The CliState the root callback stored (a default one when a command runs on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def attach_verbose_logging(ctx: typer.Context) -> None:
    """--verbose: the core's request log on stderr (the core never logs a credential).

    The handler is removed when the invocation ends, so in-process runs do not pile them up."""
    import logging

    handler = logging.StreamHandler(state_of(ctx).out.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("canfar_cli")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def detach() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    ctx.call_on_close(detach)
