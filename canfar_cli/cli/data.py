"""`canfar data …`: your files on the platform's storage (arc, vault), as thin adapters over
canfar_cli.storage.AsyncStorage.

Light at import (typer only): the storage core (httpx, anyio) is imported inside the commands,
and paths are checked with canfar_cli.storage.paths (no I/O) before any request is sent.

The commands live in data_list.py (ls, stat, du), data_files.py (cat, mkdir, rm, url) and
data_transfer.py (cp, sync, mv); their rendering helpers in data_present.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from canfar_cli.errors import CanfarError, ExitCode, UsageError

if TYPE_CHECKING:
    from canfar_cli.cli.state import CliState
    from canfar_cli.output import Output
    from canfar_cli.storage import AsyncStorage
    from canfar_cli.storage.paths import StoragePath

T = TypeVar("T")

DATA_HELP = """Your files on the platform's storage: arc (the /arc of every session) and vault.

\b
A remote path is SERVICE:PATH:
  arc:/home/USER/x  or  arc:~/x (your home)   vault:/USER/x
  ukCAM:~/x (an SRCNet platform's storage)    vos://AUTHORITY~NAME/PATH
A path without a service is a local file (local:/x is accepted too).

\b
Examples:
  canfar data cp fit.py arc:~/
  canfar data ls -l arc:~
  canfar data cp -r arc:~/results ./results
  canfar data sync ./inputs arc:~/inputs
  canfar --server local data cat arc:~/out.txt
"""

data_app = typer.Typer(help=DATA_HELP, no_args_is_help=True, rich_markup_mode=None)


def open_storage(state: CliState) -> AsyncStorage:
    """The storage core for one invocation, with the settings (server or platform, credential)
    the sessions use: the one place the command line chooses how storage signs in."""
    import logging

    from canfar_cli.storage import AsyncStorage

    level = logging.DEBUG if state.verbose else logging.WARNING
    return AsyncStorage(settings=state.settings(), loglevel=level)


def run_storage(state: CliState, work: Callable[[AsyncStorage], Awaitable[T]]) -> T:
    """Run `work(storage)` on one fresh AsyncStorage, in one event loop for this invocation."""
    storage = open_storage(state)

    async def main() -> T:
        async with storage:
            return await work(storage)

    return state.run_async(main)


def check_paths(texts: Sequence[str]) -> list[StoragePath]:
    """Every path parsed before anything is sent: `..`, NUL, an empty path are exit 2 here."""
    from canfar_cli.storage.paths import parse_path

    return [parse_path(text) for text in texts]


def check_remote(texts: Sequence[str], command: str) -> None:
    """A command that works on remote nodes only (ls, stat, rm, …): a local path is exit 2."""
    from canfar_cli.storage.paths import LocalPath

    for text, path in zip(texts, check_paths(texts), strict=True):
        if isinstance(path, LocalPath):
            raise UsageError(
                f"{text}: `canfar data {command}` needs a remote path, not a local file",
                hint="write SERVICE:PATH, e.g. arc:~/x or vault:/USER/x",
            )


def named(path: str, exc: CanfarError) -> str:
    """An error's line with the path it is about, once: the core's messages often start with
    the path already (as the server knows it: `arc:/home/me/x: …` for `arc:~/x`)."""
    head = exc.message.split(": ", 1)[0]
    if path in exc.message or (head != exc.message and (":" in head or "/" in head)):
        return exc.message
    return f"{path}: {exc.message}"


def report_error(out: Output, path: str, exc: CanfarError) -> None:
    out.error(named(path, exc), exc.hint)


def exit_for(failures: Sequence[CanfarError], asked: int) -> ExitCode:
    """The exit code of a per-path loop (ls, stat, du, mkdir), each failure reported already,
    by the batch rule of canfar_cli.outcomes: every path failed the same way → that code; some
    failed → 1 (or 3)."""
    from canfar_cli.outcomes import Outcome, batch_exit_code

    outcomes: list[Outcome[None]] = [Outcome(str(i), error=e) for i, e in enumerate(failures)]
    outcomes += [Outcome(f"ok{i}") for i in range(max(0, asked - len(failures)))]
    return batch_exit_code(outcomes)


def human_option(help: str = "Sizes as 1.5K, 23M, 4.0G.") -> Any:
    return typer.Option(False, "-h", "--human-readable", help=help)


# `-h` means human-readable sizes for ls and du (as in ls and du); help is `--help` there.
HELP_ONLY_LONG = {"help_option_names": ["--help"]}


def register(app: typer.Typer) -> None:
    from canfar_cli.cli import data_files, data_list, data_transfer

    data_list.register(data_app)
    data_files.register(data_app)
    data_transfer.register(data_app)
    app.add_typer(data_app, name="data")
