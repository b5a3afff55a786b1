"""Long work as jobs a client follows (design.md §5, Jobs): started by a POST that answers at once, progress pushed
over server-sent events, cancellable. The newest jobs stay in memory; a finished one is also written to disk
(``<runs dir>/jobs/<id>.json``, with its per-image detail), so its page and JSON outlive the process like a run's.

A job is a coroutine in the server's event loop; its compute still goes through the compute worker's queue one
piece at a time, so interactive requests keep their turn between a job's steps. Not to be confused with the
worker's queue entries (``server.worker.Job``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from server.errors import ApiError
from server.runs import RunStore

log = logging.getLogger(__name__)

State = Literal["running", "done", "cancelled", "failed"]


@dataclass
class Job:
    """One long task: its progress (``done`` of ``total`` steps), partial or final result, and how it ended."""

    id: str
    kind: str
    total: int
    request: dict[str, Any]
    state: State = "running"
    done: int = 0
    result: Any = None
    detail: Any = None  # bulky data only the export carries (a test-set run's per-image outcomes)
    error: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    cancel_requested: bool = False
    task: asyncio.Task | None = field(default=None, repr=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def advance(self, result: Any, steps: int = 1) -> None:
        """``steps`` more done; ``result`` is the result so far (a cancelled or failed job keeps it)."""
        self.done, self.result = self.done + steps, result
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # wakes every waiter of the old event; later waiters take the new one

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Job:
        """A finished job as ``public(detail=True)`` wrote it."""
        fields = ("state", "done", "result", "error", "created", "finished")
        job = cls(record["job_id"], record["kind"], record["total"], record["request"],
                  **{name: record.get(name) for name in fields})  # fmt: skip
        job.detail = record.get("detail")
        return job

    def next_change(self) -> asyncio.Event:
        """The event the job's next change sets: take it before reading the state, then wait on it."""
        return self._changed

    def public(self, detail: bool = False) -> dict[str, Any]:
        """The JSON a client sees (``GET /jobs/{id}``, each event); the export (``detail``) adds the bulky data."""
        return ({"detail": self.detail} if detail and self.detail is not None else {}) | {
            "job_id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "links": {"self": f"/jobs/{self.id}", "events": f"/jobs/{self.id}/events"},
            "request": self.request,
            "result": self.result,
            "error": self.error,
            "created": self.created,
            "finished": self.finished,
        }


class JobStore:
    """The jobs of this process: at most ``max_running`` at once (more answer 429), the newest ``capacity`` kept in
    memory, and every finished one in ``stored`` (when given) for later lookups."""

    def __init__(self, capacity: int = 64, max_running: int = 2, stored: RunStore | None = None) -> None:
        self.capacity, self.max_running, self.stored = capacity, max_running, stored
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def running(self) -> list[Job]:
        return [job for job in self._jobs.values() if job.state == "running"]

    def start(self, kind: str, total: int, request: dict[str, Any], work: Callable[[Job], Awaitable[Any]]) -> Job:
        """Run ``work(job)`` in the background; it calls ``job.advance`` after each step and checks
        ``job.cancel_requested`` between steps. Its return value is the final result."""
        if len(self.running()) >= self.max_running:
            raise ApiError(
                429,
                "too_many_jobs",
                f"jobs: {self.max_running} are running already (EXPLAINLAB_MAX_JOBS); wait for one to finish or "
                "cancel it (DELETE /jobs/{id})",
                None,
            )
        while len(self._jobs) >= self.capacity:
            oldest = next((j for j in self._jobs.values() if j.state != "running"), None)
            if oldest is None:
                break
            del self._jobs[oldest.id]
        job = Job(secrets.token_hex(8), kind, total, request)
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, work), name=f"explainlab-job-{job.id}")
        return job

    async def _run(self, job: Job, work: Callable[[Job], Awaitable[Any]]) -> None:
        try:
            result = await work(job)
            job.result = result if result is not None else job.result
            job.state = "cancelled" if job.cancel_requested else "done"
        except asyncio.CancelledError:
            job.state = "cancelled"
        except ApiError as error:
            job.state, job.error = "failed", {"code": error.code, "message": error.message, "field": error.field}
        except Exception as error:  # noqa: BLE001 - a job's failure is its result, the server stays up
            log.exception("job %s failed", job.id)
            job.state, job.error = "failed", {"code": "internal", "message": f"{type(error).__name__}: {error}"}
        job.finished = time.time()
        if self.stored is not None:
            try:
                await asyncio.to_thread(self.stored.save, job.id, job.public(detail=True))
            except (OSError, TypeError, ValueError):  # a full disk or an odd result: the job still ends
                log.exception("job %s: could not store it", job.id)
        job._notify()

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None and self.stored is not None and (record := self.stored.load(job_id)) is not None:
            job = Job.from_record(record)
        if job is None:
            raise ApiError(404, "unknown_job", f"job: no job {job_id[:20]!r} (or it has expired)", "job_id")
        return job

    def cancel(self, job_id: str) -> Job:
        """Ask a running job to stop after its current step (what it finished stays in its result)."""
        job = self.get(job_id)
        if job.state == "running":
            job.cancel_requested = True
            job._notify()
        return job

    async def shutdown(self) -> None:
        for job in self.running():
            if job.task is not None:
                job.task.cancel()
        await asyncio.gather(*(j.task for j in self._jobs.values() if j.task is not None), return_exceptions=True)

    async def events(self, job: Job, keepalive_s: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
        """The job's state now and after every change, until it has finished; None is a keep-alive tick."""
        seen = None
        while True:
            change = job.next_change()  # taken before the state is read: a change while we yield is not missed
            snapshot = (job.state, job.done, job.cancel_requested)
            if snapshot != seen:
                seen = snapshot
                yield job.public()
                if job.state != "running":
                    return
            else:
                yield None
            try:
                await asyncio.wait_for(change.wait(), keepalive_s)
            except TimeoutError:
                pass
