"""A headless job's argv and environment, built from the raw form values as CANFAR builds them.

Pure, no I/O. The server (skaha `PostAction.getHeadlessImageBundle`, shared/skaha-api.md §6.9)
writes the job's YAML by plain string concatenation, nothing escaped:

    command: ["<cmd>"]
    args: ["<a>", "<b>", ...]        (args.split(" "), Java: trailing empty strings dropped)
    env:
    - name: <K>
      value: "<V>"                   (each entry split on "=", kept only with exactly 2 parts)

then the YAML is read (so `\\n`, `\\t`, `\\\\`, `\\"`, `\\xNN`, `\\uNNNN` are escapes, a stray `"`
or an unknown escape fails the create with a 500, a raw line break folds into a space), and
Kubernetes expands `$(NAME)` in command and args from the container's whole environment and in
each env value from the variables defined before it, `$$` giving `$` and an unknown `$(NAME)`
staying as it is. User env entries come before the injected ones (§5).

`decode` is the YAML stage (the create's 500s); `resolve` is Kubernetes' expansion stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from canfar_cli.local.skaha import java_split

# A YAML reader refuses any other character (SnakeYAML's isPrintable).
_LINE_BREAKS = "\n\r\x85\u2028\u2029"
_SIMPLE_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


class JobSpecError(Exception):
    """The job's YAML cannot be read: the real server answers 500 `unexpected exception: …`."""


@dataclass(frozen=True)
class JobSpec:
    """The container as written in the job's YAML, before Kubernetes expands `$(NAME)`."""

    command: list[str]
    args: list[str]
    env: list[tuple[str, str]]


def env_entries(entries: Iterable[str]) -> list[tuple[str, str]]:
    """`KEY=VALUE` entries the server keeps: those splitting on `=` into exactly two parts."""
    kept = []
    for entry in entries:
        parts = java_split(entry, "=")
        if len(parts) == 2:
            kept.append((parts[0], parts[1]))
    return kept


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (
        ch in "\t\n\r\x85"
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _check_printable(text: str) -> None:
    for position, ch in enumerate(text):
        if not _printable(ch):
            raise JobSpecError(
                f"special characters are not allowed: U+{ord(ch):04X} at position {position}"
            )


def _scan_double_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a double-quoted YAML scalar whose opening quote is at `start`: its value and the
    index after its closing quote."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while True:
        if i >= n:
            raise JobSpecError("while scanning a quoted scalar: found unexpected end of stream")
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            piece, i = _escape(text, i)
            out.append(piece)
        elif ch in _LINE_BREAKS:
            i = _fold(text, i, out)
        else:
            out.append(ch)
            i += 1


def _escape(text: str, i: int) -> tuple[str, int]:
    """The escape sequence at `i` (a backslash): what it stands for and the index after it."""
    n = len(text)
    if i + 1 >= n:
        raise JobSpecError("while scanning a quoted scalar: found unexpected end of stream")
    code = text[i + 1]
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code], i + 2
    if code in _HEX_ESCAPES:
        width = _HEX_ESCAPES[code]
        digits = text[i + 2 : i + 2 + width]
        if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise JobSpecError(
                "while scanning a double-quoted scalar: expected escape sequence of"
                f" {width} hexadecimal numbers, but found {digits!r}"
            )
        value = int(digits, 16)
        if value > 0x10FFFF:
            raise JobSpecError(f"found unknown escape character U+{value:X}")
        return chr(value), i + 2 + width
    if code in _LINE_BREAKS:  # an escaped line break: joined without a space
        i = _skip_break(text, i + 1)
        while i < n and text[i] in " \t":
            i += 1
        return "", i
    raise JobSpecError(
        f"while scanning a double-quoted scalar: found unknown escape character {code}({ord(code)})"
    )


def _fold(text: str, i: int, out: list[str]) -> int:
    """Folding at the line break at `i`: trailing blanks dropped, one break becomes a space,
    each further (empty) line a newline; the next line's leading blanks dropped. The index
    after them."""
    n = len(text)
    while out and out[-1] in " \t":
        out.pop()
    i = _skip_break(text, i)
    empty = 0
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in _LINE_BREAKS:
            empty += 1
            i = _skip_break(text, i)
            continue
        break
    out.append("\n" * empty if empty else " ")
    return i


