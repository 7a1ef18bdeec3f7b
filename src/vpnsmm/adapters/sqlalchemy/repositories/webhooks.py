"""Webhook endpoints, deliveries and attempts in SQL (Core, explicit row <-> attrs mapping)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import translated
from vpnsmm.adapters.sqlalchemy.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.events import EventType
from vpnsmm.domain.webhooks import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _endpoint_values(e: WebhookEndpoint) -> dict[str, Any]:
    return {"user_id": e.user_id, "url": e.url, "secret_encrypted": e.secret_encrypted,
            "events": sorted(t.value for t in e.events), "description": e.description, "active": e.active,
            "created_at": e.created_at, "updated_at": e.updated_at}


def _endpoint(r: Any) -> WebhookEndpoint:
    return WebhookEndpoint(id=int(r.id), user_id=int(r.user_id), url=r.url, secret_encrypted=r.secret_encrypted,
                           events=frozenset(EventType(t) for t in r.events), description=r.description,
                           active=bool(r.active), created_at=r.created_at, updated_at=r.updated_at)


def _delivery_values(d: WebhookDelivery) -> dict[str, Any]:
    return {"endpoint_id": d.endpoint_id, "user_id": d.user_id, "event_id": d.event_id,
            "event_type": d.event_type.value, "body": d.body, "status": d.status.value, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at, "last_status_code": d.last_status_code,
            "last_error": d.last_error[:500], "created_at": d.created_at, "delivered_at": d.delivered_at}


def _delivery(r: Any) -> WebhookDelivery:
    return WebhookDelivery(id=int(r.id), endpoint_id=int(r.endpoint_id), user_id=int(r.user_id), event_id=r.event_id,
                           event_type=EventType(r.event_type), body=r.body, status=DeliveryStatus(r.status),
                           attempts=int(r.attempts), next_attempt_at=r.next_attempt_at,
                           last_status_code=r.last_status_code, last_error=r.last_error, created_at=r.created_at,
                           delivered_at=r.delivered_at)


def _attempt(r: Any) -> WebhookAttempt:
    return WebhookAttempt(id=int(r.id), delivery_id=int(r.delivery_id), attempt=int(r.attempt), at=r.at,
                          status_code=r.status_code, latency_ms=int(r.latency_ms), error=r.error,
                          next_retry_at=r.next_retry_at)


class SqlWebhookRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _run(self, stmt: Any) -> Any:
        async with translated():
            return await self._conn.execute(stmt)

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        result = await self._run(webhook_endpoints.insert().values(**_endpoint_values(endpoint))
                                 .returning(webhook_endpoints.c.id))
        endpoint.id = int(result.scalar_one())
        return endpoint

    async def get_endpoint(self, endpoint_id: int, *, user_id: int | None) -> WebhookEndpoint | None:
        query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        if user_id is not None:
            query = query.where(webhook_endpoints.c.user_id == user_id)
        row = (await self._run(query)).first()
        return None if row is None else _endpoint(row)

    async def list_endpoints(self, user_id: int) -> Sequence[WebhookEndpoint]:
        rows = await self._run(sa.select(webhook_endpoints).where(webhook_endpoints.c.user_id == user_id)
                               .order_by(webhook_endpoints.c.id))
        return [_endpoint(r) for r in rows.all()]

    async def update_endpoint(self, endpoint: WebhookEndpoint) -> None:
        result = await self._run(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint.id)
                                 .values(**_endpoint_values(endpoint)))
        if result.rowcount != 1:
            raise NotFoundError("webhook not found", code="WEBHOOK_NOT_FOUND")

    async def delete_endpoint(self, endpoint_id: int) -> None:
        deliveries = sa.select(webhook_deliveries.c.id).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        await self._run(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(deliveries)))
        await self._run(webhook_deliveries.delete().where(webhook_deliveries.c.endpoint_id == endpoint_id))
        await self._run(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id))

    async def endpoints_for(self, user_id: int, event: EventType) -> Sequence[WebhookEndpoint]:
        # The filter is a small JSON list: match it here rather than with dialect-specific JSON operators.
        rows = await self._run(sa.select(webhook_endpoints).where(
            webhook_endpoints.c.user_id == user_id, webhook_endpoints.c.active.is_(True))
            .order_by(webhook_endpoints.c.id))
        return [e for e in (_endpoint(r) for r in rows.all()) if e.wants(event)]

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(webhook_deliveries).values(**_delivery_values(delivery)) \
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"]).returning(webhook_deliveries.c.id)
        inserted = (await self._run(stmt)).scalar_one_or_none()
        if inserted is not None:
            delivery.id = int(inserted)
            return True
        existing = (await self._run(sa.select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.endpoint_id == delivery.endpoint_id,
            webhook_deliveries.c.event_id == delivery.event_id))).scalar_one()
        delivery.id = int(existing)
        return False

    async def get_delivery(self, delivery_id: int, *, for_update: bool = False) -> WebhookDelivery | None:
        query = sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self._run(query)).first()
        return None if row is None else _delivery(row)

    async def update_delivery(self, delivery: WebhookDelivery) -> None:
        await self._run(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery.id)
                        .values(**_delivery_values(delivery)))

    async def add_attempt(self, attempt: WebhookAttempt) -> None:
        await self._run(webhook_attempts.insert().values(
            delivery_id=attempt.delivery_id, attempt=attempt.attempt, at=attempt.at, status_code=attempt.status_code,
            latency_ms=attempt.latency_ms, error=attempt.error[:500], next_retry_at=attempt.next_retry_at))

    async def deliveries(self, endpoint_id: int, *, limit: int, before_id: int | None) -> Sequence[WebhookDelivery]:
        query = sa.select(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        if before_id is not None:
            query = query.where(webhook_deliveries.c.id < before_id)
        rows = await self._run(query.order_by(webhook_deliveries.c.id.desc()).limit(limit))
        return [_delivery(r) for r in rows.all()]

    async def attempts_for(self, delivery_ids: Sequence[int]) -> Sequence[WebhookAttempt]:
        if not delivery_ids:
            return []
        rows = await self._run(sa.select(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(list(delivery_ids)))
                               .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.attempt))
        return [_attempt(r) for r in rows.all()]
