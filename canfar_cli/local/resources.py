"""Resource accounting of the local platform: `cores`/`ram` checked against /context's options,
and the cluster figures of `/session?view=stats` (what Running sessions request, what this
machine has)."""

from __future__ import annotations

from typing import Any

from canfar_cli.local import skaha
from canfar_cli.local.store import Store

# Resources of the templates that hard-code them (request cores, request GiB).
TEMPLATE_REQUESTS = {"desktop": (0.25, 1.0), "firefly": (0.1, 4.0)}


def options(context: dict[str, Any], key: str) -> list[int]:
    """The allowed values of a /context entry (`cores`, `memoryGB`, `gpus`); [] when absent."""
    try:
        return [int(v) for v in context[key]["options"]]
    except (KeyError, TypeError, ValueError):
        return []


def requested(params: Any, context: dict[str, Any]) -> tuple[float | None, float | None]:
    """`cores` and `ram` as given (None when absent), each checked against /context's options,
    as both a session's and a desktop-app's create check them."""
    cores = ram = None
    if params.get("cores") is not None:
        cores = skaha.check_option("cores", params.get("cores") or "", options(context, "cores"))
    if params.get("ram") is not None:
        ram = skaha.check_option("ram", params.get("ram") or "", options(context, "memoryGB"))
    return cores, ram


def with_default_cores(
    requested: tuple[float | None, float | None], context: dict[str, Any]
) -> tuple[float | None, float | None]:
    """`ram` given without `cores`: as skaha's PostAction.ResourceSpecification builds it, RAM is
    fixed (request = limit = the value) while cores keep their flexible default request
    (/context `cores.defaultRequest`), and a fixed session reports that request as its
    requestedCPUCores. So the row records the cores the job really asks for."""
    cores, ram = requested
    if ram is not None and cores is None:
        try:
            cores = float(context.get("cores", {}).get("defaultRequest", 1))
        except (AttributeError, TypeError, ValueError):
            cores = 1.0
    return cores, ram


def request_of(row: Any, context: dict[str, Any]) -> tuple[float, float]:
    """What a session asks the cluster for: (cores, GiB), as Kubernetes schedules it (the
    request, which is the value given, or /context's defaultRequest, or the template's)."""
    defaults = context.get("cores", {}), context.get("memoryGB", {})
    if row["fixed"]:
        return float(row["cores"] or 0), float(row["ram"] or 0)
    cores, ram = TEMPLATE_REQUESTS.get(
        row["type"],
        (
            row["cores"] or float(defaults[0].get("defaultRequest", 1)),
            row["ram"] or float(defaults[1].get("defaultRequest", 4)),
        ),
    )
    return float(cores), float(ram)


def stats(store: Store, context: dict[str, Any]) -> dict[str, Any]:
    """The body of `/session?view=stats`: what Running sessions request (interactive ones
    included, as on CANFAR) against the capacity the jobs share (settings.capacity)."""
    from canfar_cli.local.settings import capacity

    cores_req = ram_req = 0.0
    defaults = context.get("cores", {}), context.get("memoryGB", {})
    for row in store.active():
        if row["status"] != "Running":
            continue
        cores, ram = request_of(row, context)
        cores_req += cores
        ram_req += ram
    max_cores = float(defaults[0].get("defaultLimit", 8))
    max_ram = int(defaults[1].get("defaultLimit", 32))
    total_cores, total_ram = capacity()
    ram_available = total_ram * 1.073741824 if total_ram != float("inf") else 0.0
    return {
        "cores": {
            "requestedCPUCores": round(cores_req, 3),
            "cpuCoresAvailable": total_cores,
            "maxCPUCores": {"cpuCores": max_cores, "withRam": f"{max_ram}Gi"},
        },
        "ram": {
            "requestedRAM": quantity_g(ram_req * 1.073741824),
            "ramAvailable": quantity_g(ram_available),
            "maxRAM": {"ram": f"{max_ram}Gi", "withCPUCores": max_cores},
        },
    }


def quantity_g(value: float) -> str:
    text_value = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text_value}G"
