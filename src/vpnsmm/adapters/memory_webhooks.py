"""In-memory webhook repository (the fake of the port). State lives in ``InMemoryStore.extensions["webhooks"]``
so the in-memory unit of work's snapshot/rollback covers it; entities are handed out as deep copies."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, TypeVar

from attrs import define, evolve, field

from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.events import EventType
from vpnsmm.domain.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

_T = TypeVar("_T")


def _c(obj: _T) -> _T:
    return copy.deepcopy(obj)


@define
class WebhookState:
    endpoints: dict[int, WebhookEndpoint] = field(factory=dict)
    deliveries: dict[int, WebhookDelivery] = field(factory=dict)
    attempts: list[WebhookAttempt] = field(factory=list)
    next_ids: dict[str, int] = field(factory=dict)

    def next_id(self, name: str) -> int:
        self.next_ids[name] = self.next_ids.get(name, 0) + 1
        return self.next_ids[name]


class InMemoryWebhookRepository:
    def __init__(self, store: Any) -> None:
        self._store = store

    @property
    def _s(self) -> WebhookState:
        state = self._store.extensions.get("webhooks")
        if state is None:
            state = self._store.extensions["webhooks"] = WebhookState()
        assert isinstance(state, WebhookState)
        return state

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        endpoint.id = self._s.next_id("endpoint")
        self._s.endpoints[endpoint.id] = _c(endpoint)
        return endpoint

    async def get_endpoint(self, endpoint_id: int, *, user_id: int | None) -> WebhookEndpoint | None:
        found = self._s.endpoints.get(endpoint_id)
        if found is None or (user_id is not None and found.user_id != user_id):
            return None
        return _c(found)

    async def list_endpoints(self, user_id: int) -> Sequence[WebhookEndpoint]:
        return [_c(e) for _, e in sorted(self._s.endpoints.items()) if e.user_id == user_id]

    async def update_endpoint(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id not in self._s.endpoints:
            raise NotFoundError("webhook not found", code="WEBHOOK_NOT_FOUND")
        self._s.endpoints[endpoint.id] = _c(endpoint)

    async def delete_endpoint(self, endpoint_id: int) -> None:
        gone = {d.id for d in self._s.deliveries.values() if d.endpoint_id == endpoint_id}
        self._s.attempts = [a for a in self._s.attempts if a.delivery_id not in gone]
        for delivery_id in gone:
            del self._s.deliveries[delivery_id]
        self._s.endpoints.pop(endpoint_id, None)

    async def endpoints_for(self, user_id: int, event: EventType) -> Sequence[WebhookEndpoint]:
        return [_c(e) for _, e in sorted(self._s.endpoints.items()) if e.user_id == user_id and e.wants(event)]

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        existing = next((d for d in self._s.deliveries.values()
                         if d.endpoint_id == delivery.endpoint_id and d.event_id == delivery.event_id), None)
        if existing is not None:
            delivery.id = existing.id
            return False
        delivery.id = self._s.next_id("delivery")
        self._s.deliveries[delivery.id] = _c(delivery)
        return True

    async def get_delivery(self, delivery_id: int, *, for_update: bool = False) -> WebhookDelivery | None:
        found = self._s.deliveries.get(delivery_id)
        return None if found is None else _c(found)

    async def update_delivery(self, delivery: WebhookDelivery) -> None:
        if delivery.id in self._s.deliveries:
            self._s.deliveries[delivery.id] = _c(delivery)

    async def add_attempt(self, attempt: WebhookAttempt) -> None:
        self._s.attempts.append(evolve(attempt, id=self._s.next_id("attempt")))

    async def deliveries(self, endpoint_id: int, *, limit: int, before_id: int | None) -> Sequence[WebhookDelivery]:
        found = [d for _, d in sorted(self._s.deliveries.items(), reverse=True)
                 if d.endpoint_id == endpoint_id and (before_id is None or d.id < before_id)]
        return [_c(d) for d in found[:limit]]

    async def attempts_for(self, delivery_ids: Sequence[int]) -> Sequence[WebhookAttempt]:
        wanted = set(delivery_ids)
        found = [a for a in self._s.attempts if a.delivery_id in wanted]
        return sorted(found, key=lambda a: (a.delivery_id, a.attempt))
