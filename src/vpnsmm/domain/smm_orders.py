"""What we sell as an SMM panel: providers, the catalogue, orders, refills and per-user prices.

Pure rules only (stdlib + attrs). The order entity applies provider reports with the "never downgrade"
rule of :func:`vpnsmm.domain.smm.next_status` and says how much money each transition settles
(:meth:`SmmOrder.apply_report`); a status that was already applied settles nothing, so a repeated poll
never refunds twice. The ledger transfer ids are derived from the order id (:func:`order_charge_id`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from attrs import define, field, frozen

from vpnsmm.domain.errors import InvalidTransitionError, ValidationError
from vpnsmm.domain.money import Currency, Money, Rounding
from vpnsmm.domain.smm import (
    SUBSCRIPTION_DELAYS,
    ExactAmount,
    Markup,
    OrderStatus,
    RefillStatus,
    ServiceType,
    next_status,
    refund_for,
)

# ------------------------------------------------------------------------------------------ ids


def order_charge_id(order_id: int) -> str:
    """Ledger transfer id of an order's charge (wallet -> revenue)."""
    return f"smm:{order_id}:charge"


def order_refund_id(order_id: int) -> str:
    """Ledger transfer id of the refund of an order that could not be submitted (or was voided by an admin)."""
    return f"smm:{order_id}:refund"


def order_settle_id(order_id: int, status: OrderStatus) -> str:
    """Ledger transfer id of the refund a terminal provider status settles (one per status reached)."""
    return f"smm:{order_id}:refund:{status.name.lower()}"


# ------------------------------------------------------------------------------------------ providers
class ProviderKind(StrEnum):
    PERFECT_PANEL = "perfect_panel"  # any panel speaking Perfect Panel API v2
    SIMULATED = "simulated"  # an in-process simulated panel (demo, tests); no network


_NAME = re.compile(r"^[\w .:-]{1,64}$")


def check_name(name: str, field_name: str = "name", max_length: int = 64) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > max_length:
        raise ValidationError(f"{field_name} must be 1-{max_length} characters", field=field_name)
    return cleaned


def check_api_url(url: str) -> str:
    cleaned = (url or "").strip()
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(cleaned) > 500:
        raise ValidationError("api_url must be an http(s) URL", field="api_url", code="INVALID_URL")
    return cleaned


@define(kw_only=True)
class Provider:
    """An upstream panel account. ``api_key_encrypted`` is ciphertext (the key is never stored in clear).

    ``exchange_rate`` is how many shop-currency major units one provider-currency unit costs (decimal
    text, ``"1"`` when the currencies are the same); catalogue syncs price services with it.
    """

    name: str
    kind: ProviderKind
    api_url: str
    api_key_encrypted: str
    currency: Currency
    created_at: datetime
    exchange_rate: str = "1"
    active: bool = True
    id: int = 0

    def exact_rate_factor(self) -> ExactAmount:
        return ExactAmount.parse(self.exchange_rate, self.currency, field_name="exchange_rate")


# ------------------------------------------------------------------------------------------ catalogue
@define(kw_only=True)
class Category:
    name: str
    sort: int = 0
    id: int = 0


def _markup_text(value: str) -> str:
    Markup.percent(value)  # validates
    return value.strip()


@define(kw_only=True)
class Service:
    """A service we sell. ``rate`` is our price per 1000 units in the shop currency (markup included).

    ``provider_rate`` is the provider's rate exactly as it sent it (decimal text in the provider
    currency), kept for margin reports; ``markup`` the percentage applied on the last sync.
    """

    name: str
    type: ServiceType
    category_id: int
    rate: Money
    min: int
    max: int
    provider_id: int
    provider_service_id: str
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    markup: str = field(default="0", converter=_markup_text)
    provider_rate: str = "0"
    description: str = ""
    active: bool = True
    id: int = 0

    def __attrs_post_init__(self) -> None:
        if self.min <= 0 or self.max < self.min:
            raise ValidationError("a service needs 0 < min <= max", field="min")
        if self.rate.is_negative:
            raise ValidationError("a rate cannot be negative", field="rate")


