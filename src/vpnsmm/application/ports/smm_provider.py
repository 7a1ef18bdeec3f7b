"""The SmmProvider port: an upstream SMM panel that fulfils orders (Perfect Panel API v2 semantics).

Ids are strings everywhere (providers send ints or strings; a string holds both). Amounts are
:class:`Money` rounded as each field documents, with the exact provider value alongside where
rounding could matter. Per-id failures inside batch calls come back as :class:`ProviderError`
values; whole-request failures are raised:

* :class:`ProviderRejectedError` (an UpstreamRejectedError) -- the provider answered ``{"error": ...}``;
  ``kind`` classifies its free-text message.
* UpstreamUnavailableError -- timeout, unreachable, 5xx, not JSON, or an answer we cannot read; retry later.
* :class:`ProviderOutcomeUnknownError` -- raised by ``add`` only: the request may have reached the
  provider, so an order may exist. Do not retry blindly (Perfect Panel has no idempotency key).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from attrs import field, frozen

from vpnsmm.domain.errors import UpstreamRejectedError, UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import (
    SUBSCRIPTION_DELAYS,
    ExactAmount,
    OrderStatus,
    RefillStatus,
    ServiceType,
)

#: Perfect Panel takes at most this many ids in one ``orders=``/``refills=`` parameter.
MAX_IDS_PER_REQUEST = 100


class ProviderErrorKind(StrEnum):
    """Classes of provider error text (smm.md §1.7). Provider messages are free text, so this is a guess."""

    AUTH = "auth"  # bad/disabled API key: fix configuration
    BALANCE = "balance"  # our provider balance is short: top up, then retry
    SERVICE = "service"  # unknown or disabled service id
    QUANTITY = "quantity"  # outside min/max
    LINK = "link"  # bad link
    DUPLICATE_LINK = "duplicate_link"  # an active order for this link exists; retry after it ends
    NOT_FOUND = "not_found"  # unknown order or refill id
    NOT_ALLOWED = "not_allowed"  # refill/cancel not available for this order
    BAD_REQUEST = "bad_request"  # missing or malformed parameters
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later without changes (only balance and duplicate link)."""
        return self in (ProviderErrorKind.BALANCE, ProviderErrorKind.DUPLICATE_LINK)


# Substrings (case-insensitive) checked in order; the first hit wins.
_ERROR_PATTERNS: tuple[tuple[str, ProviderErrorKind], ...] = (
    ("api key", ProviderErrorKind.AUTH),
    ("api is disable", ProviderErrorKind.AUTH),
    ("user not found", ProviderErrorKind.AUTH),
    ("not enough funds", ProviderErrorKind.BALANCE),
    ("not_enough_funds", ProviderErrorKind.BALANCE),
    ("balance", ProviderErrorKind.BALANCE),
    ("active order", ProviderErrorKind.DUPLICATE_LINK),
    ("wait until", ProviderErrorKind.DUPLICATE_LINK),
    ("service", ProviderErrorKind.SERVICE),
    ("quantity", ProviderErrorKind.QUANTITY),
    ("link", ProviderErrorKind.LINK),
    ("order id", ProviderErrorKind.NOT_FOUND),
    ("order not found", ProviderErrorKind.NOT_FOUND),
    ("refill not found", ProviderErrorKind.NOT_FOUND),
    ("refill request not found", ProviderErrorKind.NOT_FOUND),
    ("not eligible", ProviderErrorKind.NOT_ALLOWED),
    ("cannot be", ProviderErrorKind.NOT_ALLOWED),
    ("not available", ProviderErrorKind.NOT_ALLOWED),
    ("incorrect request", ProviderErrorKind.BAD_REQUEST),
    ("request invalid", ProviderErrorKind.BAD_REQUEST),
    ("action is invalid", ProviderErrorKind.BAD_REQUEST),
)


def classify_provider_error(message: str) -> ProviderErrorKind:
    """The kind of a provider error message, by case-insensitive substring. Never raises."""
    text = message.casefold()
    for needle, kind in _ERROR_PATTERNS:
        if needle in text:
            return kind
    return ProviderErrorKind.UNKNOWN


@frozen
class ProviderError:
    """A per-id failure inside a batch answer (``{"error": "Incorrect order ID"}``)."""

    message: str
    kind: ProviderErrorKind

    @classmethod
    def from_message(cls, message: str) -> ProviderError:
        return cls(message, classify_provider_error(message))


class ProviderRejectedError(UpstreamRejectedError):
    """The provider answered the whole request with ``{"error": message}``.

    ``provider_message`` is its text verbatim; ``kind`` its classification (see ProviderErrorKind).
    """

    def __init__(self, provider_message: str, *, kind: ProviderErrorKind | None = None):
        self.provider_message = provider_message
        self.kind = kind or classify_provider_error(provider_message)
        super().__init__(f"provider rejected the request: {provider_message}",
                         details={"provider_message": provider_message, "kind": self.kind.value})


