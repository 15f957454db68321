"""The command reference, docs/cli.md, generated from the `--help` of every command.

    python -m canfar_cli.cli.docs > docs/cli.md

tests/cli/test_docs.py fails when the committed file differs from what this makes now, so the
reference cannot drift from the program. The help is laid out as on a terminal of 80 columns,
whatever the terminal that runs this.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

GENERATOR = "python -m canfar_cli.cli.docs > docs/cli.md"


def helps(app: Any = None) -> Iterator[tuple[str, str]]:
    """(command path, help text) of the root and of every visible command under it, in the
    order `--help` lists them (the pages canfar_cli/cli/help_pages.py stores)."""
    from canfar_cli.cli.help_pages import contexts

    for path, ctx in contexts(app):
        yield path, ctx.command.get_help(ctx)


def _anchor(path: str) -> str:
    return path.replace(" ", "-")


def reference(app: Any = None) -> str:
    """docs/cli.md: a contents list, then each command's help as it prints it."""
    sections = list(helps(app))
    empty = [path for path, text in sections if not text.strip()]
    if empty:  # rich-formatted help prints instead of returning its text
        raise RuntimeError(f"empty help for {', '.join(empty)} (rich_markup_mode must be None)")
    lines = [
        "# Command reference",
        "",
        f"Generated from each command's `--help` by `{GENERATOR}`; do not edit.",
        "Examples and background are in the [guide](guide.md#commands).",
        "",
    ]
    lines += [f"- [`{path}`](#{_anchor(path)})" for path, _ in sections]
    for path, text in sections:
        lines += ["", f"## {path}", "", "```text", text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    from canfar_cli.output import Output

    Output().write(reference())


if __name__ == "__main__":
    main()
