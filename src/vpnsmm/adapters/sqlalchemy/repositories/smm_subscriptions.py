"""Recurring SMM orders in SQL (Core, explicit row <-> attrs mapping)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import register_unique, translated
from vpnsmm.adapters.sqlalchemy.tables import smm_subscription_runs, smm_subscriptions
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.smm_subscriptions import (
    RecurrenceInterval,
    SmmSubscription,
    SubscriptionRun,
    SubscriptionStatus,
)

# SQLite names the columns, PostgreSQL the primary key constraint.
register_unique("smm_subscription_runs.subscription_id", "run", "RUN_ALREADY_PLACED", "this run was already placed")
register_unique("pk_smm_subscription_runs", "run", "RUN_ALREADY_PLACED", "this run was already placed")


def _values(s: SmmSubscription) -> dict[str, Any]:
    return {"user_id": s.user_id, "service_id": s.service_id, "link": s.link, "quantity": s.quantity,
            "interval": s.interval.value, "status": s.status.value, "anchor_at": s.anchor_at,
            "next_run": s.next_run, "next_run_at": s.next_run_at, "runs_placed": s.runs_placed,
            "last_order_id": s.last_order_id, "pause_code": s.pause_code, "pause_reason": s.pause_reason,
            "created_at": s.created_at, "updated_at": s.updated_at, "canceled_at": s.canceled_at,
            "dripfeed_runs": s.dripfeed_runs, "dripfeed_interval": s.dripfeed_interval}


def _subscription(r: Any) -> SmmSubscription:
    return SmmSubscription(id=r.id, user_id=r.user_id, service_id=r.service_id, link=r.link, quantity=r.quantity,
                           interval=RecurrenceInterval(r.interval), status=SubscriptionStatus(r.status),
                           anchor_at=r.anchor_at, next_run=r.next_run, next_run_at=r.next_run_at,
                           runs_placed=r.runs_placed, last_order_id=r.last_order_id, pause_code=r.pause_code,
                           pause_reason=r.pause_reason, created_at=r.created_at, updated_at=r.updated_at,
                           canceled_at=r.canceled_at, dripfeed_runs=r.dripfeed_runs,
                           dripfeed_interval=r.dripfeed_interval)


class SqlSmmSubscriptionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    def _select(self, *where: Any, for_update: bool) -> Any:
        query = sa.select(smm_subscriptions).where(*where)
        # SQLite serialises writers with BEGIN IMMEDIATE; PostgreSQL needs the row lock.
        return query.with_for_update() if for_update and self._c.dialect.name == "postgresql" else query

    async def add(self, subscription: SmmSubscription) -> SmmSubscription:
        async with translated():
            result = await self._c.execute(smm_subscriptions.insert().values(**_values(subscription))
                                           .returning(smm_subscriptions.c.id))
        subscription.id = int(result.scalar_one())
        return subscription

    async def get(self, subscription_id: int, *, for_update: bool = False) -> SmmSubscription | None:
        row = (await self._c.execute(self._select(smm_subscriptions.c.id == subscription_id,
                                                  for_update=for_update))).first()
        return _subscription(row) if row else None

    async def get_for_user(self, subscription_id: int, user_id: int, *,
                           for_update: bool = False) -> SmmSubscription | None:
        row = (await self._c.execute(self._select(smm_subscriptions.c.id == subscription_id,
                                                  smm_subscriptions.c.user_id == user_id,
                                                  for_update=for_update))).first()
        return _subscription(row) if row else None

    async def update(self, subscription: SmmSubscription) -> None:
        async with translated():
            result = await self._c.execute(smm_subscriptions.update()
                                           .where(smm_subscriptions.c.id == subscription.id)
                                           .values(**_values(subscription)))
        if result.rowcount == 0:
            raise NotFoundError("subscription not found", code="SUBSCRIPTION_NOT_FOUND")

    @staticmethod
    def _mine(query: Any, user_id: int, status: SubscriptionStatus | None) -> Any:
        query = query.where(smm_subscriptions.c.user_id == user_id)
        return query.where(smm_subscriptions.c.status == status.value) if status is not None else query

    async def list_for_user(self, user_id: int, *, status: SubscriptionStatus | None, limit: int,
                            offset: int) -> Sequence[SmmSubscription]:
        query = self._mine(sa.select(smm_subscriptions), user_id, status)
        rows = await self._c.execute(query.order_by(smm_subscriptions.c.id.desc()).limit(limit).offset(offset))
        return [_subscription(r) for r in rows]

    async def count_for_user(self, user_id: int, *, status: SubscriptionStatus | None) -> int:
        query = self._mine(sa.select(sa.func.count()).select_from(smm_subscriptions), user_id, status)
        return int((await self._c.execute(query)).scalar_one())

    async def due(self, now: datetime, *, limit: int) -> Sequence[SmmSubscription]:
        c = smm_subscriptions.c
        rows = await self._c.execute(sa.select(smm_subscriptions)
                                     .where(c.status == SubscriptionStatus.ACTIVE.value, c.next_run_at <= now)
                                     .order_by(c.next_run_at, c.id).limit(limit))
        return [_subscription(r) for r in rows]

    async def add_run(self, run: SubscriptionRun) -> None:
        async with translated():
            await self._c.execute(smm_subscription_runs.insert().values(
                subscription_id=run.subscription_id, run=run.run, order_id=run.order_id, created_at=run.created_at))

    async def runs(self, subscription_id: int, *, limit: int = 100) -> Sequence[SubscriptionRun]:
        c = smm_subscription_runs.c
        rows = await self._c.execute(sa.select(smm_subscription_runs).where(c.subscription_id == subscription_id)
                                     .order_by(c.run.desc()).limit(limit))
        return [SubscriptionRun(subscription_id=r.subscription_id, run=r.run, order_id=r.order_id,
                                created_at=r.created_at) for r in rows]