@frozen
class UserRate:
    """A per-user price: a custom ``rate`` per 1000 for one service, or a ``discount_bp`` (basis points,
    1/100 of a percent) on one service or, with ``service_id`` None, on every service."""

    user_id: int
    service_id: int | None
    rate: Money | None = None
    discount_bp: int = 0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.discount_bp <= 10_000:
            raise ValidationError("discount must be 0-100 %", field="discount")
        if self.rate is not None and (self.rate.is_negative or self.service_id is None):
            raise ValidationError("a custom rate needs a service and a non-negative amount", field="rate")


def discounted(price: Money, discount_bp: int) -> Money:
    """``price`` less ``discount_bp`` basis points, rounded UP (a discount never gives away a minor unit more)."""
    if discount_bp <= 0:
        return price
    return price.scale(10_000 - discount_bp, 10_000, Rounding.UP)


def parse_discount(text: str) -> int:
    """``"12.5"`` (percent) -> 1250 basis points. Raises ValidationError."""
    match = re.match(r"^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*$", str(text))
    if match is None:
        raise ValidationError(f"{text!r} is not a percentage with at most 2 decimals", field="discount")
    bp = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if bp > 10_000:
        raise ValidationError("discount must be 0-100 %", field="discount")
    return bp


# ------------------------------------------------------------------------------------------ orders
_LINK = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def check_link(link: str | None) -> str:
    """A well-formed http(s) link, or ValidationError code INVALID_LINK."""
    cleaned = (link or "").strip()
    if len(cleaned) > 1000 or not _LINK.match(cleaned) or not urlsplit(cleaned).netloc:
        raise ValidationError("link must be an http(s) URL", field="link", code="INVALID_LINK")
    return cleaned


@frozen(kw_only=True)
class SubscriptionTerms:
    """What a prepaid Perfect Panel ``Subscriptions`` order buys: up to ``posts`` new posts plus
    ``old_posts`` existing ones of ``username``, each getting between ``min`` and ``max`` units.

    Each post is charged as ``max`` units up front (the most it can get); each becomes a child order when
    the provider reports it. Kept in the parent order's ``fields`` (:meth:`fields` / :meth:`from_fields`).
    """

    username: str
    min: int
    max: int
    delay: int
    posts: int
    old_posts: int = 0
    expiry: date | None = None

    @property
    def total_posts(self) -> int:
        """How many child orders the charge pays for."""
        return self.posts + self.old_posts

    @classmethod
    def check(cls, *, username: str | None, min: int | None, max: int | None, delay: int | None,
              posts: int | None, old_posts: int | None, expiry: date | None, service_min: int, service_max: int,
              today: date) -> SubscriptionTerms:
        """Validated terms of a prepaid subscription. Raises ValidationError: ``posts`` missing or below 1
        (code SUBSCRIPTION_POSTS_REQUIRED: an unlimited subscription cannot be prepaid), ``min``/``max`` outside
        ``service_min <= min <= max <= service_max`` (INVALID_QUANTITY with ``min``/``max`` details), a
        ``delay`` not in SUBSCRIPTION_DELAYS, a negative ``old_posts``, an ``expiry`` not after ``today``,
        a blank or over-long ``username``. Pure."""
        name = (username or "").strip()
        if not name or len(name) > 255:
            raise ValidationError("username is required (at most 255 characters)", field="username")
        if type(posts) is not int or posts < 1:
            raise ValidationError("posts is required and must be at least 1: subscriptions are prepaid, so an "
                                  "unlimited number of posts cannot be sold", field="posts",
                                  code="SUBSCRIPTION_POSTS_REQUIRED")
        if old_posts is not None and (type(old_posts) is not int or old_posts < 0):
            raise ValidationError("old_posts must be a non-negative integer", field="old_posts")
        if type(delay) is not int or delay not in SUBSCRIPTION_DELAYS:
            raise ValidationError(f"delay must be one of {sorted(SUBSCRIPTION_DELAYS)}", field="delay")
        for field_name, value in (("min", min), ("max", max)):
            if type(value) is not int:
                raise ValidationError(f"{field_name} is required", field=field_name, code="INVALID_QUANTITY")
            if value < service_min:
                raise ValidationError(f"Quantity less than minimal {service_min}", field=field_name,
                                      code="INVALID_QUANTITY", details={"min": service_min})
            if value > service_max:
                raise ValidationError(f"Quantity more than maximum {service_max}", field=field_name,
                                      code="INVALID_QUANTITY", details={"max": service_max})
        assert min is not None and max is not None
        if min > max:
            raise ValidationError("min must not exceed max", field="min")
        if expiry is not None and expiry <= today:
            raise ValidationError("expiry must be a future date", field="expiry")
        return cls(username=name, min=min, max=max, delay=delay, posts=posts, old_posts=old_posts or 0,
                   expiry=expiry)

    def fields(self) -> dict[str, Any]:
        """The JSON-safe form kept in ``SmmOrder.fields`` (``expiry`` as ISO text)."""
        out: dict[str, Any] = {"username": self.username, "min": self.min, "max": self.max, "delay": self.delay,
                               "posts": self.posts, "old_posts": self.old_posts}
        if self.expiry is not None:
            out["expiry"] = self.expiry.isoformat()
        return out

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> SubscriptionTerms | None:
        """The terms stored by :meth:`fields`, or None when ``fields`` are not a subscription's."""
        if "delay" not in fields or "max" not in fields or "posts" not in fields:
            return None
        expiry = fields.get("expiry")
        return cls(username=str(fields.get("username", "")), min=int(fields["min"]), max=int(fields["max"]),
                   delay=int(fields["delay"]), posts=int(fields["posts"]), old_posts=int(fields.get("old_posts", 0)),
                   expiry=date.fromisoformat(expiry) if isinstance(expiry, str) else None)


