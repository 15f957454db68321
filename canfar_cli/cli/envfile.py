"""`-e K=V` and `--env-file PATH` of `canfar create`: environment variables for a session.

An env file is read as the shell (and docker compose) read it; what the shell would expand or
unescape is refused with its line number, never guessed.
"""

from __future__ import annotations

from pathlib import Path

from canfar_cli.errors import UsageError

# In an unquoted or double-quoted value the shell would expand or unescape these; we would not.
_SHELL_SPECIAL = ("$", "`", "\\")


def env_file_line(text: str) -> tuple[str, str]:
    """One `KEY=VALUE` line of an env file, read as the shell (and docker compose) read it:
    an `export ` prefix, spaces around `=`, a value in single or double quotes (the quotes are
    not part of it), and a ` # comment` after an unquoted value. What the shell would expand or
    unescape (`$`, backquotes, backslashes outside single quotes) is refused, never guessed:
    raises ValueError with the reason."""
    if text.startswith("export ") or text.startswith("export\t"):
        text = text[len("export") :].strip()
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError("it is not KEY=VALUE")
    key, value = key.strip(), value.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        if end < 0:
            raise ValueError(f"its {quote} quote is not closed (values span one line)")
        rest = value[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ValueError(f"there is text after the closing quote: {rest!r}")
        value = value[1:end]
        if quote == '"' and any(ch in value for ch in _SHELL_SPECIAL):
            raise ValueError(
                "a double-quoted value holds $, ` or \\, which the shell would expand;"
                " put the value in single quotes to pass it as it is"
            )
        return key, value
    comment = min((i for i in (value.find(" #"), value.find("\t#")) if i >= 0), default=-1)
    if comment >= 0:
        value = value[:comment].rstrip()
    if any(ch in value for ch in (*_SHELL_SPECIAL, "'", '"')):
        raise ValueError(
            "the value holds $, `, \\ or a quote, which the shell would read otherwise;"
            " put the value in single quotes to pass it as it is"
        )
    return key, value


def parse_env(pairs: list[str], env_file: Path | None) -> dict[str, str]:
    """-e K=V (repeatable) over --env-file lines (see env_file_line; blank lines and # comments
    skipped)."""
    env: dict[str, str] = {}
    if env_file is not None:
        try:
            lines = env_file.read_text(encoding="utf-8-sig").splitlines()  # a BOM is no key
        except OSError as exc:
            raise UsageError(f"cannot read --env-file {env_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--env-file {env_file} is not UTF-8 text") from None
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                key, value = env_file_line(text)
            except ValueError as exc:
                raise UsageError(
                    f"--env-file {env_file} line {number} ({text!r}): {exc}",
                    hint="write KEY=VALUE, or KEY='any text' to pass a value as it is",
                ) from None
            env[key] = value
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"-e {pair!r} is not KEY=VALUE", hint="write e.g. -e SEED=42")
        env[key] = value
    return env
