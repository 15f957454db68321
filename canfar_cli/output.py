"""The only place that writes to the terminal.

stdout carries data only (tables, JSON, bare ids, raw log text); every message, hint, prompt and
progress display goes to stderr. Colour and live displays are used only when the stream is a
terminal and neither `--no-color`, `NO_COLOR` nor `TERM=dumb` says otherwise. Text that comes from
the server or from a job is never interpreted as markup: tables are laid out here as plain text,
and rich (imported lazily, only for live displays) is handed `Text` objects, never markup strings.

The streams are looked up at call time (not captured at import), so a test runner that swaps
`sys.stdout`/`sys.stderr` sees everything. An `Output` may also be given its own streams and its
own answer to "is this a terminal?" (`Output(stdout=…, stdout_tty=True)`), which is how tests
pass a terminal in (`CliRunner().invoke(app, args, obj=CliState(out=Output(…)))`) instead of
patching this module.

This module is the only writer of the program (besides the entry point's interrupt line, written
before anything is imported): ruff's T20 rule and tests/cli/test_writers.py keep it so.
"""

from __future__ import annotations

import itertools
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a help page prints here)
if TYPE_CHECKING:
    from typing import IO, Any, NoReturn

    from canfar_cli.errors import Failure

# ANSI styles used for tables and messages when colour is on (no rich needed for these).
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"

STATUS_COLOURS = {
    "Running": _GREEN,
    "Pending": _YELLOW,
    "Completed": _DIM,
    "Succeeded": _DIM,
    "Failed": _RED,
    "Error": _RED,
    "Terminating": _YELLOW,
}


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def color_allowed(stream: IO[Any], *, no_color: bool = False, tty: bool | None = None) -> bool:
    """Colour only on a terminal, and never under --no-color, NO_COLOR (any value) or TERM=dumb.

    `tty` overrides asking the stream (an Output given its own answer)."""
    if no_color or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream) if tty is None else tty


