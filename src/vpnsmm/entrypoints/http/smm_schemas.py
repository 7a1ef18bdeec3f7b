"""Wire shapes of the native SMM API (/v1/smm, /v1/admin/smm). Amounts as MoneyOut (decimal + minor units)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from msgspec import Meta, Struct

from vpnsmm.application.smm import BulkItem, CancelResult, NewOrder, PricedService, SmmStats, SyncResult
from vpnsmm.domain.smm_orders import Provider, Refill, Service, SmmOrder
from vpnsmm.entrypoints.http.money_schemas import MoneyOut
from vpnsmm.entrypoints.http.schemas import In

Text = Annotated[str, Meta(max_length=1000)]
Lines = Annotated[list[Annotated[str, Meta(max_length=1000)]], Meta(max_length=10_000)] | Text
PositiveInt = Annotated[int, Meta(ge=0, le=10**12)]


class ServiceOut(Struct):
    id: int
    name: str
    type: str
    category: str
    rate: MoneyOut  # per 1000 units, the caller's price
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str
    active: bool

    @classmethod
    def of(cls, p: PricedService) -> ServiceOut:
        s = p.service
        return cls(id=s.id, name=s.name, type=s.type.value, category=p.category, rate=MoneyOut.of(p.rate),
                   min=s.min, max=s.max, refill=s.refill, cancel=s.cancel, dripfeed=s.dripfeed,
                   description=s.description, active=s.active)


class AdminServiceOut(Struct):
    id: int
    name: str
    type: str
    category_id: int
    rate: MoneyOut
    min: int
    max: int
    provider_id: int
    provider_service_id: str
    provider_rate: str
    markup: str
    refill: bool
    cancel: bool
    dripfeed: bool
    active: bool

    @classmethod
    def of(cls, s: Service) -> AdminServiceOut:
        return cls(id=s.id, name=s.name, type=s.type.value, category_id=s.category_id, rate=MoneyOut.of(s.rate),
                   min=s.min, max=s.max, provider_id=s.provider_id, provider_service_id=s.provider_service_id,
                   provider_rate=s.provider_rate, markup=s.markup, refill=s.refill, cancel=s.cancel,
                   dripfeed=s.dripfeed, active=s.active)


class OrderIn(In):
    service: Annotated[int, Meta(ge=1, le=2**62)]
    link: Text | None = None
    quantity: PositiveInt | None = None
    runs: PositiveInt | None = None
    interval: PositiveInt | None = None
    comments: Lines | None = None
    usernames: Lines | None = None
    hashtags: Lines | None = None
    keywords: Lines | None = None
    groups: Lines | None = None
    hashtag: Text | None = None
    username: Text | None = None
    media: Text | None = None
    answer_number: PositiveInt | None = None
    # Subscriptions: username + min, max, delay, posts (required: prepaid), old_posts, expiry (ISO date)
    min: PositiveInt | None = None
    max: PositiveInt | None = None
    delay: PositiveInt | None = None
    posts: PositiveInt | None = None
    old_posts: PositiveInt | None = None
    expiry: date | None = None

    def command(self, user_id: int) -> NewOrder:
        return NewOrder(user_id=user_id, service_id=self.service, link=self.link, quantity=self.quantity,
                        runs=self.runs, interval=self.interval, comments=self.comments, usernames=self.usernames,
                        hashtags=self.hashtags, keywords=self.keywords, groups=self.groups, hashtag=self.hashtag,
                        username=self.username, media=self.media, answer_number=self.answer_number,
                        min=self.min, max=self.max, delay=self.delay, posts=self.posts, old_posts=self.old_posts,
                        expiry=self.expiry)


class BulkIn(In):
    orders: Annotated[list[OrderIn], Meta(min_length=1, max_length=100)]


class OrderOut(Struct):
    id: int
    service_id: int
    status: str
    link: str
    quantity: int
    charge: MoneyOut
    refunded: MoneyOut
    start_count: int | None
    remains: int | None
    runs: int | None
    interval: int | None
    fields: dict[str, Any]
    submit_state: str
    cancel_requested: bool
    error: str
    created_at: datetime
    updated_at: datetime | None
    parent_order_id: int | None = None  # set on a subscription's child order (one per post)
    child_order_ids: list[int] | None = None  # a subscription's children so far (single-order reads only)

    @classmethod
    def of(cls, o: SmmOrder, *, children: list[int] | None = None) -> OrderOut:
        assert o.refunded is not None
        return cls(id=o.id, service_id=o.service_id, status=o.status.value, link=o.link, quantity=o.quantity,
                   charge=MoneyOut.of(o.charge), refunded=MoneyOut.of(o.refunded), start_count=o.start_count,
                   remains=o.remains, runs=o.runs, interval=o.interval, fields=o.fields,
                   submit_state=o.submit_state.value, cancel_requested=o.cancel_requested, error=o.error,
                   created_at=o.created_at, updated_at=o.updated_at, parent_order_id=o.parent_order_id,
                   child_order_ids=children if o.subscription is not None else None)


class AdminOrderOut(OrderOut):
    user_id: int = 0
    provider_id: int = 0
    provider_order_id: str | None = None

    @classmethod
    def of_admin(cls, o: SmmOrder) -> AdminOrderOut:
        base = OrderOut.of(o)
        return cls(**{f: getattr(base, f) for f in base.__struct_fields__}, user_id=o.user_id,
                   provider_id=o.provider_id, provider_order_id=o.provider_order_id)


class OrderPage(Struct):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int


class AdminOrderPage(Struct):
    items: list[AdminOrderOut]
    total: int
    limit: int
    offset: int


class BulkItemOut(Struct):
    index: int
    order: OrderOut | None
    code: str | None
    message: str | None

    @classmethod
    def of(cls, b: BulkItem) -> BulkItemOut:
        return cls(index=b.index, order=OrderOut.of(b.order) if b.order else None, code=b.code, message=b.message)


class CancelOut(Struct):
    order_id: int
    accepted: bool
    code: str | None
    message: str | None

    @classmethod
    def of(cls, c: CancelResult) -> CancelOut:
        return cls(order_id=c.order_id, accepted=c.accepted, code=c.code, message=c.message)


class RefillOut(Struct):
    id: int
    order_id: int
    status: str
    created_at: datetime

    @classmethod
    def of(cls, r: Refill) -> RefillOut:
        return cls(id=r.id, order_id=r.order_id, status=r.status.value, created_at=r.created_at)


class ProviderIn(In):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    api_url: Annotated[str, Meta(max_length=500)]
    api_key: Annotated[str, Meta(min_length=1, max_length=500)]
    currency: Annotated[str, Meta(min_length=3, max_length=5)] = "USD"
    kind: Annotated[str, Meta(max_length=16)] = "perfect_panel"
    exchange_rate: Annotated[str, Meta(max_length=40)] = "1"


class ProviderPatch(In):
    name: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    api_url: Annotated[str, Meta(max_length=500)] | None = None
    api_key: Annotated[str, Meta(min_length=1, max_length=500)] | None = None
    active: bool | None = None
    exchange_rate: Annotated[str, Meta(max_length=40)] | None = None


class ProviderOut(Struct):
    id: int
    name: str
    kind: str
    api_url: str
    currency: str
    exchange_rate: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, p: Provider) -> ProviderOut:  # the API key never leaves the server
        return cls(id=p.id, name=p.name, kind=p.kind.value, api_url=p.api_url, currency=p.currency.value,
                   exchange_rate=p.exchange_rate, active=p.active, created_at=p.created_at)


class SyncIn(In):
    markup: Annotated[str, Meta(max_length=20)] = "0"
    update_prices: bool = True


class SyncOut(Struct):
    created: int
    updated: int
    disabled: int
    skipped: list[str]

    @classmethod
    def of(cls, r: SyncResult) -> SyncOut:
        return cls(created=r.created, updated=r.updated, disabled=r.disabled, skipped=list(r.skipped))


class ServicePatch(In):
    rate: Annotated[str, Meta(max_length=40)] | None = None
    name: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    active: bool | None = None
    min: Annotated[int, Meta(ge=1, le=10**12)] | None = None
    max: Annotated[int, Meta(ge=1, le=10**12)] | None = None
    category: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    description: Annotated[str, Meta(max_length=5000)] | None = None


class UserRateIn(In):
    user_id: Annotated[int, Meta(ge=1, le=2**62)]
    service_id: Annotated[int, Meta(ge=1, le=2**62)] | None = None
    rate: Annotated[str, Meta(max_length=40)] | None = None
    discount: Annotated[str, Meta(max_length=8)] = "0"


class StartCountIn(In):
    start_count: Annotated[int, Meta(ge=0, le=10**15)]


class ReasonIn(In):
    reason: Annotated[str, Meta(max_length=500)] = ""


class BulkActionIn(In):
    action: Annotated[str, Meta(max_length=32, description="stop, resume (or start), refill, cancel, "
                                                           "set_start_count (or update_start_count), complete")]
    order_ids: Annotated[list[Annotated[int, Meta(ge=1, le=2**62)]], Meta(min_length=1, max_length=100)]
    reason: Annotated[str, Meta(max_length=500)] = ""
    start_count: Annotated[int, Meta(ge=0, le=10**15)] | None = None


class StatsOut(Struct):
    orders: int
    by_status: dict[str, int]
    charged: list[MoneyOut]
    refunded: list[MoneyOut]
    revenue_by_day: list[dict[str, Any]]

    @classmethod
    def of(cls, s: SmmStats) -> StatsOut:
        return cls(orders=s.orders, by_status=s.by_status, charged=[MoneyOut.of(m) for m in s.charged.values()],
                   refunded=[MoneyOut.of(m) for m in s.refunded.values()],
                   revenue_by_day=[{"day": day, "revenue": MoneyOut.of(m)} for day, m in s.revenue_by_day])
