"""The compute worker: one thread owns torch in this process (design.md §7).

Requests put jobs on a queue and await a future. Concurrent torch calls on 2 cores only thrash (each threadpool
thread would run torch with 2 OpenMP threads), so every job runs here, one at a time. Jobs that share a
``batch_key`` (same model, same cheap method, same params) and wait together are run as one batch: their inputs are
concatenated, the function runs once and each job gets its own slice of the result.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import torch
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


class QueueFullError(RuntimeError):
    """More jobs waiting than ``queue_depth``: the caller answers 503 and the client retries later."""


@dataclass
class Job:
    """``run(*payloads)`` returns one result per payload; a job without ``batch_key`` always runs alone."""

    run: Callable[..., list[Any]]
    payload: Any
    batch_key: Hashable | None = None
    future: Future = field(default_factory=Future)
    queued_at: float = field(default_factory=time.perf_counter)


class ComputeWorker:
    """A single thread draining a job queue, batching jobs that share a key."""

    def __init__(
        self, *, queue_depth: int = 256, max_batch: int = 32, threads: int | None = None, inline: bool = False
    ) -> None:
        self.queue_depth, self.max_batch, self.threads = queue_depth, max_batch, threads
        self.inline = inline  # the naive baseline for bench/serve_load.py: torch in the request threads
        self._jobs: deque[Job] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches_run = 0
        self.jobs_run = 0

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="explainlab-compute", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def submit(self, run: Callable[..., list[Any]], payload: Any, batch_key: Hashable | None = None) -> Future:
        job = Job(run, payload, batch_key)
        with self._ready:
            if len(self._jobs) >= self.queue_depth:
                raise QueueFullError(f"the compute queue is full ({self.queue_depth} jobs waiting); retry shortly")
            self._jobs.append(job)
            self._ready.notify()
        return job.future

    async def run(self, run: Callable[..., list[Any]], payload: Any, batch_key: Hashable | None = None) -> Any:
        """Submit and await the result (exceptions from the job are re-raised here)."""
        if self.inline:
            result = (await run_in_threadpool(run, payload))[0]
            self.jobs_run += 1
            self.batches_run += 1
            return result
        return await asyncio.wrap_future(self.submit(run, payload, batch_key))

    def _take(self) -> list[Job] | None:
        with self._ready:
            while not self._jobs and not self._stopping:
                self._ready.wait()
            if self._stopping:
                return None
            first = self._jobs.popleft()
            batch = [first]
            if first.batch_key is not None:
                for job in list(self._jobs):
                    if len(batch) >= self.max_batch:
                        break
                    if job.batch_key == first.batch_key:
                        self._jobs.remove(job)
                        batch.append(job)
            return batch

    def _loop(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        while (batch := self._take()) is not None:
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = live[0].run(*[job.payload for job in live])
                for job, result in zip(live, results, strict=True):
                    job.future.set_result(result)
            except BaseException as error:  # noqa: BLE001 - every error goes back to its request
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(error)
            self.batches_run += 1
            self.jobs_run += len(live)
