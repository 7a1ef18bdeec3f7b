"""SystemProbe over the SQL database (jobs and smm_orders tables, the engine's pool) and Redis INFO."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from vpnsmm.adapters.sqlalchemy.engine import WRITE_OPTION
from vpnsmm.adapters.sqlalchemy.tables import jobs, smm_orders
from vpnsmm.application.ports.monitoring import (
    CacheFigures,
    FailedJob,
    JobOutcomes,
    OrderPipeline,
    PoolFigures,
    QueueFigures,
)
from vpnsmm.domain.errors import UpstreamUnavailableError
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import SubmitState


class _Counters:
    """Statement and checkout counters fed by SQLAlchemy events (pool events run in worker threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statements = self.selects = self.checkouts = self.checkins = 0

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            with self.lock:
                self.statements += 1
                if statement.lstrip()[:6].upper() == "SELECT":
                    self.selects += 1

        @event.listens_for(sync.pool, "checkout")
        def _on_checkout(*_: Any) -> None:
            with self.lock:
                self.checkouts += 1

        @event.listens_for(sync.pool, "checkin")
        def _on_checkin(*_: Any) -> None:
            with self.lock:
                self.checkins += 1


class SqlSystemProbe:
    """Figures of the database this process uses; counters start when the probe is built (at app start)."""

    def __init__(self, engine: AsyncEngine, *, redis_url: str = "") -> None:
        self._engine, self._redis_url = engine, redis_url
        self._counters = _Counters()
        self._counters.attach(engine)

    async def _rows(self, query: Any) -> Sequence[Any]:
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: False})
            return list(await conn.execute(query))

    async def queues(self) -> Sequence[QueueFigures]:
        c = jobs.c
        rows = await self._rows(sa.select(c.queue, c.status, c.run_at, c.lease_owner))
        figures: dict[str, dict[str, Any]] = {}
        moment = datetime.now(UTC)  # due-ness against our clock, as the job runner decides it
        for r in rows:
            f = figures.setdefault(r.queue, {"queued": 0, "due": 0, "running": 0, "failed": 0, "workers": set()})
            if r.status == "queued":
                f["queued"] += 1
                if r.run_at is not None and r.run_at <= moment:
                    f["due"] += 1
            elif r.status == "running":
                f["running"] += 1
                if r.lease_owner:
                    f["workers"].add(r.lease_owner)
            elif r.status == "failed":
                f["failed"] += 1
        return [QueueFigures(queue=q, queued=f["queued"], due=f["due"], running=f["running"], failed=f["failed"],
                             workers=len(f["workers"])) for q, f in sorted(figures.items())]

    async def failed_jobs(self, *, since: datetime, limit: int) -> tuple[Sequence[FailedJob], int]:
        c = jobs.c
        where = [c.status == "failed", c.finished_at >= since]
        total = (await self._rows(sa.select(sa.func.count()).select_from(jobs).where(*where)))[0][0]
        rows = await self._rows(sa.select(c.id, c.task, c.queue, c.finished_at, c.last_error).where(*where)
                                .order_by(c.finished_at.desc(), c.id.desc()).limit(limit))
        return [FailedJob(job_id=r.id, task=r.task, queue=r.queue, at=r.finished_at, error=r.last_error or "")
                for r in rows], int(total)

    async def job_outcomes(self, *, since: datetime) -> JobOutcomes:
        c = jobs.c

        async def count(*where: Any) -> int:
            return int((await self._rows(sa.select(sa.func.count()).select_from(jobs).where(*where)))[0][0])

        return JobOutcomes(
            failed_since=await count(c.status == "failed", c.finished_at >= since),
            recovered_since=await count(c.status == "succeeded", c.attempts > 1, c.finished_at >= since),
            dead=await count(c.status == "failed"),
            retrying=await count(c.status == "queued", c.attempts > 0, c.last_error != ""))

    def database(self) -> PoolFigures:
        pool = self._engine.sync_engine.pool
        size = _call(pool, "size")
        overflow = getattr(pool, "_max_overflow", None)
        with self._counters.lock:
            n = self._counters
            return PoolFigures(backend=self._engine.dialect.name, size=size,
                               max_connections=size + overflow if isinstance(size, int)
                               and isinstance(overflow, int) and overflow >= 0 else size,
                               checked_out=_call(pool, "checkedout"), statements=n.statements, selects=n.selects,
                               checkouts=n.checkouts, checkins=n.checkins)

    async def cache(self) -> CacheFigures | None:
        if not self._redis_url:
            return None
        import redis.asyncio as redis
        from redis.exceptions import RedisError

        client = redis.from_url(self._redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            memory = await client.info("memory")
            stats = await client.info("stats")
        except (RedisError, OSError) as exc:
            raise UpstreamUnavailableError(f"redis is unreachable: {type(exc).__name__}",
                                           code="REDIS_UNAVAILABLE") from None
        finally:
            await client.aclose()
        return CacheFigures(used_memory_bytes=int(memory.get("used_memory", 0)),
                            used_memory_human=str(memory.get("used_memory_human", "")),
                            hits=int(stats.get("keyspace_hits", 0)), misses=int(stats.get("keyspace_misses", 0)))

    async def order_pipeline(self, *, since: datetime) -> OrderPipeline:
        c = smm_orders.c
        terminal = [s.value for s in OrderStatus if s.is_terminal]

        async def count(*where: Any) -> int:
            return int((await self._rows(sa.select(sa.func.count()).select_from(smm_orders).where(*where)))[0][0])

        return OrderPipeline(
            waiting=await count(c.submit_state.in_([SubmitState.QUEUED.value, SubmitState.SENDING.value]),
                                c.status.not_in(terminal)),
            at_provider=await count(c.submit_state == SubmitState.SENT.value, c.status.not_in(terminal)),
            completed_since=await count(c.status == OrderStatus.COMPLETED.value, c.updated_at >= since),
            failed_since=await count(c.submit_state == SubmitState.FAILED.value, c.updated_at >= since))


def _call(pool: Any, name: str) -> int | None:
    method = getattr(pool, name, None)
    try:
        value = method() if callable(method) else None
    except (TypeError, NotImplementedError):
        return None
    return value if isinstance(value, int) else None
