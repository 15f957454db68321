"""`canfar run IMAGE [-- CMD …]`: one headless job, its log streamed, its outcome as exit code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from canfar_cli.cli.launch import registry_secret_option, registry_user_option
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
    from canfar_cli.session import AsyncSession

_EXIT_CODE = re.compile(r"exit(?:ed)?(?: with)? code[ :=]*(\d+)|exitCode[ :=]*(\d+)", re.I)


def exit_code_of(events: list[dict[str, Any]]) -> int | None:
    """The job's exit code, when an event's message gives it (the last one that does)."""
    code = None
    for event in events:
        match = _EXIT_CODE.search(str(event.get("message") or event.get("raw") or ""))
        if match:
            code = int(match.group(1) or match.group(2))
    return code


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
    from canfar_cli.cli.envfile import parse_env
    from canfar_cli.cli.image_kinds import warn_if_other_kind
    from canfar_cli.cli.launch import check_sizes, explain_private_image, registry_auth

    state = state_of(ctx)
    out = state.out
    variables = parse_env(env or [], env_file)
    cmd, args = (command[0], command[1:]) if command else (None, None)
    options: dict[str, Any] = {
        "kind": "headless",
        "gpu": gpus,
        "cmd": cmd,
        "args": args or None,
        "env": variables or None,
        "cores": None if cores is None else int(cores) if cores.is_integer() else cores,
        "ram": None if ram is None else int(ram) if ram.is_integer() else ram,
        "registry_auth": registry_auth(registry_user, registry_secret_file),
    }
    created: list[str] = []

    async def work(session: AsyncSession) -> tuple[str, str, int | None]:
        from canfar_cli.cli.names import name_from_image, unique_name
        from canfar_cli.models import check_image, normalize_status

        session.plan_create(name or "x", image, **options)  # refusals before anything is sent
        await check_sizes(session, options["cores"], options["ram"], gpus)
        await warn_if_other_kind(out, session, "headless", image)
        chosen = name
        if chosen is None:
            taken = {str(s.get("name", "")) for s in await session.fetch()}
            chosen = unique_name(name_from_image(check_image(image)), taken, 1)
        outcomes = await session.create_each(chosen, image, **options)
        await explain_private_image(session, outcomes, image)
        if outcomes[0].error is not None:
            raise outcomes[0].error
        session_id = str(outcomes[0].value)
        created.append(session_id)
        out.message(f"session {session_id} ({chosen})")
        async for text in session.follow_logs(session_id):
            out.write_log(text)
        records = await session.info_each([session_id])
        status = "gone"
        code = None
        if records[0].ok and records[0].value is not None:
            status = normalize_status(str(records[0].value.get("status", "")))
        if status == "Failed":
            events = await session.events(session_id)
            code = exit_code_of(events[0]["events"]) if events else None
        if remove:
            await session.destroy_each([session_id])
        return session_id, status, code

    try:
        session_id, status, code = state.run(work)
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


def register(app: typer.Typer) -> None:
    app.command("run")(run)
