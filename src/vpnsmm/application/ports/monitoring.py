"""Live figures of this installation (job queue, database pool, cache, order pipeline) for monitoring APIs.

Every figure is measured, never estimated: a probe that cannot know a number says None (or raises
UpstreamUnavailableError for a component that is configured but unreachable).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen


@frozen
class QueueFigures:
    """One job queue now: jobs waiting (``queued``; ``due`` of them runnable now), leased, failed for good,
    and ``workers``: distinct workers holding a lease on one of its jobs at this moment."""

    queue: str
    queued: int
    due: int
    running: int
    failed: int
    workers: int


@frozen
class FailedJob:
    job_id: int
    task: str
    queue: str
    at: datetime
    error: str


@frozen
class JobOutcomes:
    """Since a moment: jobs failed for good, and succeeded after at least one failed attempt; now: jobs
    failed for good in all (the dead-letter set) and jobs waiting to retry after an error."""

    failed_since: int
    recovered_since: int
    dead: int
    retrying: int


@frozen
class PoolFigures:
    """The database connection pool of this process and what it served since the process started."""

    backend: str  # "sqlite" / "postgresql"
    size: int | None  # configured pool size
    max_connections: int | None  # size + overflow
    checked_out: int | None  # connections in use now
    statements: int  # SQL statements executed
    selects: int  # of which SELECTs
    checkouts: int  # connections handed out (one per unit of work)
    checkins: int  # connections given back


@frozen
class CacheFigures:
    """Redis, from its INFO: memory in use and keyspace hits/misses since it started."""

    used_memory_bytes: int
    used_memory_human: str
    hits: int
    misses: int


@frozen
class OrderPipeline:
    """SMM orders on their way to providers: waiting to be sent, at a provider and not finished; and since
    a moment, those that reached Completed and those whose submission failed for good."""

    waiting: int
    at_provider: int
    completed_since: int
    failed_since: int


class SystemProbe(Protocol):
    async def queues(self) -> Sequence[QueueFigures]:
        """Every queue that holds a job, by name."""
        ...

    async def failed_jobs(self, *, since: datetime, limit: int) -> tuple[Sequence[FailedJob], int]:
        """Jobs failed for good since ``since``, newest first (at most ``limit``), and how many in all."""
        ...

    async def job_outcomes(self, *, since: datetime) -> JobOutcomes: ...

    def database(self) -> PoolFigures:
        """This process's pool and statement counters (no I/O)."""
        ...

    async def cache(self) -> CacheFigures | None:
        """None when no Redis is configured; raises UpstreamUnavailableError when it cannot be reached."""
        ...

    async def order_pipeline(self, *, since: datetime) -> OrderPipeline: ...
