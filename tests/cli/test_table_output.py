"""Tables are written in chunks (a 50,000-session `ps -a` is never one string in memory), with
the same text as the whole table, wide characters and control characters measured right."""

from __future__ import annotations

import io
from typing import Any

from canfar_cli.output import Output


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_large_table_is_written_in_chunks_with_the_same_text() -> None:
    rows = [[f"id{i}", "Running" if i % 2 else "Completed", "x" * (i % 7)] for i in range(2000)]
    stream = CountingStream()
    Output(stdout=stream, stdout_tty=False).table(["ID", "STATUS", "NOTE"], rows)
    assert stream.getvalue() == _plain_table(["ID", "STATUS", "NOTE"], rows)
    assert stream.writes > 2  # a few hundred lines a write, never the whole table at once
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2001 and lines[0].startswith("ID       STATUS")


def test_widths_count_wide_characters_twice_and_show_control_characters() -> None:
    text = _plain_table(["A", "B"], [["名前", "1"], ["ab", "2"], ["a\x1bb", "3"]])
    assert text.splitlines() == [
        "A        B",
        "名前     1",
        "ab       2",
        "a\\x1bb   3",
    ]


def _plain_table(columns: list[str], rows: list[Any]) -> str:
    """The table as `ps` writes it when stdout is not a terminal."""
    return Output().render_table(columns, rows, color=False)
