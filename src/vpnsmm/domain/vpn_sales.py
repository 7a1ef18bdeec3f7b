"""Selling VPN access: plans, add-ons, servers and the customer's account on a panel.

Pure rules only (stdlib + attrs). Units: bytes, whole days, timezone-aware datetimes; money is Money.

Account status machine::

    pending --provisioned--> active | on_hold (start_on_first_use: the clock starts at the first byte)
    active <--> limited  (period traffic used up / topped up)
    active <--> expired  (expiry passed / renewed or days added)
    any but revoked --admin--> disabled --admin enable--> recomputed
    any --revoke--> revoked (final; credentials rotated on the panel)

Traffic: ``used_upload``/``used_download`` are lifetime totals that only grow, accumulated from panel
counters that may drop to zero (panel resets). The quota ``traffic_limit_bytes`` applies to the current
period, which starts at purchase and at every renewal (``period_start_*`` are the totals at that moment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from attrs import define, field, frozen

from vpnsmm.domain.errors import InvalidTransitionError, ValidationError
from vpnsmm.domain.money import Currency, Money, Rounding
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, UsageSnapshot

GIB = 1024**3
#: Thresholds that raise usage events (percent of the period quota, days before expiry).
TRAFFIC_THRESHOLDS = (80, 100)
DAYS_LEFT_THRESHOLDS = (3, 1)
_NAME = re.compile(r"^[\w .:+()/-]{1,64}$")
_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
PROTOCOLS = ("vless", "vmess", "trojan", "wireguard", "any")
TRANSPORTS = ("any", "tcp", "ws", "grpc", "httpupgrade", "xhttp", "udp")


class ServerKind(StrEnum):
    XUI = "3x-ui"
    MARZBAN = "marzban"
    WIREGUARD = "wireguard"
    FAKE = "fake"  # the in-process FakeVpnPanel: demos, benchmarks and tests
    CUSTOM = "custom"  # a VpnPanel you bring: settings.adapter names it (see PanelRegistry, docs/library.md)


class AccountStatus(StrEnum):
    PENDING = "pending"  # row written, panel not yet confirmed
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    LIMITED = "limited"
    EXPIRED = "expired"
    DISABLED = "disabled"
    REVOKED = "revoked"

    @property
    def may_connect(self) -> bool:
        return self in (AccountStatus.ACTIVE, AccountStatus.ON_HOLD)


class AddOnKind(StrEnum):
    TRAFFIC = "traffic"  # extra GiB for the current period
    DAYS = "days"  # extra days


class TrafficReset(StrEnum):
    """How often a plan's traffic quota starts afresh within a paid period (Marzban's strategy names).

    Rolling intervals from the moment the period started (provisioning, first use, renewal), not calendar ones:
    ``month`` is every 30 days. We reset, not the panel: panels are told ``no_reset`` so their counters and ours
    never disagree about when a period began.
    """

    NO_RESET = "no_reset"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    @property
    def interval(self) -> timedelta | None:
        return _RESET_INTERVALS[self]


_RESET_INTERVALS = {TrafficReset.NO_RESET: None, TrafficReset.DAY: timedelta(days=1),
                    TrafficReset.WEEK: timedelta(days=7), TrafficReset.MONTH: timedelta(days=30),
                    TrafficReset.YEAR: timedelta(days=365)}


def _check_name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not _NAME.match(value):
        raise ValidationError(f"{what} must be 1-64 letters, digits, spaces or . : + ( ) / -", field=what)
    return value


def check_group(value: str, what: str = "group") -> str:
    value = (value or "").strip().lower()
    if not _GROUP.match(value):
        raise ValidationError(f"{what} must be 1-32 chars of a-z, 0-9, '_' or '-'", field=what)
    return value


def _positive(value: int | None, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or value <= 0:
        raise ValidationError(f"{what} must be a positive integer" + (" or null" if optional else ""), field=what)


def _prices(prices: Mapping[Currency, Money], what: str) -> dict[Currency, Money]:
    out: dict[Currency, Money] = {}
    for currency, money in prices.items():
        if money.currency is not currency or not money.is_positive:
            raise ValidationError(f"{what}: {currency.value} price must be a positive {currency.value} amount",
                                  field=what)
        out[currency] = money
    return out


@define(eq=False)
class Plan:
    """What a customer buys: a period of access with a traffic quota, on one server group."""

    name: str
    prices: dict[Currency, Money]
    duration_days: int
    traffic_bytes: int | None  # None = unlimited
    created_at: datetime
    description: str = ""
    device_limit: int | None = None
    protocol: str = "any"
    server_group: str = "default"
    start_on_first_use: bool = False
    active: bool = True
    traffic_reset: TrafficReset = TrafficReset.NO_RESET
    transport: str = "any"  # a label like protocol: tcp, ws, grpc, ... (the server's inbound decides)
    extra_gb_prices: dict[Currency, Money] = field(factory=dict)  # price of 1 GiB add-on
    extra_day_prices: dict[Currency, Money] = field(factory=dict)  # price of 1 day add-on
    id: int = 0

    def __attrs_post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.name = _check_name(self.name, "name")
        if len(self.description) > 500:
            raise ValidationError("description must be at most 500 characters", field="description")
        if not self.prices:
            raise ValidationError("a plan needs at least one price", field="prices")
        self.prices = _prices(self.prices, "prices")
        self.extra_gb_prices = _prices(self.extra_gb_prices, "extra_gb_prices")
        self.extra_day_prices = _prices(self.extra_day_prices, "extra_day_prices")
        _positive(self.duration_days, "duration_days")
        if self.duration_days > 3660:
            raise ValidationError("duration_days must be at most 3660", field="duration_days")
        _positive(self.traffic_bytes, "traffic_bytes", optional=True)
        _positive(self.device_limit, "device_limit", optional=True)
        if self.protocol not in PROTOCOLS:
            raise ValidationError(f"protocol must be one of {', '.join(PROTOCOLS)}", field="protocol")
        if self.transport not in TRANSPORTS:
            raise ValidationError(f"transport must be one of {', '.join(TRANSPORTS)}", field="transport")
        self.server_group = check_group(self.server_group, "server_group")
        try:
            self.traffic_reset = TrafficReset(self.traffic_reset)
        except ValueError:
            raise ValidationError(f"traffic_reset must be one of {', '.join(r.value for r in TrafficReset)}",
                                  field="traffic_reset") from None

    def price_in(self, currency: Currency) -> Money:
        price = self.prices.get(currency)
        if price is None:
            sold = ", ".join(c.value for c in self.prices)
            raise ValidationError(f"plan {self.name!r} is not sold in {currency.value} (only {sold})",
                                  field="currency", code="CURRENCY_NOT_OFFERED")
        return price

    def addon(self, kind: AddOnKind, quantity: int, currency: Currency) -> AddOn:
        """The price of ``quantity`` GiB or days on this plan. ValidationError if not offered."""
        _positive(quantity, "quantity")
        if quantity > 10_000:
            raise ValidationError("quantity must be at most 10000", field="quantity")
        unit = (self.extra_gb_prices if kind is AddOnKind.TRAFFIC else self.extra_day_prices).get(currency)
        if unit is None:
            raise ValidationError(f"plan {self.name!r} sells no {kind.value} add-on in {currency.value}",
                                  field="currency", code="ADDON_NOT_OFFERED")
        return AddOn(kind=kind, quantity=quantity, price=Money(unit.amount * quantity, currency))


@frozen
class AddOn:
    """Extra GiB or days for an existing account, and what they cost."""

    kind: AddOnKind
    quantity: int
    price: Money

    @property
    def traffic_bytes(self) -> int:
        return self.quantity * GIB if self.kind is AddOnKind.TRAFFIC else 0

    @property
    def days(self) -> int:
        return self.quantity if self.kind is AddOnKind.DAYS else 0


@define(eq=False)
class Server:
    """One panel we provision on. ``credentials`` is opaque ciphertext (sealed by an adapter);
    ``settings`` holds the kind's non-secret options (inbound id, WireGuard network, ...)."""

    kind: ServerKind
    name: str
    address: str  # the panel's base URL (3x-UI, Marzban) or the public endpoint host:port (WireGuard)
    credentials: str
    created_at: datetime
    settings: dict[str, Any] = field(factory=dict)
    group: str = "default"
    location: str = ""
    capacity: int = 1000
    weight: int = 1
    active: bool = True
    online: bool | None = None  # last health check; None = never checked
    checked_at: datetime | None = None
    updated_at: datetime | None = None
    id: int = 0

    def __attrs_post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.name = _check_name(self.name, "name")
        self.group = check_group(self.group)
        self.location = (self.location or "").strip()[:64]
        if not self.address or len(self.address) > 255:
            raise ValidationError("address is required (at most 255 characters)", field="address")
        _positive(self.capacity, "capacity")
        _positive(self.weight, "weight")

    def record_health(self, online: bool, now: datetime) -> None:
        self.online, self.checked_at = online, now


