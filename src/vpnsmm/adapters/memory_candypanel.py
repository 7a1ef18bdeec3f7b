"""In-memory CandyPanel records over ``InMemoryStore.extensions`` (the fake of CandyPanelRepository)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from vpnsmm.application.ports.candypanel import ApiTokenRecord, CardOrder, ClientName, OutboxMessage
from vpnsmm.domain.errors import ConflictError


class _Store(Protocol):
    extensions: dict[str, Any]

    def next_id(self, name: str) -> int: ...


class InMemoryCandyPanelRepository:
    def __init__(self, store: _Store) -> None:
        self._s = store

    def _t(self, name: str) -> dict[Any, Any]:
        table: dict[Any, Any] = self._s.extensions.setdefault(f"candypanel_{name}", {})
        return table

    async def settings(self) -> Mapping[str, str]:
        return dict(self._t("settings"))

    async def put_setting(self, key: str, value: str, *, now: datetime) -> None:
        self._t("settings")[key] = value

    async def claim_setting(self, key: str, value: str, *, now: datetime) -> bool:
        table = self._t("settings")
        if key in table:
            return False
        table[key] = value
        return True

    async def add_client(self, client: ClientName) -> None:
        table = self._t("clients")
        if client.name in table or any(c.account_id == client.account_id for c in table.values()):
            raise ConflictError("Client with this name already exists.", code="CLIENT_NAME_TAKEN",
                                details={"field": "name"})
        table[client.name] = client

    async def client(self, name: str) -> ClientName | None:
        found: ClientName | None = self._t("clients").get(name)
        return found

    async def client_of_account(self, account_id: int) -> ClientName | None:
        return next((c for c in self._t("clients").values() if c.account_id == account_id), None)

    async def clients(self) -> Sequence[ClientName]:
        return sorted(self._t("clients").values(), key=lambda c: (c.created_at, c.name))

    async def update_client(self, client: ClientName) -> None:
        if client.name in self._t("clients"):
            self._t("clients")[client.name] = client

    async def remove_client(self, name: str) -> bool:
        return self._t("clients").pop(name, None) is not None

    async def add_order(self, order: CardOrder) -> None:
        if order.order_id in self._t("orders"):
            raise ConflictError("this order_id is already used", code="ORDER_ID_TAKEN", details={"field": "order_id"})
        self._t("orders")[order.order_id] = order

    async def order(self, order_id: str) -> CardOrder | None:
        found: CardOrder | None = self._t("orders").get(order_id)
        return found

    async def orders(self) -> Sequence[CardOrder]:
        return sorted(self._t("orders").values(), key=lambda o: (o.requested_at, o.order_id), reverse=True)

    async def attach_payment(self, order_id: str, invoice_id: int, payment_id: int) -> None:
        order = self._t("orders").get(order_id)
        if order is not None:
            self._t("orders")[order_id] = attrs.evolve(order, invoice_id=invoice_id, payment_id=payment_id)

    async def set_admin_note(self, order_id: str, note: str | None) -> None:
        order = self._t("orders").get(order_id)
        if order is not None:
            self._t("orders")[order_id] = attrs.evolve(order, admin_note=note)

    async def put_token(self, token: ApiTokenRecord) -> None:
        table = self._t("tokens")
        if any(t.token_hash == token.token_hash and t.name != token.name for t in table.values()):
            raise ConflictError("this token is used by another name", code="API_TOKEN_TAKEN",
                                details={"field": "token"})
        table[token.name] = token

    async def token_by_hash(self, token_hash: str) -> ApiTokenRecord | None:
        return next((t for t in self._t("tokens").values() if t.token_hash == token_hash), None)

    async def tokens(self) -> Sequence[ApiTokenRecord]:
        return sorted(self._t("tokens").values(), key=lambda t: t.name)

    async def remove_token(self, name: str) -> bool:
        return self._t("tokens").pop(name, None) is not None

    async def add_message(self, message: OutboxMessage) -> OutboxMessage:
        stored = attrs.evolve(message, id=self._s.next_id("candypanel_outbox"), recipients=list(message.recipients))
        self._t("outbox")[stored.id] = stored
        return stored

    async def messages(self, *, limit: int = 100) -> Sequence[OutboxMessage]:
        return [m for _, m in sorted(self._t("outbox").items(), reverse=True)][:limit]