def cell_width(text: str) -> int:
    """Columns a string takes on a terminal (wide East Asian characters take two)."""
    if text.isascii():  # the common case, and the only one a 50,000-row table can afford
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def printable(text: str) -> str:
    """One table cell on one line: control characters (a job could send escapes) made visible."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def table_lines(
    columns: Sequence[str],
    rows: Iterable[Sequence[str] | str],
    *,
    color: bool = False,
    style: Callable[[int, str], str | None] | None = None,
) -> Iterator[str]:
    """The lines of a space-aligned table (like kubectl/docker), each ending in a newline, every
    value whole so `grep`/`awk` work on it. Widths need every row, so the cells are read once
    (with their widths, measured once) and the lines made as they are asked for.

    `style(column_index, value)` may return an ANSI prefix for a cell when colour is on.
    A row given as a plain string is a line shown as it is (an event line nobody could parse).
    """
    cells: list[str | list[tuple[str, int]]] = []
    widths = [cell_width(title) for title in columns]
    for row in rows:
        if isinstance(row, str):
            cells.append(printable(row))
            continue
        measured = []
        for index, raw in enumerate(row):
            value = printable(str(raw))
            width = cell_width(value)
            if width > widths[index]:
                widths[index] = width
            measured.append((value, width))
        cells.append(measured)
    last = len(columns) - 1

    def render(values: Sequence[tuple[str, int]], header: bool) -> str:
        parts = []
        for index, (value, width) in enumerate(values):
            pad = "" if index == last else " " * (widths[index] - width)
            prefix = None
            if color:
                prefix = _BOLD if header else (style(index, value) if style else None)
            parts.append(f"{prefix}{value}{_RESET}{pad}" if prefix else f"{value}{pad}")
        return "   ".join(parts).rstrip() + "\n"

    yield render([(title, cell_width(title)) for title in columns], True)
    for cell_row in cells:
        yield cell_row + "\n" if isinstance(cell_row, str) else render(cell_row, False)


class Output:
    """Writes data to stdout and messages to stderr, following the rules at the top.

    Each stream left out (None) is the process's own, looked up on use; each `*_tty` left out is
    asked of its stream. Give them to write elsewhere or to say "this is a terminal" in a test.
    """

    def __init__(
        self,
        *,
        no_color: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdin: IO[str] | None = None,
        stdout_tty: bool | None = None,
        stderr_tty: bool | None = None,
        stdin_tty: bool | None = None,
    ) -> None:
        self.no_color = no_color
        self._stdout = stdout
        self._stderr = stderr
        self._stdin = stdin
        self._stdout_tty = stdout_tty
        self._stderr_tty = stderr_tty
        self._stdin_tty = stdin_tty

    def with_no_color(self, no_color: bool) -> Output:
        """The same streams and terminal flags; colour off when `no_color` (or already off)."""
        return Output(
            no_color=self.no_color or no_color,
            stdout=self._stdout,
            stderr=self._stderr,
            stdin=self._stdin,
            stdout_tty=self._stdout_tty,
            stderr_tty=self._stderr_tty,
            stdin_tty=self._stdin_tty,
        )

    # -- streams, looked up on use -------------------------------------------------------------
    @property
    def stdout(self) -> IO[str]:
        return sys.stdout if self._stdout is None else self._stdout

    @property
    def stderr(self) -> IO[str]:
        return sys.stderr if self._stderr is None else self._stderr

    @property
    def stdin(self) -> IO[str]:
        return sys.stdin if self._stdin is None else self._stdin

    def is_terminal(self, stream: IO[str]) -> bool:
        """Whether `stream` (one of ours) is a terminal: the given flag, else the stream's say."""
        flag = None
        if stream is self.stdout:
            flag = self._stdout_tty
        elif stream is self.stderr:
            flag = self._stderr_tty
        elif stream is self.stdin:
            flag = self._stdin_tty
        return _isatty(stream) if flag is None else flag

    def color_out(self) -> bool:
        return self.live_allowed(self.stdout)

    def color_err(self) -> bool:
        return self.live_allowed(self.stderr)

    def stdin_is_terminal(self) -> bool:
        return self.is_terminal(self.stdin)

    def live_allowed(self, stream: IO[str] | None = None) -> bool:
        """A live display (spinner, in-place refresh) only where colour would be allowed too."""
        stream = self.stderr if stream is None else stream
        return color_allowed(stream, no_color=self.no_color, tty=self.is_terminal(stream))

    # -- data (stdout) -------------------------------------------------------------------------
    def _put(self, text: str) -> None:
        """Write to stdout; a character its encoding lacks (a server's `é` on an ASCII or cp1252
        stdout) is shown as a backslash escape instead of ending the command with an error.
        The whole string is encoded before any of it is written, so nothing is doubled."""
        stream = self.stdout
        encoding = getattr(stream, "encoding", None) or "utf-8"
        fd = _raw_fd(stream)
        if fd is None:
            try:
                stream.write(text)
            except UnicodeEncodeError:
                stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
            return
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            data = text.encode(encoding, "backslashreplace")
        stream.flush()
        write_all(fd, data)

    def write(self, text: str) -> None:
        """Raw data, exactly as given (log text): no newline added, flushed at once."""
        self._put(text)
        self.stdout.flush()

    def write_log(self, text: str) -> None:
        """Job output, unchanged: straight to the byte stream when there is one, so a character
        the terminal's encoding lacks (or an undecodable byte kept as a surrogate) cannot turn
        into an error or a replacement."""
        stream = self.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            self.write(text)
            return
        stream.flush()
        data = text.encode("utf-8", errors="surrogateescape")
        fd = _raw_fd(stream)
        if fd is None:
            buffer.write(data)
            buffer.flush()
            return
        buffer.flush()
        write_all(fd, data)

    def write_bytes(self, data: bytes) -> None:
        """Bytes exactly as given (a file's content, `canfar data cat`): straight to the byte
        stream, no decoding, no newline translation. A reader gone is BrokenPipeError (141)."""
        stream = self.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text-only stream (a test's StringIO): the bytes as Latin-1
            stream.write(data.decode("latin-1"))
            stream.flush()
            return
        fd = _raw_fd(stream)
        if fd is None:
            buffer.write(data)
            buffer.flush()
            return
        write_all(fd, data)

    def json(self, value: Any) -> None:
        """JSON with a plain write: no console, no wrapping, valid whatever the terminal width."""
        text = _pretty_json(value, ensure_ascii=False) + "\n"
        if not _encodable(text, self.stdout):  # stdout cannot hold a character: \u escapes
            text = _pretty_json(value, ensure_ascii=True) + "\n"
        self._put(text)
        self.stdout.flush()

    def json_line(self, value: Any) -> None:
        """One compact JSON document on a line of its own (a stream a script reads line by
        line), with the same fallback as json()."""
        import json

        text = json.dumps(value, ensure_ascii=False) + "\n"
        if not _encodable(text, self.stdout):
            text = json.dumps(value, ensure_ascii=True) + "\n"
        self._put(text)
        self.stdout.flush()

    def ids(self, ids: Iterable[str]) -> None:
        for session_id in ids:
            self._put(f"{session_id}\n")
        self.stdout.flush()

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[str] | str]) -> None:
        """Written a few hundred lines at a time: a 50,000-row table is never one string."""
        lines = self._table_lines(columns, rows, color=self.color_out())
        while chunk := "".join(itertools.islice(lines, 500)):
            self._put(chunk)
        self.stdout.flush()

    def render_table(
        self, columns: Sequence[str], rows: Iterable[Sequence[str] | str], *, color: bool
    ) -> str:
        return "".join(self._table_lines(columns, rows, color=color))

    @staticmethod
    def _table_lines(
        columns: Sequence[str], rows: Iterable[Sequence[str] | str], *, color: bool
    ) -> Iterator[str]:
        status_index = list(columns).index("STATUS") if "STATUS" in columns else -1

        def style(index: int, value: str) -> str | None:
            return STATUS_COLOURS.get(value) if index == status_index else None

        return table_lines(columns, rows, color=color, style=style)

    def blocks(self, blocks: Sequence[Sequence[tuple[str, str]]]) -> None:
        """Key/value blocks (one per session), separated by a blank line."""
        color = self.color_out()
        chunks = []
        for block in blocks:
            width = max((cell_width(key) for key, _ in block), default=0)
            lines = []
            for key, value in block:
                label = f"{key}:".ljust(width + 1)
                label = f"{_BOLD}{label}{_RESET}" if color else label
                lines.append(f"{label} {printable(value)}".rstrip())
            chunks.append("\n".join(lines) + "\n")
        self._put("\n".join(chunks))
        self.stdout.flush()

    # -- messages (stderr) ---------------------------------------------------------------------
    def message(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def warning(self, text: str) -> None:
        prefix = f"{_YELLOW}warning:{_RESET}" if self.color_err() else "warning:"
        self.message(f"{prefix} {printable(text.strip())}")

    def error(self, text: str, hint: str | None = None) -> None:
        # One line each, whatever the server's reason held: control characters (escapes,
        # newlines) are shown, never obeyed by the terminal.
        prefix = f"{_RED}error:{_RESET}" if self.color_err() else "error:"
        self.message(f"{prefix} {printable(text.strip())}")
        if hint:
            self.message(f"hint: {printable(hint.strip())}")

    def report(self, failure: Failure) -> None:
        """How the program ends (canfar_cli.errors.failure_of): its line, if it has one."""
        if failure.message is None:
            return
        if failure.is_error:
            self.error(failure.message, failure.hint)
        else:
            self.message(failure.message)

    def confirm(self, question: str) -> bool:
        """Ask on the terminal (stderr for the question, stdin for the answer). Default: no."""
        self.stderr.write(f"{question} [y/N] ")
        self.stderr.flush()
        answer = self.stdin.readline()
        if not answer:  # end of input: treat as no, on a fresh line
            self.stderr.write("\n")
            return False
        return answer.strip().lower() in ("y", "yes")

    # -- live displays (stderr or stdout, terminals only) ---------------------------------------
    @contextmanager
    def live(self, *, stream: IO[str] | None = None) -> Iterator[Callable[[str], None]]:
        """An in-place refreshing region: yields `update(text)`. Without a terminal the updates are
        dropped, so callers can use it unconditionally."""
        stream = self.stderr if stream is None else stream
        if not self.live_allowed(stream):
            yield lambda text: None
            return
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        # Live only where we decided there is a terminal: rich is told so rather than asked again.
        # The terminal's own width (rich falls back to 80 columns for a stream it did not open).
        try:
            width: int | None = os.get_terminal_size(stream.fileno()).columns or None
        except (OSError, ValueError, AttributeError):
            width = None
        console = Console(
            file=stream,
            force_terminal=True,
            highlight=False,
            markup=False,
            emoji=False,
            width=width,
        )
        with Live(console=console, auto_refresh=False, transient=stream is self.stderr) as live:

            def update(text: str) -> None:
                # Text.from_ansi keeps our own colour codes and never reads markup; long lines
                # are cut at the terminal's edge rather than wrapped, so the frame keeps its rows.
                frame = Text.from_ansi(text.rstrip("\n"), no_wrap=True, overflow="ellipsis")
                live.update(frame, refresh=True)

            yield update

    @contextmanager
    def transfer_bar(self) -> Iterator[TransferBar | None]:
        """A progress bar of a transfer on stderr (bytes, files, rate, time left), or None where
        no live display is allowed (not a terminal, --no-color, NO_COLOR, TERM=dumb)."""
        if not self.live_allowed(self.stderr):
            yield None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = Console(
            file=self.stderr, force_terminal=True, highlight=False, markup=False, emoji=False
        )
        columns = (
            BarColumn(),
            DownloadColumn(binary_units=True),
            TextColumn("{task.fields[files]}", markup=False),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            yield TransferBar(progress)


class TransferBar:
    """The live bar of `Output.transfer_bar`: told the totals, then each chunk and each file."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task = progress.add_task("", total=None, files="")
        self._files = 0
        self._done = 0

    def start(self, files: int, total_bytes: int | None) -> None:
        self._files = files
        self._progress.update(self._task, total=total_bytes, files=self._files_text())

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def file_done(self) -> None:
        self._done += 1
        self._progress.update(self._task, files=self._files_text())

    def _files_text(self) -> str:
        return f"{self._done}/{self._files} files"


def _encodable(text: str, stream: IO[str]) -> bool:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _raw_fd(stream: IO[str]) -> int | None:
    """The file descriptor to write `stream`'s data to ourselves, on POSIX (no newline
    translation there), or None to use the stream (a test's buffer, Windows)."""
    if os.name != "posix" or getattr(stream, "buffer", None) is None:
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def write_all(fd: int, data: bytes) -> None:
    """Every byte to `fd`, whatever it does: a short write (an unbuffered stdout,
    PYTHONUNBUFFERED=1) goes on with the rest, and a non-blocking descriptor that is full
    (EAGAIN) is waited on until it takes more. A reader gone is BrokenPipeError (exit 141)."""
    import select

    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except InterruptedError:
            continue
        view = view[written:]


def _pretty_json(value: Any, *, ensure_ascii: bool) -> str:
    """Indented JSON; a non-empty list as one compact element per line.

    `indent=` sends every value through json's pure-Python encoder: 5,000 sessions took ~0.2 s.
    One element per line keeps the C encoder, stays readable, and suits `grep` and `jq` alike.
    """
    import json

    if isinstance(value, list) and value:
        items = ",\n  ".join(json.dumps(item, ensure_ascii=ensure_ascii) for item in value)
        return f"[\n  {items}\n]"
    return json.dumps(value, indent=2, ensure_ascii=ensure_ascii)


def print_texts(texts: Mapping[str, str]) -> None:
    """The library's `logs(..., verbose=True)` and `events(..., verbose=True)`: each text on
    stdout exactly as the server sent it (byte for byte), headed `==> id <==` when there are
    several."""
    out = Output()
    for key, text in texts.items():
        if len(texts) > 1:
            out.write(f"==> {key} <==\n")
        out.write_log(text)


def silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so Python's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def exit_on(exc: BaseException) -> NoReturn:
    """The program's last word on an error that reached its top: one line (a reader gone early,
    `| head -1`, gets none, and stdout is silenced for Python's final flush) and the exit code."""
    from canfar_cli.errors import failure_of

    failure = failure_of(exc)
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
    Output().report(failure)
    sys.exit(failure.code)
