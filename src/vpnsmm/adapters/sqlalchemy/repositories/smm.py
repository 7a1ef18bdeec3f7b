"""SMM catalogue, orders and refills in SQL (Core, explicit row <-> attrs mapping)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import register_unique, translated
from vpnsmm.adapters.sqlalchemy.hot import HotStatement, Prefixed, asyncpg_driver
from vpnsmm.adapters.sqlalchemy.repositories.ledger import account_of
from vpnsmm.adapters.sqlalchemy.tables import (
    ledger_accounts,
    smm_categories,
    smm_orders,
    smm_providers,
    smm_refills,
    smm_services,
    smm_user_rates,
)
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.ledger import AccountPurpose, LedgerAccount
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus, RefillStatus, ServiceType
from vpnsmm.domain.smm_orders import (
    ORDER_SORT_KEYS,
    Category,
    OrderFilter,
    OrderStatsRow,
    Provider,
    ProviderKind,
    Refill,
    Service,
    SmmOrder,
    SubmitState,
    UserRate,
)

register_unique("smm_providers.name", "name", "PROVIDER_EXISTS", "a provider with this name exists")
register_unique("uq_smm_providers_name", "name", "PROVIDER_EXISTS", "a provider with this name exists")
register_unique("smm_categories.name", "name", "CATEGORY_EXISTS", "category exists")
register_unique("uq_smm_categories_name", "name", "CATEGORY_EXISTS", "category exists")
register_unique("uq_smm_services_provider_service", "provider_service_id", "SERVICE_EXISTS",
                "this provider service is already in the catalogue")
register_unique("smm_services.provider_id", "provider_service_id", "SERVICE_EXISTS",
                "this provider service is already in the catalogue")
register_unique("uq_smm_orders_parent_provider_order", "provider_order_id", "CHILD_ORDER_EXISTS",
                "this child order is already recorded")
register_unique("smm_orders.parent_order_id", "provider_order_id", "CHILD_ORDER_EXISTS",
                "this child order is already recorded")


def _lock(conn: AsyncConnection, query: Any, for_update: bool) -> Any:
    return query.with_for_update() if for_update and conn.dialect.name == "postgresql" else query


# ------------------------------------------------------------------------------------------ mapping
def _provider_values(p: Provider) -> dict[str, Any]:
    return {"name": p.name, "kind": p.kind.value, "api_url": p.api_url, "api_key_encrypted": p.api_key_encrypted,
            "currency": p.currency.value, "exchange_rate": p.exchange_rate, "active": p.active,
            "created_at": p.created_at}


def _provider(r: Any) -> Provider:
    return Provider(id=r.id, name=r.name, kind=ProviderKind(r.kind), api_url=r.api_url,
                    api_key_encrypted=r.api_key_encrypted, currency=Currency(r.currency),
                    exchange_rate=r.exchange_rate, active=bool(r.active), created_at=r.created_at)


def _service_values(s: Service) -> dict[str, Any]:
    return {"name": s.name, "type": s.type.value, "category_id": s.category_id, "rate": s.rate.amount,
            "currency": s.rate.currency.value, "min": s.min, "max": s.max, "provider_id": s.provider_id,
            "provider_service_id": s.provider_service_id, "refill": s.refill, "cancel": s.cancel,
            "dripfeed": s.dripfeed, "markup": s.markup, "provider_rate": s.provider_rate,
            "description": s.description, "active": s.active}


def _service(r: Any) -> Service:
    return Service(id=r.id, name=r.name, type=ServiceType(r.type), category_id=r.category_id,
                   rate=Money(r.rate, Currency(r.currency)), min=r.min, max=r.max, provider_id=r.provider_id,
                   provider_service_id=r.provider_service_id, refill=bool(r.refill), cancel=bool(r.cancel),
                   dripfeed=bool(r.dripfeed), markup=r.markup, provider_rate=r.provider_rate,
                   description=r.description, active=bool(r.active))


def _user_rate(r: Any) -> UserRate:
    return UserRate(user_id=r.user_id, service_id=r.service_id or None,
                    rate=Money(r.rate, Currency(r.currency)) if r.rate is not None else None,
                    discount_bp=r.discount_bp)


def _order_values(o: SmmOrder) -> dict[str, Any]:
    assert o.refunded is not None
    return {"user_id": o.user_id, "service_id": o.service_id, "provider_id": o.provider_id, "link": o.link,
            "fields": o.fields, "quantity": o.quantity, "runs": o.runs, "interval": o.interval,
            "charge": o.charge.amount, "refunded": o.refunded.amount, "currency": o.charge.currency.value,
            "status": o.status.value, "start_count": o.start_count, "remains": o.remains,
            "provider_order_id": o.provider_order_id, "submit_state": o.submit_state.value,
            "submit_attempts": o.submit_attempts, "cancel_requested": o.cancel_requested, "error": o.error,
            "created_at": o.created_at, "updated_at": o.updated_at, "parent_order_id": o.parent_order_id}


def _order(r: Any) -> SmmOrder:
    currency = Currency(r.currency)
    return SmmOrder(id=r.id, user_id=r.user_id, service_id=r.service_id, provider_id=r.provider_id, link=r.link,
                    fields=dict(r.fields or {}), quantity=r.quantity, runs=r.runs, interval=r.interval,
                    charge=Money(r.charge, currency), refunded=Money(r.refunded, currency),
                    status=OrderStatus(r.status), start_count=r.start_count, remains=r.remains,
                    provider_order_id=r.provider_order_id, submit_state=SubmitState(r.submit_state),
                    submit_attempts=r.submit_attempts, cancel_requested=bool(r.cancel_requested), error=r.error,
                    created_at=r.created_at, updated_at=r.updated_at, parent_order_id=r.parent_order_id)


def _refill(r: Any) -> Refill:
    return Refill(id=r.id, order_id=r.order_id, user_id=r.user_id, provider_refill_id=r.provider_refill_id,
                  status=RefillStatus(r.status), created_at=r.created_at, updated_at=r.updated_at)


# ------------------------------------------------------------------------------------------ catalogue
# The hot statements of an order (every /api/v2 add runs them) are built once, with bound parameters, so
# SQLAlchemy finds them in its compiled cache by a memoised key instead of rebuilding and re-keying them per call.
_GET_PROVIDER = sa.select(smm_providers).where(smm_providers.c.id == sa.bindparam("id"))
# A service with its provider in one query: placing an order reads both, the provider right after the service.
# The provider row is handed to the next ``get_provider`` of the same repository (any other catalogue call drops
# it first), which under READ COMMITTED is indistinguishable from reading it a moment later.
_GET_SERVICE = HotStatement(
    sa.select(smm_services, *[c.label(f"p_{c.name}") for c in smm_providers.columns])
    .outerjoin(smm_providers, smm_providers.c.id == smm_services.c.provider_id)
    .where(smm_services.c.id == sa.bindparam("id")))


# Placing an order: the service, its provider and the buyer's applicable custom rates (0-2 rows) in one query.
# The buyer's wallet and the revenue account in the service's currency (the currency of the charge) come along:
# the charge reads them next, and the ledger of the same unit of work takes them from here (SqlLedger.prime).
_WALLET, _REVENUE = ledger_accounts.alias("w"), ledger_accounts.alias("v")
_SERVICE_FOR_USER = HotStatement(
    sa.select(smm_services, *[c.label(f"p_{c.name}") for c in smm_providers.columns],
              *[c.label(f"r_{c.name}") for c in smm_user_rates.columns],
              *[c.label(f"w_{c.name}") for c in _WALLET.columns], *[c.label(f"v_{c.name}") for c in _REVENUE.columns])
    .outerjoin(smm_providers, smm_providers.c.id == smm_services.c.provider_id)
    .outerjoin(smm_user_rates, sa.and_(smm_user_rates.c.user_id == sa.bindparam("user_id"),
                                       smm_user_rates.c.service_id.in_([smm_services.c.id, 0])))
    .outerjoin(_WALLET, sa.and_(_WALLET.c.owner_id == sa.bindparam("user_id"),
                                _WALLET.c.currency == smm_services.c.currency,
                                _WALLET.c.purpose == AccountPurpose.WALLET.value))
    .outerjoin(_REVENUE, sa.and_(_REVENUE.c.owner_id == 0, _REVENUE.c.currency == smm_services.c.currency,
                                 _REVENUE.c.purpose == AccountPurpose.REVENUE.value))
    .where(smm_services.c.id == sa.bindparam("id")))
_USER_RATES = HotStatement(sa.select(smm_user_rates).where(smm_user_rates.c.user_id == sa.bindparam("user_id")))
_ORDER_COLUMNS = [c.name for c in smm_orders.columns if c.name != "id"]
_INSERT_ORDER = HotStatement(smm_orders.insert().values({n: sa.bindparam(n) for n in _ORDER_COLUMNS})
                             .returning(smm_orders.c.id))
_ORDER_BY_ID = sa.select(smm_orders).where(smm_orders.c.id == sa.bindparam("id"))
_GET_ORDER = HotStatement(_ORDER_BY_ID)
_GET_ORDER_FOR_UPDATE = HotStatement(_ORDER_BY_ID.with_for_update())
# The submitter's "provider accepted it" write: one conditional statement instead of lock-read-write.
_RECORD_SENT = HotStatement(
    smm_orders.update()
    .where(smm_orders.c.id == sa.bindparam("order_id"), smm_orders.c.submit_state == SubmitState.SENDING.value)
    .values(provider_order_id=sa.bindparam("pid"), submit_state=SubmitState.SENT.value, error="",
            updated_at=sa.bindparam("now"))
    .returning(*smm_orders.columns))
# Batch forwarding (PostgreSQL, straight to asyncpg): claim queued orders, then mark the accepted ones sent.
_ORDER_COLUMN_LIST = ", ".join(c.name for c in smm_orders.columns)
_CLAIM_SQL = (  # the column list comes from the table definition, never from input
    "UPDATE smm_orders SET submit_state = 'sending', updated_at = $2::timestamptz "  # noqa: S608
    f"WHERE id = ANY($1::bigint[]) AND submit_state = 'queued' RETURNING {_ORDER_COLUMN_LIST}")
_MANY_FOR_USER_SQL = (  # the column list comes from the table definition, never from input
    f"SELECT {_ORDER_COLUMN_LIST} FROM smm_orders "  # noqa: S608
    "WHERE user_id = $1::bigint AND id = ANY($2::bigint[]) ORDER BY id")
_RECORD_SENT_MANY_SQL = (
    "UPDATE smm_orders AS o SET provider_order_id = v.pid, submit_state = 'sent', error = '', "
    "updated_at = $3::timestamptz FROM unnest($1::bigint[], $2::varchar[]) AS v (id, pid) "
    "WHERE o.id = v.id AND o.submit_state = 'sending' RETURNING o.id")


class _Record:
    """Attribute access to an asyncpg record, for the row mappers."""

    __slots__ = ("_r",)

    def __init__(self, record: Any) -> None:
        self._r = record

    def __getattr__(self, name: str) -> Any:
        return self._r[name]


_UPDATES: dict[tuple[str, ...], HotStatement] = {}


def _update_order(columns: tuple[str, ...]) -> HotStatement:
    """UPDATE smm_orders SET <columns> WHERE id = :order_id, built once per column set."""
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = HotStatement(
            smm_orders.update().where(smm_orders.c.id == sa.bindparam("order_id"))
            .values({name: sa.bindparam(name) for name in columns}))
    return statement


class SqlSmmCatalogueRepository:
    def __init__(self, conn: AsyncConnection, *, driver: Any = None,
                 prime: Callable[[Sequence[LedgerAccount]], None] | None = None) -> None:
        self._c, self._driver = conn, asyncpg_driver(conn, driver)
        self._prime = prime  # hands ledger rows read along with a service to the unit of work's ledger
        self._provider_of_service: Provider | None = None  # read with the last get_service, for get_provider

    def __getattribute__(self, name: str) -> Any:
        if name[0] != "_" and name not in ("get_service", "get_provider"):
            object.__setattr__(self, "_provider_of_service", None)  # any other call: forget the prefetched row
        return object.__getattribute__(self, name)

    async def add_provider(self, provider: Provider) -> Provider:
        async with translated():
            result = await self._c.execute(smm_providers.insert().values(**_provider_values(provider))
                                           .returning(smm_providers.c.id))
        provider.id = int(result.scalar_one())
        return provider

    async def get_provider(self, provider_id: int) -> Provider | None:
        prefetched, self._provider_of_service = self._provider_of_service, None
        if prefetched is not None and prefetched.id == provider_id:
            return prefetched
        row = (await self._c.execute(_GET_PROVIDER, {"id": provider_id})).first()
        return _provider(row) if row else None

    async def list_providers(self) -> Sequence[Provider]:
        return [_provider(r) for r in await self._c.execute(sa.select(smm_providers).order_by(smm_providers.c.id))]

    async def update_provider(self, provider: Provider) -> None:
        async with translated():
            result = await self._c.execute(smm_providers.update().where(smm_providers.c.id == provider.id)
                                           .values(**_provider_values(provider)))
        if result.rowcount == 0:
            raise NotFoundError("provider not found", code="PROVIDER_NOT_FOUND")

    async def category_by_name(self, name: str) -> Category | None:
        row = (await self._c.execute(sa.select(smm_categories).where(smm_categories.c.name == name))).first()
        return Category(id=row.id, name=row.name, sort=row.sort) if row else None

    async def add_category(self, category: Category) -> Category:
        async with translated():
            result = await self._c.execute(smm_categories.insert().values(name=category.name, sort=category.sort)
                                           .returning(smm_categories.c.id))
        category.id = int(result.scalar_one())
        return category

    async def list_categories(self) -> Sequence[Category]:
        rows = await self._c.execute(sa.select(smm_categories).order_by(smm_categories.c.sort, smm_categories.c.id))
        return [Category(id=r.id, name=r.name, sort=r.sort) for r in rows]

    async def add_service(self, service: Service) -> Service:
        async with translated():
            result = await self._c.execute(smm_services.insert().values(**_service_values(service))
                                           .returning(smm_services.c.id))
        service.id = int(result.scalar_one())
        return service

    async def get_service(self, service_id: int) -> Service | None:
        row = await _GET_SERVICE.first(self._c, self._driver, {"id": service_id})
        self._provider_of_service = _provider(Prefixed(row, "p_")) if row and row.p_id is not None else None
        return _service(row) if row else None

    async def service_for_user(self, service_id: int, user_id: int) -> tuple[Service, Sequence[UserRate]] | None:
        rows = await _SERVICE_FOR_USER.all(self._c, self._driver, {"id": service_id, "user_id": user_id})
        if not rows:
            return None
        first = rows[0]
        self._provider_of_service = _provider(Prefixed(first, "p_")) if first.p_id is not None else None
        rates = [_user_rate(Prefixed(r, "r_")) for r in rows if r.r_id is not None]
        if self._prime is not None:
            self._prime([account_of(Prefixed(first, prefix)) for prefix in ("w_", "v_")
                         if getattr(first, f"{prefix}id") is not None])
        return _service(first), rates

    async def update_service(self, service: Service) -> None:
        async with translated():
            result = await self._c.execute(smm_services.update().where(smm_services.c.id == service.id)
                                           .values(**_service_values(service)))
        if result.rowcount == 0:
            raise NotFoundError("service not found", code="SERVICE_NOT_FOUND")

    async def list_services(self, *, category_id: int | None = None, active: bool | None = None,
                            provider_id: int | None = None) -> Sequence[Service]:
        query = sa.select(smm_services)
        if category_id is not None:
            query = query.where(smm_services.c.category_id == category_id)
        if active is not None:
            query = query.where(smm_services.c.active == active)
        if provider_id is not None:
            query = query.where(smm_services.c.provider_id == provider_id)
        return [_service(r) for r in await self._c.execute(query.order_by(smm_services.c.id))]

    async def set_user_rate(self, rate: UserRate) -> None:
        service_id = rate.service_id or 0
        await self._c.execute(smm_user_rates.delete().where(smm_user_rates.c.user_id == rate.user_id,
                                                            smm_user_rates.c.service_id == service_id))
        await self._c.execute(smm_user_rates.insert().values(
            user_id=rate.user_id, service_id=service_id, rate=rate.rate.amount if rate.rate else None,
            currency=rate.rate.currency.value if rate.rate else None, discount_bp=rate.discount_bp))

    async def delete_user_rate(self, user_id: int, service_id: int | None) -> bool:
        result = await self._c.execute(smm_user_rates.delete().where(smm_user_rates.c.user_id == user_id,
                                                                     smm_user_rates.c.service_id == (service_id or 0)))
        return bool(result.rowcount)

    async def user_rates(self, user_id: int) -> Sequence[UserRate]:
        rows = await _USER_RATES.all(self._c, self._driver, {"user_id": user_id})
        return [_user_rate(r) for r in rows]


# ------------------------------------------------------------------------------------------ orders
def _filtered(query: Any, f: OrderFilter) -> Any:
    c = smm_orders.c
    if f.user_id is not None:
        query = query.where(c.user_id == f.user_id)
    if f.status is not None:
        query = query.where(c.status == f.status.value)
    if f.service_id is not None:
        query = query.where(c.service_id == f.service_id)
    if f.provider_id is not None:
        query = query.where(c.provider_id == f.provider_id)
    if f.submit_state is not None:
        query = query.where(c.submit_state == f.submit_state.value)
    if f.search:
        query = query.where(sa.func.lower(c.link).contains(f.search.lower(), autoescape=True))
    if f.statuses is not None:
        query = query.where(c.status.in_(sorted(s.value for s in f.statuses)) if f.statuses else sa.false())
    if f.created_from is not None:
        query = query.where(c.created_at >= f.created_from)
    if f.created_before is not None:
        query = query.where(c.created_at < f.created_before)
    return query


_TERMINAL = [s.value for s in OrderStatus if s.is_terminal]


class SqlSmmOrderRepository:
    def __init__(self, conn: AsyncConnection, *, driver: Any = None) -> None:
        self._c, self._driver = conn, asyncpg_driver(conn, driver)

    async def add(self, order: SmmOrder) -> SmmOrder:
        async with translated():
            row = await _INSERT_ORDER.first(self._c, self._driver, _order_values(order))
        assert row is not None
        order.id = int(row.id)
        return order

    async def get(self, order_id: int, *, for_update: bool = False) -> SmmOrder | None:
        query = _GET_ORDER_FOR_UPDATE if for_update and self._c.dialect.name == "postgresql" else _GET_ORDER
        row = await query.first(self._c, self._driver, {"id": order_id})
        return _order(row) if row else None

    async def get_for_user(self, order_id: int, user_id: int, *, for_update: bool = False) -> SmmOrder | None:
        query = _lock(self._c, sa.select(smm_orders).where(smm_orders.c.id == order_id,
                                                           smm_orders.c.user_id == user_id), for_update)
        row = (await self._c.execute(query)).first()
        return _order(row) if row else None

    async def many_for_user(self, user_id: int, order_ids: Sequence[int]) -> Sequence[SmmOrder]:
        if not order_ids:
            return []
        if self._driver is not None:  # multi-status: the ids as one array parameter, a prepared statement
            records = await self._driver.fetch(_MANY_FOR_USER_SQL, user_id, sorted({int(i) for i in order_ids}))
            return [_order(_Record(r)) for r in records]
        rows = await self._c.execute(sa.select(smm_orders).where(
            smm_orders.c.user_id == user_id, smm_orders.c.id.in_(list(order_ids))).order_by(smm_orders.c.id))
        return [_order(r) for r in rows]

    async def update(self, order: SmmOrder) -> None:
        async with translated():
            values = _order_values(order)
            touched = await _update_order(tuple(values)).run(self._c, self._driver, {**values, "order_id": order.id})
        if touched == 0:
            raise NotFoundError("order not found", code="ORDER_NOT_FOUND")

    async def children_of(self, parent_order_id: int) -> Sequence[SmmOrder]:
        rows = await self._c.execute(sa.select(smm_orders).where(smm_orders.c.parent_order_id == parent_order_id)
                                     .order_by(smm_orders.c.id))
        return [_order(r) for r in rows]

    async def child_ids_of(self, user_id: int, parent_order_ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        if not parent_order_ids:
            return {}
        c = smm_orders.c
        rows = await self._c.execute(sa.select(c.parent_order_id, c.id).where(
            c.user_id == user_id, c.parent_order_id.in_(sorted({int(i) for i in parent_order_ids})))
            .order_by(c.id))
        out: dict[int, list[int]] = {}
        for r in rows:
            out.setdefault(int(r.parent_order_id), []).append(int(r.id))
        return out

    async def claim_for_submit(self, order_ids: Sequence[int], now: datetime) -> Sequence[SmmOrder]:
        ids = sorted({int(i) for i in order_ids})
        if not ids:
            return []
        if self._driver is not None:  # one prepared statement, the ids as an array
            records = await self._driver.fetch(_CLAIM_SQL, ids, now)
            return sorted((_order(_Record(r)) for r in records), key=lambda o: o.id)
        rows = await self._c.execute(smm_orders.update().where(
            smm_orders.c.id.in_(ids), smm_orders.c.submit_state == SubmitState.QUEUED.value)
            .values(submit_state=SubmitState.SENDING.value, updated_at=now).returning(*smm_orders.columns))
        return sorted((_order(r) for r in rows), key=lambda o: o.id)

    async def record_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> Sequence[int]:
        if not sent:
            return []
        if self._driver is not None:
            records = await self._driver.fetch(_RECORD_SENT_MANY_SQL, [i for i, _ in sent], [p for _, p in sent],
                                               now)
            return sorted(int(r[0]) for r in records)
        done = [order_id for order_id, provider_order_id in sent
                if await self.record_sent(order_id, provider_order_id, now) is not None]
        return sorted(done)

    async def record_sent(self, order_id: int, provider_order_id: str, now: datetime) -> SmmOrder | None:
        row = await _RECORD_SENT.first(self._c, self._driver, {"order_id": order_id, "pid": provider_order_id,
                                                               "now": now})
        return _order(row) if row else None

    async def list(self, filter: OrderFilter, *, limit: int, offset: int, sort: str = "id",
                   descending: bool = True) -> Sequence[SmmOrder]:
        if sort not in ORDER_SORT_KEYS:
            raise ValidationError(f"cannot sort by {sort!r}", field="sort")
        c = smm_orders.c
        key = sa.func.coalesce(c.updated_at, c.created_at) if sort == "updated_at" else c[sort]
        order = [key.desc(), c.id.desc()] if descending else [key.asc(), c.id.asc()]
        query = _filtered(sa.select(smm_orders), filter).order_by(*order).limit(limit).offset(offset)
        return [_order(r) for r in await self._c.execute(query)]

    async def count(self, filter: OrderFilter) -> int:
        query = _filtered(sa.select(sa.func.count()).select_from(smm_orders), filter)
        return int((await self._c.execute(query)).scalar_one())

    async def to_poll(self, *, limit: int) -> Sequence[SmmOrder]:
        c = smm_orders.c
        query = (sa.select(smm_orders).where(c.submit_state == SubmitState.SENT.value, c.status.not_in(_TERMINAL))
                 .order_by(sa.func.coalesce(c.updated_at, c.created_at), c.id).limit(limit))
        return [_order(r) for r in await self._c.execute(query)]

    async def to_submit(self, *, limit: int) -> Sequence[SmmOrder]:
        query = (sa.select(smm_orders).where(smm_orders.c.submit_state == SubmitState.QUEUED.value)
                 .order_by(smm_orders.c.id).limit(limit))
        return [_order(r) for r in await self._c.execute(query)]

    async def add_refill(self, refill: Refill) -> Refill:
        result = await self._c.execute(smm_refills.insert().values(
            order_id=refill.order_id, user_id=refill.user_id, provider_refill_id=refill.provider_refill_id,
            status=refill.status.value, created_at=refill.created_at, updated_at=refill.updated_at,
        ).returning(smm_refills.c.id))
        refill.id = int(result.scalar_one())
        return refill

    async def get_refill_for_user(self, refill_id: int, user_id: int) -> Refill | None:
        row = (await self._c.execute(sa.select(smm_refills).where(smm_refills.c.id == refill_id,
                                                                  smm_refills.c.user_id == user_id))).first()
        return _refill(row) if row else None

    async def refills_to_poll(self, *, limit: int) -> Sequence[Refill]:
        open_ = [s.value for s in RefillStatus if not s.is_terminal]
        rows = await self._c.execute(sa.select(smm_refills).where(smm_refills.c.status.in_(open_))
                                     .order_by(smm_refills.c.id).limit(limit))
        return [_refill(r) for r in rows]

    async def update_refill(self, refill: Refill) -> None:
        await self._c.execute(smm_refills.update().where(smm_refills.c.id == refill.id).values(
            status=refill.status.value, updated_at=refill.updated_at, provider_refill_id=refill.provider_refill_id))

    async def stats(self, *, since: datetime | None = None) -> Sequence[OrderStatsRow]:
        c = smm_orders.c
        day = sa.func.date(c.created_at) if self._c.dialect.name == "sqlite" else sa.cast(c.created_at, sa.Date)
        # A child order's charge is its parent's money (charged once, on the parent): count it once.
        charged = sa.case((c.parent_order_id.is_(None), c.charge), else_=0)
        query = sa.select(day.label("day"), c.status, c.currency, sa.func.count().label("n"),
                          sa.func.sum(charged).label("charged"), sa.func.sum(c.refunded).label("refunded"))
        if since is not None:
            query = query.where(c.created_at >= since)
        query = query.group_by(day, c.status, c.currency).order_by(day, c.status, c.currency)
        out = []
        for r in await self._c.execute(query):
            value = r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day))
            out.append(OrderStatsRow(day=value, status=OrderStatus(r.status), currency=Currency(r.currency),
                                     count=int(r.n), charged=int(r.charged or 0), refunded=int(r.refunded or 0)))
        return out
