"""What to say about a command canfar does not have: by meaning first, then by spelling.

Users come from the official client, docker and kubectl, and type their words: `delete`, `kill`,
`logout`, `ls`. Spelling alone sends them astray (`logout` looks like `logs`, `whoami` like
`wait`), so the words those tools use are answered with canfar's command for the same thing;
anything else gets the commands spelled most like it. Light at import: only the standard library.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from canfar_cli.errors import UsageError

# A word from another tool -> the canfar command line(s) that do the same, and what they do.
# Each target's first word must be a canfar command (tests/cli/test_suggestions.py checks it).
MEANINGS: dict[str, str] = {
    # removing sessions (official client: delete; docker: kill, stop, rm; kubectl: delete)
    "delete": "`canfar rm ID…` removes sessions",
    "del": "`canfar rm ID…` removes sessions",
    "remove": "`canfar rm ID…` removes sessions",
    "kill": "`canfar rm ID…` removes sessions",
    "stop": "`canfar rm ID…` removes sessions",
    "destroy": "`canfar rm ID…` removes sessions",
    "terminate": "`canfar rm ID…` removes sessions",
    # listing sessions (docker ps, kubectl get), or files (ls)
    "ls": "`canfar ps` lists your sessions, or `canfar data ls` for files",
    "list": "`canfar ps` lists your sessions, or `canfar data ls` for files",
    "get": "`canfar ps` lists your sessions; `canfar info ID…` shows one",
    # one session in full
    "show": "`canfar info ID…` shows sessions in full",
    "describe": "`canfar info ID…` shows sessions in full",
    "inspect": "`canfar info ID…` shows sessions in full",
    # starting one
    "start": "`canfar create KIND IMAGE` starts a session (`canfar run` a job, log followed)",
    "launch": "`canfar create KIND IMAGE` starts a session (`canfar run` a job, log followed)",
    "new": "`canfar create KIND IMAGE` starts a session (`canfar run` a job, log followed)",
    "submit": "`canfar create headless IMAGE -- CMD` submits a job",
    "exec": "`canfar run IMAGE -- CMD` runs a job and follows its log",
    "log": "`canfar logs ID…` prints their logs",
    "top": "`canfar stats` shows the platform's cores and RAM; `canfar ps -w` the sessions'",
    "extend": "`canfar renew ID…` moves their expiry",
    "connect": "`canfar open ID…` opens interactive sessions",
    "attach": "`canfar open ID…` opens interactive sessions",
    # signing in and out (official client: canfar auth login/logout; docker login/logout)
    "logout": "`canfar auth logout` signs out",
    "signout": "`canfar auth logout` signs out",
    "signin": "`canfar login` signs in",
    "auth-status": "`canfar auth status` says who is signed in",
    "whoami": "`canfar auth status` says who is signed in",
    "status": "`canfar auth status` says who is signed in; `canfar ps` lists your sessions",
    "version": "`canfar --version` prints the version",
}


def unknown_command(word: str, commands: Sequence[str]) -> UsageError:
    """The refusal of `canfar WORD`: what canfar calls that (by meaning), else the commands
    spelled like it, else where the list of commands is."""
    message = f"no command {word!r}"
    meaning = MEANINGS.get(word.lower())
    if meaning is not None:
        return UsageError(message, hint=meaning)
    close = difflib.get_close_matches(word, list(commands), n=3, cutoff=0.6)
    if close:
        named = " or ".join(f"`canfar {name}`" for name in close)
        return UsageError(message, hint=f"did you mean {named}?")
    return UsageError(message, hint="`canfar -h` lists the commands")
