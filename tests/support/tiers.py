"""The suite's two tiers, decided by one rule: a test that starts a process is end to end (`e2e`).

The default tier (`pytest -m "not e2e"`) is the contract tests: flags, formats and exit codes on
the fake core (tests/cli/fakes.py), in-process code, shared servers. Everything that starts a
process (a `canfar local serve` of its own, `canfar` or bash as a real process, a job on the
in-process platform, whose supervisor is a process) is `e2e`.

How a test gets the mark (tests/conftest.py applies it at collection):
- by itself: the test function, or a function-scoped fixture it uses, refers (directly or through
  helpers defined under tests/) to `subprocess`; so `local_server`, `serve_local`, `run_canfar`,
  `bash_complete`, `start_signin_platform`, … mark the tests that use them;
- by hand, `@pytest.mark.e2e` (or a module's `pytestmark`), where the process is started by the
  code under test (a create on `--server local` starts the platform's supervisor);
- `@pytest.mark.e2e(long=True)`: also a long run, started first so that it overlaps the rest.

The rule is checked while the tests run (`ProcessWatch`): a test not marked e2e that starts a
process fails, naming the process, so no test can land in the wrong tier. Fixtures of a wider
scope (a server shared by a module or a worker) start theirs inside `shared_processes()`.
"""

from __future__ import annotations

import contextlib
import subprocess
import types
from collections.abc import Callable, Iterator
from typing import Any

# What starts a process. Everything in tests/ that reaches one of these starts processes too.
_STARTERS: tuple[object, ...] = (
    subprocess,
    subprocess.Popen,
    subprocess.run,
    subprocess.call,
    subprocess.check_call,
    subprocess.check_output,
)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _is_test_helper(value: object) -> bool:
    return isinstance(value, types.FunctionType) and value.__module__.split(".")[0] == "tests"


def starts_processes(function: Callable[..., Any], _seen: set[int] | None = None) -> bool:
    """Whether `function` refers to a process starter, itself or through functions of tests/
    it names (names are looked up in its module, nested functions and lambdas included)."""
    seen = _seen if _seen is not None else set()
    function = getattr(function, "__wrapped__", function)
    code = getattr(function, "__code__", None)
    if code is None or id(code) in seen:
        return False
    seen.add(id(code))
    names = getattr(function, "__globals__", {})
    for block in _code_objects(code):
        for name in block.co_names:
            value = names.get(name)
            if value is None:
                continue
            if any(value is starter for starter in _STARTERS):
                return True
            if _is_test_helper(value) and starts_processes(value, seen):
                return True
    return False


class ProcessWatch:
    """Records the processes a test starts (every subprocess.Popen goes through it)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.watching = False
        self._shared = 0
        self._original = subprocess.Popen.__init__

    def install(self) -> None:
        original = self._original
        watch = self
        self._watch_the_in_process_platform()

        def watched_init(popen: Any, args: Any, *rest: Any, **options: Any) -> None:
            if watch.watching and not watch._shared:
                words = [args] if isinstance(args, (str, bytes)) else list(args)
                watch.started.append(" ".join(str(word) for word in words[:5]))
            original(popen, args, *rest, **options)

        subprocess.Popen.__init__ = watched_init  # type: ignore[method-assign,assignment]

    def _watch_the_in_process_platform(self) -> None:
        """A headless create on `--server local` wakes the platform's supervisor, a process; it
        is started only if none runs for that state folder yet (and the in-process starter waits
        a second between two starts), so the wake itself is what counts: the tier of a test must
        not depend on timing."""
        from canfar_cli.local import control

        wake = control.wake_supervisor
        watch = self

        async def watched_wake(*args: Any, **kwargs: Any) -> None:
            if watch.watching and not watch._shared:
                watch.started.append("the in-process platform's supervisor")
            await wake(*args, **kwargs)

        control.wake_supervisor = watched_wake

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        self._shared += 1
        try:
            yield
        finally:
            self._shared -= 1


WATCH = ProcessWatch()


def shared_processes() -> contextlib.AbstractContextManager[None]:
    """Processes started inside belong to a fixture shared by many tests, not to the test that
    happens to set it up: they do not make that test e2e."""
    return WATCH.shared()
