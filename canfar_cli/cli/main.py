"""The `canfar` Typer app: global options and the registration of each command module.

Skeleton: the command modules register themselves here. Heavy imports (httpx, anyio, rich.table,
the local platform) stay inside the command functions so `canfar --help` and TAB stay fast.
"""

from __future__ import annotations

import typer

from canfar_cli.cli.local import local_app

app = typer.Typer(
    name="canfar",
    help="Sessions of the CANFAR Science Platform.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")


@app.callback()
def _root() -> None:
    """Sessions of the CANFAR Science Platform."""


def main() -> None:
    app(prog_name="canfar")
