"""SMM catalogue and order rules, independent of any provider or storage.

Everything here is pure: service types and the fields each one needs, order statuses with the
"never downgrade" rule, exact provider amounts (:class:`ExactAmount`), the price of an order
(:func:`price_for`, rounded UP) and the refund a terminal status settles (:func:`refund_for`, rounded DOWN).

The status and type names are the exact Perfect Panel API v2 strings (one "l" in ``Canceled``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum, StrEnum

from attrs import field, frozen

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.money import MAX_AMOUNT, Currency, Money, Rounding

# ---------------------------------------------------------------------------------------------------
# Service types
# ---------------------------------------------------------------------------------------------------


class QuantityRule(Enum):
    """Where the number of units an order buys comes from, per service type."""

    GIVEN = "given"  # the ``quantity`` field (times ``runs`` for a drip-feed)
    COMMENT_LINES = "comment_lines"  # one unit per line of ``comments``
    USERNAME_LINES = "username_lines"  # one unit per line of ``usernames``
    FLAT = "flat"  # a package: the rate is the price of the whole order
    PER_POST = "per_post"  # a subscription: prepaid per post, each post billed as ``max`` units


class ServiceType(StrEnum):
    """Perfect Panel service types (the ``type`` column of ``action=services``), values verbatim.

    ``required_fields``/``optional_fields`` name the AddOrder attributes (= form parameters) a type
    takes besides ``service``; anything else must be absent. Types we cannot order correctly yet
    (``Web Traffic``, ``SEO2``, ...) are not members: :meth:`parse` returns None for them.
    """

    DEFAULT = "Default"
    PACKAGE = "Package"
    SEO = "SEO"
    CUSTOM_COMMENTS = "Custom Comments"
    CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
    MENTIONS = "Mentions"
    MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
    MENTIONS_CUSTOM_LIST = "Mentions Custom List"
    MENTIONS_HASHTAG = "Mentions Hashtag"
    MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
    MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
    COMMENT_LIKES = "Comment Likes"
    COMMENT_REPLIES = "Comment Replies"
    POLL = "Poll"
    INVITES_FROM_GROUPS = "Invites from Groups"
    SUBSCRIPTIONS = "Subscriptions"

    @property
    def required_fields(self) -> frozenset[str]:
        return _FIELDS[self][0]

    @property
    def optional_fields(self) -> frozenset[str]:
        return _FIELDS[self][1]

    @property
    def allowed_fields(self) -> frozenset[str]:
        return self.required_fields | self.optional_fields

    @property
    def quantity_rule(self) -> QuantityRule:
        return _FIELDS[self][2]

    @property
    def supports_dripfeed(self) -> bool:
        """Only Default-type services can be drip-fed (``runs`` + ``interval``)."""
        return "runs" in self.optional_fields

    @classmethod
    def parse(cls, raw: object) -> ServiceType | None:
        """The type named by ``raw`` (case, spaces and underscores ignored, so SmartPanel's
        ``custom_comments`` works too), or None for a type this module does not model."""
        return _TYPE_BY_KEY.get(_status_key(raw)) if isinstance(raw, str) else None


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


_FIELDS: dict[ServiceType, tuple[frozenset[str], frozenset[str], QuantityRule]] = {
    ServiceType.DEFAULT: (_f("link", "quantity"), _f("runs", "interval"), QuantityRule.GIVEN),
    ServiceType.PACKAGE: (_f("link"), _f(), QuantityRule.FLAT),
    ServiceType.SEO: (_f("link", "quantity", "keywords"), _f(), QuantityRule.GIVEN),
    ServiceType.CUSTOM_COMMENTS: (_f("link", "comments"), _f(), QuantityRule.COMMENT_LINES),
    ServiceType.CUSTOM_COMMENTS_PACKAGE: (_f("link", "comments"), _f(), QuantityRule.FLAT),
    ServiceType.MENTIONS: (_f("link", "quantity", "usernames"), _f(), QuantityRule.GIVEN),
    ServiceType.MENTIONS_WITH_HASHTAGS: (_f("link", "quantity", "usernames", "hashtags"), _f(),
                                         QuantityRule.GIVEN),
    ServiceType.MENTIONS_CUSTOM_LIST: (_f("link", "usernames"), _f(), QuantityRule.USERNAME_LINES),
    ServiceType.MENTIONS_HASHTAG: (_f("link", "quantity", "hashtag"), _f(), QuantityRule.GIVEN),
    ServiceType.MENTIONS_USER_FOLLOWERS: (_f("link", "quantity", "username"), _f(), QuantityRule.GIVEN),
    ServiceType.MENTIONS_MEDIA_LIKERS: (_f("link", "quantity", "media"), _f(), QuantityRule.GIVEN),
    ServiceType.COMMENT_LIKES: (_f("link", "quantity", "username"), _f(), QuantityRule.GIVEN),
    ServiceType.COMMENT_REPLIES: (_f("link", "username", "comments"), _f(), QuantityRule.COMMENT_LINES),
    ServiceType.POLL: (_f("link", "quantity", "answer_number"), _f(), QuantityRule.GIVEN),
    ServiceType.INVITES_FROM_GROUPS: (_f("link", "quantity", "groups"), _f(), QuantityRule.GIVEN),
    ServiceType.SUBSCRIPTIONS: (_f("username", "min", "max", "delay"), _f("posts", "old_posts", "expiry"),
                                QuantityRule.PER_POST),
}

#: Subscription ``delay`` values (minutes) Perfect Panel accepts (the JAP/livetng list in smm.md §1.3).
SUBSCRIPTION_DELAYS = frozenset({0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480,
                                 540, 600})


def billable_units(service_type: ServiceType, *, quantity: int | None = None,
                   comments: Sequence[str] = (), usernames: Sequence[str] = (),
                   runs: int | None = None) -> int:
    """How many units the per-1000 rate applies to for one order (one post, for a subscription) of
    ``service_type``.

    Packages count as 1000 units (their rate is the whole price); comment/username lists count one
    unit per line; a drip-feed buys ``quantity`` per run, so ``quantity * runs``; a subscription post
    is billed as the most it can get, so pass its ``max`` as ``quantity`` (the order costs that times
    the number of posts, see :func:`subscription_price`). Raises ValidationError when the count is
    missing or not positive (code NOT_PREPAID for a subscription without ``max``).
    """
    rule = service_type.quantity_rule
    if rule is QuantityRule.FLAT:
        return 1000
    if rule is QuantityRule.PER_POST:
        if quantity is None or quantity <= 0:
            raise ValidationError("a subscription post is billed at its max, which is missing", field="max",
                                  code="NOT_PREPAID")
        return quantity
    if rule is QuantityRule.COMMENT_LINES:
        units, name = len(comments), "comments"
    elif rule is QuantityRule.USERNAME_LINES:
        units, name = len(usernames), "usernames"
    else:
        units, name = (quantity or 0) * (runs if runs is not None else 1), "quantity"
    if units <= 0:
        raise ValidationError(f"{name} must give at least one unit", field=name)
    return units


_TYPE_BY_KEY: dict[str, ServiceType] = {}  # filled below, after _status_key exists


# ---------------------------------------------------------------------------------------------------
# Order status
# ---------------------------------------------------------------------------------------------------


class OrderStatus(StrEnum):
    """An SMM order's status; values are the exact Perfect Panel strings."""

    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    PROCESSING = "Processing"
    PAUSED = "Paused"
    PARTIAL = "Partial"
    COMPLETED = "Completed"
    CANCELED = "Canceled"
    REFUNDED = "Refunded"

    @property
    def is_terminal(self) -> bool:
        """Terminal statuses settle money (see :func:`refund_for`); delivery is over."""
        return self in _TERMINAL

    @property
    def rank(self) -> int:
        """Progress order: 0 queued, 1 running (sideways moves allowed), 2 delivered, 3 voided."""
        return _RANK[self]


