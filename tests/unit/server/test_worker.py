"""The compute worker: one thread, jobs with the same key batched, errors returned to their own request."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.worker import ComputeWorker, QueueFullError


def test_jobs_with_one_key_run_as_one_batch() -> None:
    worker = ComputeWorker(max_batch=8)
    calls: list[tuple[int, ...]] = []
    threads: set[str] = set()

    def double(*xs: int) -> list[int]:
        calls.append(xs)
        threads.add(threading.current_thread().name)
        return [2 * x for x in xs]

    futures = [worker.submit(double, i, batch_key="double") for i in range(5)]  # queued before the thread starts
    alone = worker.submit(lambda x: [x + 100], 1)
    worker.start()
    try:
        assert [f.result(5) for f in futures] == [0, 2, 4, 6, 8] and alone.result(5) == 101
    finally:
        worker.stop()
    assert calls == [(0, 1, 2, 3, 4)] and threads == {"explainlab-compute"}
    assert worker.jobs_run == 6 and worker.batches_run == 2


def test_batches_are_capped_and_keys_not_mixed() -> None:
    worker = ComputeWorker(max_batch=2)
    seen: list[tuple[str, ...]] = []

    def record(*xs: str) -> list[str]:
        seen.append(xs)
        return list(xs)

    futures = [worker.submit(record, f"{key}{i}", batch_key=key) for i in range(3) for key in "ab"]
    worker.start()
    try:
        [f.result(5) for f in futures]
    finally:
        worker.stop()
    assert all(len(b) <= 2 and len({x[0] for x in b}) == 1 for b in seen)


def test_an_error_reaches_its_request_and_the_worker_goes_on() -> None:
    worker = ComputeWorker()
    worker.start()

    def boom(x: int) -> list[int]:
        raise ValueError("bad job")

    async def scenario() -> int:
        with pytest.raises(ValueError, match="bad job"):
            await worker.run(boom, 1)
        return await worker.run(lambda x: [x * 3], 7)

    results: list[int] = []  # a thread of its own: the browser tests may leave an event loop in this one
    runner = threading.Thread(target=lambda: results.append(asyncio.run(scenario())))
    try:
        runner.start()
        runner.join(10)
    finally:
        worker.stop()
    assert results == [21]


def test_a_full_queue_is_refused() -> None:
    worker = ComputeWorker(queue_depth=2)  # not started: nothing drains
    worker.submit(lambda x: [x], 1)
    worker.submit(lambda x: [x], 2)
    with pytest.raises(QueueFullError, match="2 jobs waiting"):
        worker.submit(lambda x: [x], 3)