@frozen
class Adoption:
    """What :meth:`SmmOrder.adopt_children` did: the child orders to store, and provider ids left out
    (beyond the posts paid for)."""

    children: list[SmmOrder]
    ignored: list[str]


class SubmitState(StrEnum):
    """Where an order is in being forwarded to its provider (the outbox of PlaceOrder)."""

    QUEUED = "queued"  # to be sent (a retryable failure leaves it here)
    SENDING = "sending"  # claimed by a sender; the provider may or may not have it yet
    SENT = "sent"  # the provider order id is known
    FAILED = "failed"  # rejected for good; the charge was refunded
    UNKNOWN = "unknown"  # sent but no readable answer: may exist upstream; an admin decides
    LOCAL = "local"  # settled without the provider (canceled before sending)
    HELD = "held"  # stopped by an operator before it reached the provider (status Paused); resume sends it


@frozen
class Settlement:
    """What applying one provider report did: the status moved from ``before`` to ``after`` and
    ``refund`` (maybe zero) must be given back under ``transfer_id``."""

    before: OrderStatus
    after: OrderStatus
    refund: Money
    transfer_id: str | None

    @property
    def changed(self) -> bool:
        return self.before is not self.after


@define(kw_only=True)
class SmmOrder:
    """One order. ``charge`` is what the customer paid (a snapshot); ``refunded`` what went back so far.

    ``quantity`` is the number of billable units (per-run quantity x runs for a drip-feed);
    ``fields`` holds the type-specific parameters as sent to the provider (comments, usernames, ...).

    A prepaid subscription is a *parent* (``fields`` hold its :class:`SubscriptionTerms`, ``quantity`` is
    posts x max, ``remains`` the posts not yet become a child); each post the provider reports becomes a
    *child* order (``parent_order_id`` set, charge = one post's share, never charged to the wallet itself:
    the parent paid for it). Children settle like any order; the parent refunds only the posts that never
    came (:meth:`apply_subscription_report`).
    """

    user_id: int
    service_id: int
    provider_id: int
    charge: Money
    quantity: int
    created_at: datetime
    link: str = ""
    fields: dict[str, Any] = field(factory=dict)
    runs: int | None = None
    interval: int | None = None
    status: OrderStatus = OrderStatus.PENDING
    refunded: Money | None = None
    start_count: int | None = None
    remains: int | None = None
    provider_order_id: str | None = None
    submit_state: SubmitState = SubmitState.SENDING
    submit_attempts: int = 0
    cancel_requested: bool = False
    error: str = ""
    updated_at: datetime | None = None
    parent_order_id: int | None = None
    id: int = 0

    def __attrs_post_init__(self) -> None:
        if self.refunded is None:
            self.refunded = Money.zero(self.charge.currency)
        if self.quantity <= 0:
            raise ValidationError("quantity must be positive", field="quantity", code="INVALID_QUANTITY")

    @property
    def held(self) -> Money:
        """The part of the charge still kept (charge - refunds)."""
        assert self.refunded is not None
        return self.charge - self.refunded

    @property
    def subscription(self) -> SubscriptionTerms | None:
        """The terms of a subscription parent; None for any other order (children included)."""
        if self.parent_order_id is not None:
            return None
        return SubscriptionTerms.from_fields(self.fields)

    @property
    def per_post(self) -> Money:
        """A subscription parent's share of the charge per post (exact: the charge is share x posts).
        Raises InvalidTransitionError for an order that is not a subscription parent."""
        terms = self.subscription
        if terms is None:
            raise InvalidTransitionError("not a subscription order", code="NOT_A_SUBSCRIPTION")
        return Money(self.charge.amount // terms.total_posts, self.charge.currency)

    @property
    def children_count(self) -> int:
        """How many child orders a subscription parent has (0 for any other order)."""
        terms = self.subscription
        if terms is None:
            return 0
        return terms.total_posts - (self.remains if self.remains is not None else terms.total_posts)

    def _delegated(self) -> Money:
        """The part of the charge handed over to child orders (they refund it themselves if needed)."""
        if self.subscription is None:
            return Money.zero(self.charge.currency)
        return self.per_post * self.children_count

    def adopt_children(self, provider_order_ids: Sequence[str], now: datetime) -> Adoption:
        """Child orders for provider ids this parent does not have yet (the caller filters known ones out,
        holding the parent row lock). At most the posts still unpaid-for become children (``remains``
        drops by one each); the rest are ignored and noted in ``error``. A parent already terminal before
        this report takes none: their share was refunded. Raises InvalidTransitionError for an order that is
        not a subscription parent. Not idempotent by itself: pass only new ids."""
        terms = self.subscription
        if terms is None:
            raise InvalidTransitionError("not a subscription order", code="NOT_A_SUBSCRIPTION")
        room = 0 if self.status.is_terminal else (self.remains if self.remains is not None else terms.total_posts)
        taken, ignored = list(provider_order_ids[:room]), list(provider_order_ids[room:])
        share = self.per_post
        children = [SmmOrder(user_id=self.user_id, service_id=self.service_id, provider_id=self.provider_id,
                             charge=share, quantity=terms.max, created_at=now, updated_at=now,
                             provider_order_id=pid, submit_state=SubmitState.SENT, parent_order_id=self.id)
                    for pid in taken]
        if taken:
            self.remains = (self.remains if self.remains is not None else terms.total_posts) - len(taken)
            self.updated_at = now
        if ignored:
            self.error = (f"provider reported {len(ignored)} child order(s) beyond the {terms.total_posts} posts "
                          f"paid for, ignored: {', '.join(ignored)}")[:500]
            self.updated_at = now
        return Adoption(children, ignored)

    def apply_subscription_report(self, reported: OrderStatus | None, *, now: datetime) -> Settlement:
        """Take a provider status for a subscription parent (``Active`` = In progress, ``Paused``, ...).

        Never downgrades. On reaching a terminal status (Completed, Partial, Canceled, Refunded) it gives
        back the share of every post that never became a child -- ``remains x per_post`` less what it
        refunded before -- once: a later terminal move refunds nothing more. The provider's ``remains``/
        ``charge`` are not used: children settle their own deliveries. Raises InvalidTransitionError for an
        order that is not a subscription parent.
        """
        if self.subscription is None:
            raise InvalidTransitionError("not a subscription order", code="NOT_A_SUBSCRIPTION")
        before = self.status
        after = next_status(before, reported)
        refund = Money.zero(self.charge.currency)
        transfer_id = None
        if after is not before:
            self.status, self.updated_at = after, now
            if after.is_terminal:
                owed = self.held - self._delegated()  # the missing posts' shares not yet refunded
                if owed.is_positive:
                    refund, transfer_id = owed, order_settle_id(self.id, after)
                    assert self.refunded is not None
                    self.refunded = self.refunded + refund
                self.cancel_requested = False
        return Settlement(before=before, after=after, refund=refund, transfer_id=transfer_id)

    def apply_report(self, reported: OrderStatus | None, *, start_count: int | None, remains: int | None,
                     now: datetime) -> Settlement:
        """Take a provider status report. Never downgrades; settles money only when a terminal status is
        reached for the first time (Partial: the undelivered share; Canceled/Refunded: everything still held).

        A Partial report without a known ``remains`` is ignored (kept as it was) until the provider says.
        """
        before = self.status
        after = next_status(before, reported)
        if after is OrderStatus.PARTIAL and after is not before and remains is None:
            after = before
        if start_count is not None and start_count >= 0:
            self.start_count = start_count
        if remains is not None and after is not OrderStatus.COMPLETED and not before.is_terminal:
            self.remains = remains
        if after is OrderStatus.COMPLETED:
            self.remains = 0
        refund = Money.zero(self.charge.currency)
        transfer_id = None
        if after is not before:
            self.status = after
            self.updated_at = now
            if after.is_terminal and after is not OrderStatus.COMPLETED:
                # Partial: charge*remains/quantity of what is still held (nothing was refunded before it);
                # Canceled/Refunded after a Partial: only the rest.
                refund = refund_for(self.held, self.quantity,
                                    remains if after is OrderStatus.PARTIAL else None, after)
            if refund.is_positive:
                transfer_id = order_settle_id(self.id, after)
                assert self.refunded is not None
                self.refunded = self.refunded + refund
            if after.is_terminal:
                self.cancel_requested = False
        return Settlement(before=before, after=after, refund=refund, transfer_id=transfer_id)

    def void(self, now: datetime, *, reason: str, status: OrderStatus = OrderStatus.CANCELED) -> Settlement:
        """End the order here and give back everything still held (failed submit, admin cancel, local cancel).

        A subscription parent keeps the shares it handed to its child orders (each child is voided or
        settled on its own), so only the posts that never came are refunded.
        Raises InvalidTransitionError for an order already Canceled/Refunded.
        """
        if self.status in (OrderStatus.CANCELED, OrderStatus.REFUNDED):
            raise InvalidTransitionError(f"order is already {self.status.value}", code="ORDER_FINAL")
        before = self.status
        refund = self.held - self._delegated()
        if refund.is_negative:
            refund = Money.zero(self.charge.currency)
        assert self.refunded is not None
        self.refunded = self.refunded + refund
        self.status = status
        self.error = reason[:500]
        self.cancel_requested = False
        self.updated_at = now
        return Settlement(before=before, after=status, refund=refund,
                          transfer_id=order_refund_id(self.id) if refund.is_positive else None)

    def complete(self, now: datetime) -> None:
        """Admin: mark delivered (no money moves; a subscription parent's missing posts stay charged, as an
        operator's "delivered" says). Raises InvalidTransitionError from a final status."""
        if self.status in (OrderStatus.CANCELED, OrderStatus.REFUNDED, OrderStatus.PARTIAL):
            raise InvalidTransitionError(f"order is already {self.status.value}", code="ORDER_FINAL")
        if self.subscription is None:  # a parent's remains count the posts that never came; keep them
            self.remains = 0
        self.status, self.updated_at = OrderStatus.COMPLETED, now

    def sent(self, provider_order_id: str, now: datetime) -> None:
        self.provider_order_id = provider_order_id
        self.submit_state = SubmitState.SENT
        self.error = ""
        self.updated_at = now

    @property
    def can_refill(self) -> bool:
        return self.status in (OrderStatus.COMPLETED, OrderStatus.PARTIAL) and self.provider_order_id is not None


@define(kw_only=True)
class Refill:
    order_id: int
    user_id: int
    provider_refill_id: str
    created_at: datetime
    status: RefillStatus = RefillStatus.PENDING
    updated_at: datetime | None = None
    id: int = 0


def _optional_statuses(value: Iterable[OrderStatus] | None) -> frozenset[OrderStatus] | None:
    return None if value is None else frozenset(value)


@frozen
class OrderFilter:
    user_id: int | None = None
    status: OrderStatus | None = None
    service_id: int | None = None
    provider_id: int | None = None
    submit_state: SubmitState | None = None
    search: str | None = None  # substring of the link
    # any of these (with ``status``: both must hold; an empty collection matches nothing)
    statuses: frozenset[OrderStatus] | None = field(default=None, converter=_optional_statuses)
    created_from: datetime | None = None  # created_at >= this
    created_before: datetime | None = None  # created_at < this


#: Sort keys ``SmmOrderRepository.list`` accepts (ties broken by id).
ORDER_SORT_KEYS = ("id", "created_at", "updated_at", "status", "quantity")


@frozen
class OrderStatsRow:
    """Orders created on ``day`` in ``status`` and ``currency``: how many, charged and refunded (minor units)."""

    day: date
    status: OrderStatus
    currency: Currency
    count: int
    charged: int
    refunded: int