_TERMINAL = frozenset({OrderStatus.PARTIAL, OrderStatus.COMPLETED, OrderStatus.CANCELED, OrderStatus.REFUNDED})
_RANK = {
    OrderStatus.PENDING: 0,
    OrderStatus.IN_PROGRESS: 1, OrderStatus.PROCESSING: 1, OrderStatus.PAUSED: 1,
    OrderStatus.PARTIAL: 2, OrderStatus.COMPLETED: 2,
    OrderStatus.CANCELED: 3, OrderStatus.REFUNDED: 3,
}

# Spellings met in the wild (smm.md §1.5), keyed by _status_key. "Active" is a running subscription.
_STATUS_BY_KEY: dict[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "inprogress": OrderStatus.IN_PROGRESS,  # "In progress", "Inprogress" (BoostPanel), "in_progress"
    "active": OrderStatus.IN_PROGRESS,
    "processing": OrderStatus.PROCESSING,
    "paused": OrderStatus.PAUSED,
    "partial": OrderStatus.PARTIAL,
    "completed": OrderStatus.COMPLETED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,  # smmserver.life
    "refunded": OrderStatus.REFUNDED,
    # A subscription past its expiry date ended normally: every post it got became a child order, the
    # others are refunded like any ended subscription (docs/smm.md "Subscriptions").
    "expired": OrderStatus.COMPLETED,
}

