"""Answers a shell's completion request (`_CANFAR_COMPLETE=<shell>_complete`) without Typer.

The shipped scripts in completions/ are static and never call back. This serves the click
convention (`eval "$(_CANFAR_COMPLETE=bash_source canfar)"` prints the static script) and anything
else that asks the program for candidates: every TAB would otherwise pay for importing Typer and
building the app (~80 ms). The answer comes from completion_table.json, generated from the app
beside the scripts (`python -m canfar_cli.cli.completion_gen`) and checked by a test, so it cannot
drift.

Protocol (click 8): COMP_WORDS holds the command line and COMP_CWORD the index of the word being
completed. Answers, one candidate each: bash `plain,VALUE` lines; zsh `plain`, `VALUE`, `HELP`
lines (`_` for no help); fish `plain,VALUE` with a tab and the help. File values are answered as
type `file` so the shell completes paths itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TABLE = Path(__file__).with_name("completion_table.json")


def _candidates(table: dict, words: list[str], incomplete: str) -> list[tuple[str, str, str]]:
    """(type, value, help) for the word being typed after `words`."""
    path = ""
    pending: dict | None = None  # the option whose value comes next
    for word in words:
        if pending is not None:
            pending = None
            continue
        if word == "--":
            return [("file", incomplete, "")]  # the job's own command line
        node = table[path]
        option = next((o for o in node["options"] if word in o["flags"]), None)
        if option is not None:
            pending = option if option["takes_value"] else None
            continue
        if word in node["subcommands"]:
            path = f"{path} {word}".strip()
    node = table[path]
    if pending is not None:
        if pending["is_file"]:
            return [("file", incomplete, "")]
        return [("plain", choice, "") for choice in pending["choices"]]
    if incomplete.startswith("-"):
        return [
            ("plain", flag, option["help"])
            for option in node["options"]
            for flag in option["flags"]
        ]
    if node["subcommands"]:
        return [("plain", name, text) for name, text in node["subcommands"].items()]
    return [("plain", choice, "") for choice in node["arg_choices"]]


def answer(instruction: str, environ: os._Environ[str] | dict[str, str]) -> int:
    """Write the answer to stdout; the exit code (2 for a request we do not understand)."""
    shell, _, mode = instruction.partition("_")
    if shell not in ("bash", "zsh", "fish") or mode not in ("source", "complete"):
        sys.stderr.write(
            f"error: unknown completion request {instruction!r}\n"
            "hint: use `canfar completion bash|zsh|fish` for a completion script\n"
        )
        return 2
    if mode == "source":  # once per shell start-up: worth no table of its own
        from canfar_cli.cli.completion_gen import script

        sys.stdout.write(script(shell))
        return 0
    try:
        words = environ.get("COMP_WORDS", "").split()
        cword = int(environ.get("COMP_CWORD", len(words)))
    except ValueError:
        return 2
    incomplete = words[cword] if 0 <= cword < len(words) else ""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    found = [
        item
        for item in _candidates(table, words[1:cword], incomplete)
        if item[0] == "file" or item[1].startswith(incomplete)
    ]
    if shell == "bash":
        lines = [f"{kind},{value}" for kind, value, _ in found]
    elif shell == "zsh":
        lines = [part for kind, value, text in found for part in (kind, value, text or "_")]
    else:
        lines = [
            f"{kind},{value}\t{text}" if text else f"{kind},{value}" for kind, value, text in found
        ]
    sys.stdout.write("\n".join(lines) + "\n" if lines else "")
    sys.stdout.flush()
    return 0
