"""`canfar stats`: the platform's cores and RAM, requested against available."""

from __future__ import annotations

from typing import Any

import typer

from canfar_cli.cli.options import Format, json_option, output_option, resolve_format
from canfar_cli.cli.state import state_of


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "-" if value is None else str(value)


def _obj(value: Any) -> dict[str, Any]:
    """A part of the server's answer that should be an object: anything else shows as "-"."""
    return value if isinstance(value, dict) else {}


def _gib(value: Any, *, g_means_gib: bool = False) -> str:
    """A RAM figure of the server (a quantity such as `100G` or `32Gi`) in GiB, the unit of
    -m; shown as the server sent it when it is no quantity."""
    from canfar_cli.cli.units import gib_from_quantity

    converted = gib_from_quantity(value, g_means_gib=g_means_gib)
    return converted if converted is not None else _num(value)


def stats_rows(body: dict[str, Any]) -> list[list[str]]:
    cores = _obj(body.get("cores"))
    ram = _obj(body.get("ram"))
    max_cores = _obj(cores.get("maxCPUCores"))
    max_ram = _obj(ram.get("maxRAM"))
    cores_max = _num(max_cores.get("cpuCores"))
    # The per-session maximum is GiB even where a LimitRange server writes it `<n>G`.
    if max_cores.get("withRam") is not None:
        cores_max += f" (with {_gib(max_cores['withRam'], g_means_gib=True)} GiB RAM)"
    ram_max = _gib(max_ram.get("ram"), g_means_gib=True)
    if max_ram.get("withCPUCores") is not None:
        ram_max += f" (with {_num(max_ram['withCPUCores'])} cores)"
    return [
        [
            "cores",
            _num(cores.get("requestedCPUCores")),
            _num(cores.get("cpuCoresAvailable")),
            cores_max,
        ],
        [
            "RAM (GiB)",
            _gib(ram.get("requestedRAM")),
            _gib(ram.get("ramAvailable")),
            ram_max,
        ],
    ]


def stats(
    ctx: typer.Context,
    output: Format | None = output_option(),
    as_json: bool = json_option(),
) -> None:
    """Show the platform's cores and RAM.

    Requested by all sessions against what is available, and the most one session may ask
    for.

    \b
    Examples:
      canfar stats
      canfar stats -o json
    """
    state = state_of(ctx)
    out = state.out
    body = state.run(lambda session: session.stats())
    if resolve_format(output, as_json) == "json":
        out.json(body)
        return
    out.table(["RESOURCE", "REQUESTED", "AVAILABLE", "MAX PER SESSION"], stats_rows(body))


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
