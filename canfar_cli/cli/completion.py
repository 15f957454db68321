"""`canfar completion bash|zsh|fish`: print the shell's completion script."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from canfar_cli.session import AsyncSession

Records = list[dict[str, Any]]


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


def refresh_cache(ctx: typer.Context) -> None:
    """Refresh the words TAB offers (your session ids and names, the public images): the
    completion scripts start this in the background when their cache is a minute old."""
    from canfar_cli.cli.state import state_of

    async def gather(session: AsyncSession) -> tuple[Records, Records]:
        return await session.fetch(), await session.images()

    sessions, images = state_of(ctx).run(gather)
    write_completion_cache(sessions, images)


def write_completion_cache(sessions: Records, images: Records) -> None:
    """complete-ids and complete-images in the user cache folder, one word a line."""
    from canfar_cli import cache

    words = []
    for record in sessions:
        words += [str(record.get(key)) for key in ("id", "name") if record.get(key)]
    folder = cache.cache_dir()
    cache.write_file(folder / "complete-ids", "".join(f"{w}\n" for w in dict.fromkeys(words)))
    ids = dict.fromkeys(str(i.get("id")) for i in images if i.get("id"))
    cache.write_file(folder / "complete-images", "".join(f"{w}\n" for w in ids))


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
    app.command("completion-refresh", hidden=True)(refresh_cache)
