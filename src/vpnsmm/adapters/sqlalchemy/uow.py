"""The SQL unit of work: one connection and one transaction per ``async with``."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vpnsmm.adapters.jobs.sql import PendingJob, SqlJobOutbox, flush_pending_jobs
from vpnsmm.adapters.sqlalchemy.engine import WRITE_OPTION
from vpnsmm.adapters.sqlalchemy.errors import translated
from vpnsmm.adapters.sqlalchemy.repositories.billing import SqlAuditLog, SqlInvoiceRepository, SqlPaymentRepository
from vpnsmm.adapters.sqlalchemy.repositories.candypanel import SqlCandyPanelRepository
from vpnsmm.adapters.sqlalchemy.repositories.identity import (
    SqlApiKeyRepository,
    SqlSessionRepository,
    SqlUserRepository,
)
from vpnsmm.adapters.sqlalchemy.repositories.ledger import SqlLedger
from vpnsmm.adapters.sqlalchemy.repositories.smm import SqlSmmCatalogueRepository, SqlSmmOrderRepository
from vpnsmm.adapters.sqlalchemy.repositories.smm_subscriptions import SqlSmmSubscriptionRepository
from vpnsmm.adapters.sqlalchemy.repositories.vpn import (
    SqlPlanRepository,
    SqlPriceListRepository,
    SqlServerRepository,
    SqlVpnAccountRepository,
)
from vpnsmm.adapters.sqlalchemy.repositories.webhooks import SqlWebhookRepository
from vpnsmm.adapters.sqlalchemy.repositories.youtube import SqlYoutubeAccountRepository
from vpnsmm.application.ports.vpn_store import SecretBox


class SqlUnitOfWork:
    """A transaction on its own pooled connection. Rolls back on exit unless committed.

    On PostgreSQL (asyncpg) the unit of work sends BEGIN/COMMIT/ROLLBACK itself, with SQLAlchemy in autocommit,
    so repositories may also use the asyncpg connection directly inside the same transaction; a read-only unit of
    work there opens no transaction (READ COMMITTED gives each statement its own snapshot either way) and refuses
    any statement but a SELECT.
    """

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False,
                 now: Callable[[], datetime] | None = None, secret_box: SecretBox | None = None) -> None:
        self._engine, self._read_only, self._now = engine, read_only, now
        self._box = secret_box
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the asyncpg connection when this unit of work drives the transaction itself

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    # Repositories are built on first use: a unit of work touches two or three of its eighteen, and the busiest
    # requests open several units of work each.
    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self.connection, self._prefetched_users)

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self.connection)

    @cached_property
    def api_keys(self) -> SqlApiKeyRepository:
        return SqlApiKeyRepository(self.connection, self._prefetched_users, driver=self._driver)

    @cached_property
    def ledger(self) -> SqlLedger:
        return SqlLedger(self.connection, now=self._now, driver=self._driver, pending_jobs=self._pending_jobs)

    @cached_property
    def jobs(self) -> SqlJobOutbox:
        return SqlJobOutbox(self.connection, driver=self._driver, pending=self._pending_jobs)

    @cached_property
    def invoices(self) -> SqlInvoiceRepository:
        return SqlInvoiceRepository(self.connection)

    @cached_property
    def payments(self) -> SqlPaymentRepository:
        return SqlPaymentRepository(self.connection)

    @cached_property
    def audit(self) -> SqlAuditLog:
        return SqlAuditLog(self.connection)

    @cached_property
    def smm_catalogue(self) -> SqlSmmCatalogueRepository:
        return SqlSmmCatalogueRepository(self.connection, driver=self._driver, prime=self.ledger.prime)

    @cached_property
    def smm_orders(self) -> SqlSmmOrderRepository:
        return SqlSmmOrderRepository(self.connection, driver=self._driver)

    @cached_property
    def smm_subscriptions(self) -> SqlSmmSubscriptionRepository:
        return SqlSmmSubscriptionRepository(self.connection)

    @cached_property
    def vpn_plans(self) -> SqlPlanRepository:
        return SqlPlanRepository(self.connection)

    @cached_property
    def vpn_servers(self) -> SqlServerRepository:
        return SqlServerRepository(self.connection)

    @cached_property
    def vpn_accounts(self) -> SqlVpnAccountRepository:
        return SqlVpnAccountRepository(self.connection, self._box)

    @cached_property
    def vpn_prices(self) -> SqlPriceListRepository:
        return SqlPriceListRepository(self.connection)

    @cached_property
    def webhooks(self) -> SqlWebhookRepository:
        return SqlWebhookRepository(self.connection)

    @cached_property
    def candypanel(self) -> SqlCandyPanelRepository:
        return SqlCandyPanelRepository(self.connection)

    @cached_property
    def youtube_accounts(self) -> SqlYoutubeAccountRepository:
        return SqlYoutubeAccountRepository(self.connection)

    async def __aenter__(self) -> Self:
        driver: Any = None
        engine = self._engine
        owned = engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
        async with translated():
            conn = await (_driving_engine(engine, self._read_only) if owned else engine).connect()
            try:
                if owned:
                    # PostgreSQL: this unit of work sends BEGIN/COMMIT/ROLLBACK itself on the asyncpg connection
                    # (SQLAlchemy is told "autocommit", so it never starts or ends a transaction of its own), and
                    # the ledger's hot statements go to the same connection inside the same transaction. Same
                    # transaction, same isolation (READ COMMITTED), less Python per statement.
                    # A read-only unit of work opens no transaction at all: under READ COMMITTED every statement
                    # sees its own snapshot inside a transaction too, so a reader gains nothing from BEGIN and
                    # ROLLBACK but two round trips. A guard refuses anything but SELECT on such a connection.
                    # (The options are set once, on a derived engine sharing the pool; the raw connection is
                    # read synchronously: it was just checked out, so reaching it does no I/O.)
                    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
                    if not self._read_only:
                        await driver.execute("BEGIN")
                else:
                    conn = await conn.execution_options(**{WRITE_OPTION: not self._read_only})
                    await conn.begin()
            except BaseException:
                await _discard(conn, driver)
                raise
        self._conn, self._driver = conn, driver
        # PostgreSQL write units of work buffer plain job inserts: the next ledger write carries them, or the
        # commit inserts them (adapters/jobs/sql.py SqlJobOutbox). Same transaction either way.
        self._pending_jobs: list[PendingJob] | None = [] if driver is not None and not self._read_only else None
        self._prefetched_users: dict[Any, Any] = {}  # the key's owner, read with the key (API-key authentication)
        for name in _REPOSITORIES:  # a unit of work is entered once; drop repositories of an earlier entry
            self.__dict__.pop(name, None)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._driver is not None:
            await _discard(conn, self._driver)
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        async with translated():
            if self._driver is not None:
                if self._pending_jobs:
                    await flush_pending_jobs(self._driver, self._pending_jobs)
                await self._driver.execute("COMMIT")
                if self.connection.in_transaction():  # SQLAlchemy's own bookkeeping (a no-op in autocommit)
                    await self.connection.commit()
            else:
                await self.connection.commit()


#: The lazily built repositories (every cached property of the unit of work).
_REPOSITORIES = tuple(name for name, value in vars(SqlUnitOfWork).items() if isinstance(value, cached_property))
_READ_ONLY_OPTION = "vpnsmm_read_only_autocommit"
_DRIVING: weakref.WeakKeyDictionary[Any, tuple[AsyncEngine, AsyncEngine]] = weakref.WeakKeyDictionary()


def _driving_engine(engine: AsyncEngine, read_only: bool) -> AsyncEngine:
    """``engine`` with SQLAlchemy in autocommit (the unit of work drives the transaction), sharing its pool."""
    pair = _DRIVING.get(engine.sync_engine)
    if pair is None:
        _guard_reads(engine)
        write, read = (engine.execution_options(isolation_level="AUTOCOMMIT", **{WRITE_OPTION: not ro,
                                                                                 _READ_ONLY_OPTION: ro})
                       for ro in (False, True))
        pair = _DRIVING[engine.sync_engine] = (write, read)
    return pair[1] if read_only else pair[0]


def _guard_reads(engine: AsyncEngine) -> None:
    """Make a PostgreSQL read-only unit of work (autocommit, no transaction) refuse any statement but a SELECT,
    so "read-only may not write" holds there as strictly as a READ ONLY transaction would enforce it."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _refuse_writes(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.get_execution_options().get(_READ_ONLY_OPTION) and \
                not statement.lstrip().upper().startswith("SELECT"):
            raise RuntimeError("a read-only unit of work may not write: " + statement.split(None, 1)[0])


