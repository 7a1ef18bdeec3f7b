"""Hot statements (adapters/sqlalchemy/hot.py) give what SQLAlchemy gives, on asyncpg and through SQLAlchemy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.support.databases import truncate_all
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.hot import HotStatement
from vpnsmm.adapters.sqlalchemy.tables import jobs
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

INSERT = HotStatement(jobs.insert().values(
    queue="hot", task=sa.bindparam("task"), payload=sa.bindparam("payload"), status="queued", attempts=0,
    run_at=sa.bindparam("at"), created_at=sa.bindparam("at"), last_error="").returning(jobs.c.id, jobs.c.queue))
SELECT = HotStatement(sa.select(jobs.c.id, jobs.c.task, jobs.c.payload, jobs.c.run_at, jobs.c.queue)
                      .where(jobs.c.queue == "hot", jobs.c.task == sa.bindparam("task")).order_by(jobs.c.id))
TOUCH = HotStatement(jobs.update().where(jobs.c.queue == "hot").values(attempts=jobs.c.attempts + 1))


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/hot.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def factory(url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    if url.startswith("postgresql"):
        await truncate_all(url)
    engine = make_engine(url)
    await migrate.upgrade(engine)
    yield SqlUnitOfWorkFactory(engine)
    await engine.dispose()


def _driver(uow: SqlUnitOfWork) -> object:
    return uow._driver  # the asyncpg connection the unit of work drives (None on SQLite)


async def test_rows_params_literals_and_types_match_sqlalchemy(factory: SqlUnitOfWorkFactory) -> None:
    at = datetime(2026, 12, 1, 15, 30, tzinfo=timezone(timedelta(hours=3, minutes=30)))  # stored as UTC
    async with factory() as uow:
        first = await INSERT.first(uow.connection, _driver(uow), {"task": "t-ü", "payload": '{"a": "ß"}', "at": at})
        await INSERT.first(uow.connection, _driver(uow), {"task": "t-ü", "payload": "{}", "at": at})
        assert first is not None and first.queue == "hot"  # a literal in the statement was sent
        assert await TOUCH.run(uow.connection, _driver(uow), {}) == 2
        await uow.commit()
    async with factory(read_only=True) as uow:
        hot = await SELECT.all(uow.connection, _driver(uow), {"task": "t-ü"})
        plain = list(await uow.connection.execute(SELECT.statement, {"task": "t-ü"}))
        none = await SELECT.first(uow.connection, _driver(uow), {"task": "nothing"})
    assert none is None
    assert [tuple(r) for r in hot] == [tuple(r) for r in plain]
    assert hot[0].id == first.id and hot[0].payload == '{"a": "ß"}' and hot[0].task == "t-ü"
    assert hot[0].run_at == at and hot[0].run_at.tzinfo is not None and hot[0].run_at.utcoffset() == timedelta(0)
    assert hot[0].run_at.astimezone(UTC) == at.astimezone(UTC)


@pytest.mark.parametrize("url", ["postgres"], indirect=True)
async def test_a_read_only_unit_of_work_refuses_hot_writes_on_postgres(factory: SqlUnitOfWorkFactory) -> None:
    """PostgreSQL read-only units of work run in autocommit; statements sent to asyncpg bypass SQLAlchemy's
    guard, so the hot path keeps the same rule itself."""
    async with factory(read_only=True) as uow:
        assert _driver(uow) is not None
        with pytest.raises(RuntimeError, match="read-only unit of work may not write"):
            await TOUCH.run(uow.connection, _driver(uow), {})