def _skip_break(text: str, i: int) -> int:
    if text.startswith("\r\n", i):
        return i + 2
    return i + 1


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t" + _LINE_BREAKS:
        i += 1
    return i


def _plain(text: str, i: int) -> tuple[str, int]:
    """A plain scalar inside a flow sequence, up to `,` or `]` (a stray quote can leave one)."""
    if text[i] in "[]{}#&*!|>'%@`":
        raise JobSpecError(
            f"while parsing a flow node: expected the node content, but found {text[i]!r}"
        )
    start = i
    while i < len(text) and text[i] not in ",]{}[":
        if text[i] == "#" and text[i - 1] in " \t":
            break
        i += 1
    return " ".join(text[start:i].split()), i


def parse_flow_sequence(text: str) -> list[str]:
    """The strings of a one-level YAML flow sequence such as the server writes, `["a", "b"]`."""
    _check_printable(text)
    items: list[str] = []
    i = _skip_blanks(text, 0)
    if not text.startswith("[", i):
        raise JobSpecError("while parsing a flow sequence: expected '['")
    i = _skip_blanks(text, i + 1)
    while True:
        if i >= len(text):
            raise JobSpecError("while parsing a flow sequence: found unexpected end of stream")
        if text[i] == "]":
            i += 1
            break
        if text[i] == '"':
            value, i = _scan_double_quoted(text, i)
        else:
            value, i = _plain(text, i)
        items.append(value)
        i = _skip_blanks(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_blanks(text, i + 1)
            continue
        if i < len(text) and text[i] == "]":
            i += 1
            break
        got = "end of stream" if i >= len(text) else repr(text[i])
        raise JobSpecError(f"while parsing a flow sequence: expected ',' or ']', but got {got}")
    _check_rest(text, i)
    return items


def parse_double_quoted_value(text: str) -> str:
    """The value of `value: "<v>"`: the scalar, then nothing but blanks or a comment."""
    _check_printable(text)
    value, i = _scan_double_quoted(text, 0)
    _check_rest(text, i)
    return value


def _check_rest(text: str, i: int) -> None:
    rest = text[i:]
    stripped = rest.lstrip(" \t")
    if not stripped or (stripped.startswith("#") and len(stripped) < len(rest)):
        return
    if stripped[0] in _LINE_BREAKS:
        return  # what follows on the next lines is no longer this node (never reached here)
    raise JobSpecError(
        f"while parsing a block mapping: expected <block end>, but found {stripped[0]!r}"
    )


def decode(cmd: str | None, args: str | None, env: Iterable[tuple[str, str]]) -> JobSpec:
    """The container as the server's YAML makes it, from the raw form values (env entries
    already split, as `env_entries` keeps them). Raises JobSpecError where the server fails."""
    command = parse_flow_sequence(f'["{cmd}"]') if cmd is not None else []
    arguments: list[str] = []
    if args is not None:
        pieces = java_split(args, " ")
        if pieces:
            arguments = parse_flow_sequence("[" + ", ".join(f'"{p}"' for p in pieces) + "]")
    variables = [(name, parse_double_quoted_value(f'"{value}"')) for name, value in env]
    return JobSpec(command, arguments, variables)


def expand(text: str, lookup: Mapping[str, str]) -> str:
    """Kubernetes' `$(NAME)` expansion: `$$` is `$`, a known name its value, an unknown
    `$(NAME)` or an unclosed `$(` stays as it is, any other `$` too."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
            else:
                name = text[i + 2 : close]
                out.append(lookup.get(name, f"$({name})"))
                i = close + 1
        else:
            out.append("$" + following)
            i += 2
    return "".join(out)


def resolve(spec: JobSpec, injected: Iterable[tuple[str, str]]) -> tuple[list[str], dict[str, str]]:
    """The process's argv and the container's environment (user env, then the injected
    variables, a later duplicate winning), each `$(NAME)` expanded as Kubernetes does."""
    environment: dict[str, str] = {}
    for name, value in [*spec.env, *injected]:
        environment[name] = expand(value, environment)
    argv = [expand(part, environment) for part in [*spec.command, *spec.args]]
    return argv, environment


def build(
    cmd: str | None,
    args: str | None,
    env: Iterable[tuple[str, str]],
    injected: Iterable[tuple[str, str]],
) -> tuple[list[str], dict[str, str]]:
    """decode, then resolve: what the job runs with."""
    return resolve(decode(cmd, args, env), injected)
