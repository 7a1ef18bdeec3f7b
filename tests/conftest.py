"""Shared fixtures: clocks, fast-but-real password hashing, and units of work on every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.databases import temporary_postgres_database, truncate_all
from vpnsmm.adapters.memory import InMemoryUnitOfWorkFactory
from vpnsmm.adapters.security import Argon2PasswordHasher
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.testing import FrozenClock

BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def fast_hasher() -> Argon2PasswordHasher:
    """Real argon2id with small parameters, so tests stay fast but exercise the real library."""
    return Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One migrated throw-away PostgreSQL database for the whole run."""
    import asyncio

    with temporary_postgres_database() as url:
        async def up() -> None:
            engine = make_engine(url)
            try:
                await migrate.upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(up())
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | None:
    """The database URL of the backend (None for the in-memory fake)."""
    if backend == "memory":
        return None
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def uow_factory(db_url: str | None) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory on a clean, migrated store of the given backend."""
    if db_url is None:
        yield InMemoryUnitOfWorkFactory()
        return
    if db_url.startswith("postgresql"):
        await truncate_all(db_url)
    engine = make_engine(db_url)
    try:
        await migrate.upgrade(engine)
        yield SqlUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()
