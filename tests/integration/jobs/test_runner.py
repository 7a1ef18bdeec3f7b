"""JobRunner against every JobStore: outcomes, backoff, locks, leases, periodic slots, shutdown."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.integration.jobs.conftest import JobBackend
from vpnsmm.adapters.jobs.runner import JobRunner
from vpnsmm.adapters.jobs.store import JobStatus
from vpnsmm.application.jobs import JobContext, RetryPolicy, Schedule, TaskRegistry
from vpnsmm.domain.errors import UpstreamRejectedError, UpstreamUnavailableError


def runner(b: JobBackend, registry: TaskRegistry, clock: Any, **options: Any) -> JobRunner:
    options.setdefault("lease_seconds", 30)
    return JobRunner(b.store, registry, now=clock.now, jitter=lambda: 0.5, poll_interval=0.02, **options)


async def test_a_job_runs_once_with_its_context_and_succeeds(jobs_backend: JobBackend, clock: Any) -> None:
    seen: list[JobContext] = []
    registry = TaskRegistry()

    async def record(job: JobContext) -> None:
        seen.append(job)

    registry.register("record", record)
    await jobs_backend.enqueue("record", {"order": 1}, key="order:1")
    assert await runner(jobs_backend, registry, clock).run_once() == 1
    [ctx] = seen
    assert (ctx.task, ctx.payload, ctx.attempt, ctx.key) == ("record", {"order": 1}, 1, "order:1")
    assert (await jobs_backend.store.get(ctx.job_id)).status is JobStatus.SUCCEEDED
    assert await runner(jobs_backend, registry, clock).run_once() == 0


async def test_transient_failures_retry_with_exponential_backoff(jobs_backend: JobBackend, clock: Any) -> None:
    calls: list[int] = []
    registry = TaskRegistry()

    async def flaky(job: JobContext) -> None:
        calls.append(job.attempt)
        if job.attempt < 3:
            raise UpstreamUnavailableError("panel down")

    registry.register("flaky", flaky, retry=RetryPolicy(max_attempts=5, base_delay=2, factor=2))
    await jobs_backend.enqueue("flaky", {})
    r = runner(jobs_backend, registry, clock)
    await r.run_once()
    [job] = await jobs_backend.store.find()
    assert job.status is JobStatus.QUEUED and job.run_at == clock.now() + timedelta(seconds=2)
    assert "UpstreamUnavailableError: panel down" in job.last_error
    clock.advance(seconds=1.9)
    assert await r.run_once() == 0  # not yet
    clock.advance(seconds=0.1)
    await r.run_once()
    assert (await jobs_backend.store.get(job.job_id)).run_at == clock.now() + timedelta(seconds=4)
    clock.advance(seconds=4)
    await r.run_once()
    final = await jobs_backend.store.get(job.job_id)
    assert calls == [1, 2, 3] and final.status is JobStatus.SUCCEEDED and final.attempts == 3


async def test_permanent_errors_and_exhausted_attempts_fail_the_job(jobs_backend: JobBackend, clock: Any) -> None:
    registry = TaskRegistry()

    async def rejected(job: JobContext) -> None:
        raise UpstreamRejectedError("invalid link")

    async def broken(job: JobContext) -> None:
        raise RuntimeError("always")

    registry.register("rejected", rejected)
    registry.register("broken", broken, retry=RetryPolicy(max_attempts=2, base_delay=0))
    await jobs_backend.enqueue("rejected", {})
    await jobs_backend.enqueue("broken", {})
    r = runner(jobs_backend, registry, clock)
    await r.run_once()
    await r.run_once()
    by_task = {j.task: j for j in await jobs_backend.store.find()}
    assert (by_task["rejected"].status, by_task["rejected"].attempts) == (JobStatus.FAILED, 1)
    assert (by_task["broken"].status, by_task["broken"].attempts) == (JobStatus.FAILED, 2)
    assert by_task["broken"].last_error.startswith("RuntimeError: always")


async def test_a_run_past_its_timeout_counts_as_a_failed_attempt(jobs_backend: JobBackend, clock: Any) -> None:
    registry = TaskRegistry()

    async def slow(job: JobContext) -> None:
        await asyncio.sleep(5)

    registry.register("slow", slow, timeout=0.05, retry=RetryPolicy(max_attempts=3, base_delay=10))
    await jobs_backend.enqueue("slow", {})
    await runner(jobs_backend, registry, clock).run_once()
    [job] = await jobs_backend.store.find()
    assert (job.status, job.attempts, job.last_error) == (JobStatus.QUEUED, 1, "timed out after 0.05s")


async def test_jobs_sharing_a_key_never_overlap(jobs_backend: JobBackend, clock: Any) -> None:
    registry = TaskRegistry()
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def sync(job: JobContext) -> None:
        key = str(job.payload["panel"])
        active[key] = active.get(key, 0) + 1
        peak[key] = max(peak.get(key, 0), active[key])
        await asyncio.sleep(0.01)
        active[key] -= 1

    registry.register("sync", sync, lock="panel:{panel}")
    for n in range(8):
        await jobs_backend.enqueue("sync", {"panel": n % 2}, key=f"panel:{n % 2}")
    assert await runner(jobs_backend, registry, clock, concurrency=8).run_once() == 8
    assert peak == {"0": 1, "1": 1}
    assert all(j.status is JobStatus.SUCCEEDED for j in await jobs_backend.store.find())


async def test_a_worker_that_lost_its_lease_stops_and_cannot_complete(jobs_backend: JobBackend,
                                                                       clock: Any) -> None:
    registry = TaskRegistry()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def long(job: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    registry.register("long", long)
    await jobs_backend.enqueue("long", {})
    first = runner(jobs_backend, registry, clock, lease_seconds=0.3, worker_id="first")
    [claimed] = await jobs_backend.store.claim(worker="first", now=clock.now(), lease_until=clock.now()
                                               + timedelta(seconds=0.3), limit=1, queues=None, tasks=["long"])
    work = asyncio.create_task(first.execute(claimed))
    await started.wait()
    clock.advance(seconds=1)  # the first worker looks dead to everyone else
    assert await jobs_backend.store.recover_stalled(now=clock.now()) == 1
    [again] = await jobs_backend.store.claim(worker="second", now=clock.now(), lease_until=clock.now()
                                             + timedelta(seconds=60), limit=1, queues=None, tasks=["long"])
    await asyncio.wait_for(work, 15)  # its next heartbeat fails, so it cancels its handler
    assert cancelled.is_set()
    record = await jobs_backend.store.get(claimed.job_id)
    assert (record.status, record.lease_owner, record.attempts) == (JobStatus.RUNNING, "second", 2)
    assert again.attempt == 2


async def test_a_job_whose_workers_keep_dying_is_failed_not_rerun(jobs_backend: JobBackend, clock: Any) -> None:
    registry, ran = TaskRegistry(), []

    async def poison(job: JobContext) -> None:
        ran.append(job.attempt)

    registry.register("poison", poison, retry=RetryPolicy(max_attempts=2))
    await jobs_backend.enqueue("poison", {})
    for _ in range(2):  # two workers claimed it and died
        await jobs_backend.store.claim(worker="w", now=clock.now(), lease_until=clock.now(), limit=1, queues=None,
                                       tasks=["poison"])
        clock.advance(seconds=1)
        await jobs_backend.store.recover_stalled(now=clock.now())
    await runner(jobs_backend, registry, clock).run_once()
    [job] = await jobs_backend.store.find()
    assert ran == [] and job.status is JobStatus.FAILED and "worker was lost" in job.last_error


async def test_periodic_tasks_are_enqueued_once_per_slot_across_runners(jobs_backend: JobBackend,
                                                                         clock: Any) -> None:
    registry, runs = TaskRegistry(), []

    async def tick(job: JobContext) -> None:
        runs.append(job.key)

    registry.register("tick", tick, schedule=Schedule.every(60))
    a, b = runner(jobs_backend, registry, clock), runner(jobs_backend, registry, clock)
    assert await a.enqueue_periodic() + await b.enqueue_periodic() == 1  # the current slot, once
    assert await a.enqueue_periodic() == 0
    clock.advance(seconds=60)
    assert await b.enqueue_periodic() + await a.enqueue_periodic() == 1
    clock.advance(seconds=600)  # ten slots missed while nobody ran: one job, not a burst of ten
    assert await a.enqueue_periodic() + await b.enqueue_periodic() == 1
    await a.run_once()
    assert runs == ["periodic:tick"] * 3


async def test_stopping_releases_jobs_that_did_not_finish_within_the_grace(jobs_backend: JobBackend,
                                                                         clock: Any) -> None:
    registry, started = TaskRegistry(), asyncio.Event()

    async def stuck(job: JobContext) -> None:
        started.set()
        await asyncio.sleep(30)

    registry.register("stuck", stuck)
    await jobs_backend.enqueue("stuck", {})
    stop = asyncio.Event()
    task = asyncio.create_task(runner(jobs_backend, registry, clock).run(stop, grace=0.05))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    [job] = await jobs_backend.store.find()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
