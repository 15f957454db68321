"""`canfar create KIND IMAGE [-- CMD [ARG …]]`: launch sessions (and optionally wait for them).

The command only: env files are read in envfile.py, default names made in names.py, a dry run's
requests laid out in dryrun.py and the progress of --wait shown by waiting.py.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    Format,
    Kind,
    cores_option,
    env_file_option,
    env_option,
    gpus_option,
    json_option,
    name_option,
    output_option,
    ram_option,
    resolve_format,
)
from canfar_cli.cli.state import state_of
from canfar_cli.errors import ExitCode, ReportedError, UsageError

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.output import Output
    from canfar_cli.session import AsyncSession

KIND_HELP = "headless, notebook, desktop, carta, firefly or contributed."


def create(
    ctx: typer.Context,
    kind: Kind = typer.Argument(..., metavar="KIND", case_sensitive=False, help=KIND_HELP),
    image: str = typer.Argument(
        ..., metavar="IMAGE", help="Container image, e.g. images.canfar.net/skaha/terminal:1.1.1."
    ),
    command: list[str] | None = typer.Argument(
        None, metavar="[-- CMD [ARG]...]", help="Headless only: the program and its arguments."
    ),
    name: str | None = name_option("Session name (default: made from the image, unique)."),
    cores: float | None = cores_option(),
    ram: float | None = ram_option(),
    gpus: int | None = gpus_option(),
    env: list[str] | None = env_option(),
    env_file: Path | None = env_file_option(),
    replicas: int = typer.Option(
        1, "-r", "--replicas", metavar="N", help="N sessions named NAME-1 … NAME-N."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show exactly what would be sent (credentials hidden); send none."
    ),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Wait until each is Running (or has ended); exit 1 if any Failed."
        " To wait for the end: `canfar wait` (`create … | canfar wait`).",
    ),
    wait_timeout: float | None = typer.Option(
        None, "--wait-timeout", metavar="S", help="Give up waiting after S seconds (exit 1)."
    ),
    registry_user: str | None = registry_user_option(),
    registry_secret_file: str | None = registry_secret_option(),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> ExitCode:
    """Create sessions; print their ids.

    Without -c/-m the session is flexible: it starts small (the server's defaultRequest) and
    may grow to its defaultLimit (8 cores, 32 GiB on CANFAR; `canfar limits`). With -c/-m it
    is fixed at those values, which must be among the server's options. An image without a tag
    gets :latest, and one without a registry host images.canfar.net/.

    Prints the new ids one per line (JSON: id and name of each). Each replica gets REPLICA_ID
    (1-based) and REPLICA_COUNT in its environment. The job gets CMD and each ARG exactly as
    given (spaces and $ included; --dry-run shows its argv). Input the server would reject or
    silently mangle (", \\, line breaks, fractional -c/-m) is refused before anything is sent
    (exit 2).

    \b
    Examples:
      canfar create headless images.canfar.net/skaha/terminal:1.1.1 -- echo hello
      canfar create headless skaha/terminal:1.1.1 -r 10 -n fit -e SEED=42 --wait -- python fit.py
      canfar create notebook skaha/astroml
      canfar create notebook images.canfar.net/skaha/astroml:latest -c 4 -m 16
      canfar create headless skaha/terminal:1.1.1 --dry-run -- echo hi
      canfar create headless skaha/terminal:1.1.1 -- bash -c 'make all && ./run'
    """
    from canfar_cli.cli.launch import launch_of
    from canfar_cli.create_request import check_replicas

    check_replicas(replicas)  # before a default name is made for every replica
    if wait_timeout is not None and not wait:
        raise UsageError("--wait-timeout needs --wait")
    if wait_timeout is not None and not wait_timeout > 0:  # also refuses nan (waits forever)
        raise UsageError("--wait-timeout must be more than 0 seconds")
    options = CreateOptions(
        launch=launch_of(
            kind.value,
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
            replicas=replicas,
        ),
        fmt=resolve_format(output, as_json),
        dry_run=dry_run,
        wait=wait,
        wait_timeout=wait_timeout,
    )
    state = state_of(ctx)
    return state.run(lambda session: run_create(options, session, state.out))


@dataclass(frozen=True)
class CreateOptions:
    """A `create` as parsed from its flags."""

    launch: Launch
    fmt: str
    dry_run: bool = False
    wait: bool = False
    wait_timeout: float | None = None


async def run_create(options: CreateOptions, session: AsyncSession, out: Output) -> ExitCode:
    """Check the create once, then lay it out (--dry-run) or send it: the new ids on stdout
    before anything else (no id is ever lost), each failure on stderr, then --wait."""
    from canfar_cli.cli.image_kinds import warn_if_other_kind
    from canfar_cli.cli.launch import checked_launch, explain_private_image
    from canfar_cli.cli.present import report_failures
    from canfar_cli.outcomes import CreateInterrupted

    spec = await checked_launch(session, options.launch)
    if options.dry_run:
        from canfar_cli.cli.dryrun import plan_json, render_plan

        plans = session.plan_checked(spec)
        if options.fmt == "json":
            out.json(plan_json(plans))
        else:
            out.write(render_plan(plans))
        out.message(f"dry run: {len(plans)} request(s) shown, nothing sent")
        return ExitCode.OK
    await warn_if_other_kind(out, session, spec.kind, spec.image)
    try:
        outcomes = await session.create_checked(spec)
    except CreateInterrupted as stopped:
        # Every id made is printed before exiting 130: none is lost to Ctrl-C.
        made = [o for o in stopped.outcomes if o.ok]
        _show_created(out, options.fmt, made)
        line = stopped.message
        if made:
            line += f"; remove them with `canfar rm -f {' '.join(str(o.value) for o in made)}`"
        out.message(line)
        raise ReportedError(stopped.exit_code) from None
    outcomes = await explain_private_image(session, outcomes, options.launch.image)
    created = [outcome for outcome in outcomes if outcome.ok]
    for outcome in created:
        if outcome.note:
            out.warning(outcome.note)
    _show_created(out, options.fmt, created)  # before waiting: no id is ever lost
    code = report_failures(out, outcomes)
    if options.wait and created:
        from canfar_cli.cli.waiting import wait_for

        created_ids = [str(o.value) for o in created]
        await wait_for(out, session, created_ids, until="running", timeout=options.wait_timeout)
    return code


def _show_created(out: Output, fmt: str, created: Sequence[Outcome[str]]) -> None:
    if fmt == "json":
        out.json([{"id": o.value, "name": o.key} for o in created])
    else:
        out.ids(str(o.value) for o in created)


def register(app: typer.Typer) -> None:
    # Extra arguments after `--` belong to the job, so options there must not be parsed.
    app.command("create", cls=LaunchCommand)(create)