def rank_servers(servers: Iterable[Server], loads: Mapping[int, int], *, group: str,
                 location: str | None = None) -> list[Server]:
    """Servers that may take one more account, best first.

    Eligible: active, in ``group``, in ``location`` when given (case-insensitive), not known to be down
    and below capacity. Best = the lowest load per unit of weight (so weight 2 fills twice as fast), then id.
    """
    wanted = location.casefold() if location else None
    eligible = [s for s in servers if s.active and s.group == group and s.online is not False
                and (wanted is None or s.location.casefold() == wanted)
                and loads.get(s.id, 0) < s.capacity]
    return sorted(eligible, key=lambda s: (loads.get(s.id, 0) / s.weight, s.id))


@frozen
class PriceListEntry:
    """A reseller's (or any user's) own VPN prices: for one plan (``plan_id``) or every plan (``plan_id`` None).

    ``prices`` replaces the plan's period price in those currencies (purchase and renewal); ``discount_bp``
    (basis points, 1/100 %) comes off the plan's price otherwise and off every add-on. One plan's entry wins over
    the every-plan entry. Prices are rounded UP (a discount never gives away a minor unit more).
    """

    user_id: int
    plan_id: int | None
    discount_bp: int = 0
    prices: Mapping[Currency, Money] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if type(self.discount_bp) is not int or not 0 <= self.discount_bp <= 10_000:
            raise ValidationError("discount must be 0-100 %", field="discount")
        if self.prices and self.plan_id is None:
            raise ValidationError("custom prices need a plan", field="prices")
        _prices(self.prices, "prices")


