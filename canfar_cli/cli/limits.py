"""`canfar limits`: what one session may ask for, from the server's /context."""

from __future__ import annotations

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return (str(int(value)) if float(value).is_integer() else f"{value:g}") + unit


def limits(
    ctx: typer.Context,
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> None:
    """Show the sizes a session may have: flexible and fixed cores and RAM, GPUs, and how many
    interactive sessions may run at once.

    A flexible session (no -c/-m) starts at the request and may grow to the limit; a fixed
    one (-c N -m GiB) gets exactly one of the listed values.

    \b
    Examples:
      canfar limits
      canfar limits -o json | jq .fixed.ramGiB
    """
    from canfar_cli.create_request import ranges

    state = state_of(ctx)
    out = state.out
    fmt = resolve_format(output, as_json)
    found = state.run(lambda session: session.limits())
    if fmt == "json":
        out.json(found.as_json())
        return
    most = found.max_interactive
    ram_request, ram_limit = _number(found.ram_request, " GiB"), _number(found.ram_limit, " GiB")
    out.blocks(
        [
            [
                (
                    "Flexible cores",
                    f"{_number(found.cores_request)} up to {_number(found.cores_limit)}",
                ),
                (
                    "Flexible RAM",
                    f"{ram_request} up to {ram_limit}",
                ),
                ("Fixed cores (-c)", ranges(found.cores_options) or "-"),
                ("Fixed RAM (-m, GiB)", ranges(found.ram_options) or "-"),
                ("GPUs (-g)", ranges(found.gpu_options) or "none"),
                ("Interactive sessions", "-" if most is None else f"at most {most} at once"),
            ]
        ]
    )


def register(app: typer.Typer) -> None:
    app.command("limits")(limits)