_SEPARATORS = re.compile(r"[\s_\-]+")


def _status_key(raw: str) -> str:
    return _SEPARATORS.sub("", raw).casefold()


_TYPE_BY_KEY.update({_status_key(t.value): t for t in ServiceType})


def normalise_status(raw: object) -> OrderStatus | None:
    """The OrderStatus a provider meant by ``raw``, or None when it is not one we know.

    Case-insensitive; spaces, underscores and hyphens are ignored; ``Cancelled`` and ``Canceled``
    are the same; ``Active`` (a running subscription) counts as In progress and ``Expired`` (a subscription
    past its expiry) as Completed. None means "unknown":
    keep the order where it is (see :func:`next_status`). Never raises.
    """
    if not isinstance(raw, str):
        return None
    return _STATUS_BY_KEY.get(_status_key(raw))


def can_move(current: OrderStatus, to: OrderStatus) -> bool:
    """Whether an order in ``current`` may take the reported status ``to`` ("never downgrade").

    * before delivery ends, any move of equal or higher rank (Pending never comes back once the
      order runs; In progress, Processing and Paused may swap);
    * Partial may still become Canceled or Refunded (the rest of the charge is refunded);
    * Completed may still become Refunded (a provider refunding a delivered order);
    * Canceled and Refunded are final.
    Staying in the same status is always allowed.
    """
    if current is to:
        return True
    if not current.is_terminal:
        return to.rank >= current.rank
    if current is OrderStatus.PARTIAL:
        return to in (OrderStatus.CANCELED, OrderStatus.REFUNDED)
    if current is OrderStatus.COMPLETED:
        return to is OrderStatus.REFUNDED
    return False


def next_status(current: OrderStatus, reported: OrderStatus | None) -> OrderStatus:
    """The status to keep after a provider reported ``reported`` for an order in ``current``.

    Unknown (None) and downgrading reports leave ``current`` unchanged; never raises.
    """
    if reported is None or not can_move(current, reported):
        return current
    return reported


class RefillStatus(StrEnum):
    """Status of a refill request (``action=refill_status``), values as Perfect Panel sends them."""

    PENDING = "Pending"
    AWAITING = "Awaiting"
    IN_PROGRESS = "In progress"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        return self in (RefillStatus.COMPLETED, RefillStatus.REJECTED, RefillStatus.FAILED)


_REFILL_BY_KEY = {_status_key(s.value): s for s in RefillStatus}


def normalise_refill_status(raw: object) -> RefillStatus | None:
    """Like :func:`normalise_status`, for refill statuses; None when unknown. Never raises."""
    if not isinstance(raw, str):
        return None
    return _REFILL_BY_KEY.get(_status_key(raw))


