"""`canfar run IMAGE [-- CMD …]`: one headless job, its log streamed, its outcome as exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from canfar_cli.cli.launch import (
    Launch,
    LaunchCommand,
    registry_secret_option,
    registry_user_option,
)
from canfar_cli.cli.options import (
    cores_option,
    env_file_option,
    env_option,
    gpus_option,
    name_option,
    ram_option,
)
from canfar_cli.cli.state import state_of
from canfar_cli.errors import JobFailedError

if TYPE_CHECKING:
    from canfar_cli.output import Output
    from canfar_cli.session import AsyncSession


def run(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Container image."),
    command: list[str] | None = typer.Argument(
        None, metavar="[-- CMD [ARG]...]", help="The program and its arguments."
    ),
    name: str | None = name_option("Session name (default: from the image)."),
    cores: float | None = cores_option(),
    ram: float | None = ram_option(),
    gpus: int | None = gpus_option(),
    env: list[str] | None = env_option(),
    env_file: Path | None = env_file_option(),
    remove: bool = typer.Option(
        False, "--rm", help="Remove the session at the end, whatever happened."
    ),
    registry_user: str | None = registry_user_option(),
    registry_secret_file: str | None = registry_secret_option(),
) -> None:
    """Run one headless job and stream its log to stdout as it is written.

    Exit 0 when the job Completed, 1 when it Failed (its exit code in the message when the
    events give it). Ctrl-C asks (on a terminal) whether to remove the session; --rm removes
    it at the end in every case. The session id goes to stderr.

    \b
    Examples:
      canfar run skaha/terminal:1.1.1 -- echo hello
      canfar run --rm skaha/astroml -c 4 -m 16 -- python fit.py
    """
    from canfar_cli.cli.launch import launch_of

    options = RunOptions(
        launch=launch_of(
            "headless",
            image,
            name=name,
            cores=cores,
            ram=ram,
            gpus=gpus,
            env=env,
            env_file=env_file,
            command=command,
            registry_user=registry_user,
            registry_secret_file=registry_secret_file,
        ),
        remove=remove,
    )
    state = state_of(ctx)
    out = state.out
    created: list[str] = []
    try:
        session_id, status, code = state.run(
            lambda session: run_job(options, session, out, created)
        )
    except KeyboardInterrupt:
        if created and (
            remove or (out.stdin_is_terminal() and out.confirm(f"remove session {created[0]}?"))
        ):
            state.run(lambda session: session.destroy_each(created))
            out.message(f"removed {created[0]}")
        raise
    except BaseException:
        if created and remove:
            state.run(lambda session: session.destroy_each(created))
        raise
    if status == "Completed":
        return
    if status == "Failed":
        detail = f" (exit code {code})" if code is not None else ""
        raise JobFailedError(
            f"session {session_id} Failed{detail}",
            hint=None if remove else f"`canfar events {session_id}` may say more",
        )
    if status == "gone":
        from canfar_cli.cli.waiting import gone_error

        raise gone_error([session_id], 1)
    raise JobFailedError(f"session {session_id} ended without completing ({status})")


@dataclass(frozen=True)
class RunOptions:
    """A `run` as parsed from its flags."""

    launch: Launch
    remove: bool = False


async def run_job(
    options: RunOptions, session: AsyncSession, out: Output, created: list[str]
) -> tuple[str, str, int | None]:
    """Create the job (checked once, as `create` does), stream its log to stdout, and say how
    it ended: (id, status, exit code when its events give it). The id goes into `created` as
    soon as it is known, so an interruption can remove it."""
    from canfar_cli.cli.image_kinds import warn_if_other_kind
    from canfar_cli.cli.launch import checked_launch, explain_private_image
    from canfar_cli.models import normalize_status

    spec = await checked_launch(session, options.launch)
    await warn_if_other_kind(out, session, spec.kind, spec.image)
    outcomes = await session.create_checked(spec)
    outcomes = await explain_private_image(session, outcomes, options.launch.image)
    if outcomes[0].error is not None:
        raise outcomes[0].error
    session_id = str(outcomes[0].value)
    created.append(session_id)
    out.message(f"session {session_id} ({spec.names[0]})")
    async for text in session.follow_logs(session_id):
        out.write_log(text)
    records = await session.info_each([session_id])
    status = "gone"
    code = None
    if records[0].ok and records[0].value is not None:
        status = normalize_status(str(records[0].value.get("status", "")))
    if status == "Failed":
        code = (await session.exit_codes([session_id])).get(session_id)
    if options.remove:
        await session.destroy_each([session_id])
    return session_id, status, code


def register(app: typer.Typer) -> None:
    app.command("run", cls=LaunchCommand)(run)
