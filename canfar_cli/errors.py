"""One exception hierarchy for the whole program.

Every error a user can meet is a `CanfarError`: it carries the one line to show, an optional hint
(what to do about it), and the exit code from the table in the README. The CLI turns any of them
into `message` (+ hint) on stderr and `exit_code`; the library raises them as they are.
Messages never contain credentials: callers build them from URLs and server text only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the server refused or the work failed (4xx, partial batch, job Failed)
    USAGE = 2  # bad flags or input refused before anything was sent
    AUTH = 3  # credentials missing, rejected or expired (401/403)
    NOT_FOUND = 4  # every id asked for is unknown
    UNREACHABLE = 5  # connection, timeout, 5xx after retries
    INTERRUPTED = 130


# The exit-code table, written once: a short word for `canfar --help` and the meaning the README's
# table gives (tests/cli/test_exit_codes.py keeps both in step with this).
EXIT_CODES: dict[ExitCode, tuple[str, str]] = {
    ExitCode.OK: ("done", "everything asked for was done"),
    ExitCode.FAILED: (
        "refused or failed",
        "the server refused or the work failed: a 4xx other than below, a partial batch, a job"
        " that ended Failed under `--wait`/`--follow`",
    ),
    ExitCode.USAGE: ("usage", "usage: bad flags or input refused before anything was sent"),
    ExitCode.AUTH: ("credentials", "credentials missing, rejected or expired (401/403)"),
    ExitCode.NOT_FOUND: ("not found", "not found: every id asked for is unknown"),
    ExitCode.UNREACHABLE: (
        "server unreachable",
        "the server could not be reached or kept failing: connection, timeout, 5xx after retries",
    ),
    ExitCode.INTERRUPTED: ("interrupted", "interrupted (Ctrl-C)"),
}


def exit_code_summary() -> str:
    """`0 done, 1 refused or failed, …, 130 interrupted.` (for `--help`)."""
    return ", ".join(f"{int(code)} {word}" for code, (word, _) in EXIT_CODES.items()) + "."


def exit_code_table() -> str:
    """The README's table of exit codes, in Markdown."""
    rows = [f"| {int(code)} | {meaning} |" for code, (_, meaning) in EXIT_CODES.items()]
    return "\n".join(["| code | meaning |", "| --- | --- |", *rows])


class CanfarError(Exception):
    """Base class: a one-line message, an optional hint, and an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UsageError(CanfarError):
    """Input refused before anything was sent: a bad name, env value, flag or setting."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A setting (flag, environment variable or config file) that cannot be used."""


class ServerError(CanfarError):
    """The server answered with a refusal. `status` is the HTTP status, `reason` its text."""

    exit_code = ExitCode.FAILED

    def __init__(
        self, message: str, *, status: int, reason: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


class AuthError(ServerError):
    """401/403, or no credentials at all where the server needs them."""

    exit_code = ExitCode.AUTH


class NotFoundError(ServerError):
    """The session (or every one of the sessions) asked for does not exist."""

    exit_code = ExitCode.NOT_FOUND


class UnreachableError(CanfarError):
    """The server could not be reached, timed out, or kept answering 5xx after retries.
    `maybe_done`: a request that is not safe to repeat went out and got no answer (or a
    gateway's), so it may still have done its work."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, message: str, *, hint: str | None = None, maybe_done: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.maybe_done = maybe_done


class JobFailedError(CanfarError):
    """A session ended Failed while the user waited for it (`--wait`, `logs --follow`)."""

    exit_code = ExitCode.FAILED


class SessionStateError(CanfarError):
    """The session is not in a state for what was asked (not Running, no URL to open)."""

    exit_code = ExitCode.FAILED


class CredentialError(CanfarError):
    """A stored or given credential that cannot be used (expired, unreadable, refused at sign-in,
    a token that cannot be refreshed): nothing was sent with it. The hint names the fix."""

    exit_code = ExitCode.AUTH


class ReportedError(CanfarError):
    """The command has already said what went wrong (each failed item's own line on stderr):
    the program ends with `exit_code` and shows nothing more. A command whose outcome is an
    exit code returns its ExitCode instead; this is for where it cannot return (deep inside
    its work, as after printing the ids a Ctrl-C left)."""

    def __init__(self, exit_code: ExitCode) -> None:
        super().__init__(f"exit {int(exit_code)} (reported already)")
        self.exit_code = exit_code


# Exit code for "the reader of our stdout went away" (`canfar ps | head -1`), as a shell reports
# a program killed by SIGPIPE.
BROKEN_PIPE_EXIT = 141


class Failure:
    """How the program ends on an exception: its exit code and the line (if any) to show.
    `is_error` lines are shown as `error: …` (+ `hint: …`), the others as they are; `internal`
    says it is a bug (a traceback is worth showing under --verbose)."""

    __slots__ = ("code", "hint", "internal", "is_error", "message")

    def __init__(
        self,
        code: int,
        message: str | None,
        hint: str | None = None,
        *,
        is_error: bool = True,
        internal: bool = False,
    ) -> None:
        self.code = code
        self.message = message
        self.hint = hint
        self.is_error = is_error
        self.internal = internal

    def __repr__(self) -> str:
        return f"Failure({self.code}, {self.message!r}, {self.hint!r}, is_error={self.is_error})"


def failure_of(exc: BaseException) -> Failure:
    """The one translation of an exception into an exit code and a message, used wherever the
    command line stops on one (the command wrapper, the app's entry point, the start-up)."""
    if isinstance(exc, ReportedError):
        return Failure(int(exc.exit_code), None)
    if isinstance(exc, CanfarError):
        return Failure(int(exc.exit_code), exc.message, exc.hint)
    if isinstance(exc, (KeyboardInterrupt, EOFError)):
        return Failure(int(ExitCode.INTERRUPTED), "interrupted", is_error=False)
    if isinstance(exc, BrokenPipeError):
        return Failure(BROKEN_PIPE_EXIT, None)  # nobody is reading: nothing to say
    return Failure(
        int(ExitCode.FAILED),
        f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose for details)",
        internal=True,
    )
