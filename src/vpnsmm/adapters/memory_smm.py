"""In-memory SMM catalogue and order repositories (fakes of the persistence ports).

State lives in ``InMemoryStore.extensions["smm"]`` so the in-memory unit of work's snapshot/rollback
covers it. Entities are handed out as deep copies.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from attrs import define, field

from vpnsmm.domain.errors import ConflictError, NotFoundError, ValidationError
from vpnsmm.domain.smm_orders import (
    ORDER_SORT_KEYS,
    Category,
    OrderFilter,
    OrderStatsRow,
    Provider,
    Refill,
    Service,
    SmmOrder,
    SubmitState,
    UserRate,
)

_T = TypeVar("_T")


def _c(obj: _T) -> _T:
    return copy.deepcopy(obj)


@define
class SmmState:
    providers: dict[int, Provider] = field(factory=dict)
    categories: dict[int, Category] = field(factory=dict)
    services: dict[int, Service] = field(factory=dict)
    rates: dict[tuple[int, int | None], UserRate] = field(factory=dict)
    orders: dict[int, SmmOrder] = field(factory=dict)
    refills: dict[int, Refill] = field(factory=dict)
    seq: dict[str, int] = field(factory=lambda: defaultdict(int))

    def next(self, name: str) -> int:
        self.seq[name] += 1
        return self.seq[name]


def smm_state(extensions: dict[str, Any]) -> SmmState:
    found = extensions.get("smm")
    if found is None:
        found = extensions["smm"] = SmmState()
    assert isinstance(found, SmmState)
    return found


class InMemorySmmCatalogueRepository:
    def __init__(self, store: Any) -> None:
        self._store = store  # an InMemoryStore; its dicts are replaced on rollback, so look them up each time

    @property
    def _s(self) -> SmmState:
        return smm_state(self._store.extensions)

    async def add_provider(self, provider: Provider) -> Provider:
        if any(p.name.casefold() == provider.name.casefold() for p in self._s.providers.values()):
            raise ConflictError("a provider with this name exists", code="PROVIDER_EXISTS", details={"field": "name"})
        provider.id = self._s.next("providers")
        self._s.providers[provider.id] = _c(provider)
        return provider

    async def get_provider(self, provider_id: int) -> Provider | None:
        found = self._s.providers.get(provider_id)
        return _c(found) if found else None

    async def list_providers(self) -> Sequence[Provider]:
        return [_c(p) for _, p in sorted(self._s.providers.items())]

    async def update_provider(self, provider: Provider) -> None:
        if provider.id not in self._s.providers:
            raise NotFoundError("provider not found", code="PROVIDER_NOT_FOUND")
        self._s.providers[provider.id] = _c(provider)

    async def category_by_name(self, name: str) -> Category | None:
        return next((_c(c) for c in self._s.categories.values() if c.name == name), None)

    async def add_category(self, category: Category) -> Category:
        if any(c.name == category.name for c in self._s.categories.values()):
            raise ConflictError("category exists", code="CATEGORY_EXISTS", details={"field": "name"})
        category.id = self._s.next("categories")
        self._s.categories[category.id] = _c(category)
        return category

    async def list_categories(self) -> Sequence[Category]:
        return [_c(c) for _, c in sorted(self._s.categories.items())]

    async def add_service(self, service: Service) -> Service:
        if any(s.provider_id == service.provider_id and s.provider_service_id == service.provider_service_id
               for s in self._s.services.values()):
            raise ConflictError("this provider service is already in the catalogue", code="SERVICE_EXISTS",
                                details={"field": "provider_service_id"})
        service.id = self._s.next("services")
        self._s.services[service.id] = _c(service)
        return service

    async def get_service(self, service_id: int) -> Service | None:
        found = self._s.services.get(service_id)
        return _c(found) if found else None

    async def update_service(self, service: Service) -> None:
        if service.id not in self._s.services:
            raise NotFoundError("service not found", code="SERVICE_NOT_FOUND")
        self._s.services[service.id] = _c(service)

    async def list_services(self, *, category_id: int | None = None, active: bool | None = None,
                            provider_id: int | None = None) -> Sequence[Service]:
        return [_c(s) for _, s in sorted(self._s.services.items())
                if (category_id is None or s.category_id == category_id)
                and (active is None or s.active is active)
                and (provider_id is None or s.provider_id == provider_id)]

    async def set_user_rate(self, rate: UserRate) -> None:
        self._s.rates[(rate.user_id, rate.service_id)] = rate

    async def delete_user_rate(self, user_id: int, service_id: int | None) -> bool:
        return self._s.rates.pop((user_id, service_id), None) is not None

    async def user_rates(self, user_id: int) -> Sequence[UserRate]:
        return [r for (uid, _), r in self._s.rates.items() if uid == user_id]

    async def service_for_user(self, service_id: int, user_id: int) -> tuple[Service, Sequence[UserRate]] | None:
        service = await self.get_service(service_id)
        if service is None:
            return None
        return service, [r for r in await self.user_rates(user_id) if r.service_id in (None, service_id)]


def _matches(o: SmmOrder, f: OrderFilter) -> bool:
    return ((f.user_id is None or o.user_id == f.user_id) and (f.status is None or o.status is f.status)
            and (f.service_id is None or o.service_id == f.service_id)
            and (f.provider_id is None or o.provider_id == f.provider_id)
            and (f.submit_state is None or o.submit_state is f.submit_state)
            and (not f.search or f.search.casefold() in o.link.casefold())
            and (f.statuses is None or o.status in f.statuses)
            and (f.created_from is None or o.created_at >= f.created_from)
            and (f.created_before is None or o.created_at < f.created_before))


class InMemorySmmOrderRepository:
    def __init__(self, store: Any) -> None:
        self._store = store  # an InMemoryStore; its dicts are replaced on rollback, so look them up each time

    @property
    def _s(self) -> SmmState:
        return smm_state(self._store.extensions)

    async def add(self, order: SmmOrder) -> SmmOrder:
        if order.parent_order_id is not None and any(
                o.parent_order_id == order.parent_order_id and o.provider_order_id == order.provider_order_id
                for o in self._s.orders.values()):
            raise ConflictError("this child order is already recorded", code="CHILD_ORDER_EXISTS",
                                details={"field": "provider_order_id"})
        order.id = self._s.next("orders")
        self._s.orders[order.id] = _c(order)
        return order

    async def get(self, order_id: int, *, for_update: bool = False) -> SmmOrder | None:
        found = self._s.orders.get(order_id)
        return _c(found) if found else None

    async def get_for_user(self, order_id: int, user_id: int, *, for_update: bool = False) -> SmmOrder | None:
        found = self._s.orders.get(order_id)
        return _c(found) if found is not None and found.user_id == user_id else None

    async def many_for_user(self, user_id: int, order_ids: Sequence[int]) -> Sequence[SmmOrder]:
        wanted = set(order_ids)
        return [_c(o) for i, o in sorted(self._s.orders.items()) if i in wanted and o.user_id == user_id]

    async def update(self, order: SmmOrder) -> None:
        if order.id not in self._s.orders:
            raise NotFoundError("order not found", code="ORDER_NOT_FOUND")
        self._s.orders[order.id] = _c(order)

    async def children_of(self, parent_order_id: int) -> Sequence[SmmOrder]:
        return [_c(o) for _, o in sorted(self._s.orders.items()) if o.parent_order_id == parent_order_id]

    async def child_ids_of(self, user_id: int, parent_order_ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        wanted = set(parent_order_ids)
        out: dict[int, list[int]] = {}
        for order_id, o in sorted(self._s.orders.items()):
            if o.parent_order_id in wanted and o.user_id == user_id:
                out.setdefault(o.parent_order_id, []).append(order_id)
        return out

    async def claim_for_submit(self, order_ids: Sequence[int], now: datetime) -> Sequence[SmmOrder]:
        claimed = []
        for order_id in sorted(set(order_ids)):
            found = self._s.orders.get(order_id)
            if found is None or found.submit_state is not SubmitState.QUEUED:
                continue
            order = _c(found)
            order.submit_state, order.updated_at = SubmitState.SENDING, now
            self._s.orders[order_id] = _c(order)
            claimed.append(order)
        return claimed

    async def record_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> Sequence[int]:
        return [order_id for order_id, provider_order_id in sent
                if await self.record_sent(order_id, provider_order_id, now) is not None]

    async def record_sent(self, order_id: int, provider_order_id: str, now: datetime) -> SmmOrder | None:
        found = self._s.orders.get(order_id)
        if found is None or found.submit_state is not SubmitState.SENDING:
            return None
        order = _c(found)
        order.sent(provider_order_id, now)
        self._s.orders[order_id] = _c(order)
        return order

    async def list(self, filter: OrderFilter, *, limit: int, offset: int, sort: str = "id",
                   descending: bool = True) -> Sequence[SmmOrder]:
        if sort not in ORDER_SORT_KEYS:
            raise ValidationError(f"cannot sort by {sort!r}", field="sort")

        def key(o: SmmOrder) -> tuple[Any, int]:
            if sort == "updated_at":
                return (o.updated_at or o.created_at), o.id
            if sort == "status":
                return o.status.value, o.id
            return getattr(o, sort), o.id

        found = sorted((o for o in self._s.orders.values() if _matches(o, filter)), key=key, reverse=descending)
        return [_c(o) for o in found[offset:offset + limit]]

    async def count(self, filter: OrderFilter) -> int:
        return sum(1 for o in self._s.orders.values() if _matches(o, filter))

    async def to_poll(self, *, limit: int) -> Sequence[SmmOrder]:
        found = [o for o in self._s.orders.values()
                 if o.submit_state is SubmitState.SENT and not o.status.is_terminal]
        found.sort(key=lambda o: (o.updated_at or o.created_at, o.id))
        return [_c(o) for o in found[:limit]]

    async def to_submit(self, *, limit: int) -> Sequence[SmmOrder]:
        found = [o for _, o in sorted(self._s.orders.items()) if o.submit_state is SubmitState.QUEUED]
        return [_c(o) for o in found[:limit]]

    async def add_refill(self, refill: Refill) -> Refill:
        refill.id = self._s.next("refills")
        self._s.refills[refill.id] = _c(refill)
        return refill

    async def get_refill_for_user(self, refill_id: int, user_id: int) -> Refill | None:
        found = self._s.refills.get(refill_id)
        return _c(found) if found is not None and found.user_id == user_id else None

    async def refills_to_poll(self, *, limit: int) -> Sequence[Refill]:
        return [_c(r) for _, r in sorted(self._s.refills.items()) if not r.status.is_terminal][:limit]

    async def update_refill(self, refill: Refill) -> None:
        if refill.id not in self._s.refills:
            raise NotFoundError("refill not found", code="REFILL_NOT_FOUND")
        self._s.refills[refill.id] = _c(refill)

    async def stats(self, *, since: datetime | None = None) -> Sequence[OrderStatsRow]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for o in self._s.orders.values():
            if since is not None and o.created_at < since:
                continue
            key = (o.created_at.date(), o.status, o.charge.currency)
            acc = groups.setdefault(key, [0, 0, 0])
            acc[0] += 1
            acc[1] += o.charge.amount if o.parent_order_id is None else 0  # a child's charge is its parent's
            acc[2] += o.refunded.amount if o.refunded is not None else 0
        return [OrderStatsRow(day=k[0], status=k[1], currency=k[2], count=v[0], charged=v[1], refunded=v[2])
                for k, v in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1].value, kv[0][2].value))]
