"""`canfar create KIND IMAGE [-- CMD [ARG …]]`: launch sessions (and optionally wait for them).

The command only: env files are read in envfile.py, default names made in names.py, a dry run's
requests laid out in dryrun.py and the progress of --wait shown by progress.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand

from canfar_cli.cli.launch import registry_secret_option, registry_user_option
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
from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    import typer._click as click

    from canfar_cli.session import AsyncSession, PlannedRequest

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
) -> None:
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
    from canfar_cli.cli.envfile import parse_env
    from canfar_cli.models import check_replicas

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    check_replicas(replicas)  # before a default name is made for every replica
    variables = parse_env(env or [], env_file)
    cmd, args = (command[0], command[1:]) if command else (None, None)
    if wait_timeout is not None and not wait:
        raise UsageError("--wait-timeout needs --wait")
    if wait_timeout is not None and not wait_timeout > 0:  # also refuses nan (waits forever)
        raise UsageError("--wait-timeout must be more than 0 seconds")

    options: dict[str, Any] = {
        "kind": kind.value,
        "gpu": gpus,
        "cmd": cmd,
        "args": args or None,
        "env": variables or None,
        "replicas": replicas,
    }
    # Left out: a flexible session (the library's own defaults, 2 and 4, would make it fixed).
    options["cores"] = None if cores is None else int(cores) if cores.is_integer() else cores
    options["ram"] = None if ram is None else int(ram) if ram.is_integer() else ram
    from canfar_cli.cli.image_kinds import warn_if_other_kind
    from canfar_cli.cli.launch import check_sizes, explain_private_image, registry_auth

    options["registry_auth"] = registry_auth(registry_user, registry_secret_file)

    async def choose_name(session: AsyncSession) -> str:
        if name is not None:
            return name
        from canfar_cli.cli.names import name_from_image, unique_name
        from canfar_cli.models import check_image

        stem = name_from_image(check_image(image))
        taken = {str(s.get("name", "")) for s in await session.fetch()}
        return unique_name(stem, taken, replicas)

    if dry_run:

        async def plan(session: AsyncSession) -> list[PlannedRequest]:
            plans = session.plan_create(await choose_name(session), image, **options)
            await check_sizes(session, options["cores"], options["ram"], gpus)
            return plans

        from canfar_cli.cli.dryrun import plan_json, render_plan

        plans = state.run(plan)
        if fmt == "json":
            out.json(plan_json(plans))
        else:
            out.write(render_plan(plans))
        out.message(f"dry run: {len(plans)} request(s) shown, nothing sent")
        return

    async def launch(session: AsyncSession) -> int:
        from canfar_cli.cli.present import report_failures
        from canfar_cli.outcomes import CreateInterrupted

        session.plan_create("x", image, **options)  # the local checks first, then the server's
        await check_sizes(session, options["cores"], options["ram"], gpus)
        await warn_if_other_kind(out, session, options["kind"], image)
        try:
            outcomes = await session.create_each(await choose_name(session), image, **options)
        except CreateInterrupted as stopped:
            # Every id made is printed before exiting 130: none is lost to Ctrl-C.
            made = [o for o in stopped.outcomes if o.ok]
            if fmt == "json":
                out.json([{"id": o.value, "name": o.key} for o in made])
            else:
                out.ids(str(o.value) for o in made)
            line = stopped.message
            if made:
                line += f"; remove them with `canfar rm -f {' '.join(str(o.value) for o in made)}`"
            out.message(line)
            raise typer.Exit(int(stopped.exit_code)) from None
        await explain_private_image(session, outcomes, image)
        created = [outcome for outcome in outcomes if outcome.ok]
        for outcome in created:
            if outcome.note:
                out.warning(outcome.note)
        if fmt == "json":
            out.json([{"id": o.value, "name": o.key} for o in created])
        else:
            out.ids(str(o.value) for o in created)  # before waiting: no id is ever lost
        code = report_failures(out, outcomes)
        if wait and created:
            from canfar_cli.cli.waiting import wait_for

            created_ids = [str(o.value) for o in created]
            await wait_for(out, session, created_ids, until="running", timeout=wait_timeout)
        return code

    from canfar_cli.cli.present import exit_with

    exit_with(state.run(launch))


class CreateCommand(TyperCommand):
    """`create`, refusing a command given without `--` (exit 2, nothing sent): click would
    otherwise take the command's own options as canfar's (`python3 fit.py -r 3` made three
    replicas of `python3 fit.py`, `echo -n 5` named the session 5). The hint is the corrected
    command line: the first positional after KIND and IMAGE starts the command; a canfar option
    after it moves before `--` only when its value is valid for that option (so the `-c` of
    `python3 -c "print(1)"` stays the command's)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)
        before = given[: given.index("--")] if "--" in given else given
        if not any(token in ("-h", "--help") for token in before):
            corrected = self._corrected(ctx, before, given[len(before) + 1 :])
            if corrected is not None:
                import shlex

                raise UsageError(
                    "the command must follow `--`, or its options are read as canfar's;"
                    " nothing was sent",
                    hint=f"{ctx.command_path} {shlex.join(corrected)}",
                )
        return super().parse_args(ctx, args)

    def _corrected(
        self, ctx: click.Context, before: list[str], after: list[str]
    ) -> list[str] | None:
        options: dict[str, typer.core.TyperOption] = {}
        for declared in self.params:
            if isinstance(declared, typer.core.TyperOption):
                for opt in [*declared.opts, *declared.secondary_opts]:
                    options[opt] = declared
        ours: list[str] = []
        command: list[str] = []
        positionals = 0
        index = 0
        while index < len(before):
            token = before[index]
            index += 1
            name, value, inline = token, None, False
            if token.startswith("--") and "=" in token:
                name, value = token.split("=", 1)
                inline = True
            elif token.startswith("-") and not token.startswith("--") and len(token) > 2:
                name, value, inline = token[:2], token[2:], True
            param = options.get(name) if token.startswith("-") and token != "-" else None
            if param is None:
                if token.startswith("-") and token != "-" and not command:
                    ours.append(token)  # an unknown option: click will say so
                    continue
                positionals += 1
                if positionals <= 2 and not command:
                    ours.append(token)
                else:
                    command.append(token)
                continue
            takes_value = not (param.is_flag or param.count)
            if takes_value and not inline:
                value = before[index] if index < len(before) else None
            pieces = [token] if inline or not takes_value else [token, value or ""]
            if command and takes_value:
                try:
                    param.type.convert(value, param, ctx)
                except Exception:
                    command.append(token)  # not a valid value for canfar: the command's
                    continue
            ours += pieces
            if takes_value and not inline:
                index += 1
        if not command:
            return None
        return [*ours, "--", *command, *after]


def register(app: typer.Typer) -> None:
    # Extra arguments after `--` belong to the job, so options there must not be parsed.
    app.command("create", cls=CreateCommand)(create)
