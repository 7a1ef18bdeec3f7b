"""In-process job queue: a store and a transactional outbox for tests, demos and the memory backend.

Same contract as the SQL store, for one process. :class:`InMemoryJobOutbox` stages jobs and hands them to
the store only on :meth:`InMemoryJobOutbox.flush` (the in-memory unit of work calls it on commit and
:meth:`~InMemoryJobOutbox.discard` on rollback), so the "job exists iff the write commits" rule holds.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from attrs import define, evolve

from vpnsmm.adapters.jobs.store import ClaimedJob, JobRecord, JobStatus, NewJob, load_payload, new_job
from vpnsmm.application.jobs import TaskRegistry
from vpnsmm.application.ports.jobs import JSON
from vpnsmm.domain.errors import NotFoundError


@define
class _Row:
    record: JobRecord
    token: str | None = None
    dedupe_key: str | None = None


class InMemoryJobStore:
    """A JobStore in a dict. Safe for concurrent tasks of one event loop."""

    def __init__(self) -> None:
        self._rows: dict[int, _Row] = {}
        self._dedupe: set[str] = set()
        self._next_id = 1
        self._lock = asyncio.Lock()

    async def add(self, job: NewJob) -> int | None:
        async with self._lock:
            return self._add(job)

    def _add(self, job: NewJob) -> int | None:
        if job.dedupe_key is not None:
            if job.dedupe_key in self._dedupe:
                return None
            self._dedupe.add(job.dedupe_key)
        job_id, self._next_id = self._next_id, self._next_id + 1
        self._rows[job_id] = _Row(JobRecord(
            job_id=job_id, task=job.task, payload=load_payload(job.payload), queue=job.queue, key=job.key,
            status=JobStatus.QUEUED, attempts=0, run_at=job.run_at, created_at=job.created_at, started_at=None,
            finished_at=None, lease_owner=None, lease_until=None, last_error=""), dedupe_key=job.dedupe_key)
        return job_id

    def _due(self, now: datetime, queues: Sequence[str] | None, tasks: Sequence[str]) -> list[_Row]:
        rows = [r for r in self._rows.values() if r.record.status is JobStatus.QUEUED and r.record.run_at <= now
                and r.record.task in tasks and (queues is None or r.record.queue in queues)]
        return sorted(rows, key=lambda r: (r.record.run_at, r.record.job_id))

    async def has_work(self, *, now: datetime, queues: Sequence[str] | None, tasks: Sequence[str]) -> bool:
        async with self._lock:
            return bool(self._due(now, queues, tasks)) or any(
                r.record.status is JobStatus.RUNNING and r.record.lease_until is not None
                and r.record.lease_until < now for r in self._rows.values())

    async def claim(self, *, worker: str, now: datetime, lease_until: datetime, limit: int,
                    queues: Sequence[str] | None, tasks: Sequence[str]) -> list[ClaimedJob]:
        async with self._lock:
            busy = {r.record.key for r in self._rows.values()
                    if r.record.status is JobStatus.RUNNING and r.record.key is not None}
            claimed: list[ClaimedJob] = []
            for row in self._due(now, queues, tasks):
                if len(claimed) >= limit:
                    break
                key = row.record.key
                if key is not None:
                    if key in busy:
                        continue
                    busy.add(key)
                row.token = secrets.token_hex(16)
                row.record = evolve(row.record, status=JobStatus.RUNNING, attempts=row.record.attempts + 1,
                                    started_at=now, lease_owner=worker[:64], lease_until=lease_until)
                claimed.append(ClaimedJob(job_id=row.record.job_id, task=row.record.task,
                                          payload=dict(row.record.payload), queue=row.record.queue, key=key,
                                          attempt=row.record.attempts, lease_token=row.token))
            return claimed

    def _owned(self, job_id: int, token: str) -> _Row | None:
        row = self._rows.get(job_id)
        if row is None or row.token != token or row.record.status is not JobStatus.RUNNING:
            return None
        return row

    async def heartbeat(self, job_id: int, token: str, *, lease_until: datetime) -> bool:
        async with self._lock:
            row = self._owned(job_id, token)
            if row is None:
                return False
            row.record = evolve(row.record, lease_until=lease_until)
            return True

    async def complete(self, job_id: int, token: str, *, now: datetime) -> bool:
        async with self._lock:
            row = self._owned(job_id, token)
            if row is None:
                return False
            row.token = None
            row.record = evolve(row.record, status=JobStatus.SUCCEEDED, finished_at=now, lease_until=None)
            return True

    async def retry(self, job_id: int, token: str, *, run_at: datetime, error: str) -> bool:
        async with self._lock:
            row = self._owned(job_id, token)
            if row is None:
                return False
            row.token = None
            row.record = evolve(row.record, status=JobStatus.QUEUED, run_at=run_at, last_error=error[:4000],
                                lease_owner=None, lease_until=None)
            return True

    async def fail(self, job_id: int, token: str, *, now: datetime, error: str) -> bool:
        async with self._lock:
            row = self._owned(job_id, token)
            if row is None:
                return False
            row.token = None
            row.record = evolve(row.record, status=JobStatus.FAILED, finished_at=now, last_error=error[:4000],
                                lease_until=None)
            return True

    async def release(self, job_id: int, token: str, *, now: datetime) -> bool:
        async with self._lock:
            row = self._owned(job_id, token)
            if row is None:
                return False
            row.token = None
            row.record = evolve(row.record, status=JobStatus.QUEUED, run_at=now, attempts=row.record.attempts - 1,
                                lease_owner=None, lease_until=None)
            return True

    async def recover_stalled(self, *, now: datetime) -> int:
        async with self._lock:
            count = 0
            for row in self._rows.values():
                lease = row.record.lease_until
                if row.record.status is JobStatus.RUNNING and lease is not None and lease < now:
                    row.token = None
                    row.record = evolve(row.record, status=JobStatus.QUEUED, run_at=now, lease_owner=None,
                                        lease_until=None, last_error="lease expired: the worker stopped or hung")
                    count += 1
            return count

    async def get(self, job_id: int) -> JobRecord:
        async with self._lock:
            row = self._rows.get(job_id)
            if row is None:
                raise NotFoundError(f"no job {job_id}", code="JOB_NOT_FOUND")
            return row.record

    async def find(self, *, status: JobStatus | None = None, task: str | None = None) -> list[JobRecord]:
        async with self._lock:
            return [r.record for _, r in sorted(self._rows.items())
                    if (status is None or r.record.status is status) and (task is None or r.record.task == task)]

    async def prune(self, *, finished_before: datetime) -> int:
        async with self._lock:
            doomed = [job_id for job_id, r in self._rows.items() if r.record.status is JobStatus.SUCCEEDED
                      and r.record.finished_at is not None and r.record.finished_at < finished_before]
            for job_id in doomed:
                del self._rows[job_id]
            return len(doomed)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InMemoryJobOutbox:
    """``uow.jobs`` for the in-memory unit of work: staged until :meth:`flush`, dropped by :meth:`discard`."""

    def __init__(self, store: InMemoryJobStore, *, registry: TaskRegistry | None = None,
                 now: Callable[[], datetime] = _utcnow) -> None:
        self._store, self._registry, self._now = store, registry, now
        self.staged: list[NewJob] = []

    async def enqueue(self, task: str, payload: Mapping[str, JSON], *, key: str | None = None,
                      run_at: datetime | None = None, queue: str = "default") -> None:
        if self._registry is not None and task in self._registry:
            spec = self._registry.get(task)
            key = key if key is not None else spec.key_for(payload)
            queue = spec.queue if queue == "default" else queue
        self.staged.append(new_job(task, payload, key=key, run_at=run_at, queue=queue, now=self._now()))

    async def flush(self) -> None:
        """Publish the staged jobs (call on commit). Idempotent: staged jobs are published once."""
        staged, self.staged = self.staged, []
        for job in staged:
            await self._store.add(job)

    def discard(self) -> None:
        """Forget the staged jobs (call on rollback)."""
        self.staged.clear()
