"""The job store: progress, a cancel that keeps what was done, failures as results, the running limit, eviction."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.errors import ApiError
from server.jobs import Job, JobStore


def steps(n: int, pause: float = 0.0, fail_at: int | None = None):
    async def work(job: Job) -> list[int]:
        done: list[int] = []
        for i in range(n):
            if job.cancel_requested:
                break
            if i == fail_at:
                raise ApiError(422, "invalid_parameter", "step: refused", "step")
            await asyncio.sleep(pause)
            done = [*done, i]
            job.advance(done)
        return done

    return work


def in_thread(scenario) -> None:
    """``asyncio.run`` in a thread of its own: the browser tests may leave an event loop running in this one."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(error)

    runner = threading.Thread(target=target)
    runner.start()
    runner.join(30)
    if errors:
        raise errors[0]


async def finish(job: Job) -> None:
    assert job.task is not None
    await asyncio.wait_for(job.task, 5)


def test_a_job_runs_its_steps_and_every_change_is_an_event() -> None:
    async def scenario() -> None:
        store = JobStore()
        job = store.start("demo", 3, {"n": 3}, steps(3, pause=0.01))
        seen = [e async for e in store.events(job, keepalive_s=1) if e is not None]
        dones = [e["done"] for e in seen]
        assert dones[0] == 0 and dones[-1] == 3 and dones == sorted(set(dones))  # strictly increasing
        assert set(dones) >= {0, 1, 2}  # each step lands while the listener waits (a step takes 10 ms)
        assert seen[-1]["state"] == "done" and seen[-1]["result"] == [0, 1, 2]
        assert all(e["state"] == "running" for e in seen[:-1])
        assert store.get(job.id).public()["links"]["events"] == f"/jobs/{job.id}/events"

    in_thread(scenario)


def test_cancel_stops_after_the_current_step_and_keeps_the_result() -> None:
    async def scenario() -> None:
        store = JobStore()
        job = store.start("demo", 50, {}, steps(50, pause=0.02))
        await asyncio.sleep(0.07)
        store.cancel(job.id)
        await finish(job)
        assert job.state == "cancelled" and 0 < job.done < 50 and job.result == list(range(job.done))
        assert store.cancel(job.id).state == "cancelled"  # cancelling a finished job changes nothing

    in_thread(scenario)


def test_a_failing_job_ends_failed_with_the_error_and_the_store_goes_on() -> None:
    async def scenario() -> None:
        store = JobStore()
        job = store.start("demo", 3, {}, steps(3, fail_at=1))
        await finish(job)
        assert job.state == "failed" and job.done == 1 and job.error == {
            "code": "invalid_parameter", "message": "step: refused", "field": "step"}  # fmt: skip
        other = store.start("demo", 1, {}, steps(1))
        await finish(other)
        assert other.state == "done"

    in_thread(scenario)


def test_the_running_limit_answers_429_and_finished_jobs_make_room() -> None:
    async def scenario() -> None:
        store = JobStore(capacity=3, max_running=2)
        slow = [store.start("demo", 100, {}, steps(100, pause=0.01)) for _ in range(2)]
        with pytest.raises(ApiError) as refused:
            store.start("demo", 1, {}, steps(1))
        assert refused.value.status == 429 and "2 are running" in refused.value.message
        for job in slow:
            store.cancel(job.id)
            await finish(job)
        kept = [store.start("demo", 1, {}, steps(1)) for _ in range(2)]
        await asyncio.gather(*(finish(j) for j in kept))
        with pytest.raises(ApiError) as gone:  # capacity 3: the oldest finished job made room
            store.get(slow[0].id)
        assert gone.value.status == 404
        assert store.get(kept[-1].id).state == "done"

    in_thread(scenario)


def test_shutdown_cancels_running_jobs() -> None:
    async def scenario() -> None:
        store = JobStore()
        job = store.start("demo", 1000, {}, steps(1000, pause=0.01))
        await asyncio.sleep(0.03)
        await store.shutdown()
        assert job.state == "cancelled"

    in_thread(scenario)


def test_a_finished_job_is_stored_and_found_by_a_new_store(tmp_path) -> None:
    from server.runs import RunStore

    async def scenario() -> None:
        store = JobStore(capacity=1, stored=RunStore(tmp_path, 10))
        job = store.start("demo", 2, {"n": 2}, steps(2))
        await finish(job)
        job.detail = None  # the record on disk was written when the job ended
        later = JobStore(stored=RunStore(tmp_path, 10))  # another process, after a restart
        found = later.get(job.id)
        assert found.public() == job.public() and found.state == "done" and found.result == [0, 1]
        assert [e async for e in later.events(found)][-1]["state"] == "done"  # its events end at once
        with pytest.raises(ApiError):
            later.get("0" * 16)

    in_thread(scenario)
