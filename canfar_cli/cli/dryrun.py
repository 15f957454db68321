"""`canfar create --dry-run`: the requests a create would send, as text or as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Plan(Protocol):
    """One request a create would send (the core's PlannedRequest), credentials already hidden."""

    method: str
    url: str
    headers: Mapping[str, str]
    form: Sequence[tuple[str, str]]


def render_plan(plans: Sequence[Plan]) -> str:
    """The requests as text: method and URL, headers, a blank line, then the form, one field a
    line; a blank line between requests."""
    chunks = []
    for plan in plans:
        lines = [f"{plan.method} {plan.url}"]
        lines += [f"{key}: {value}" for key, value in plan.headers.items()]
        lines.append("")
        lines += [f"{key}={value}" for key, value in plan.form]
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def plan_json(plans: Sequence[Plan]) -> list[dict[str, Any]]:
    """The requests as JSON-ready objects: method, url, headers, form as [key, value] pairs."""
    return [
        {
            "method": plan.method,
            "url": plan.url,
            "headers": dict(plan.headers),
            "form": [list(item) for item in plan.form],
        }
        for plan in plans
    ]
