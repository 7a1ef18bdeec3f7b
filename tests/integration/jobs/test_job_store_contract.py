"""JobStore + JobOutbox contract, on the in-memory store, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration.jobs.conftest import JobBackend
from vpnsmm.adapters.jobs.store import JobStatus, new_job
from vpnsmm.application.ports.jobs import JobOutbox
from vpnsmm.domain.errors import NotFoundError, ValidationError

TASKS = ["noop", "sync"]


async def claim(b: JobBackend, now: datetime, *, limit: int = 10, worker: str = "w1",
                queues: list[str] | None = None, tasks: list[str] = TASKS) -> list[Any]:
    return await b.store.claim(worker=worker, now=now, lease_until=now + timedelta(seconds=30), limit=limit,
                               queues=queues, tasks=tasks)


async def test_a_committed_job_is_claimable_with_its_payload(jobs_backend: JobBackend, clock: Any) -> None:
    await jobs_backend.enqueue("noop", {"order": 7, "tags": ["a"], "note": None})
    assert await jobs_backend.store.has_work(now=clock.now(), queues=None, tasks=TASKS)
    [job] = await claim(jobs_backend, clock.now())
    assert (job.task, job.payload, job.attempt, job.queue, job.key) == (
        "noop", {"order": 7, "tags": ["a"], "note": None}, 1, "default", None)
    record = await jobs_backend.store.get(job.job_id)
    assert record.status is JobStatus.RUNNING and record.lease_owner == "w1"
    assert await claim(jobs_backend, clock.now()) == []  # claimed jobs are not handed out twice


async def test_a_rolled_back_job_never_exists(jobs_backend: JobBackend, clock: Any) -> None:
    async def work(outbox: JobOutbox) -> None:
        await outbox.enqueue("noop", {"n": 1})
    await jobs_backend.transaction(work, False)
    assert await jobs_backend.store.find() == []
    assert not await jobs_backend.store.has_work(now=clock.now(), queues=None, tasks=TASKS)


async def test_run_at_delays_the_job(jobs_backend: JobBackend, clock: Any) -> None:
    await jobs_backend.enqueue("noop", {}, run_at=clock.now() + timedelta(minutes=5))
    assert await claim(jobs_backend, clock.now()) == []
    assert len(await claim(jobs_backend, clock.now() + timedelta(minutes=5))) == 1


async def test_registry_lock_template_and_queue_apply(jobs_backend: JobBackend, clock: Any) -> None:
    await jobs_backend.enqueue("sync", {"panel": 3})
    [record] = await jobs_backend.store.find()
    assert (record.key, record.queue) == ("sync:panel:3", "sync")
    assert await claim(jobs_backend, clock.now(), queues=["default"]) == []
    assert len(await claim(jobs_backend, clock.now(), queues=["sync"])) == 1


async def test_missing_lock_field_and_bad_input_are_refused(jobs_backend: JobBackend, clock: Any) -> None:
    with pytest.raises(ValidationError) as missing:
        await jobs_backend.enqueue("sync", {"other": 1})
    assert missing.value.field == "payload"
    with pytest.raises(ValidationError) as naive:
        await jobs_backend.enqueue("noop", {}, run_at=datetime(2026, 1, 1))
    assert naive.value.field == "run_at"
    with pytest.raises(ValidationError) as not_json:
        await jobs_backend.enqueue("noop", {"when": clock.now()})
    assert not_json.value.field == "payload"
    with pytest.raises(ValidationError):
        await jobs_backend.enqueue("", {})
    with pytest.raises(ValidationError):
        await jobs_backend.enqueue("noop", {"x": float("nan")})
    assert await jobs_backend.store.find() == []


async def test_at_most_one_running_job_per_key(jobs_backend: JobBackend, clock: Any) -> None:
    for n in range(3):
        await jobs_backend.enqueue("noop", {"n": n}, key="k")
    await jobs_backend.enqueue("noop", {"n": 99}, key="other")
    first = await claim(jobs_backend, clock.now())
    assert sorted(j.key for j in first) == ["k", "other"]  # one per key, even within one claim
    assert await claim(jobs_backend, clock.now(), worker="w2") == []  # key k is busy for everyone
    k_job = next(j for j in first if j.key == "k")
    assert await jobs_backend.store.complete(k_job.job_id, k_job.lease_token, now=clock.now())
    [second] = await claim(jobs_backend, clock.now(), worker="w2")
    assert second.key == "k" and second.payload == {"n": 1}  # oldest first


async def test_busy_keys_do_not_starve_other_jobs(jobs_backend: JobBackend, clock: Any) -> None:
    for n in range(5):
        await jobs_backend.enqueue("noop", {"n": n}, key="hot")
    await jobs_backend.enqueue("noop", {"n": "free"})
    assert len(await claim(jobs_backend, clock.now(), limit=1)) == 1
    [free] = await claim(jobs_backend, clock.now(), limit=1)
    assert free.payload == {"n": "free"}


async def test_outcomes_are_fenced_by_the_lease_token(jobs_backend: JobBackend, clock: Any) -> None:
    await jobs_backend.enqueue("noop", {})
    [job] = await claim(jobs_backend, clock.now())
    store = jobs_backend.store
    assert not await store.complete(job.job_id, "not-the-token", now=clock.now())
    assert await store.heartbeat(job.job_id, job.lease_token, lease_until=clock.now() + timedelta(seconds=60))
    # the lease runs out (worker hung), the job is recovered and claimed by someone else
    later = clock.now() + timedelta(seconds=61)
    assert await store.recover_stalled(now=later) == 1
    [again] = await claim(jobs_backend, later, worker="w2")
    assert again.job_id == job.job_id and again.attempt == 2
    assert not await store.heartbeat(job.job_id, job.lease_token, lease_until=later)
    assert not await store.complete(job.job_id, job.lease_token, now=later)
    assert not await store.fail(job.job_id, job.lease_token, now=later, error="x")
    assert await store.complete(again.job_id, again.lease_token, now=later)
    record = await store.get(job.job_id)
    assert record.status is JobStatus.SUCCEEDED and record.attempts == 2 and record.finished_at == later


async def test_recovery_leaves_live_leases_alone(jobs_backend: JobBackend, clock: Any) -> None:
    await jobs_backend.enqueue("noop", {})
    await claim(jobs_backend, clock.now())
    assert await jobs_backend.store.recover_stalled(now=clock.now() + timedelta(seconds=29)) == 0
    assert await jobs_backend.store.has_work(now=clock.now() + timedelta(seconds=31), queues=None, tasks=TASKS)


async def test_retry_fail_and_release(jobs_backend: JobBackend, clock: Any) -> None:
    store = jobs_backend.store
    for n in range(3):
        await jobs_backend.enqueue("noop", {"n": n})
    a, b, c = await claim(jobs_backend, clock.now())
    assert await store.retry(a.job_id, a.lease_token, run_at=clock.now() + timedelta(seconds=8), error="boom")
    assert await store.fail(b.job_id, b.lease_token, now=clock.now(), error="no")
    assert await store.release(c.job_id, c.lease_token, now=clock.now())
    ra, rb, rc = [await store.get(j.job_id) for j in (a, b, c)]
    assert (ra.status, ra.last_error, ra.attempts, ra.run_at) == (
        JobStatus.QUEUED, "boom", 1, clock.now() + timedelta(seconds=8))
    assert (rb.status, rb.last_error) == (JobStatus.FAILED, "no")
    assert (rc.status, rc.attempts) == (JobStatus.QUEUED, 0)  # a released attempt does not count
    [only] = await claim(jobs_backend, clock.now())
    assert only.job_id == c.job_id and only.attempt == 1


async def test_tasks_a_worker_does_not_know_stay_queued(jobs_backend: JobBackend, clock: Any) -> None:
    await jobs_backend.enqueue("from.a.newer.release", {})
    assert not await jobs_backend.store.has_work(now=clock.now(), queues=None, tasks=TASKS)
    assert await claim(jobs_backend, clock.now()) == []
    [record] = await jobs_backend.store.find(status=JobStatus.QUEUED)
    assert record.task == "from.a.newer.release"


async def test_dedupe_key_inserts_once_and_prune_deletes_old_successes(jobs_backend: JobBackend, clock: Any) -> None:
    store, now = jobs_backend.store, clock.now()
    job = new_job("noop", {}, key=None, run_at=None, queue="default", now=now, dedupe_key="periodic:noop:1")
    first = await store.add(job)
    assert first is not None
    assert await store.add(job) is None
    [claimed] = await claim(jobs_backend, now)
    await store.complete(claimed.job_id, claimed.lease_token, now=now)
    assert await store.prune(finished_before=now) == 0
    assert await store.prune(finished_before=now + timedelta(seconds=1)) == 1
    with pytest.raises(NotFoundError):
        await store.get(first)
