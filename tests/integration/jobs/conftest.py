"""Job stores on every backend, with a helper that enqueues through the matching transactional outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from attrs import define

from tests.support.databases import truncate_all
from vpnsmm.adapters.jobs.memory import InMemoryJobOutbox, InMemoryJobStore
from vpnsmm.adapters.jobs.sql import SqlJobOutbox, SqlJobStore
from vpnsmm.adapters.jobs.store import JobStore
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.application.jobs import TaskRegistry
from vpnsmm.application.ports.jobs import JobOutbox


@define
class JobBackend:
    name: str
    store: JobStore
    #: transaction(work, commit=True): runs ``await work(outbox)`` in one transaction, committing or not.
    transaction: Callable[[Callable[[JobOutbox], Awaitable[None]], bool], Awaitable[None]]

    async def enqueue(self, task: str, payload: Mapping[str, Any] | None = None, **options: Any) -> None:
        async def work(outbox: JobOutbox) -> None:
            await outbox.enqueue(task, payload or {}, **options)
        await self.transaction(work, True)


async def _noop(job: Any) -> None:
    return None


@pytest.fixture
def registry() -> TaskRegistry:
    """Tasks the outboxes know: ``sync`` derives its key from the payload and lives on queue ``sync``."""
    reg = TaskRegistry()
    reg.register("noop", _noop)
    reg.register("sync", _noop, lock="sync:panel:{panel}", queue="sync")
    return reg


@pytest.fixture
async def jobs_backend(db_url: str | None, clock: Any, registry: TaskRegistry) -> AsyncIterator[JobBackend]:
    """Parametrised by the root conftest's ``backend`` fixture: memory, sqlite, postgres."""
    if db_url is None:
        mem = InMemoryJobStore()

        async def mem_tx(work: Callable[[JobOutbox], Awaitable[None]], commit: bool) -> None:
            outbox = InMemoryJobOutbox(mem, registry=registry, now=clock.now)
            try:
                await work(outbox)
                if commit:
                    await outbox.flush()
            finally:
                outbox.discard()

        yield JobBackend("memory", mem, mem_tx)
        return
    url = db_url
    if url.startswith("postgresql"):
        await truncate_all(url)
    engine = make_engine(url)
    await migrate.upgrade(engine)

    async def sql_tx(work: Callable[[JobOutbox], Awaitable[None]], commit: bool) -> None:
        async with engine.connect() as conn, conn.begin() as tx:
            await work(SqlJobOutbox(conn, registry=registry, now=clock.now))
            if commit:
                await tx.commit()
            else:
                await tx.rollback()

    try:
        yield JobBackend(url.split("+")[0], SqlJobStore(engine), sql_tx)
    finally:
        await engine.dispose()