async def _discard(conn: AsyncConnection, driver: Any) -> None:
    """Roll back what is still open and return the connection; one that cannot roll back is thrown away,
    so a pooled connection never carries a transaction to its next user."""
    try:
        if driver is not None and driver.is_in_transaction():
            await driver.execute("ROLLBACK")
    except BaseException:
        await conn.invalidate()
        raise
    finally:
        await conn.close()


class SqlUnitOfWorkFactory:
    """Units of work on ``engine``. ``secret_box`` seals secrets the business tables cache (the WireGuard client
    config of a VPN account, which holds its private key); without one they are stored as given."""

    def __init__(self, engine: AsyncEngine, *, now: Callable[[], datetime] | None = None,
                 secret_box: SecretBox | None = None) -> None:
        self.engine, self._now, self._box = engine, now, secret_box

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only, now=self._now, secret_box=self._box)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: False})
            await conn.execute(text("SELECT 1"))


if TYPE_CHECKING:  # mypy proves the SQL unit of work satisfies the port (drift fails the type check)
    from vpnsmm.application.ports.candypanel import CandyPanelUnitOfWorkFactory
    from vpnsmm.application.ports.persistence import UnitOfWorkFactory

    def _conforms(engine: AsyncEngine) -> UnitOfWorkFactory:
        return SqlUnitOfWorkFactory(engine)

    def _conforms_candypanel(engine: AsyncEngine) -> CandyPanelUnitOfWorkFactory:
        return SqlUnitOfWorkFactory(engine)