def _entry_for(plan: Plan, entries: Iterable[PriceListEntry]) -> PriceListEntry | None:
    chosen = [e for e in entries if e.plan_id == plan.id] or [e for e in entries if e.plan_id is None]
    return chosen[0] if chosen else None


def _discounted(price: Money, discount_bp: int) -> Money:
    return price if discount_bp <= 0 else price.scale(10_000 - discount_bp, 10_000, Rounding.UP)


def period_price(plan: Plan, currency: Currency, entries: Iterable[PriceListEntry] = ()) -> Money:
    """What one period of ``plan`` costs this user in ``currency`` (purchase and renewal alike).

    A custom price in the user's price list is sold even where the plan has no public price in that currency.
    Raises ValidationError (CURRENCY_NOT_OFFERED) when neither has one."""
    entry = _entry_for(plan, entries)
    if entry is not None and currency in entry.prices:
        return entry.prices[currency]
    return _discounted(plan.price_in(currency), entry.discount_bp if entry else 0)


def addon_price(plan: Plan, kind: AddOnKind, quantity: int, currency: Currency,
                entries: Iterable[PriceListEntry] = ()) -> AddOn:
    """The add-on as :meth:`Plan.addon` prices it, less the user's discount for this plan."""
    addon = plan.addon(kind, quantity, currency)
    entry = _entry_for(plan, entries)
    if entry is None or entry.discount_bp <= 0:
        return addon
    return AddOn(kind=addon.kind, quantity=addon.quantity, price=_discounted(addon.price, entry.discount_bp))


