"""The kinds a public image is published for, as `images` shows them and `create` checks them.

What the server does with an image of another kind (skaha PostAction.validateImage, read at
science-platform 964c7c62): it checks only that the image comes from a trusted registry host,
never the image's kinds, and starts it with the template of the kind asked. So canfar does the
same (sends it), but says first, on stderr, what the image is published for: a terminal image
started as a notebook serves no notebook.

`desktop-app` is no kind a session is created as: it marks an image as an app that runs inside a
desktop session (launched from the desktop's menu).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canfar_cli.output import Output
    from canfar_cli.session import AsyncSession

DESKTOP_APP = "desktop-app"
IMAGES_MAX_AGE = 3600.0  # as /context: the public list changes rarely
# The longest a create waits for the list before going on without the check.
LOOKUP_SECONDS = 3.0


def session_kinds(types: Any) -> list[str]:
    """The kinds `create` can start the image as (desktop-app left out: see the module)."""
    if not isinstance(types, list):
        return []
    return [str(t) for t in types if isinstance(t, str) and t != DESKTOP_APP]


def runs_in_desktop(types: Any) -> bool:
    return isinstance(types, list) and DESKTOP_APP in types


def describe(types: Sequence[Any]) -> str:
    """The image's kinds in words: `for headless (and as a desktop app)`, `for notebook,
    headless`, `only as an app inside a desktop session`."""
    kinds = session_kinds(list(types))
    in_desktop = runs_in_desktop(list(types))
    if not kinds:
        return "only as an app inside a desktop session" if in_desktop else "for no kind"
    return f"for {', '.join(kinds)}" + (" (and as a desktop app)" if in_desktop else "")


async def cached_images(session: AsyncSession) -> list[dict[str, Any]] | None:
    """The public image list, from the cache (an hour per server URL) or one request bounded by
    LOOKUP_SECONDS; None when it cannot be had."""
    import anyio

    from canfar_cli import cache
    from canfar_cli.errors import CanfarError

    in_process = session.base_url.startswith("http://local/")  # no network: not cached
    images = None if in_process else cache.read("images", session.base_url, IMAGES_MAX_AGE)
    if isinstance(images, list) and all(isinstance(i, dict) for i in images):
        return images
    images = None
    with anyio.move_on_after(LOOKUP_SECONDS):
        try:
            images = await session.images()
        except CanfarError:
            return None
    if images is not None and not in_process:
        cache.write("images", session.base_url, images)
    return images


async def warn_if_other_kind(out: Output, session: AsyncSession, kind: str, image: str) -> None:
    """A warning (nothing refused, as on the server) when a public image is published for other
    kinds than `kind`, naming them. Silent when the image is not public or the list is out of
    reach."""
    from canfar_cli.create_request import check_image
    from canfar_cli.errors import CanfarError

    try:
        wanted = check_image(image)
    except CanfarError:
        return  # refused later, with its own message
    for entry in await cached_images(session) or []:
        if entry.get("id") != wanted:
            continue
        types = entry.get("types")
        if isinstance(types, list) and types and kind not in session_kinds(types):
            out.warning(
                f"{wanted} is published {describe(types)}, not for {kind}: it is sent as asked"
                " (the platform does not check), but may not work as one"
            )
        return
