"""In-memory recurring-order repository (fake of the SmmSubscriptionRepository port).

State lives in ``InMemoryStore.extensions["smm_subscriptions"]`` so the in-memory unit of work's
snapshot/rollback covers it. Entities are handed out as deep copies.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from attrs import define, field

from vpnsmm.domain.errors import ConflictError, NotFoundError
from vpnsmm.domain.smm_subscriptions import SmmSubscription, SubscriptionRun, SubscriptionStatus


@define
class SubscriptionState:
    subscriptions: dict[int, SmmSubscription] = field(factory=dict)
    runs: dict[tuple[int, int], SubscriptionRun] = field(factory=dict)
    seq: int = 0


class InMemorySmmSubscriptionRepository:
    def __init__(self, store: Any) -> None:
        self._store = store  # an InMemoryStore; its dicts are replaced on rollback, so look them up each time

    @property
    def _s(self) -> SubscriptionState:
        found = self._store.extensions.get("smm_subscriptions")
        if found is None:
            found = self._store.extensions["smm_subscriptions"] = SubscriptionState()
        assert isinstance(found, SubscriptionState)
        return found

    async def add(self, subscription: SmmSubscription) -> SmmSubscription:
        self._s.seq += 1
        subscription.id = self._s.seq
        self._s.subscriptions[subscription.id] = copy.deepcopy(subscription)
        return subscription

    async def get(self, subscription_id: int, *, for_update: bool = False) -> SmmSubscription | None:
        found = self._s.subscriptions.get(subscription_id)
        return copy.deepcopy(found) if found else None

    async def get_for_user(self, subscription_id: int, user_id: int, *,
                           for_update: bool = False) -> SmmSubscription | None:
        found = self._s.subscriptions.get(subscription_id)
        return copy.deepcopy(found) if found is not None and found.user_id == user_id else None

    async def update(self, subscription: SmmSubscription) -> None:
        if subscription.id not in self._s.subscriptions:
            raise NotFoundError("subscription not found", code="SUBSCRIPTION_NOT_FOUND")
        self._s.subscriptions[subscription.id] = copy.deepcopy(subscription)

    def _mine(self, user_id: int, status: SubscriptionStatus | None) -> list[SmmSubscription]:
        return [s for _, s in sorted(self._s.subscriptions.items(), reverse=True)
                if s.user_id == user_id and (status is None or s.status is status)]

    async def list_for_user(self, user_id: int, *, status: SubscriptionStatus | None, limit: int,
                            offset: int) -> Sequence[SmmSubscription]:
        return [copy.deepcopy(s) for s in self._mine(user_id, status)[offset:offset + limit]]

    async def count_for_user(self, user_id: int, *, status: SubscriptionStatus | None) -> int:
        return len(self._mine(user_id, status))

    async def due(self, now: datetime, *, limit: int) -> Sequence[SmmSubscription]:
        found = [s for s in self._s.subscriptions.values() if s.due(now)]
        found.sort(key=lambda s: (s.next_run_at, s.id))
        return [copy.deepcopy(s) for s in found[:limit]]

    async def add_run(self, run: SubscriptionRun) -> None:
        key = (run.subscription_id, run.run)
        if key in self._s.runs:
            raise ConflictError("this run was already placed", code="RUN_ALREADY_PLACED")
        self._s.runs[key] = run

    async def runs(self, subscription_id: int, *, limit: int = 100) -> Sequence[SubscriptionRun]:
        found = sorted((r for (sid, _), r in self._s.runs.items() if sid == subscription_id),
                       key=lambda r: r.run, reverse=True)
        return found[:limit]
