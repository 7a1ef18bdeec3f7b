"""Pure SMM rules: status names, never-downgrade, refunds, prices, exact amounts, service types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.money import Currency, Money, Rounding
from vpnsmm.domain.smm import (
    ExactAmount,
    Markup,
    OrderStatus,
    QuantityRule,
    RefillStatus,
    ServiceType,
    billable_units,
    can_move,
    next_status,
    normalise_refill_status,
    normalise_status,
    price_for,
    refund_for,
    subscription_price,
)

S = OrderStatus


def usd(text: str) -> Money:
    return Money.parse(text, Currency.USD)


# -- normalise_status ------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("Pending", S.PENDING), ("pending", S.PENDING), ("PENDING", S.PENDING),
    ("In progress", S.IN_PROGRESS), ("In Progress", S.IN_PROGRESS), ("in progress", S.IN_PROGRESS),
    ("Inprogress", S.IN_PROGRESS), ("inprogress", S.IN_PROGRESS), ("in_progress", S.IN_PROGRESS),
    ("IN_PROGRESS", S.IN_PROGRESS), ("in-progress", S.IN_PROGRESS), ("  In  progress \n", S.IN_PROGRESS),
    ("Active", S.IN_PROGRESS),
    ("Processing", S.PROCESSING), ("processing", S.PROCESSING),
    ("Paused", S.PAUSED),
    ("Partial", S.PARTIAL), ("partial", S.PARTIAL),
    ("Completed", S.COMPLETED), ("completed", S.COMPLETED),
    ("Canceled", S.CANCELED), ("Cancelled", S.CANCELED), ("canceled", S.CANCELED), ("CANCELLED", S.CANCELED),
    ("Refunded", S.REFUNDED), ("refunded", S.REFUNDED),
])
def test_normalise_status_accepts_the_variants(raw: str, expected: OrderStatus) -> None:
    assert normalise_status(raw) is expected


@pytest.mark.parametrize("raw", ["", " ", "Unknown", "Done", "Rejected", "Fail", "Complete", "In", "error",
                                 None, 3, {"status": "Pending"}])
def test_normalise_status_returns_none_for_unknown(raw: object) -> None:
    assert normalise_status(raw) is None


def test_every_status_round_trips_through_its_own_name() -> None:
    for status in OrderStatus:
        assert normalise_status(status.value) is status


@pytest.mark.parametrize(("raw", "expected"), [
    ("Completed", RefillStatus.COMPLETED), ("Rejected", RefillStatus.REJECTED), ("awaiting", RefillStatus.AWAITING),
    ("In progress", RefillStatus.IN_PROGRESS), ("Failed", RefillStatus.FAILED), ("Nope", None), (1, None),
])
def test_normalise_refill_status(raw: object, expected: RefillStatus | None) -> None:
    assert normalise_refill_status(raw) is expected


def test_terminal_flags() -> None:
    assert {s for s in OrderStatus if s.is_terminal} == {S.PARTIAL, S.COMPLETED, S.CANCELED, S.REFUNDED}
    assert {s for s in RefillStatus if s.is_terminal} == {
        RefillStatus.COMPLETED, RefillStatus.REJECTED, RefillStatus.FAILED}


# -- never downgrade -------------------------------------------------------------------------------
@pytest.mark.parametrize(("current", "reported", "expected"), [
    (S.PENDING, S.IN_PROGRESS, S.IN_PROGRESS),
    (S.PENDING, S.COMPLETED, S.COMPLETED),
    (S.IN_PROGRESS, S.PENDING, S.IN_PROGRESS),  # never back to Pending
    (S.IN_PROGRESS, S.PROCESSING, S.PROCESSING),  # sideways while running
    (S.PROCESSING, S.IN_PROGRESS, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.PAUSED, S.PAUSED),
    (S.PAUSED, S.IN_PROGRESS, S.IN_PROGRESS),
    (S.IN_PROGRESS, None, S.IN_PROGRESS),  # unknown text keeps the order where it is
    (S.PENDING, None, S.PENDING),
    (S.COMPLETED, S.IN_PROGRESS, S.COMPLETED),
    (S.COMPLETED, S.PARTIAL, S.COMPLETED),
    (S.COMPLETED, S.CANCELED, S.COMPLETED),
    (S.COMPLETED, S.REFUNDED, S.REFUNDED),
    (S.PARTIAL, S.CANCELED, S.CANCELED),
    (S.PARTIAL, S.REFUNDED, S.REFUNDED),
    (S.PARTIAL, S.COMPLETED, S.PARTIAL),
    (S.PARTIAL, S.PENDING, S.PARTIAL),
    (S.CANCELED, S.COMPLETED, S.CANCELED),
    (S.CANCELED, S.REFUNDED, S.CANCELED),
    (S.REFUNDED, S.CANCELED, S.REFUNDED),
    (S.CANCELED, S.CANCELED, S.CANCELED),
])
def test_next_status_never_downgrades(current: OrderStatus, reported: OrderStatus | None,
                                      expected: OrderStatus) -> None:
    assert next_status(current, reported) is expected


@given(st.sampled_from(OrderStatus), st.sampled_from(OrderStatus))
def test_moves_never_lower_the_rank_and_terminal_stays_terminal(current: OrderStatus, to: OrderStatus) -> None:
    result = next_status(current, to)
    assert result.rank >= current.rank
    if current.is_terminal:
        assert result.is_terminal
    assert can_move(current, current)
    assert (result is to) == can_move(current, to)


# -- refund_for ------------------------------------------------------------------------------------
def test_partial_refunds_the_undelivered_share() -> None:
    # likedora's example: 10000 for $10, 1000 undelivered -> $1 back
    assert refund_for(usd("10.00"), 10000, 1000, S.PARTIAL) == usd("1.00")


def test_partial_refund_rounds_down() -> None:
    assert refund_for(usd("0.90"), 1000, 157, S.PARTIAL) == usd("0.14")  # 0.1413
    assert refund_for(usd("0.01"), 3, 2, S.PARTIAL) == usd("0.00")  # 0.00666


@pytest.mark.parametrize(("remains", "expected"), [
    (0, "0.00"), (-5, "0.00"), (-10**9, "0.00"), (100, "9.00"), (101, "9.00"), (10**9, "9.00"), (50, "4.50"),
])
def test_partial_remains_is_clamped(remains: int, expected: str) -> None:
    assert refund_for(usd("9.00"), 100, remains, S.PARTIAL) == usd(expected)


@pytest.mark.parametrize("status", [S.CANCELED, S.REFUNDED])
def test_canceled_and_refunded_refund_everything(status: OrderStatus) -> None:
    assert refund_for(usd("7.31"), 100, 0, status) == usd("7.31")
    assert refund_for(usd("7.31"), 100, None, status) == usd("7.31")


@pytest.mark.parametrize("status", [S.COMPLETED, S.PENDING, S.IN_PROGRESS, S.PROCESSING, S.PAUSED])
def test_other_statuses_refund_nothing(status: OrderStatus) -> None:
    assert refund_for(usd("7.31"), 100, 40, status) == usd("0.00")


def test_refund_keeps_the_currency() -> None:
    refund = refund_for(Money(1_000_000, Currency.USDT), 3, 1, S.PARTIAL)
    assert refund == Money(333_333, Currency.USDT)


@pytest.mark.parametrize(("charge", "quantity", "remains", "status"), [
    (usd("-1.00"), 100, 10, S.PARTIAL),
    (usd("1.00"), 0, 0, S.PARTIAL),
    (usd("1.00"), -5, 0, S.CANCELED),
    (usd("1.00"), 100, None, S.PARTIAL),
])
def test_refund_for_rejects_bad_input(charge: Money, quantity: int, remains: int | None,
                                      status: OrderStatus) -> None:
    with pytest.raises(ValidationError):
        refund_for(charge, quantity, remains, status)


@given(charge=st.integers(0, 10**15), quantity=st.integers(1, 10**7), remains=st.integers(-(10**8), 10**8),
       status=st.sampled_from(OrderStatus))
def test_refund_is_never_negative_nor_above_the_charge(charge: int, quantity: int, remains: int,
                                                       status: OrderStatus) -> None:
    paid = Money(charge, Currency.USD)
    refund = refund_for(paid, quantity, remains, status)
    assert Money.zero(Currency.USD) <= refund <= paid
    if status is S.PARTIAL:
        exact_cents_times_q = charge * min(max(remains, 0), quantity)
        assert refund.amount * quantity <= exact_cents_times_q < (refund.amount + 1) * quantity


@given(charge=st.integers(0, 10**12), quantity=st.integers(1, 10**6), a=st.integers(-10, 10**6),
       b=st.integers(-10, 10**6))
def test_partial_refund_grows_with_remains(charge: int, quantity: int, a: int, b: int) -> None:
    low, high = sorted((a, b))
    paid = Money(charge, Currency.USD)
    assert refund_for(paid, quantity, low, S.PARTIAL) <= refund_for(paid, quantity, high, S.PARTIAL)


# -- price_for -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rate", "quantity", "markup", "expected"), [
    ("0.90", 1000, "0", "0.90"),
    ("0.90", 50, "0", "0.05"),  # 0.045 rounds UP
    ("0.90", 1000, "20", "1.08"),
    ("0.90", 1000, "12.5", "1.02"),  # 1.0125 -> 1.02
    ("8", 10, "0", "0.08"),
    ("0.0125", 100, "0", "0.01"),  # 0.00125 -> 0.01
    ("0.0125", 1_000_000, "0", "12.50"),
    ("0.0125", 1_000_000, "20", "15.00"),
    ("0.0001", 1, "0", "0.01"),
    ("0", 5000, "50", "0.00"),
])
def test_price_for_rounds_up_once(rate: str, quantity: int, markup: str, expected: str) -> None:
    assert price_for(ExactAmount.parse(rate, "USD"), quantity, Markup.percent(markup)) == usd(expected)


def test_price_for_accepts_money_rates_and_no_markup() -> None:
    assert price_for(usd("2.50"), 1000) == usd("2.50")
    assert price_for(Money(1, Currency.IRR), 1) == Money(1, Currency.IRR)  # 0.001 rial -> 1 rial


def test_package_price_is_the_rate() -> None:
    units = billable_units(ServiceType.PACKAGE)
    assert price_for(usd("2.50"), units, Markup.percent(10)) == usd("2.75")


@pytest.mark.parametrize("quantity", [0, -1])
def test_price_for_rejects_non_positive_quantity(quantity: int) -> None:
    with pytest.raises(ValidationError):
        price_for(usd("1.00"), quantity)


def test_price_for_rejects_a_negative_rate() -> None:
    with pytest.raises(ValidationError):
        price_for(ExactAmount.parse("-0.5", "USD"), 10)


@given(units=st.integers(0, 10**9), scale=st.integers(0, 8), quantity=st.integers(1, 10**6),
       pct=st.integers(0, 500))
def test_price_never_undercuts_the_exact_cost(units: int, scale: int, quantity: int, pct: int) -> None:
    rate = ExactAmount.of(units, scale, "USD")
    price = price_for(rate, quantity, Markup.percent(pct))
    # exact price in cents = units * quantity * (100 + pct) * 100 / (1000 * 10**scale * 100)
    numerator = units * quantity * (100 + pct) * 100
    denominator = 1000 * 10**scale * 100
    assert price.amount * denominator >= numerator
    assert (price.amount - 1) * denominator < numerator


@pytest.mark.parametrize("bad", ["-1", "abc", "", "1e3"])
def test_markup_rejects_bad_percentages(bad: str) -> None:
    with pytest.raises(ValidationError):
        Markup.percent(bad)


def test_markup_below_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        Markup(9, 10)


# -- ExactAmount -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "units", "scale", "formatted"), [
    ("0.90", 9, 1, "0.9"), ("8", 8, 0, "8"), ("100.84292", 10084292, 5, "100.84292"), ("0.0125", 125, 4, "0.0125"),
    ("-3.50", -35, 1, "-3.5"), ("0", 0, 0, "0"), (" 12.000 ", 12, 0, "12"), ("0.00001", 1, 5, "0.00001"),
])
def test_exact_amount_parses_and_formats(text: str, units: int, scale: int, formatted: str) -> None:
    amount = ExactAmount.parse(text, "usd")
    assert (amount.units, amount.scale, amount.currency) == (units, scale, Currency.USD)
    assert amount.format() == formatted


@pytest.mark.parametrize("bad", ["", "Unknown", "1e-5", "NaN", "1,5", "0.1.2", "--1"])
def test_exact_amount_rejects_non_decimals(bad: str) -> None:
    with pytest.raises(ValidationError):
        ExactAmount.parse(bad, "USD")


@pytest.mark.parametrize(("text", "rounding", "cents"), [
    ("0.27819", Rounding.DOWN, 27), ("0.27819", Rounding.UP, 28), ("0.27819", Rounding.HALF_UP, 28),
    ("0.275", Rounding.HALF_UP, 28), ("0.2749", Rounding.HALF_UP, 27), ("0.9", Rounding.DOWN, 90),
    ("-0.275", Rounding.DOWN, -27), ("-0.275", Rounding.UP, -28), ("12", Rounding.DOWN, 1200),
])
def test_exact_amount_to_money(text: str, rounding: Rounding, cents: int) -> None:
    assert ExactAmount.parse(text, "USD").to_money(rounding) == Money(cents, Currency.USD)


def test_exact_amount_equality_ignores_trailing_zeros() -> None:
    assert ExactAmount.parse("0.90", "USD") == ExactAmount.parse("0.9", "USD")
    assert ExactAmount.from_money(usd("1.50")) == ExactAmount.parse("1.5", "USD")


# -- service types ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("Default", ServiceType.DEFAULT), ("Custom Comments", ServiceType.CUSTOM_COMMENTS),
    ("custom_comments", ServiceType.CUSTOM_COMMENTS), ("Custom Comments Package", ServiceType.CUSTOM_COMMENTS_PACKAGE),
    ("mentions_with_hashtags", ServiceType.MENTIONS_WITH_HASHTAGS), ("Subscriptions", ServiceType.SUBSCRIPTIONS),
    ("Poll", ServiceType.POLL), ("Comment Likes", ServiceType.COMMENT_LIKES),
    ("Web Traffic", None), ("SEO2", None), ("", None), (None, None),
])
def test_service_type_parse(raw: object, expected: ServiceType | None) -> None:
    assert ServiceType.parse(raw) is expected


def test_service_type_fields() -> None:
    assert ServiceType.DEFAULT.required_fields == {"link", "quantity"}
    assert ServiceType.DEFAULT.optional_fields == {"runs", "interval"}
    assert ServiceType.DEFAULT.supports_dripfeed
    assert ServiceType.PACKAGE.required_fields == {"link"}
    assert ServiceType.CUSTOM_COMMENTS.required_fields == {"link", "comments"}
    assert ServiceType.MENTIONS_WITH_HASHTAGS.required_fields == {"link", "quantity", "usernames", "hashtags"}
    assert ServiceType.COMMENT_LIKES.required_fields == {"link", "quantity", "username"}
    assert ServiceType.POLL.required_fields == {"link", "quantity", "answer_number"}
    assert ServiceType.SUBSCRIPTIONS.required_fields == {"username", "min", "max", "delay"}
    assert ServiceType.SUBSCRIPTIONS.optional_fields == {"posts", "old_posts", "expiry"}
    assert "link" not in ServiceType.SUBSCRIPTIONS.allowed_fields
    assert not any(t.supports_dripfeed for t in ServiceType if t is not ServiceType.DEFAULT)
    assert {t for t in ServiceType if t.quantity_rule is QuantityRule.FLAT} == {
        ServiceType.PACKAGE, ServiceType.CUSTOM_COMMENTS_PACKAGE}


def test_billable_units() -> None:
    assert billable_units(ServiceType.DEFAULT, quantity=500) == 500
    assert billable_units(ServiceType.DEFAULT, quantity=500, runs=4) == 2000  # drip-feed: per run
    assert billable_units(ServiceType.CUSTOM_COMMENTS, comments=["a", "b", "c"]) == 3
    assert billable_units(ServiceType.MENTIONS_CUSTOM_LIST, usernames=["a", "b"]) == 2
    assert billable_units(ServiceType.CUSTOM_COMMENTS_PACKAGE, comments=["a"]) == 1000
    with pytest.raises(ValidationError):
        billable_units(ServiceType.SUBSCRIPTIONS)
    with pytest.raises(ValidationError):
        billable_units(ServiceType.DEFAULT)
    with pytest.raises(ValidationError):
        billable_units(ServiceType.CUSTOM_COMMENTS, comments=[])


def test_subscription_posts_are_billed_at_max_and_expired_reads_completed() -> None:
    assert billable_units(ServiceType.SUBSCRIPTIONS, quantity=100) == 100  # one post, billed at its max
    assert subscription_price(Money.parse("0.06", "USD"), 7) == Money.parse("0.42", "USD")
    with pytest.raises(ValidationError):
        subscription_price(Money.parse("0.06", "USD"), 0)
    assert normalise_status("Expired") is OrderStatus.COMPLETED
    assert normalise_status("Active") is OrderStatus.IN_PROGRESS
