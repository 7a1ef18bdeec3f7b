"""What the runner needs from a job store, and the records it trades in.

A *claim* hands a queued job to one worker under a lease (owner, random token, expiry). Every later
change to a running job is fenced by the token, so a worker that lost its lease (it stalled, the job
was recovered and claimed again) can no longer complete, retry or fail it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from attrs import frozen

from vpnsmm.application.ports.jobs import JSON
from vpnsmm.domain.errors import ValidationError


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@frozen
class NewJob:
    task: str
    payload: str  # canonical JSON text
    queue: str
    key: str | None
    run_at: datetime
    created_at: datetime
    dedupe_key: str | None = None


@frozen
class ClaimedJob:
    job_id: int
    task: str
    payload: dict[str, JSON]
    queue: str
    key: str | None
    attempt: int
    lease_token: str


@frozen
class JobRecord:
    job_id: int
    task: str
    payload: dict[str, JSON]
    queue: str
    key: str | None
    status: JobStatus
    attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str


def new_job(task: str, payload: Mapping[str, JSON], *, key: str | None, run_at: datetime | None, queue: str,
            now: datetime, dedupe_key: str | None = None) -> NewJob:
    """Validate enqueue arguments (see JobOutbox.enqueue) and freeze the payload as JSON text."""
    if not task or len(task) > 128:
        raise ValidationError("task names are 1-128 characters", field="task")
    if not queue or len(queue) > 64:
        raise ValidationError("queue names are 1-64 characters", field="queue")
    if key is not None and not 0 < len(key) <= 200:
        raise ValidationError("job keys are 1-200 characters", field="key")
    if run_at is not None and run_at.tzinfo is None:
        raise ValidationError("run_at must be timezone-aware", field="run_at")
    if not isinstance(payload, Mapping):
        raise ValidationError("the payload must be a JSON object", field="payload")
    try:
        text = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the payload is not JSON: {exc}", field="payload") from None
    return NewJob(task=task, payload=text, queue=queue, key=key, run_at=run_at or now, created_at=now,
                  dedupe_key=dedupe_key)


def load_payload(text: str) -> dict[str, JSON]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


class JobStore(Protocol):
    """Worker side of the queue. Each method is its own short transaction."""

    async def add(self, job: NewJob) -> int | None:
        """Insert ``job`` and return its id; with a ``dedupe_key`` already used, insert nothing and return None."""
        ...

    async def has_work(self, *, now: datetime, queues: Sequence[str] | None, tasks: Sequence[str]) -> bool:
        """Cheap read-only check: is a job claimable or a lease expired? (Lets idle pollers skip write locks.)"""
        ...

    async def claim(self, *, worker: str, now: datetime, lease_until: datetime, limit: int,
                    queues: Sequence[str] | None, tasks: Sequence[str]) -> list[ClaimedJob]:
        """Lease up to ``limit`` due queued jobs of ``tasks`` (and ``queues``; None = all), oldest first.

        Never returns a job whose key has a running job, nor two jobs with the same key. Increments attempts.
        """
        ...

    async def heartbeat(self, job_id: int, token: str, *, lease_until: datetime) -> bool:
        """Extend the lease; False when the lease is no longer ours (then stop working on the job)."""
        ...

    async def complete(self, job_id: int, token: str, *, now: datetime) -> bool:
        """Mark succeeded. False (and no change) when the lease is no longer ours."""
        ...

    async def retry(self, job_id: int, token: str, *, run_at: datetime, error: str) -> bool:
        """Back to queued for another attempt at ``run_at``. False when the lease is no longer ours."""
        ...

    async def fail(self, job_id: int, token: str, *, now: datetime, error: str) -> bool:
        """Mark failed for good. False when the lease is no longer ours."""
        ...

    async def release(self, job_id: int, token: str, *, now: datetime) -> bool:
        """Give the job back untouched (graceful shutdown): queued, attempt not counted."""
        ...

    async def recover_stalled(self, *, now: datetime) -> int:
        """Requeue running jobs whose lease expired (their worker died or hung). Returns how many."""
        ...

    async def get(self, job_id: int) -> JobRecord:
        """One job. Raises NotFoundError."""
        ...

    async def find(self, *, status: JobStatus | None = None, task: str | None = None) -> list[JobRecord]:
        """Jobs by id, optionally filtered (inspection and tests)."""
        ...

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete succeeded jobs finished before the given time. Returns how many."""
        ...