class UsageEventKind(StrEnum):
    TRAFFIC = "traffic"  # ``threshold`` percent of the period quota reached
    DAYS_LEFT = "days_left"  # ``threshold`` days or fewer left


def _thresholds(low: int, high: int) -> Any:
    def check(_: object, attribute: Any, value: tuple[int, ...]) -> None:
        if not value or any(type(v) is not int or not low <= v <= high for v in value):
            raise ValidationError(f"{attribute.name} must be whole numbers in {low}..{high}", field=attribute.name)
    return check


def _sorted_unique(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(values)))


@frozen
class UsageThresholds:
    """Which readings raise usage events: percents of the period quota reached, and days left before expiry
    (configurable: ``VPNSMM_VPN_TRAFFIC_THRESHOLDS``, ``VPNSMM_VPN_DAYS_LEFT_THRESHOLDS``)."""

    traffic_percent: tuple[int, ...] = field(default=TRAFFIC_THRESHOLDS, converter=_sorted_unique,
                                             validator=_thresholds(1, 100))
    days_left: tuple[int, ...] = field(default=DAYS_LEFT_THRESHOLDS, converter=_sorted_unique,
                                       validator=_thresholds(1, 3660))


@frozen
class UsageEvent:
    account_id: int
    user_id: int
    kind: UsageEventKind
    threshold: int
    value: int  # percent used, or whole days left


def _delta(current: int, last: int, reset: bool) -> int:
    return current if reset or current < last else current - last


