"""Port of recurring SMM orders: the subscription repository (inside a unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from vpnsmm.domain.smm_subscriptions import SmmSubscription, SubscriptionRun, SubscriptionStatus


class SmmSubscriptionRepository(Protocol):
    """Subscriptions and the orders their runs became. Ownership is part of every ``*_for_user`` lookup."""

    async def add(self, subscription: SmmSubscription) -> SmmSubscription:
        """Store and assign ``subscription.id``."""
        ...

    async def get(self, subscription_id: int, *, for_update: bool = False) -> SmmSubscription | None:
        """``for_update`` locks the row until the transaction ends (serialises runs of one subscription)."""
        ...

    async def get_for_user(self, subscription_id: int, user_id: int, *,
                           for_update: bool = False) -> SmmSubscription | None: ...

    async def update(self, subscription: SmmSubscription) -> None:
        """NotFoundError (SUBSCRIPTION_NOT_FOUND) if it is gone."""
        ...

    async def list_for_user(self, user_id: int, *, status: SubscriptionStatus | None, limit: int,
                            offset: int) -> Sequence[SmmSubscription]:
        """Newest first."""
        ...

    async def count_for_user(self, user_id: int, *, status: SubscriptionStatus | None) -> int: ...

    async def due(self, now: datetime, *, limit: int) -> Sequence[SmmSubscription]:
        """Active subscriptions whose next run is due at ``now``, earliest first."""
        ...

    async def add_run(self, run: SubscriptionRun) -> None:
        """Record a placed run. Raises ConflictError (RUN_ALREADY_PLACED) if that run index is recorded."""
        ...

    async def runs(self, subscription_id: int, *, limit: int = 100) -> Sequence[SubscriptionRun]:
        """Newest first."""
        ...
