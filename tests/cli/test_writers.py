"""The printing rule: canfar_cli/output.py is the only module that writes to a terminal.

ruff's T20 catches `print`; this also catches what T20 cannot see (`sys.stdout.write`, a
`.buffer` write, `typer.echo`, `traceback.print_exc`, …), by reading every module's syntax tree.
Allowed outside output.py: the local platform's supervisor, a detached process of its own whose
stderr is its log file, not anyone's terminal.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "canfar_cli"
WRITER = "output.py"

# Calls that write to the process's streams, by their dotted name.
WRITING_CALLS = {
    "print",
    "pprint",
    "pprint.pprint",
    "typer.echo",
    "typer.secho",
    "click.echo",
    "click.secho",
    "traceback.print_exc",
    "traceback.print_exception",
    "traceback.print_stack",
}
STREAMS = ("sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__")

# (module, dotted call) pairs allowed outside output.py, each for a reason given above.
ALLOWED = {
    ("local/supervisor.py", "traceback.print_exc"),
}


def dotted(node: ast.expr) -> str:
    """`sys.stdout.buffer.write` for the callee of a call, or "" when it is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def writes(path: Path) -> list[tuple[int, str]]:
    """(line, dotted call) of each call in the module that writes to stdout or stderr."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        to_stream = name.startswith(STREAMS) and name.rsplit(".", 1)[-1] in (
            "write",
            "writelines",
        )
        if name in WRITING_CALLS or to_stream:
            found.append((node.lineno, name))
    return found


def all_writes() -> dict[tuple[str, str], list[int]]:
    result: dict[tuple[str, str], list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == WRITER:
            continue
        for line, name in writes(path):
            result.setdefault((module, name), []).append(line)
    return result


def test_only_output_py_writes_to_the_terminal() -> None:
    offenders = {
        f"canfar_cli/{module}:{lines[0]} {name}(…)"
        for (module, name), lines in all_writes().items()
        if (module, name) not in ALLOWED
    }
    assert not offenders, (
        "write through canfar_cli/output.py (the CliState's `out`) instead of: "
        + ", ".join(sorted(offenders))
    )


def test_every_allowance_is_still_needed() -> None:
    stale = ALLOWED - set(all_writes())
    assert not stale, f"no longer written, drop from ALLOWED: {sorted(stale)}"


def test_the_probe_finds_writes(tmp_path: Path) -> None:
    # The check itself works: each way of writing is found, and data written to a file is not.
    module = tmp_path / "m.py"
    module.write_text(
        "import sys, typer, traceback\n"
        "print('a')\n"
        "sys.stdout.write('b')\n"
        "sys.stderr.buffer.write(b'c')\n"
        "typer.echo('d')\n"
        "traceback.print_exc()\n"
        "open('f', 'w').write('not a terminal')\n",
        encoding="utf-8",
    )
    assert [name for _, name in writes(module)] == [
        "print",
        "sys.stdout.write",
        "sys.stderr.buffer.write",
        "typer.echo",
        "traceback.print_exc",
    ]
