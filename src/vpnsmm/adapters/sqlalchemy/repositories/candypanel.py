"""The CandyPanel records in SQL (tables candypanel_*), inside the unit of work's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import register_unique, translated
from vpnsmm.adapters.sqlalchemy.tables import (
    candypanel_api_tokens,
    candypanel_clients,
    candypanel_orders,
    candypanel_outbox,
    candypanel_settings,
)
from vpnsmm.application.ports.candypanel import ApiTokenRecord, CardOrder, ClientName, OutboxMessage

register_unique("candypanel_clients.name", "name", "CLIENT_NAME_TAKEN", "Client with this name already exists.")
register_unique("pk_candypanel_clients", "name", "CLIENT_NAME_TAKEN", "Client with this name already exists.")
register_unique("candypanel_clients.account_id", "account_id", "CLIENT_NAME_TAKEN", "the account already has a name")
register_unique("uq_candypanel_clients_account_id", "account_id", "CLIENT_NAME_TAKEN", "the account already has a name")
register_unique("candypanel_orders.order_id", "order_id", "ORDER_ID_TAKEN", "this order_id is already used")
register_unique("pk_candypanel_orders", "order_id", "ORDER_ID_TAKEN", "this order_id is already used")
register_unique("candypanel_api_tokens.token_hash", "token", "API_TOKEN_TAKEN", "this token is used by another name")
register_unique("uq_candypanel_api_tokens_token_hash", "token", "API_TOKEN_TAKEN", "this token is used by another name")


def _insert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _client(row: Any) -> ClientName:
    return ClientName(name=row.name, account_id=row.account_id, wg=row.wg, created_at=row.created_at, note=row.note)


def _order(row: Any) -> CardOrder:
    return CardOrder(order_id=row.order_id, user_id=row.user_id, telegram_id=row.telegram_id,
                     invoice_id=row.invoice_id, payment_id=row.payment_id, purchase_type=row.purchase_type,
                     quantity=row.quantity, amount=row.amount, card_number_sent=row.card_number_sent,
                     requested_at=row.requested_at, admin_note=row.admin_note)


class SqlCandyPanelRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    # -- settings ------------------------------------------------------------------------------------------
    async def settings(self) -> Mapping[str, str]:
        rows = await self._c.execute(sa.select(candypanel_settings.c.key, candypanel_settings.c.value))
        return {r.key: r.value for r in rows}

    async def put_setting(self, key: str, value: str, *, now: datetime) -> None:
        stmt = _insert(self._c)(candypanel_settings).values(key=key, value=value, updated_at=now)
        await self._c.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                         set_={"value": value, "updated_at": now}))

    async def claim_setting(self, key: str, value: str, *, now: datetime) -> bool:
        stmt = _insert(self._c)(candypanel_settings).values(key=key, value=value, updated_at=now)
        result = await self._c.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount)

    # -- clients -------------------------------------------------------------------------------------------
    async def add_client(self, client: ClientName) -> None:
        async with translated():
            await self._c.execute(sa.insert(candypanel_clients).values(
                name=client.name, account_id=client.account_id, wg=client.wg, note=client.note,
                created_at=client.created_at))

    async def client(self, name: str) -> ClientName | None:
        row = (await self._c.execute(sa.select(candypanel_clients).where(candypanel_clients.c.name == name))).first()
        return _client(row) if row else None

    async def client_of_account(self, account_id: int) -> ClientName | None:
        row = (await self._c.execute(sa.select(candypanel_clients).where(
            candypanel_clients.c.account_id == account_id))).first()
        return _client(row) if row else None

    async def clients(self) -> Sequence[ClientName]:
        rows = await self._c.execute(sa.select(candypanel_clients).order_by(candypanel_clients.c.created_at,
                                                                            candypanel_clients.c.name))
        return [_client(r) for r in rows]

    async def update_client(self, client: ClientName) -> None:
        await self._c.execute(sa.update(candypanel_clients).where(candypanel_clients.c.name == client.name)
                              .values(note=client.note, wg=client.wg))

    async def remove_client(self, name: str) -> bool:
        result = await self._c.execute(sa.delete(candypanel_clients).where(candypanel_clients.c.name == name))
        return bool(result.rowcount)

    # -- orders --------------------------------------------------------------------------------------------
    async def add_order(self, order: CardOrder) -> None:
        async with translated():
            await self._c.execute(sa.insert(candypanel_orders).values(
                order_id=order.order_id, user_id=order.user_id, telegram_id=order.telegram_id,
                invoice_id=order.invoice_id, payment_id=order.payment_id, purchase_type=order.purchase_type,
                quantity=order.quantity, amount=order.amount, card_number_sent=order.card_number_sent,
                admin_note=order.admin_note, requested_at=order.requested_at))

    async def order(self, order_id: str) -> CardOrder | None:
        row = (await self._c.execute(sa.select(candypanel_orders).where(
            candypanel_orders.c.order_id == order_id))).first()
        return _order(row) if row else None

    async def orders(self) -> Sequence[CardOrder]:
        rows = await self._c.execute(sa.select(candypanel_orders).order_by(
            candypanel_orders.c.requested_at.desc(), candypanel_orders.c.order_id))
        return [_order(r) for r in rows]

    async def attach_payment(self, order_id: str, invoice_id: int, payment_id: int) -> None:
        await self._c.execute(sa.update(candypanel_orders).where(candypanel_orders.c.order_id == order_id)
                              .values(invoice_id=invoice_id, payment_id=payment_id))

    async def set_admin_note(self, order_id: str, note: str | None) -> None:
        await self._c.execute(sa.update(candypanel_orders).where(candypanel_orders.c.order_id == order_id)
                              .values(admin_note=note))

    # -- API tokens ----------------------------------------------------------------------------------------
    async def put_token(self, token: ApiTokenRecord) -> None:
        await self._c.execute(sa.delete(candypanel_api_tokens).where(candypanel_api_tokens.c.name == token.name))
        async with translated():
            await self._c.execute(sa.insert(candypanel_api_tokens).values(
                name=token.name, token_hash=token.token_hash, user_id=token.user_id, created_at=token.created_at))

    async def token_by_hash(self, token_hash: str) -> ApiTokenRecord | None:
        row = (await self._c.execute(sa.select(candypanel_api_tokens).where(
            candypanel_api_tokens.c.token_hash == token_hash))).first()
        return ApiTokenRecord(row.name, row.token_hash, row.user_id, row.created_at) if row else None

    async def tokens(self) -> Sequence[ApiTokenRecord]:
        rows = await self._c.execute(sa.select(candypanel_api_tokens).order_by(candypanel_api_tokens.c.name))
        return [ApiTokenRecord(r.name, r.token_hash, r.user_id, r.created_at) for r in rows]

    async def remove_token(self, name: str) -> bool:
        result = await self._c.execute(sa.delete(candypanel_api_tokens).where(candypanel_api_tokens.c.name == name))
        return bool(result.rowcount)

    # -- outbox --------------------------------------------------------------------------------------------
    async def add_message(self, message: OutboxMessage) -> OutboxMessage:
        result = await self._c.execute(sa.insert(candypanel_outbox).values(
            kind=message.kind, sender_telegram_id=message.sender_telegram_id, recipients=list(message.recipients),
            message=message.message, created_at=message.created_at).returning(candypanel_outbox.c.id))
        return OutboxMessage(kind=message.kind, sender_telegram_id=message.sender_telegram_id,
                             recipients=list(message.recipients), message=message.message,
                             created_at=message.created_at, id=int(result.scalar_one()))

    async def messages(self, *, limit: int = 100) -> Sequence[OutboxMessage]:
        rows = await self._c.execute(sa.select(candypanel_outbox).order_by(candypanel_outbox.c.id.desc())
                                     .limit(limit))
        return [OutboxMessage(kind=r.kind, sender_telegram_id=r.sender_telegram_id, recipients=list(r.recipients),
                              message=r.message, created_at=r.created_at, id=r.id) for r in rows]
