"""`canfar completion bash|zsh|fish`: print the shell's completion script."""

from __future__ import annotations

from enum import Enum

import typer


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    ctx: typer.Context,
    shell: Shell = typer.Argument(..., help="bash, zsh or fish."),
) -> None:
    """Print a shell completion script.

    Static: a TAB never starts Python.

    \b
    Examples:
      source <(canfar completion bash)
      canfar completion zsh > "${fpath[1]}/_canfar"
      canfar completion fish > ~/.config/fish/completions/canfar.fish
    """
    from canfar_cli.cli.completion_gen import script
    from canfar_cli.cli.state import state_of

    state_of(ctx).out.write(script(shell.value))


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
