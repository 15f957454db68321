"""UWS jobs of the storage services: transfers (sync and async negotiations, moves) and
recursive deletes, kept in memory for an hour (CANFAR keeps sync transfer jobs ~60 s; an hour
is kinder to a slow test, and nothing relies on a job vanishing).

A job runs in a thread of its own once its phase is set to RUN (moves and deletes), or at once
(negotiations): a client polls `{job}/phase` as it would on CANFAR.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from canfar_cli.local.storage.tree import format_date

KEEP_SECONDS = 3600.0
PENDING, QUEUED, EXECUTING = "PENDING", "QUEUED", "EXECUTING"
COMPLETED, ERROR, ABORTED = "COMPLETED", "ERROR", "ABORTED"
FINAL = (COMPLETED, ERROR, ABORTED)


@dataclass
class Job:
    id: str
    owner: str | None
    service: str
    kind: str  # "transfer" | "delete"
    work: Callable[[Job], None] | None = None
    phase: str = PENDING
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    # The transfer document of the job's result (/xfer/{id}), and its request document.
    details: str | None = None
    request: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def fail(self, message: str) -> None:
        self.error = message
        self.phase = ERROR
        self.ended = time.time()
        self.done.set()

    def complete(self) -> None:
        self.phase = COMPLETED
        self.ended = time.time()
        self.done.set()


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def new(self, owner: str | None, service: str, kind: str) -> Job:
        now = time.time()
        with self._lock:
            for key in [k for k, j in self._jobs.items() if now - j.created > KEEP_SECONDS]:
                del self._jobs[key]
            job = Job(id=secrets.token_hex(8), owner=owner, service=service, kind=kind)
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str, service: str, kind: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.service != service or job.kind != kind:
            return None
        return job

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def run(self, job: Job) -> None:
        """PHASE=RUN: start the job's work in a thread (once)."""
        if job.phase != PENDING or job.work is None:
            return
        job.phase = QUEUED
        job.started = time.time()
        work = job.work

        def body() -> None:
            job.phase = EXECUTING
            try:
                work(job)
            except Exception as exc:  # the job's error, as the UWS runner records it
                job.fail(getattr(exc, "message", None) or str(exc))
                return
            if job.phase not in FINAL:
                job.complete()

        threading.Thread(target=body, name=f"uws-{job.id}", daemon=True).start()


def job_document(job: Job) -> str:
    def timed(name: str, value: float | None) -> str:
        if value is None:
            return f'  <uws:{name} xsi:nil="true" />\n'
        return f"  <uws:{name}>{format_date(value)}</uws:{name}>\n"

    parameters = "".join(
        f'    <uws:parameter id="{escape(k)}">{escape(v)}</uws:parameter>\n'
        for k, v in job.parameters.items()
    )
    results = "".join(
        f'    <uws:result id="{escape(k)}" xlink:href="{escape(v)}" />\n'
        for k, v in job.results.items()
    )
    error = ""
    if job.error is not None:
        error = (
            '  <uws:errorSummary type="fatal" hasDetail="true">\n'
            f"    <uws:message>{escape(job.error)}</uws:message>\n"
            "  </uws:errorSummary>\n"
        )
    info = f"  <uws:jobInfo>\n{job.request}  </uws:jobInfo>\n" if job.request else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<uws:job xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1">\n'
        f"  <uws:jobId>{job.id}</uws:jobId>\n"
        '  <uws:runId xsi:nil="true" />\n'
        + (
            f"  <uws:ownerId>{escape(job.owner)}</uws:ownerId>\n"
            if job.owner
            else '  <uws:ownerId xsi:nil="true" />\n'
        )
        + f"  <uws:phase>{job.phase}</uws:phase>\n"
        '  <uws:quote xsi:nil="true" />\n'
        + timed("creationTime", job.created)
        + timed("startTime", job.started)
        + timed("endTime", job.ended)
        + "  <uws:executionDuration>600</uws:executionDuration>\n"
        + timed("destruction", job.created + KEEP_SECONDS)
        + (
            f"  <uws:parameters>\n{parameters}  </uws:parameters>\n"
            if parameters
            else "  <uws:parameters />\n"
        )
        + (f"  <uws:results>\n{results}  </uws:results>\n" if results else "  <uws:results />\n")
        + error
        + info
        + "</uws:job>\n"
    )