@define(eq=False)
class VpnAccount:
    """A customer's access on one server, named ``acc-<id>`` on the panel."""

    user_id: int
    plan_id: int
    server_id: int
    created_at: datetime
    subscription_token: str
    duration_days: int
    invoice_id: int | None = None
    status: AccountStatus = AccountStatus.PENDING
    expires_at: datetime | None = None
    traffic_limit_bytes: int | None = None
    device_limit: int | None = None
    used_upload: int = 0
    used_download: int = 0
    period_start_upload: int = 0
    period_start_download: int = 0
    panel_upload: int = 0  # the panel's counters at our last read
    panel_download: int = 0
    start_on_first_use: bool = False
    traffic_reset: TrafficReset = TrafficReset.NO_RESET
    next_traffic_reset_at: datetime | None = None  # when the quota next starts afresh (None: never)
    remote_id: str = ""
    links: list[str] = field(factory=list)
    config: str | None = None
    subscription_url: str | None = None
    applied_invoices: list[int] = field(factory=list)  # renewals/add-ons already applied (idempotency)
    pending_reset: bool = False  # the panel's counters must be zeroed (after a renewal)
    needs_push: bool = False  # the panel has not yet been told the current state (enforcement retries it)
    usage_synced_at: datetime | None = None
    updated_at: datetime | None = None
    id: int = 0

    # -- identity ---------------------------------------------------------------------------------------
    @property
    def client_key(self) -> str:
        if not self.id:
            raise InvalidTransitionError("the account has no id yet", code="ACCOUNT_NOT_STORED")
        return client_key_of(self.id)

    @property
    def used_bytes(self) -> int:
        return self.used_upload + self.used_download

    @property
    def period_upload(self) -> int:
        return self.used_upload - self.period_start_upload

    @property
    def period_download(self) -> int:
        return self.used_download - self.period_start_download

    @property
    def period_used_bytes(self) -> int:
        return self.period_upload + self.period_download

    @classmethod
    def open(cls, *, user_id: int, plan: Plan, server: Server, now: datetime, token: str,
             invoice_id: int | None = None) -> VpnAccount:
        """A pending account for ``plan`` on ``server``; the clock starts when it is provisioned."""
        return cls(user_id=user_id, plan_id=plan.id, server_id=server.id, created_at=now, subscription_token=token,
                   duration_days=plan.duration_days, invoice_id=invoice_id, traffic_limit_bytes=plan.traffic_bytes,
                   device_limit=plan.device_limit, start_on_first_use=plan.start_on_first_use,
                   traffic_reset=plan.traffic_reset, updated_at=now)

    # -- what the panel should hold -------------------------------------------------------------------
    def limits(self) -> ClientLimits:
        quota = self.traffic_limit_bytes
        return ClientLimits(traffic_limit_bytes=quota, expires_at=self.expires_at, device_limit=self.device_limit)

    def client_spec(self) -> ClientSpec:
        return ClientSpec(key=self.client_key, limits=self.limits(), enabled=self.status.may_connect,
                          note=f"user {self.user_id} plan {self.plan_id}")

    # -- transitions ---------------------------------------------------------------------------------------
    def _require_live(self) -> None:
        if self.status is AccountStatus.REVOKED:
            raise InvalidTransitionError("the account is revoked", code="ACCOUNT_REVOKED")

    def provisioned(self, *, remote_id: str, links: Sequence[str], config: str | None,
                    subscription_url: str | None, now: datetime) -> None:
        """The panel confirmed the client: start the clock (unless it starts at first use)."""
        self.remote_id, self.links, self.config = remote_id, list(links), config
        self.subscription_url, self.updated_at = subscription_url, now
        if self.status is AccountStatus.PENDING:
            if self.start_on_first_use:
                self.status = AccountStatus.ON_HOLD
            else:
                self.expires_at = now + timedelta(days=self.duration_days)
                self.status = AccountStatus.ACTIVE
                self._schedule_reset(now)

    def _schedule_reset(self, period_start: datetime) -> None:
        interval = self.traffic_reset.interval
        self.next_traffic_reset_at = period_start + interval if interval is not None else None

    def _new_traffic_period(self) -> None:
        self.period_start_upload, self.period_start_download = self.used_upload, self.used_download
        self.pending_reset = True

    def apply_traffic_reset(self, now: datetime) -> bool:
        """Start a fresh quota if the plan's reset interval has passed (at most one reset per call, then the next
        is scheduled after ``now``). True if it did: the panel's counters must then be zeroed (``pending_reset``)
        and a LIMITED account may connect again. Expiry is untouched."""
        due = self.next_traffic_reset_at
        interval = self.traffic_reset.interval
        if due is None or interval is None or now < due:
            return False
        if self.status not in (AccountStatus.ACTIVE, AccountStatus.LIMITED):
            return False  # disabled/expired: nothing to reset until it may connect again
        self._new_traffic_period()
        while due <= now:
            due += interval
        self.next_traffic_reset_at = due
        self._recompute(now)
        self.updated_at = now
        return True

    def _recompute(self, now: datetime) -> None:
        if self.status in (AccountStatus.REVOKED, AccountStatus.DISABLED, AccountStatus.PENDING):
            return
        if self.status is AccountStatus.ON_HOLD and self.expires_at is None:
            return
        if self.expires_at is not None and self.expires_at <= now:
            self.status = AccountStatus.EXPIRED
        elif self.traffic_limit_bytes is not None and self.period_used_bytes >= self.traffic_limit_bytes:
            self.status = AccountStatus.LIMITED
        else:
            self.status = AccountStatus.ACTIVE

    def renew(self, *, days: int, traffic_bytes: int | None, now: datetime) -> None:
        """A new period: expiry extends from the later of now and the current expiry; the quota restarts."""
        self._require_live()
        _positive(days, "days")
        base = max(now, self.expires_at) if self.expires_at is not None else now
        self.expires_at = base + timedelta(days=days)
        self.traffic_limit_bytes = traffic_bytes
        self._new_traffic_period()
        self._schedule_reset(now)
        if self.status is AccountStatus.ON_HOLD:
            self.status = AccountStatus.ACTIVE
        self._recompute(now)
        self.updated_at = now

    def add_traffic(self, extra_bytes: int, now: datetime) -> None:
        """More quota for this period (an unlimited account stays unlimited)."""
        self._require_live()
        _positive(extra_bytes, "traffic_bytes")
        if self.traffic_limit_bytes is not None:
            self.traffic_limit_bytes += extra_bytes
        self._recompute(now)
        self.updated_at = now

    def add_days(self, days: int, now: datetime) -> None:
        """Push expiry ``days`` further, from the later of now and the current expiry (on hold: longer period)."""
        self._require_live()
        _positive(days, "days")
        if self.expires_at is None:
            self.duration_days += days
        else:
            self.expires_at = max(now, self.expires_at) + timedelta(days=days)
        self._recompute(now)
        self.updated_at = now

    def revoke(self, now: datetime) -> None:
        """Final: the account stops working and its credentials are rotated. Idempotent."""
        self.status, self.updated_at = AccountStatus.REVOKED, now
        self.links, self.config, self.subscription_url = [], None, None

    def disable(self, now: datetime) -> None:
        self._require_live()
        self.status, self.updated_at = AccountStatus.DISABLED, now

    def enable(self, now: datetime) -> None:
        self._require_live()
        if self.status is AccountStatus.DISABLED:
            self.status = AccountStatus.ON_HOLD if self.expires_at is None and self.start_on_first_use \
                else AccountStatus.ACTIVE
        self._recompute(now)
        self.updated_at = now

    def check_expiry(self, now: datetime) -> bool:
        """Move to EXPIRED/LIMITED/ACTIVE as the clock and counters say. True if the status changed."""
        before = self.status
        self._recompute(now)
        return self.status is not before

    def record_usage(self, snap: UsageSnapshot, thresholds: UsageThresholds | None = None) -> list[UsageEvent]:
        """Fold one panel reading into the lifetime totals (handling counter resets) and return the
        threshold events this reading crossed. Starts the clock of an on-hold account at its first byte."""
        now = snap.observed_at
        used_before = self.period_used_bytes
        synced_before = self.usage_synced_at
        du = _delta(snap.upload_bytes, self.panel_upload, snap.counters_reset)
        dd = _delta(snap.download_bytes, self.panel_download, snap.counters_reset)
        self.used_upload += du
        self.used_download += dd
        self.panel_upload, self.panel_download = snap.upload_bytes, snap.download_bytes
        self.usage_synced_at = now
        if self.status is AccountStatus.ON_HOLD and self.expires_at is None and du + dd > 0:
            self.expires_at = now + timedelta(days=self.duration_days)
            self.status = AccountStatus.ACTIVE
            self._schedule_reset(now)
            self.needs_push = True  # the panel must learn the expiry that just started (enforcement pushes it)
        self._recompute(now)
        events: list[UsageEvent] = []
        quota = self.traffic_limit_bytes
        if quota:
            before_pct, after_pct = used_before * 100 // quota, self.period_used_bytes * 100 // quota
            events += [UsageEvent(self.id, self.user_id, UsageEventKind.TRAFFIC, t, after_pct)
                       for t in (thresholds.traffic_percent if thresholds else TRAFFIC_THRESHOLDS)
                       if before_pct < t <= after_pct]
        if self.expires_at is not None:
            left_now = self.expires_at - now
            left_before = self.expires_at - synced_before if synced_before is not None else None
            for t in sorted(thresholds.days_left if thresholds else DAYS_LEFT_THRESHOLDS):  # the tightest crossed wins
                edge = timedelta(days=t)
                if left_now <= edge and (left_before is None or left_before > edge) and left_now > timedelta(0):
                    events.append(UsageEvent(self.id, self.user_id, UsageEventKind.DAYS_LEFT, t, left_now.days))
                    break
        if du or dd or events:
            self.updated_at = now
        return events

    def userinfo(self) -> dict[str, int]:
        """The ``subscription-userinfo`` numbers: this period's upload/download, quota (0 = unlimited), expiry."""
        return {"upload": self.period_upload, "download": self.period_download,
                "total": self.traffic_limit_bytes or 0,
                "expire": int(self.expires_at.timestamp()) if self.expires_at else 0}


def client_key_of(account_id: int) -> str:
    return f"acc-{account_id}"


def account_id_of(key: str) -> int | None:
    """The account id in a client key ``acc-<id>``, or None for a key that is not ours."""
    if not key.startswith("acc-"):
        return None
    tail = key[4:]
    return int(tail) if tail.isdigit() and not tail.startswith("0") else None
