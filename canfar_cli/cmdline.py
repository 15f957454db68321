"""Command lines as typed: what to send so the job's argv and environment are exactly the user's.

No I/O, light imports. How the server and Kubernetes build a headless job (shared/skaha-api.md
§4.3 and §6.9) decides every rule here:

- `args` is split on single spaces, so a space inside an argument (or `cmd`) is sent as
  `$(CANFAR_SPACE)` and one env entry `CANFAR_SPACE= ` (a single space) is added: Kubernetes
  expands the reference inside the one argv element. An env value cannot hold `=` on this server,
  while an argument may, which is why one shared variable beats one variable per argument:
  nothing of the argument's text ever travels in an env value.
- Kubernetes expands `$(NAME)` and turns `$$` into `$` in command, args and env values, so every
  `$` of the user's text is doubled first and reaches the job as typed.
- The server writes cmd, each argument and each env value into double-quoted YAML without
  escaping: a `"`, a `\\` or a line break would break the YAML or be read as an escape, so they
  are refused (as are other control characters, which YAML refuses or folds).
- Java's `split` drops trailing empty strings, so a trailing empty argument cannot be sent;
  inner empty arguments can (consecutive spaces). An env entry is kept only when it splits on `=`
  into exactly two non-empty parts, so a value holding `=` or an empty value is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canfar_cli.errors import UsageError

SPACE_VARIABLE = "CANFAR_SPACE"
SPACE_REFERENCE = f"$({SPACE_VARIABLE})"
# Names canfar gives its own variables; a user's env may not use them.
RESERVED_PREFIXES: tuple[str, ...] = (SPACE_VARIABLE, "CANFAR_ARG_")

_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# YAML line breaks besides \n and \r (NEL is a control character already), and the characters a
# YAML reader refuses or strips (byte-order mark, the two non-characters).
_OTHER_BREAKS = {"\u2028": "a line separator", "\u2029": "a paragraph separator"}
_UNSENDABLE = {
    "\ufeff": "a byte-order mark",
    "\ufffe": "a non-character",
    "\uffff": "a non-character",
}

QUOTE_HINT = (
    "use single quotes instead of double quotes; for a longer command line, put it in a script"
    " file in your home folder and run that (e.g. -- bash run.sh)"
)
SCRIPT_HINT = (
    "put the command line in a script file in your home folder and run that (-- bash run.sh)"
)


@dataclass(frozen=True)
class CommandLine:
    """What a headless create sends for cmd, args and env, and what the job will see.

    `cmd`, `args` and `env` are the form values (`args` joined by single spaces; `env` as
    (name, value) pairs in order, canfar's CANFAR_SPACE last when needed). `argv` and `job_env`
    are the job's view after Kubernetes has expanded them: exactly what the user gave (the
    environment also holds CANFAR_SPACE when a space needed it)."""

    cmd: str | None
    args: str | None
    env: list[tuple[str, str]]
    argv: list[str]
    job_env: list[tuple[str, str]]

    @property
    def has_cmd(self) -> bool:
        """Whether a program was given (argv[0] is then the program)."""
        return self.cmd is not None


def _describe(ch: str) -> str:
    if ch == '"':
        return 'a double quote (")'
    if ch == "\\":
        return "a backslash (\\)"
    if ch in "\n\r":
        return "a line break"
    if ch in _OTHER_BREAKS:
        return _OTHER_BREAKS[ch]
    if ch in _UNSENDABLE:
        return _UNSENDABLE[ch]
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return f"a byte that is not UTF-8 (U+{ord(ch):04X})"
    return f"a control character (U+{ord(ch):04X})"


def _unsendable(text: str) -> str | None:
    """The first character the server cannot carry, or None. A tab is fine (YAML keeps it)."""
    for ch in text:
        code = ord(ch)
        if ch in '"\\' or ch in _OTHER_BREAKS or ch in _UNSENDABLE:
            return ch
        if (code < 0x20 and ch != "\t") or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
            return ch
    return None


def check_text(what: str, text: str) -> None:
    """Refuse a cmd, argument or env value holding what the server writes unescaped into YAML."""
    bad = _unsendable(text)
    if bad is None:
        return
    hint = QUOTE_HINT if bad == '"' else SCRIPT_HINT
    if bad == "\\":
        hint = "the server would read it as a YAML escape; " + SCRIPT_HINT
    raise UsageError(
        f"{what} holds {_describe(bad)}, which the server writes unescaped into the job's YAML",
        hint=hint,
    )


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def check_cmd(cmd: str | None) -> str | None:
    if cmd is None:
        return None
    if not isinstance(cmd, str) or not cmd:
        raise UsageError("cmd must be a non-empty text", hint="give the program, e.g. 'python'")
    check_text(f"cmd {_shown(cmd)}", cmd)
    return cmd


def check_args(args: str | Sequence[str] | None) -> list[str]:
    """The arguments as a list (a text is split on whitespace, without any quoting rules)."""
    if args is None:
        return []
    items = args.split() if isinstance(args, str) else list(args)
    for position, item in enumerate(items, 1):
        if not isinstance(item, str):
            raise UsageError(f"argument {position} ({item!r}) is not text")
        check_text(f"argument {position} ({_shown(item)})", item)
    if items and items[-1] == "":
        raise UsageError(
            f"argument {len(items)} is empty and last; the server drops trailing empty arguments",
            hint="leave it out, or put something after it (empty arguments between others work)",
        )
    return items


def check_env(env: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The environment as (name, value) pairs; refuses what the server would drop or mangle."""
    if env is None:
        return []
    if not isinstance(env, Mapping):
        raise UsageError("env must be a mapping of variable names to values")
    pairs: list[tuple[str, str]] = []
    for key, raw in env.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.match(key):
            raise UsageError(
                f"environment variable name {key!r} is not a valid name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        if key.startswith(RESERVED_PREFIXES):
            raise UsageError(
                f"environment variable name {key} is reserved: canfar uses names starting with"
                f" {' or '.join(RESERVED_PREFIXES)} to carry arguments",
                hint="choose another name",
            )
        if isinstance(raw, bool) or raw is None:
            raise UsageError(f"environment variable {key} has no text value ({raw!r})")
        value = raw if isinstance(raw, str) else str(raw)
        if value == "":
            raise UsageError(
                f"environment variable {key} has an empty value;"
                " the server would drop the variable silently",
                hint="leave it out (the job sees it unset either way), or give it a value",
            )
        if "=" in value:
            raise UsageError(
                f"the value of environment variable {key} contains '=';"
                " the server would drop the variable silently",
                hint="pass it as an argument instead (arguments may hold '='), or in a file",
            )
        check_text(f"the value of environment variable {key}", value)
        pairs.append((key, value))
    return pairs


def _literal(text: str) -> str:
    """Text Kubernetes will leave as it is: every `$` doubled."""
    return text.replace("$", "$$")


def _spaced(text: str) -> str:
    return _literal(text).replace(" ", SPACE_REFERENCE)


def encode(
    cmd: str | None,
    args: str | Sequence[str] | None = None,
    env: Mapping[str, Any] | None = None,
) -> CommandLine:
    """Check and encode a command line (see the module's text); raises UsageError."""
    cmd = check_cmd(cmd)
    items = check_args(args)
    pairs = check_env(env)
    spaces = (cmd is not None and " " in cmd) or any(" " in item for item in items)
    sent_env = [(key, _literal(value)) for key, value in pairs]
    if spaces:
        sent_env.append((SPACE_VARIABLE, " "))
    return CommandLine(
        cmd=None if cmd is None else _spaced(cmd),
        args=" ".join(_spaced(item) for item in items) if items else None,
        env=sent_env,
        argv=([cmd] if cmd is not None else []) + items,
        job_env=[*pairs, (SPACE_VARIABLE, " ")] if spaces else pairs,
    )
