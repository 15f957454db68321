"""What `create` and `run` share: sizes checked against /context before sending, registry
credentials for private images, and the hint when the server refuses an image as private."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from canfar_cli.outcomes import Outcome
    from canfar_cli.session import AsyncSession

PRIVATE_IMAGE_TEXT = "unknown or private image"
REGISTRY_FLAGS = "--registry-user USER --registry-secret-file PATH"


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


def registry_auth(user: str | None, secret_file: str | None) -> tuple[str, str] | None:
    from canfar_cli.config import registry_credentials

    return registry_credentials(user, secret_file)


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
    from canfar_cli.models import check_against, parse_limits

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
    from canfar_cli.models import parse_limits

    context = await cached_context(session)
    if context is None:
        return None
    limits = parse_limits(context)

    def number(value: float | None) -> str:
        return "?" if value is None else f"{value:g}"

    return f"≤{number(limits.cores_limit)}", f"≤{number(limits.ram_limit)}"


async def explain_private_image(
    session: AsyncSession, outcomes: Sequence[Outcome[Any]], image: str
) -> None:
    """A refusal of the image as private gets a hint: the closest public images and the flags."""
    refused = [
        o.error
        for o in outcomes
        if o.error is not None and PRIVATE_IMAGE_TEXT in (getattr(o.error, "reason", "") or "")
    ]
    if not refused:
        return
    import difflib

    from canfar_cli.errors import CanfarError
    from canfar_cli.models import check_image

    try:
        public = [str(i.get("id")) for i in await session.images()]
    except CanfarError:
        public = []
    close = difflib.get_close_matches(check_image(image), public, n=3, cutoff=0.3)
    hint = (f"public images like it: {', '.join(close)}; " if close else "") + (
        f"for a private image give {REGISTRY_FLAGS}"
    )
    if session.base_url.startswith(("http://local/", "http://127.", "http://localhost")):
        hint += " (the local platform's list grows with CANFAR_LOCAL_IMAGES)"
    for error in refused:
        error.hint = hint
