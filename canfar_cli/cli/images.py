"""`canfar images`: the public images the server offers, with their kinds."""

from __future__ import annotations

from enum import Enum

import typer

from canfar_cli.cli.options import Format, json_option, output_option, quiet_option, resolve_format
from canfar_cli.cli.state import state_of

ImageKind = Enum(  # type: ignore[misc]
    "ImageKind",
    {
        k: k
        for k in (
            "headless",
            "notebook",
            "desktop",
            "carta",
            "firefly",
            "contributed",
            "desktop-app",
        )
    },
    type=str,
)


def images(
    ctx: typer.Context,
    kind: ImageKind | None = typer.Option(
        None, "-k", "--kind", metavar="KIND", case_sensitive=False, help="Only images of this kind."
    ),
    output: Format | None = output_option(),
    as_json: bool = json_option(),
    quiet: bool = quiet_option("image ids"),
) -> None:
    """List the public images and the kinds each may run as.

    KINDS are those `create` starts the image as; IN DESKTOP says the image is also an app
    run inside a desktop session (the server's kind `desktop-app`, which -k takes). An image
    not in this list counts as private on the server: it needs --registry-user.

    \b
    Examples:
      canfar images
      canfar images -k notebook
      canfar images -q | grep astro
    """
    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json, quiet)
    chosen = kind.value if kind is not None else None
    listed = state.run(lambda session: session.images(chosen))
    if fmt == "json":
        out.json(listed)
    elif fmt == "quiet":
        out.ids(str(image.get("id")) for image in listed)
    else:
        from canfar_cli.cli.image_kinds import runs_in_desktop, session_kinds

        ordered = sorted(listed, key=lambda i: str(i.get("id")))
        rows = [
            [
                str(image.get("id")),
                ",".join(session_kinds(image.get("types"))) or "-",
                "yes" if runs_in_desktop(image.get("types")) else "-",
            ]
            for image in ordered
        ]
        if fmt == "wide":
            for row, image in zip(rows, ordered, strict=True):
                row.append(str(image.get("digest") or "-"))
        columns = ["IMAGE", "KINDS", "IN DESKTOP", *(["DIGEST"] if fmt == "wide" else [])]
        out.table(columns, rows)


def register(app: typer.Typer) -> None:
    app.command("images")(images)