class ProviderOutcomeUnknownError(UpstreamUnavailableError):
    """``add`` was sent but no readable answer came back: an upstream order may or may not exist."""

    code = "UPSTREAM_OUTCOME_UNKNOWN"


@frozen
class ProviderService:
    """One entry of a provider's catalogue (``action=services``).

    ``rate`` is the price per 1000 units in the provider currency, rounded UP to a minor unit so a
    price computed from it never undercuts the provider; ``rate_exact`` is the rate exactly as sent
    (use it with ``price_for`` for sub-cent rates). ``type`` is None for a type we do not model;
    ``type_name`` is the provider's text either way. Missing ``refill``/``cancel``/``dripfeed`` flags
    read as False.
    """

    service_id: str
    name: str
    type: ServiceType | None
    type_name: str
    category: str
    rate: Money
    rate_exact: ExactAmount
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str = ""


def _lines(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.splitlines() if isinstance(value, str) else list(value)
    cleaned = tuple(item.strip() for item in items if item.strip())
    return cleaned


def _opt_str(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip()


@frozen(kw_only=True)
class AddOrder:
    """What to order: a provider service id plus the parameters its type takes (smm.md §1.3).

    Only the fields a service type uses should be set (see :meth:`check_for`). List fields
    (``comments``, ``usernames``, ``hashtags``, ``keywords``, ``groups``) hold one entry per line
    and are sent joined with ``\\n``; a string is split on line breaks. Blank lines are dropped.
    A drip-feed is a Default order with ``runs`` and ``interval``; its ``quantity`` is per run.
    """

    service: str = field(converter=str)
    link: str | None = field(default=None, converter=_opt_str)
    quantity: int | None = None
    comments: tuple[str, ...] | None = field(default=None, converter=_lines)
    usernames: tuple[str, ...] | None = field(default=None, converter=_lines)
    hashtags: tuple[str, ...] | None = field(default=None, converter=_lines)
    keywords: tuple[str, ...] | None = field(default=None, converter=_lines)
    groups: tuple[str, ...] | None = field(default=None, converter=_lines)
    hashtag: str | None = field(default=None, converter=_opt_str)
    username: str | None = field(default=None, converter=_opt_str)
    media: str | None = field(default=None, converter=_opt_str)
    answer_number: int | None = None
    runs: int | None = None
    interval: int | None = None
    min: int | None = None
    max: int | None = None
    posts: int | None = None
    old_posts: int | None = None
    delay: int | None = None
    expiry: date | None = None

    def present_fields(self) -> frozenset[str]:
        """Names of the set (non-None, non-empty) fields other than ``service``."""
        names = set()
        for name in _ORDER_FIELDS:
            value = getattr(self, name)
            if value is not None and value != "" and value != ():
                names.add(name)
        return frozenset(names)

    def check_for(self, service_type: ServiceType, *, dripfeed_allowed: bool = True) -> None:
        """Raise ValidationError unless this order carries exactly what ``service_type`` needs.

        Checks: every required field present, no field the type does not take, ``runs`` and
        ``interval`` together and only when ``dripfeed_allowed``, positive counts, a known
        subscription ``delay`` and ``min <= max``. Pure; does not check the service's min/max
        (the provider catalogue does that).
        """
        present = self.present_fields()
        missing = sorted(service_type.required_fields - present)
        if missing:
            raise ValidationError(f"{service_type.value} orders need {', '.join(missing)}", field=missing[0])
        extra = sorted(present - service_type.allowed_fields)
        if extra:
            raise ValidationError(f"{service_type.value} orders do not take {', '.join(extra)}", field=extra[0])
        if (self.runs is None) != (self.interval is None):
            raise ValidationError("a drip-feed needs both runs and interval", field="runs")
        if self.runs is not None and not dripfeed_allowed:
            raise ValidationError("this service cannot be drip-fed", field="runs")
        for name in ("quantity", "runs", "answer_number", "min", "max"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value <= 0):
                raise ValidationError(f"{name} must be a positive integer", field=name)
        for name in ("interval", "posts", "old_posts", "delay"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 0):
                raise ValidationError(f"{name} must be a non-negative integer", field=name)
        if self.delay is not None and self.delay not in SUBSCRIPTION_DELAYS:
            raise ValidationError(f"delay must be one of {sorted(SUBSCRIPTION_DELAYS)}", field="delay")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValidationError("min must not exceed max", field="min")

    def form_fields(self) -> dict[str, str]:
        """The Perfect Panel ``action=add`` parameters (besides ``key``/``action``), as strings.

        Lists are joined with ``\\n`` and ``expiry`` is written ``d/m/Y``; unset fields are omitted.
        """
        form = {"service": self.service}
        for name in _ORDER_FIELDS:
            value: Any = getattr(self, name)
            if value is None or value == "" or value == ():
                continue
            if isinstance(value, tuple):
                form[name] = "\n".join(value)
            elif isinstance(value, date):
                form[name] = value.strftime("%d/%m/%Y")
            else:
                form[name] = str(value)
        return form


_ORDER_FIELDS = ("link", "quantity", "comments", "usernames", "hashtags", "keywords", "groups", "hashtag",
                 "username", "media", "answer_number", "runs", "interval", "min", "max", "posts",
                 "old_posts", "delay", "expiry")


@frozen
class ProviderOrderStatus:
    """A provider's view of one order (``action=status``).

    ``status`` is None when the provider's text (kept in ``raw_status``) is not a status we know:
    keep the local order where it is (``next_status``). ``remains`` is None when the provider says
    ``"Unknown"`` and may be negative (over-delivery). ``charge`` is the provider's cost rounded
    HALF_UP to a minor unit; ``charge_exact`` is it as sent. Both are None if absent or unreadable.

    Subscription (and drip-feed) parents also carry ``child_ids``, the provider ids of the child orders
    created so far (the ``orders`` list; empty when absent), and a subscription its ``posts`` count and
    ``expiry`` date (None when absent, null or unreadable) -- smm.md §1.4.
    """

    status: OrderStatus | None
    raw_status: str
    charge: Money | None = None
    charge_exact: ExactAmount | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: Currency | None = None
    child_ids: tuple[str, ...] = ()
    posts: int | None = None
    expiry: date | None = None


@frozen
class ProviderRefill:
    """A refill's status (``action=refill_status``); ``status`` None = unknown text in ``raw_status``."""

    status: RefillStatus | None
    raw_status: str


@frozen
class CancelAccepted:
    """The provider accepted a cancel request. Not a cancellation yet: wait for status Canceled."""

    order_id: str


class SmmProvider(Protocol):
    """An upstream SMM panel. Every method makes provider calls; none is idempotent unless it says so.

    Raises (whole request): ProviderRejectedError, UpstreamUnavailableError (see the module doc).
    Raises ValidationError for arguments that cannot be sent (empty or comma-containing ids).
    """

    async def services(self) -> list[ProviderService]:
        """The provider catalogue. Read-only (safe to retry). Entries that cannot be read are skipped."""
        ...

    async def add(self, order: AddOrder) -> str:
        """Place ``order``; returns the provider order id. NOT idempotent: a retry may order twice.

        Raises ProviderOutcomeUnknownError when the request may have been received but no readable
        answer came back.
        """
        ...

    async def status(self, ids: Sequence[str]) -> dict[str, ProviderOrderStatus | ProviderError]:
        """Statuses keyed by each requested id (duplicates folded). Read-only.

        Asks in chunks of at most MAX_IDS_PER_REQUEST; an unknown id maps to a ProviderError
        (kind NOT_FOUND) instead of failing the batch. An empty ``ids`` makes no call.
        """
        ...

    async def refill(self, order_id: str) -> str:
        """Ask for a refill of ``order_id``; returns the refill id. Not idempotent."""
        ...

    async def refill_status(self, refill_ids: Sequence[str]) -> dict[str, ProviderRefill | ProviderError]:
        """Refill statuses keyed by each requested refill id, chunked like ``status``. Read-only."""
        ...

    async def cancel(self, ids: Sequence[str]) -> dict[str, CancelAccepted | ProviderError]:
        """Request cancellation of ``ids`` (chunked); per id, accepted or why not. Repeating is harmless."""
        ...

    async def balance(self) -> Money:
        """Our balance at the provider, rounded DOWN to a minor unit (never overstated). Read-only.

        Raises ProviderRejectedError when the provider's currency is not one vpnsmm supports.
        """
        ...


def chunked(ids: Sequence[str], size: int = MAX_IDS_PER_REQUEST) -> list[list[str]]:
    """``ids`` validated, de-duplicated (first occurrence wins) and split into lists of at most ``size``.

    Raises ValidationError for an empty id or one containing a comma (it would corrupt ``orders=``).
    """
    seen: dict[str, None] = {}
    for raw in ids:
        item = str(raw).strip()
        if not item or "," in item:
            raise ValidationError(f"{raw!r} is not a provider id", field="ids")
        seen.setdefault(item, None)
    unique = list(seen)
    return [unique[i:i + size] for i in range(0, len(unique), size)]

