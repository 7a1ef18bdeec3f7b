"""SqlSystemProbe on SQLite and PostgreSQL: figures measured from real job and order rows, never invented."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.databases import truncate_all
from vpnsmm.adapters.jobs.sql import SqlJobStore
from vpnsmm.adapters.jobs.store import new_job
from vpnsmm.adapters.monitoring import SqlSystemProbe
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.operations import SystemStatus
from vpnsmm.domain.errors import UpstreamUnavailableError
from vpnsmm.testing import FrozenClock


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQL backends only: the probe reads SQL tables (overrides the conftest's memory/sqlite/postgres)."""
    return str(request.param)


@pytest.fixture
async def engine_and_store(db_url: str) -> AsyncIterator[tuple[object, SqlJobStore]]:
    url = db_url
    if url.startswith("postgresql"):
        await truncate_all(url)
    engine = make_engine(url, pool_size=3)
    await migrate.upgrade(engine)
    try:
        yield engine, SqlJobStore(engine)
    finally:
        await engine.dispose()


async def test_job_queue_figures_come_from_the_jobs_table(engine_and_store: tuple[object, SqlJobStore]) -> None:
    engine, store = engine_and_store
    probe = SqlSystemProbe(engine)  # type: ignore[arg-type]
    assert await probe.queues() == []
    now = datetime.now(UTC)
    due, later = now - timedelta(minutes=1), now + timedelta(hours=1)
    for task, queue, run_at in (("a", "default", due), ("a", "default", later), ("b", "sync", due),
                                ("c", "sync", due)):
        await store.add(new_job(task, {}, key=None, run_at=run_at, queue=queue, now=now - timedelta(minutes=2)))
    claimed = await store.claim(worker="w1", now=now, lease_until=now + timedelta(minutes=5), limit=2,
                                queues=["sync"], tasks=["b", "c"])
    assert len(claimed) == 2
    b, c = sorted(claimed, key=lambda j: j.task)
    assert await store.fail(b.job_id, b.lease_token, now=now, error="Boom: provider said no\ntrace")
    assert await store.retry(c.job_id, c.lease_token, run_at=now + timedelta(minutes=10), error="timeout")

    figures = {q.queue: q for q in await probe.queues()}
    assert (figures["default"].queued, figures["default"].due, figures["default"].running) == (2, 1, 0)
    assert (figures["sync"].queued, figures["sync"].failed, figures["sync"].due) == (1, 1, 0)

    failed, total = await probe.failed_jobs(since=now - timedelta(days=1), limit=10)
    assert total == 1 and failed[0].task == "b" and failed[0].error.startswith("Boom")
    assert (await probe.failed_jobs(since=now + timedelta(minutes=1), limit=10))[1] == 0
    outcomes = await probe.job_outcomes(since=now - timedelta(hours=1))
    assert (outcomes.failed_since, outcomes.dead, outcomes.retrying, outcomes.recovered_since) == (1, 1, 1, 0)

    # the retried job succeeds on its second attempt: "recovered"
    (again,) = await store.claim(worker="w2", now=now + timedelta(minutes=11), lease_until=now + timedelta(minutes=20),
                                 limit=1, queues=["sync"], tasks=["c"])
    running = {q.queue: q for q in await probe.queues()}["sync"]
    assert (running.running, running.workers) == (1, 1)
    assert await store.complete(again.job_id, again.lease_token, now=now + timedelta(minutes=12))
    assert (await probe.job_outcomes(since=now - timedelta(hours=1))).recovered_since == 1


async def test_pool_and_statement_counters_and_cache(engine_and_store: tuple[object, SqlJobStore]) -> None:
    engine, _ = engine_and_store
    probe = SqlSystemProbe(engine, redis_url="redis://127.0.0.1:1/0")  # type: ignore[arg-type]
    before = probe.database()
    await probe.queues()
    after = probe.database()
    assert after.statements > before.statements and after.selects > before.selects
    assert after.checkouts > before.checkouts and after.checkins == after.checkouts
    assert after.checked_out == 0 and after.size == 3 and after.max_connections is not None
    with pytest.raises(UpstreamUnavailableError):
        await probe.cache()  # configured but nobody listens there
    assert await SqlSystemProbe(engine).cache() is None  # type: ignore[arg-type]

    report = await SystemStatus(SqlUnitOfWorkFactory(engine), probe, FrozenClock()).report()  # type: ignore[arg-type]
    assert report.database.up is True and report.job_queue.up is True
    assert report.cache.up is False and "redis" in report.cache.error and report.up is False
