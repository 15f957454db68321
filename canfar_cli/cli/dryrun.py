"""`canfar create --dry-run`: the requests a create would send, as text or as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Plan(Protocol):
    """One request a create would send (the core's PlannedRequest), credentials already hidden."""

    # Read-only (properties), so that PlannedRequest's dict and list fields satisfy them.
    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def form(self) -> Sequence[tuple[str, str]]: ...
    @property
    def argv(self) -> Sequence[str]: ...
    @property
    def job_env(self) -> Sequence[tuple[str, str]]: ...


def job_line(plan: Plan) -> str | None:
    """`# job argv: [...]`: what the job will run, as JSON (spaces and empty arguments show)."""
    import json

    if not plan.argv:
        return None
    shown = json.dumps(list(plan.argv), ensure_ascii=False)
    if "cmd" not in dict(plan.form):
        return f"# job args (after the image's entrypoint): {shown}"
    return f"# job argv: {shown}"


# Text output of a large batch: the first and the last request in full, the others summed up in
# one line (they differ only in the name and REPLICA_ID); JSON always holds every request.
SHOWN_IN_FULL = 3


def render_plan(plans: Sequence[Plan]) -> str:
    """The requests as text: method and URL, headers, a blank line, then the form, one field a
    line, and the argv the job will see; a blank line between requests. More than
    SHOWN_IN_FULL requests: the first and the last, with one line for those between."""
    if len(plans) > SHOWN_IN_FULL:
        first, middle, last = plans[0], plans[1:-1], plans[-1]
        names = [dict(plan.form).get("name", "?") for plan in middle]
        between = (
            f"# … {len(middle)} more request(s) like these, named {names[0]} … {names[-1]}"
            " (-o json lists every one)\n"
        )
        return "\n".join([render_plan([first]), between, render_plan([last])])
    chunks = []
    for plan in plans:
        lines = [f"{plan.method} {plan.url}"]
        lines += [f"{key}: {value}" for key, value in plan.headers.items()]
        lines.append("")
        lines += [f"{key}={value}" for key, value in plan.form]
        job = job_line(plan)
        if job is not None:
            lines.append(job)
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def plan_json(plans: Sequence[Plan]) -> list[dict[str, Any]]:
    """The requests as JSON-ready objects: method, url, headers, form as [key, value] pairs, and
    the argv and environment the job will see."""
    return [
        {
            "method": plan.method,
            "url": plan.url,
            "headers": dict(plan.headers),
            "form": [list(item) for item in plan.form],
            "argv": list(plan.argv),
            "env": dict(plan.job_env),
        }
        for plan in plans
    ]
