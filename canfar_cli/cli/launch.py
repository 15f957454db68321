"""The one launch path of `create` and `run`: what they ask for (`Launch`, from the same flags),
the rule for a command given without `--`, the create checked once (the core's rules, then the
sizes against /context) and named (the default name from the image), and the hint when the
server refuses an image as private."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption

from canfar_cli.errors import UsageError

if TYPE_CHECKING:
    import typer._click as click

    from canfar_cli.create_request import CreateSpec
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession

PRIVATE_IMAGE_TEXT = "unknown or private image"
REGISTRY_FLAGS = "--registry-user USER --registry-secret-file PATH"


@dataclass(frozen=True)
class Launch:
    """What a `create` or a `run` asks for, as parsed from their shared flags (`launch_of`)."""

    kind: str
    image: str
    name: str | None
    cores: float | None
    ram: float | None
    gpus: int | None
    env: dict[str, str]
    command: list[str]
    replicas: int = 1
    registry_auth: tuple[str, str] | None = None


def launch_of(
    kind: str,
    image: str,
    *,
    name: str | None,
    cores: float | None,
    ram: float | None,
    gpus: int | None,
    env: list[str] | None,
    env_file: Path | None,
    command: list[str] | None,
    registry_user: str | None,
    registry_secret_file: str | None,
    replicas: int = 1,
) -> Launch:
    """The Launch the flags ask for: -e/--env-file read, the registry account found."""
    from canfar_cli.cli.envfile import parse_env
    from canfar_cli.config import registry_credentials

    return Launch(
        kind=kind,
        image=image,
        name=name,
        cores=cores,
        ram=ram,
        gpus=gpus,
        env=parse_env(env or [], env_file),
        command=list(command or []),
        replicas=replicas,
        registry_auth=registry_credentials(registry_user, registry_secret_file),
    )


async def checked_launch(session: AsyncSession, launch: Launch) -> CreateSpec:
    """The create checked once, before anything is sent (the core's rules, then -c/-m/-g
    against the server's /context), and named: NAME, or a name made from the image, unique
    among the user's sessions (one listing)."""
    cmd, args = (launch.command[0], launch.command[1:]) if launch.command else (None, None)
    spec = session.check_create(
        launch.name,
        launch.image,
        cores=launch.cores,  # None (both): a flexible session
        ram=launch.ram,
        kind=launch.kind,
        gpu=launch.gpus,
        cmd=cmd,
        args=args or None,
        env=launch.env or None,
        replicas=launch.replicas,
        registry_auth=launch.registry_auth,
    )
    await check_sizes(session, spec.cores, spec.ram, spec.gpu)
    if launch.name is not None:
        return spec
    from canfar_cli.cli.names import name_from_image, unique_name

    taken = {str(s.get("name", "")) for s in await session.fetch()}
    return spec.named(unique_name(name_from_image(spec.image), taken, spec.replicas))


class LaunchCommand(TyperCommand):
    """`create` and `run`, refusing a command given without `--` (exit 2, nothing sent): click
    would otherwise take the command's own options as canfar's (`python3 fit.py -r 3` made three
    replicas of `python3 fit.py`, `echo -n 5` named the session 5). The hint is the corrected
    command line: the first positional after the command's own (KIND and IMAGE, or IMAGE)
    starts the job's command; a canfar option after it moves before `--` only when its value is
    valid for that option (so the `-c` of `python3 -c "print(1)"` stays the command's). An
    unknown option before the job's command is left to click, which names it and the options
    it resembles (`--replica` is a mistyped `--replicas`, not the start of a command)."""

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
        """The corrected argv when `before` holds a job's command, else None (nothing to fix,
        or a mistake click words better)."""
        options = self._options_by_name()
        # The command's own positionals (KIND IMAGE, or IMAGE); the variadic one is the job's.
        own = sum(1 for p in self.params if isinstance(p, TyperArgument) and p.nargs == 1)
        ours: list[str] = []
        command: list[str] = []
        positionals = 0
        index = 0
        while index < len(before):
            token = before[index]
            index += 1
            name, value, inline = _split_option(token)
            param = options.get(name) if _is_option(token) else None
            if param is None:
                if _is_option(token) and not command:
                    return None  # an unknown option of canfar's: click names it
                positionals += 1
                (ours if positionals <= own and not command else command).append(token)
                continue
            separate = not (param.is_flag or param.count or inline)  # its value is the next token
            if separate:
                value = before[index] if index < len(before) else ""
            if command and not _valid_value(ctx, param, value):
                command.append(token)  # not a valid value for canfar: the command's
                continue
            ours += [token, value or ""] if separate else [token]
            index += 1 if separate else 0
        return [*ours, "--", *command, *after] if command else None

    def _options_by_name(self) -> dict[str, TyperOption]:
        return {
            opt: declared
            for declared in self.params
            if isinstance(declared, TyperOption)
            for opt in [*declared.opts, *declared.secondary_opts]
        }


def _is_option(token: str) -> bool:
    return token.startswith("-") and token != "-"


def _valid_value(ctx: click.Context, param: TyperOption, value: str | None) -> bool:
    """Whether canfar's option `param` would take `value` (a flag takes no value: always)."""
    if param.is_flag or param.count:
        return True
    try:
        param.type.convert(value, param, ctx)
    except Exception:
        return False
    return True


def _split_option(token: str) -> tuple[str, str | None, bool]:
    """(option name, inline value, whether the value was inline): `--name=x`, `-nx`, `-n`."""
    if token.startswith("--") and "=" in token:
        name, value = token.split("=", 1)
        return name, value, True
    if token.startswith("-") and not token.startswith("--") and len(token) > 2:
        return token[:2], token[2:], True
    return token, None, False


def registry_user_option() -> Any:
    return typer.Option(
        None,
        "--registry-user",
        metavar="USER",
        help="Registry account for a private image [env CANFAR_REGISTRY_USER].",
    )


def registry_secret_option() -> Any:
    return typer.Option(
        None,
        "--registry-secret-file",
        metavar="PATH",
        help="File holding that account's secret [env CANFAR_REGISTRY_SECRET: the secret].",
    )


async def cached_context(session: AsyncSession) -> dict[str, Any] | None:
    """The server's /context, from the cache (an hour per server URL) or one request; None
    when it cannot be read."""
    from canfar_cli import cache
    from canfar_cli.errors import CanfarError

    in_process = session.base_url.startswith("http://local/")  # no network: not cached
    context = None if in_process else cache.read("context", session.base_url, cache.CONTEXT_MAX_AGE)
    if not isinstance(context, dict):
        try:
            context = await session.context()
        except CanfarError:
            return None
        if not in_process:
            cache.write("context", session.base_url, context)
    return context


async def check_sizes(session: AsyncSession, cores: Any, ram: Any, gpu: Any) -> None:
    """-c/-m/-g against the server's /context options (cached an hour per server URL); when
    /context cannot be read the values are sent as they are and the server judges."""
    if cores is None and ram is None and gpu is None:
        return
    from canfar_cli.create_request import check_against, parse_limits

    context = await cached_context(session)
    if context is not None:
        check_against(parse_limits(context), cores, ram, gpu)


async def flexible_ceiling(
    session: AsyncSession, sessions: Sequence[Any]
) -> tuple[str, str] | None:
    """What ps shows for a flexible session's CPU and RAM (`≤8`, `≤32`: the context's
    defaultLimit, RAM in GiB as the table's heading says); None when no session is flexible
    or /context cannot be read."""
    if not any(s.get("isFixedResources") is False for s in sessions):
        return None
    from canfar_cli.create_request import parse_limits

    context = await cached_context(session)
    if context is None:
        return None
    limits = parse_limits(context)

    def number(value: float | None) -> str:
        return "?" if value is None else f"{value:g}"

    return f"≤{number(limits.cores_limit)}", f"≤{number(limits.ram_limit)}"


async def explain_private_image(
    session: AsyncSession, outcomes: Sequence[Outcome[Any]], image: str
) -> list[Outcome[Any]]:
    """The outcomes, each refusal of the image as private headed by the image (not by a session
    name the user may never have typed) and given a hint: the closest public images and the
    flags for a private one."""
    refused = [
        o.error
        for o in outcomes
        if o.error is not None and PRIVATE_IMAGE_TEXT in (getattr(o.error, "reason", "") or "")
    ]
    if not refused:
        return list(outcomes)
    import dataclasses
    import difflib

    from canfar_cli.create_request import check_image
    from canfar_cli.errors import CanfarError

    checked = check_image(image)
    try:
        public = [str(i.get("id")) for i in await session.images()]
    except CanfarError:
        public = []
    close = difflib.get_close_matches(checked, public, n=3, cutoff=0.3)
    hint = (f"public images like it: {', '.join(close)}; " if close else "") + (
        f"for a private image give {REGISTRY_FLAGS}"
    )
    if session.base_url.startswith(("http://local/", "http://127.", "http://localhost")):
        hint += " (the local platform's list grows with CANFAR_LOCAL_IMAGES)"
    for error in refused:
        error.hint = hint
        if not error.message.startswith(checked):
            error.message = f"{checked}: {error.message}"
    return [
        dataclasses.replace(o, key=checked) if o.error is not None and o.error in refused else o
        for o in outcomes
    ]
