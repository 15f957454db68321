"""What became of each item of a batch, and how a batch's results become one answer.

Light on purpose (no httpx, no anyio): the command line imports it to turn a batch's outcomes into
its exit code with the same rule the library uses for `BatchError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from canfar_cli.errors import CanfarError, ExitCode

T = TypeVar("T")

__all__ = [
    "BatchError",
    "CreateInterrupted",
    "Outcome",
    "WaitTimeoutError",
    "batch_exit_code",
    "settle",
]


@dataclass
class Outcome(Generic[T]):
    """What became of one item of a batch: its value, or the error with the server's reason."""

    key: str
    value: T | None = None
    error: CanfarError | None = None
    # Something the caller should know about a success (e.g. a create the server did not
    # answer, whose session was then found in the listing).
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def batch_exit_code(outcomes: Sequence[Outcome[Any]]) -> ExitCode:
    """The exit code of a batch: 0 when every item succeeded; the items' own code when every item
    failed with the same one (4 when none was found, 5 when the server was down); 3 when
    credentials gave out part-way; 1 otherwise."""
    failed = [outcome.error for outcome in outcomes if outcome.error is not None]
    if not failed:
        return ExitCode.OK
    codes = {ExitCode(error.exit_code) for error in failed}
    if len(failed) == len(outcomes) and len(codes) == 1:
        return codes.pop()
    if ExitCode.AUTH in codes:
        # Credentials gave out part-way (a sign-in revoked): the fix is to sign in again.
        return ExitCode.AUTH
    return ExitCode.FAILED


class BatchError(CanfarError):
    """Some items of a batch failed. `outcomes` holds every item's result, the good ones too, so
    nothing (e.g. the id of a session that was created) is lost. Its exit code follows
    `batch_exit_code`."""

    def __init__(
        self, message: str, *, outcomes: Sequence[Outcome[Any]], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.outcomes = list(outcomes)
        code = batch_exit_code(self.outcomes)
        self.exit_code = code if code != ExitCode.OK else ExitCode.FAILED


class CreateInterrupted(BatchError, KeyboardInterrupt):
    """A create batch was interrupted (Ctrl-C, a cancelled task): no new request was sent after
    it, the requests in flight were given a short grace to answer, and `outcomes` says what
    became of each replica; `ids` are the sessions that were made. `unsure` counts the
    requests that were cut off without an answer (their sessions may exist).

    Also a KeyboardInterrupt, so code written before it existed (`except KeyboardInterrupt:`
    around a create) still catches Ctrl-C, while `except CreateInterrupted:` gets the ids."""

    def __init__(self, outcomes: Sequence[Outcome[Any]], *, unsure: int = 0) -> None:
        made = [str(o.value) for o in outcomes if o.ok]
        text = f"interrupted: {len(made)} of {len(outcomes)} sessions were created"
        if unsure:
            text += f" ({unsure} more may have been: look with `canfar ps`)"
        super().__init__(
            text,
            outcomes=outcomes,
            hint=f"remove them with `canfar rm -f {' '.join(made)}`" if made else None,
        )
        self.exit_code = ExitCode.INTERRUPTED
        self.unsure = unsure

    @property
    def ids(self) -> list[str]:
        return [str(o.value) for o in self.outcomes if o.ok]


class WaitTimeoutError(CanfarError):
    """`wait` gave up before every session was Running or had ended."""


def settle(outcomes: list[Outcome[T]], failed_what: str) -> list[T]:
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
