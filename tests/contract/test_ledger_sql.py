"""The Ledger contract (examples + state machine) on SqlLedger, on SQLite and on PostgreSQL.

Each factory call opens a transaction on a migrated database and rolls it back afterwards, so every
example starts from an empty ledger without re-creating the schema.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.contract.ledger_contract import LedgerContract, LedgerFactory
from tests.support.databases import truncate_all
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.repositories.ledger import SqlLedger
from vpnsmm.application.ports.ledger import Ledger


def _factory(url: str) -> LedgerFactory:
    migrated: set[str] = set()

    @asynccontextmanager
    async def fresh() -> AsyncIterator[Ledger]:
        engine = make_engine(url, pool_size=2)
        try:
            if url not in migrated:
                await migrate.upgrade(engine)
                if url.startswith("postgresql"):
                    # The shared test database may hold what other tests committed; the contract needs it empty.
                    await truncate_all(url)
                migrated.add(url)
            async with engine.connect() as conn:
                await conn.begin()
                try:
                    yield SqlLedger(conn)
                finally:
                    await conn.rollback()
        finally:
            await engine.dispose()

    return fresh


# Each example opens an engine and a transaction; keep the default run short, deepen it on demand
# (VPNSMM_LEDGER_EXAMPLES=500 for a soak run).
SQL_MACHINE = settings(max_examples=int(os.environ.get("VPNSMM_LEDGER_EXAMPLES", "25")), stateful_step_count=40,
                       deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class TestSqliteLedger(LedgerContract):
    machine_settings = SQL_MACHINE

    @pytest.fixture
    def ledger_factory(self, tmp_path: Path) -> LedgerFactory:
        return _factory(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")


class TestPostgresLedger(LedgerContract):
    machine_settings = SQL_MACHINE

    @pytest.fixture
    def ledger_factory(self, postgres_url: str) -> LedgerFactory:
        return _factory(postgres_url)
