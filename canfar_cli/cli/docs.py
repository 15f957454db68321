"""The command reference, docs/cli.md, generated from the `--help` of every command.

    python -m canfar_cli.cli.docs > docs/cli.md

tests/cli/test_docs.py fails when the committed file differs from what this makes now, so the
reference cannot drift from the program. The help is laid out as on a terminal of 80 columns,
whatever the terminal that runs this.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# What `--help` lays out on any terminal of 80 columns or more (click keeps 2 columns spare).
WIDTH = 78
GENERATOR = "python -m canfar_cli.cli.docs > docs/cli.md"


def helps(app: Any = None) -> Iterator[tuple[str, str]]:
    """(command path, help text) of the root and of every visible command under it, in the
    order `--help` lists them."""
    import typer.main
    from typer._click import core as click
    from typer.core import TyperGroup

    from canfar_cli.cli.main import app as default_app

    root = typer.main.get_command(app or default_app)

    def context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
        settings = {**command.context_settings, "terminal_width": WIDTH}
        settings["max_content_width"] = WIDTH
        return click.Context(command, info_name=name, parent=parent, **settings)

    def visit(command: click.Command, ctx: click.Context) -> Iterator[tuple[str, str]]:
        yield ctx.command_path, command.get_help(ctx)
        if not isinstance(command, TyperGroup):  # typer's click has no other group
            return
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)  # the root builds its commands on demand
            if sub is None or sub.hidden:
                continue
            yield from visit(sub, context(sub, name, ctx))

    yield from visit(root, context(root, "canfar", None))


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
        "Examples and background are in the [README](../README.md#commands).",
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
