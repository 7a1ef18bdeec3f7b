"""The job queue on our own database (SQLite or PostgreSQL): the ``jobs`` table in ``tables.py``.

* :class:`SqlJobOutbox` inserts into ``jobs`` on the unit of work's connection, so the job commits or
  rolls back with the business write.
* :class:`SqlJobStore` is the worker side. Claims run in a short write transaction: on PostgreSQL rows
  are picked ``FOR UPDATE SKIP LOCKED`` under a transaction-scoped advisory lock (which is what makes
  "at most one running job per key" exact across workers: the key check and the claim cannot interleave);
  on SQLite ``BEGIN IMMEDIATE`` already serialises writers.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vpnsmm.adapters.jobs.store import ClaimedJob, JobRecord, JobStatus, NewJob, load_payload, new_job
from vpnsmm.adapters.sqlalchemy.engine import WRITE_OPTION
from vpnsmm.adapters.sqlalchemy.errors import translated
from vpnsmm.adapters.sqlalchemy.hot import HotStatement, asyncpg_driver
from vpnsmm.adapters.sqlalchemy.tables import jobs
from vpnsmm.application.jobs import TaskRegistry
from vpnsmm.application.ports.jobs import JSON
from vpnsmm.domain.errors import NotFoundError

_CLAIM_LOCK = 7_341_250_002  # pg advisory lock id; 7_341_250_001 is the migrator's
_ERROR_LIMIT = 4000


def _utcnow() -> datetime:
    return datetime.now(UTC)


_JOB_COLUMNS = ("queue", "task", "payload", "key", "dedupe_key", "status", "attempts", "run_at", "created_at",
                "last_error")
_INSERT_JOB = HotStatement(jobs.insert().values({n: sa.bindparam(n) for n in _JOB_COLUMNS}).returning(jobs.c.id))


async def insert_job(conn: AsyncConnection, job: NewJob, *, driver: Any = None) -> int | None:
    """Insert ``job``; its id, or None when its ``dedupe_key`` is taken. ``driver``: the unit of work's asyncpg
    connection (PostgreSQL), which sends the common case (no dedupe key) as a prepared statement."""
    values = {"queue": job.queue, "task": job.task, "payload": job.payload, "key": job.key,
              "dedupe_key": job.dedupe_key, "status": JobStatus.QUEUED.value, "attempts": 0,
              "run_at": job.run_at, "created_at": job.created_at, "last_error": ""}
    if job.dedupe_key is None:
        row = await _INSERT_JOB.first(conn, asyncpg_driver(conn, driver), values)
        assert row is not None
        return int(row.id)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(jobs).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    inserted = (await conn.execute(stmt.returning(jobs.c.id))).scalar_one_or_none()
    return None if inserted is None else int(inserted)


#: A job row's values in the order of _JOB_COLUMNS, ready for asyncpg.
PendingJob = tuple[Any, ...]


def job_rows_sql(first_param: int, rows: int) -> str:
    """``INSERT INTO jobs (...) VALUES ($n, ...), ...`` for ``rows`` jobs, parameters numbered from
    ``first_param`` (so it can ride as a data-modifying CTE on another statement, see SqlLedger)."""
    casts = ("varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "integer", "timestamptz",
             "timestamptz", "varchar")
    values, n = [], first_param
    for _ in range(rows):
        values.append("(" + ", ".join(f"${n + i}::{cast}" for i, cast in enumerate(casts)) + ")")
        n += len(casts)
    # column names and casts are constants here; every value is a bound parameter
    return f"INSERT INTO jobs ({', '.join(_JOB_COLUMNS)}) VALUES " + ", ".join(values)  # noqa: S608


#: Rows per flushing INSERT (PostgreSQL takes at most 32,767 parameters a statement; a job row has 10).
FLUSH_ROWS = 1000


async def flush_pending_jobs(driver: Any, pending: list[PendingJob]) -> None:
    """Insert the jobs still buffered by a unit of work (one statement per FLUSH_ROWS), then forget them."""
    for start in range(0, len(pending), FLUSH_ROWS):
        chunk = pending[start:start + FLUSH_ROWS]
        await driver.execute(job_rows_sql(1, len(chunk)), *[value for row in chunk for value in row])
    pending.clear()


class SqlJobOutbox:
    """``uow.jobs`` on SQL: enqueues into ``jobs`` inside the caller's open transaction (never commits).

    With ``pending`` (a PostgreSQL unit of work), a job without a dedupe key is buffered instead of inserted at
    once: the unit of work's next ledger write carries it as a data-modifying CTE (one round trip fewer), or its
    commit inserts it. Either way it is written in the same transaction, before COMMIT, so it still exists if
    and only if the business write commits.
    """

    def __init__(self, conn: AsyncConnection, *, registry: TaskRegistry | None = None,
                 now: Callable[[], datetime] = _utcnow, driver: Any = None,
                 pending: list[PendingJob] | None = None) -> None:
        self._conn, self._registry, self._now, self._driver = conn, registry, now, driver
        self._pending = pending

    async def enqueue(self, task: str, payload: Mapping[str, JSON], *, key: str | None = None,
                      run_at: datetime | None = None, queue: str = "default") -> None:
        if self._registry is not None and task in self._registry:
            spec = self._registry.get(task)
            key = key if key is not None else spec.key_for(payload)
            queue = spec.queue if queue == "default" else queue
        job = new_job(task, payload, key=key, run_at=run_at, queue=queue, now=self._now())
        if self._pending is not None and job.dedupe_key is None:
            self._pending.append((job.queue, job.task, job.payload, job.key, None, JobStatus.QUEUED.value, 0,
                                  job.run_at, job.created_at, ""))
            return
        async with translated():
            await insert_job(self._conn, job, driver=self._driver)


def _record(row: Any) -> JobRecord:
    return JobRecord(job_id=int(row.id), task=row.task, payload=load_payload(row.payload), queue=row.queue,
                     key=row.key, status=JobStatus(row.status), attempts=int(row.attempts), run_at=row.run_at,
                     created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
                     lease_owner=row.lease_owner, lease_until=row.lease_until, last_error=row.last_error)


def _due(now: datetime, queues: Sequence[str] | None, tasks: Sequence[str]) -> list[sa.ColumnElement[bool]]:
    where = [jobs.c.status == JobStatus.QUEUED.value, jobs.c.run_at <= now, jobs.c.task.in_(list(tasks))]
    if queues is not None:
        where.append(jobs.c.queue.in_(list(queues)))
    return where


class SqlJobStore:
    """:class:`~vpnsmm.adapters.jobs.store.JobStore` over an engine; each call is one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _tx(self, *, write: bool = True) -> AsyncIterator[AsyncConnection]:
        async with translated(), self._engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: write})
            async with conn.begin():
                yield conn

    async def add(self, job: NewJob) -> int | None:
        async with self._tx() as conn:
            return await insert_job(conn, job)

    async def has_work(self, *, now: datetime, queues: Sequence[str] | None, tasks: Sequence[str]) -> bool:
        async with self._tx(write=False) as conn:
            if tasks:
                due = await conn.execute(sa.select(jobs.c.id).where(*_due(now, queues, tasks)).limit(1))
                if due.first() is not None:
                    return True
            stalled = await conn.execute(sa.select(jobs.c.id).where(
                jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_until < now).limit(1))
            return stalled.first() is not None

    async def claim(self, *, worker: str, now: datetime, lease_until: datetime, limit: int,
                    queues: Sequence[str] | None, tasks: Sequence[str]) -> list[ClaimedJob]:
        if limit < 1 or not tasks:
            return []
        async with self._tx() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
            # Look further than `limit` so that jobs blocked by a busy key do not starve the others.
            candidates = (await conn.execute(
                sa.select(jobs.c.id, jobs.c.key).where(*_due(now, queues, tasks))
                .order_by(jobs.c.run_at, jobs.c.id).limit(limit * 5 + 20)
                .with_for_update(skip_locked=True))).all()
            keys = {row.key for row in candidates if row.key is not None}
            busy: set[str] = set()
            if keys:
                busy = set((await conn.execute(sa.select(jobs.c.key).distinct().where(
                    jobs.c.status == JobStatus.RUNNING.value, jobs.c.key.in_(keys)))).scalars())
            chosen: list[int] = []
            for row in candidates:
                if len(chosen) == limit:
                    break
                if row.key is not None:
                    if row.key in busy:
                        continue
                    busy.add(row.key)
                chosen.append(int(row.id))
            claimed: list[ClaimedJob] = []
            for job_id in chosen:
                token = secrets.token_hex(16)
                row = (await conn.execute(
                    jobs.update().where(jobs.c.id == job_id)
                    .values(status=JobStatus.RUNNING.value, attempts=jobs.c.attempts + 1, started_at=now,
                            lease_owner=worker[:64], lease_token=token, lease_until=lease_until)
                    .returning(jobs.c.id, jobs.c.task, jobs.c.payload, jobs.c.queue, jobs.c.key,
                               jobs.c.attempts))).one()
                claimed.append(ClaimedJob(job_id=int(row.id), task=row.task, payload=load_payload(row.payload),
                                          queue=row.queue, key=row.key, attempt=int(row.attempts),
                                          lease_token=token))
            return claimed

    async def _fenced(self, job_id: int, token: str, **values: Any) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(jobs.update().where(
                jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.status == JobStatus.RUNNING.value,
            ).values(**values))
            return result.rowcount == 1

    async def heartbeat(self, job_id: int, token: str, *, lease_until: datetime) -> bool:
        return await self._fenced(job_id, token, lease_until=lease_until)

    async def complete(self, job_id: int, token: str, *, now: datetime) -> bool:
        return await self._fenced(job_id, token, status=JobStatus.SUCCEEDED.value, finished_at=now,
                                  lease_token=None, lease_until=None)

    async def retry(self, job_id: int, token: str, *, run_at: datetime, error: str) -> bool:
        return await self._fenced(job_id, token, status=JobStatus.QUEUED.value, run_at=run_at,
                                  last_error=error[:_ERROR_LIMIT], lease_owner=None, lease_token=None,
                                  lease_until=None)

    async def fail(self, job_id: int, token: str, *, now: datetime, error: str) -> bool:
        return await self._fenced(job_id, token, status=JobStatus.FAILED.value, finished_at=now,
                                  last_error=error[:_ERROR_LIMIT], lease_token=None, lease_until=None)

    async def release(self, job_id: int, token: str, *, now: datetime) -> bool:
        return await self._fenced(job_id, token, status=JobStatus.QUEUED.value, run_at=now,
                                  attempts=jobs.c.attempts - 1, lease_owner=None, lease_token=None,
                                  lease_until=None)

    async def recover_stalled(self, *, now: datetime) -> int:
        async with self._tx() as conn:
            result = await conn.execute(jobs.update().where(
                jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_until < now,
            ).values(status=JobStatus.QUEUED.value, run_at=now, lease_owner=None, lease_token=None,
                     lease_until=None, last_error="lease expired: the worker stopped or hung"))
            return int(result.rowcount)

    async def get(self, job_id: int) -> JobRecord:
        async with self._tx(write=False) as conn:
            row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).first()
        if row is None:
            raise NotFoundError(f"no job {job_id}", code="JOB_NOT_FOUND")
        return _record(row)

    async def find(self, *, status: JobStatus | None = None, task: str | None = None) -> list[JobRecord]:
        query = sa.select(jobs).order_by(jobs.c.id)
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        if task is not None:
            query = query.where(jobs.c.task == task)
        async with self._tx(write=False) as conn:
            return [_record(row) for row in (await conn.execute(query)).all()]

    async def prune(self, *, finished_before: datetime) -> int:
        async with self._tx() as conn:
            result = await conn.execute(jobs.delete().where(
                jobs.c.status == JobStatus.SUCCEEDED.value, jobs.c.finished_at < finished_before))
            return int(result.rowcount)
