"""The SQL unit of work: one connection and one transaction per ``async with``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vpnsmm.adapters.jobs.sql import SqlJobOutbox
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
    """A transaction on its own pooled connection. Rolls back on exit unless committed."""

    users: SqlUserRepository
    sessions: SqlSessionRepository
    api_keys: SqlApiKeyRepository
    ledger: SqlLedger
    jobs: SqlJobOutbox
    invoices: SqlInvoiceRepository
    payments: SqlPaymentRepository
    audit: SqlAuditLog
    smm_catalogue: SqlSmmCatalogueRepository
    smm_orders: SqlSmmOrderRepository
    smm_subscriptions: SqlSmmSubscriptionRepository
    vpn_plans: SqlPlanRepository
    vpn_servers: SqlServerRepository
    vpn_accounts: SqlVpnAccountRepository
    webhooks: SqlWebhookRepository
    candypanel: SqlCandyPanelRepository
    vpn_prices: SqlPriceListRepository
    youtube_accounts: SqlYoutubeAccountRepository

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False,
                 now: Callable[[], datetime] | None = None, secret_box: SecretBox | None = None) -> None:
        self._engine, self._read_only, self._now = engine, read_only, now
        self._box = secret_box
        self._conn: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        async with translated():
            conn = await self._engine.connect()
            try:
                conn = await conn.execution_options(**{WRITE_OPTION: not self._read_only})
                await conn.begin()
            except BaseException:
                await conn.close()
                raise
        self._conn = conn
        self.users = SqlUserRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.api_keys = SqlApiKeyRepository(conn)
        self.ledger = SqlLedger(conn, now=self._now)
        self.jobs = SqlJobOutbox(conn)
        self.invoices = SqlInvoiceRepository(conn)
        self.payments = SqlPaymentRepository(conn)
        self.audit = SqlAuditLog(conn)
        self.smm_catalogue = SqlSmmCatalogueRepository(conn)
        self.smm_orders = SqlSmmOrderRepository(conn)
        self.smm_subscriptions = SqlSmmSubscriptionRepository(conn)
        self.vpn_plans = SqlPlanRepository(conn)
        self.vpn_servers = SqlServerRepository(conn)
        self.vpn_accounts = SqlVpnAccountRepository(conn, self._box)
        self.vpn_prices = SqlPriceListRepository(conn)
        self.webhooks = SqlWebhookRepository(conn)
        self.candypanel = SqlCandyPanelRepository(conn)
        self.youtube_accounts = SqlYoutubeAccountRepository(conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
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
            await self.connection.commit()


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