# ---------------------------------------------------------------------------------------------------
# Exact provider amounts, price and refund
# ---------------------------------------------------------------------------------------------------

def _to_currency(value: object) -> Currency:
    return Currency.parse(value)


_PLAIN_DECIMAL = re.compile(r"^\s*([+-]?)(\d{1,20})(?:\.(\d{0,18}))?\s*$")


@frozen
class ExactAmount:
    """A decimal amount exactly as a provider wrote it: ``units * 10**-scale`` major units.

    Providers price below the minor unit (``"rate": "0.0125"`` per 1000, ``"charge": "0.27819"``),
    which :class:`Money` cannot hold. Keep the exact value here and round to Money once, at the
    point of use, with a named rounding (:meth:`to_money`). ``scale`` is normalised (no trailing
    zeros), so equal values compare equal.
    """

    units: int
    scale: int
    currency: Currency = field(converter=_to_currency)

    def __attrs_post_init__(self) -> None:
        if type(self.units) is not int or type(self.scale) is not int or self.scale < 0:
            raise ValidationError("an exact amount needs integer units and a scale >= 0", field="amount")

    @classmethod
    def of(cls, units: int, scale: int, currency: Currency | str) -> ExactAmount:
        """Normalised constructor: strips trailing zeros so ``of(90, 2) == of(9, 1)``."""
        while scale > 0 and units % 10 == 0:
            units, scale = units // 10, scale - 1
        return cls(units, scale, currency)

    @classmethod
    def parse(cls, text: str, currency: Currency | str, *, field_name: str = "amount") -> ExactAmount:
        """Parse a plain decimal string (``"0.90"``, ``"-3"``, ``"100.84292"``) exactly.

        Raises ValidationError for anything else (exponents, ``"NaN"``, ``""``, ``"Unknown"``).
        """
        match = _PLAIN_DECIMAL.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(f"{text!r} is not a decimal amount", field=field_name, code="INVALID_AMOUNT")
        sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
        units = int(whole + frac)
        return cls.of(-units if sign == "-" else units, len(frac), currency)

    @classmethod
    def from_money(cls, money: Money) -> ExactAmount:
        return cls.of(money.amount, money.currency.exponent, money.currency)

    def to_money(self, rounding: Rounding) -> Money:
        """This amount in whole minor units, rounded as told. Raises ValidationError when out of range."""
        exponent = self.currency.exponent
        if self.scale <= exponent:
            minor = self.units * 10 ** (exponent - self.scale)
        else:
            minor = _div(self.units, 10 ** (self.scale - exponent), rounding)
        if abs(minor) > MAX_AMOUNT:
            raise ValidationError(f"amount {self.format()} is out of range", field="amount",
                                  code="AMOUNT_OUT_OF_RANGE")
        return Money(minor, self.currency)

    def format(self) -> str:
        """Plain decimal text with no trailing zeros: ``"0.0125"``, ``"8"``."""
        sign = "-" if self.units < 0 else ""
        digits = str(abs(self.units)).rjust(self.scale + 1, "0")
        if self.scale == 0:
            return sign + digits
        return f"{sign}{digits[:-self.scale]}.{digits[-self.scale:]}"

    def __str__(self) -> str:
        return f"{self.format()} {self.currency.value}"

    @property
    def is_negative(self) -> bool:
        return self.units < 0


def _div(numerator: int, denominator: int, rounding: Rounding) -> int:
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder and (rounding is Rounding.UP
                      or (rounding is Rounding.HALF_UP and 2 * remainder >= denominator)):
        quotient += 1
    return quotient if numerator >= 0 else -quotient


