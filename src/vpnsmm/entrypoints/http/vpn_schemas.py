"""Wire shapes of VPN selling: plans, servers, accounts, purchases. Prices travel like all money (decimal
strings in major units with the exact minor-unit integer beside them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta, Struct

from vpnsmm.application.vpn import AccountConfig, Purchase, ServerLoad
from vpnsmm.application.vpn_prices import PriceQuote
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn import ServerStatus
from vpnsmm.domain.vpn_sales import Plan, PriceListEntry, Server, VpnAccount
from vpnsmm.entrypoints.http.money_schemas import CurrencyCode, IdemKey, InvoiceOut, MoneyOut, PayOut
from vpnsmm.entrypoints.http.schemas import In

Name = Annotated[str, Meta(min_length=1, max_length=64)]
Group = Annotated[str, Meta(min_length=1, max_length=32)]
GatewayName = Annotated[str, Meta(min_length=1, max_length=16)]
Prices = dict[str, Annotated[str, Meta(max_length=40)]]  # {"IRR": "1500000", "USD": "5.00"}


def parse_prices(raw: dict[str, str] | None) -> dict[Currency, Money]:
    out: dict[Currency, Money] = {}
    for code, amount in (raw or {}).items():
        currency = Currency.parse(code, field_name="prices")
        out[currency] = Money.parse(amount, currency, field_name="prices")
    return out


def _prices_out(prices: dict[Currency, Money]) -> list[MoneyOut]:
    return [MoneyOut.of(m) for m in prices.values()]


class PlanOut(Struct):
    id: int
    name: str
    description: str
    prices: list[MoneyOut]
    duration_days: int
    traffic_bytes: int | None
    device_limit: int | None
    protocol: str
    server_group: str
    start_on_first_use: bool
    active: bool
    extra_gb_prices: list[MoneyOut]
    extra_day_prices: list[MoneyOut]
    traffic_reset: str  # no_reset | day | week | month | year: how often the quota starts afresh
    transport: str

    @classmethod
    def of(cls, p: Plan) -> PlanOut:
        return cls(id=p.id, name=p.name, description=p.description, prices=_prices_out(p.prices),
                   duration_days=p.duration_days, traffic_bytes=p.traffic_bytes, device_limit=p.device_limit,
                   protocol=p.protocol, server_group=p.server_group, start_on_first_use=p.start_on_first_use,
                   active=p.active, extra_gb_prices=_prices_out(p.extra_gb_prices),
                   extra_day_prices=_prices_out(p.extra_day_prices), traffic_reset=p.traffic_reset.value,
                   transport=p.transport)


class PlanIn(In):
    name: Name
    prices: Prices
    duration_days: Annotated[int, Meta(ge=1, le=3660)]
    traffic_gb: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None  # GiB; null = unlimited
    description: Annotated[str, Meta(max_length=500)] = ""
    device_limit: Annotated[int, Meta(ge=1, le=1000)] | None = None
    protocol: Annotated[str, Meta(max_length=16)] = "any"
    server_group: Group = "default"
    start_on_first_use: bool = False
    active: bool = True
    extra_gb_prices: Prices | None = None
    extra_day_prices: Prices | None = None
    traffic_reset: Annotated[str, Meta(max_length=16)] = "no_reset"
    transport: Annotated[str, Meta(max_length=16)] = "any"


class PlanPatchIn(In):
    name: Name | None = None
    prices: Prices | None = None
    duration_days: Annotated[int, Meta(ge=1, le=3660)] | None = None
    traffic_gb: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None  # 0 = unlimited
    description: Annotated[str, Meta(max_length=500)] | None = None
    device_limit: Annotated[int, Meta(ge=1, le=1000)] | None = None
    server_group: Group | None = None
    start_on_first_use: bool | None = None
    active: bool | None = None
    extra_gb_prices: Prices | None = None
    extra_day_prices: Prices | None = None
    traffic_reset: Annotated[str, Meta(max_length=16)] | None = None
    transport: Annotated[str, Meta(max_length=16)] | None = None


class PriceListIn(In):
    """One entry of a user's price list: ``plan_id`` null = every plan. ``prices`` replaces that plan's price;
    ``discount_percent`` (at most 2 decimals) comes off the plan price otherwise and off its add-ons."""

    plan_id: Annotated[int, Meta(ge=1, le=2**62)] | None = None
    discount_percent: Annotated[str, Meta(max_length=8)] = "0"
    prices: Prices | None = None


class PriceListOut(Struct):
    user_id: int
    plan_id: int | None
    discount_percent: str
    prices: list[MoneyOut]

    @classmethod
    def of(cls, e: PriceListEntry) -> PriceListOut:
        return cls(user_id=e.user_id, plan_id=e.plan_id, discount_percent=f"{e.discount_bp / 100:g}",
                   prices=_prices_out(dict(e.prices)))


class PriceQuoteOut(Struct):
    plan_id: int
    price: MoneyOut  # a period: what buying or renewing costs you
    public_price: MoneyOut | None
    extra_gb_price: MoneyOut | None  # 1 GiB add-on
    extra_day_price: MoneyOut | None  # 1 day add-on

    @classmethod
    def of(cls, q: PriceQuote) -> PriceQuoteOut:
        return cls(plan_id=q.plan_id, price=MoneyOut.of(q.period),
                   public_price=MoneyOut.of(q.public_period) if q.public_period else None,
                   extra_gb_price=MoneyOut.of(q.extra_gb.price) if q.extra_gb else None,
                   extra_day_price=MoneyOut.of(q.extra_day.price) if q.extra_day else None)


class PublicServerOut(Struct):
    id: int
    name: str
    location: str
    group: str
    online: bool | None

    @classmethod
    def of(cls, s: Server) -> PublicServerOut:
        return cls(id=s.id, name=s.name, location=s.location, group=s.group, online=s.online)


class ServerOut(Struct):
    id: int
    kind: str
    name: str
    address: str
    group: str
    location: str
    capacity: int
    weight: int
    active: bool
    online: bool | None
    checked_at: datetime | None
    accounts: int
    settings: dict[str, Any]

    @classmethod
    def of(cls, load: ServerLoad) -> ServerOut:
        s = load.server
        return cls(id=s.id, kind=s.kind.value, name=s.name, address=s.address, group=s.group, location=s.location,
                   capacity=s.capacity, weight=s.weight, active=s.active, online=s.online, checked_at=s.checked_at,
                   accounts=load.accounts, settings=s.settings)


class ServerIn(In):
    kind: Annotated[str, Meta(max_length=16)]
    name: Name
    address: Annotated[str, Meta(min_length=1, max_length=255)]
    credentials: dict[str, Any] | None = None  # write-only; sealed at rest
    settings: dict[str, Any] | None = None
    group: Group = "default"
    location: Annotated[str, Meta(max_length=64)] = ""
    capacity: Annotated[int, Meta(ge=1, le=10_000_000)] = 1000
    weight: Annotated[int, Meta(ge=1, le=1000)] = 1
    active: bool = True


class ServerPatchIn(In):
    name: Name | None = None
    address: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    credentials: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    group: Group | None = None
    location: Annotated[str, Meta(max_length=64)] | None = None
    capacity: Annotated[int, Meta(ge=1, le=10_000_000)] | None = None
    weight: Annotated[int, Meta(ge=1, le=1000)] | None = None
    active: bool | None = None


class ServerStatusOut(Struct):
    online: bool
    total_clients: int | None
    active_clients: int | None
    uptime_seconds: int | None
    cpu_percent: float | None
    version: str | None
    detail: str

    @classmethod
    def of(cls, s: ServerStatus) -> ServerStatusOut:
        return cls(online=s.online, total_clients=s.total_clients, active_clients=s.active_clients,
                   uptime_seconds=s.uptime_seconds, cpu_percent=s.cpu_percent, version=s.version, detail=s.detail)


class UsageOut(Struct):
    upload_bytes: int  # this period
    download_bytes: int
    used_bytes: int
    traffic_limit_bytes: int | None
    lifetime_bytes: int
    expires_at: datetime | None
    synced_at: datetime | None

    @classmethod
    def of(cls, a: VpnAccount) -> UsageOut:
        return cls(upload_bytes=a.period_upload, download_bytes=a.period_download, used_bytes=a.period_used_bytes,
                   traffic_limit_bytes=a.traffic_limit_bytes, lifetime_bytes=a.used_bytes, expires_at=a.expires_at,
                   synced_at=a.usage_synced_at)


class AccountOut(Struct):
    id: int
    user_id: int
    plan_id: int
    server_id: int
    key: str
    status: str
    created_at: datetime
    expires_at: datetime | None
    traffic_limit_bytes: int | None
    device_limit: int | None
    usage: UsageOut

    @classmethod
    def of(cls, a: VpnAccount) -> AccountOut:
        return cls(id=a.id, user_id=a.user_id, plan_id=a.plan_id, server_id=a.server_id, key=f"acc-{a.id}",
                   status=a.status.value, created_at=a.created_at, expires_at=a.expires_at,
                   traffic_limit_bytes=a.traffic_limit_bytes, device_limit=a.device_limit, usage=UsageOut.of(a))


class AccountConfigOut(Struct):
    account_id: int
    subscription_url: str
    links: list[str]
    wireguard_config: str | None
    panel_subscription_url: str | None

    @classmethod
    def of(cls, c: AccountConfig) -> AccountConfigOut:
        return cls(account_id=c.account.id, subscription_url=c.subscription_url, links=list(c.links),
                   wireguard_config=c.config, panel_subscription_url=c.panel_subscription_url)


class PurchaseIn(In):
    plan_id: Annotated[int, Meta(ge=1, le=2**62)]
    currency: CurrencyCode
    gateway: GatewayName | None = "wallet"
    server_group: Group | None = None
    location: Annotated[str, Meta(max_length=64)] | None = None
    idempotency_key: IdemKey | None = None
    email: Annotated[str, Meta(max_length=254)] | None = None


class RenewIn(In):
    currency: CurrencyCode
    gateway: GatewayName | None = "wallet"
    idempotency_key: IdemKey | None = None


class AddTrafficIn(In):
    gb: Annotated[int, Meta(ge=1, le=10_000)]
    currency: CurrencyCode
    gateway: GatewayName | None = "wallet"
    idempotency_key: IdemKey | None = None


class AddDaysIn(In):
    days: Annotated[int, Meta(ge=1, le=3660)]
    currency: CurrencyCode
    gateway: GatewayName | None = "wallet"
    idempotency_key: IdemKey | None = None


class PurchaseOut(Struct):
    invoice: InvoiceOut
    payment: PayOut | None
    account_id: int | None

    @classmethod
    def of(cls, p: Purchase) -> PurchaseOut:
        result = p.invoice.item.get("result") or {}
        account_id = result.get("account_id") if isinstance(result, dict) else None
        return cls(invoice=InvoiceOut.of(p.invoice), payment=PayOut.of(p.payment) if p.payment else None,
                   account_id=account_id if isinstance(account_id, int) else p.invoice.item.get("account_id"))


class UsageEventOut(Struct):
    account_id: int
    user_id: int
    kind: str
    threshold: int
    value: int


class SyncOut(Struct):
    server_id: int
    seen: int
    updated: int
    unknown_keys: int
    status_changes: list[int]
    events: list[UsageEventOut]