@frozen
class Markup:
    """A price multiplier ``1 + percent/100`` held as an exact ratio (no float).

    Build it with :meth:`percent` (``Markup.percent("20")`` = +20 %, ``"12.5"`` works too).
    Negative markups (selling below cost) are refused with ValidationError.
    """

    numerator: int = 1
    denominator: int = 1

    def __attrs_post_init__(self) -> None:
        if self.denominator <= 0 or self.numerator < self.denominator:
            raise ValidationError("a markup must be a ratio of at least 1", field="markup")

    @classmethod
    def none(cls) -> Markup:
        return cls(1, 1)

    @classmethod
    def percent(cls, text: str | int) -> Markup:
        """``"20"`` -> x1.20. Raises ValidationError for a negative or non-decimal percentage."""
        match = _PLAIN_DECIMAL.match(str(text))
        if match is None or match.group(1) == "-":
            raise ValidationError(f"{text!r} is not a non-negative percentage", field="markup")
        frac = (match.group(3) or "").rstrip("0")
        scale = 10 ** len(frac)
        pct = int(match.group(2) + frac)  # percent * scale
        return cls(100 * scale + pct, 100 * scale)


def price_for(rate_per_1000: Money | ExactAmount, quantity: int, markup: Markup | None = None) -> Money:
    """What ``quantity`` units cost at ``rate_per_1000`` (a provider rate) times ``markup``.

    ``rate * quantity / 1000 * markup``, computed exactly and rounded UP once, to a whole minor unit
    of the rate's currency, so a reseller never sells below cost. Use :func:`billable_units` for the
    quantity (1000 for packages). Raises ValidationError when ``quantity`` is not positive or the rate
    is negative. Pure; converting currency is the caller's job (``ExchangeRate.convert``).
    """
    if type(quantity) is not int or quantity <= 0:
        raise ValidationError("quantity must be a positive integer", field="quantity")
    rate = ExactAmount.from_money(rate_per_1000) if isinstance(rate_per_1000, Money) else rate_per_1000
    if rate.is_negative:
        raise ValidationError("a rate cannot be negative", field="rate")
    m = markup or Markup.none()
    exponent = rate.currency.exponent
    numerator = rate.units * quantity * m.numerator * 10**exponent
    denominator = 1000 * 10**rate.scale * m.denominator
    minor = _div(numerator, denominator, Rounding.UP)
    if minor > MAX_AMOUNT:
        raise ValidationError("price is out of range", field="quantity", code="AMOUNT_OUT_OF_RANGE")
    return Money(minor, rate.currency)


def subscription_price(per_post: Money, posts: int) -> Money:
    """What a prepaid subscription of ``posts`` posts (new + old) costs when one post costs ``per_post``
    (``price_for(rate, max)``): exactly ``per_post * posts``, so each post's share is a whole minor unit.
    Raises ValidationError when ``posts`` is below 1."""
    if type(posts) is not int or posts <= 0:
        raise ValidationError("a prepaid subscription needs at least one post", field="posts")
    return per_post * posts


def refund_for(charge: Money, quantity: int, remains: int | None, status: OrderStatus) -> Money:
    """The refund a provider-reported terminal ``status`` settles for an order holding ``charge``.

    * Canceled / Refunded: the whole ``charge``.
    * Partial: ``charge * remains / quantity`` rounded DOWN, with ``remains`` clamped to
      ``[0, quantity]``; negative remains (over-delivery) refund nothing. Unknown remains (None)
      raise ValidationError: settle only when the provider says how much is left.
    * anything else (Completed, still running): zero.

    ``charge`` is what the order still holds (after any earlier partial refund), so a later
    Partial -> Canceled refunds only the rest. The result is always within ``[0, charge]``.
    Raises ValidationError for a negative charge or a quantity below 1. Pure and deterministic.
    """
    if charge.is_negative:
        raise ValidationError("a charge cannot be negative", field="charge")
    if type(quantity) is not int or quantity <= 0:
        raise ValidationError("quantity must be a positive integer", field="quantity")
    if status in (OrderStatus.CANCELED, OrderStatus.REFUNDED):
        return charge
    if status is OrderStatus.PARTIAL:
        if remains is None:
            raise ValidationError("a Partial order needs a known remains to be settled", field="remains")
        undelivered = min(max(remains, 0), quantity)
        return charge.scale(undelivered, quantity, Rounding.DOWN)
    return Money.zero(charge.currency)
