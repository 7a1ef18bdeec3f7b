"""Properties of Money and ExchangeRate (vpnsmm.domain.money)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vpnsmm.domain.errors import CurrencyMismatchError, ValidationError
from vpnsmm.domain.money import MAX_AMOUNT, Currency, ExchangeRate, Money, Rounding
from vpnsmm.testing import amounts as amounts_of
from vpnsmm.testing import currencies as every_currency

# The same strategies a library user gets from vpnsmm.testing (every supported currency, in-range amounts).
currencies = every_currency()
half = MAX_AMOUNT // 2
amounts = amounts_of(min_value=-half, max_value=half)


@st.composite
def money_pair(draw: st.DrawFn) -> tuple[Money, Money]:
    cur = draw(currencies)
    return Money(draw(amounts), cur), Money(draw(amounts), cur)


@st.composite
def two_currencies(draw: st.DrawFn) -> tuple[Currency, Currency]:
    a = draw(currencies)
    b = draw(currencies.filter(lambda c: c is not a))
    return a, b


# -- arithmetic -------------------------------------------------------------------------------------
@given(money_pair())
def test_add_then_subtract_is_identity(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert a + b - b == a


@given(money_pair())
def test_addition_commutes(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert a + b == b + a
    assert (a + b).currency is a.currency


@given(currencies, st.lists(st.integers(-(MAX_AMOUNT // 3), MAX_AMOUNT // 3), min_size=3, max_size=3))
def test_addition_associates(cur: Currency, values: list[int]) -> None:
    a, b, c = (Money(v, cur) for v in values)
    assert (a + b) + c == a + (b + c)


@given(money_pair())
def test_negation_and_order_agree_with_amounts(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert (-a).amount == -a.amount
    assert -a + a == Money.zero(a.currency)
    assert (a < b) == (a.amount < b.amount)
    assert (a <= b) == (a.amount <= b.amount)
    assert (a > b) == (a.amount > b.amount)
    assert (a >= b) == (a.amount >= b.amount)
    assert a.is_zero == (a.amount == 0)
    assert a.is_positive == (a.amount > 0)
    assert a.is_negative == (a.amount < 0)


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.lt, operator.le, operator.gt, operator.ge])
@given(pair=two_currencies(), x=amounts, y=amounts)
def test_mixing_currencies_raises(op: Callable[[Any, Any], Any], pair: tuple[Currency, Currency],
                                  x: int, y: int) -> None:
    with pytest.raises(CurrencyMismatchError) as info:
        op(Money(x, pair[0]), Money(y, pair[1]))
    assert info.value.code == "CURRENCY_MISMATCH"


def test_combining_with_a_non_money_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(1, Currency.USD) + 1  # type: ignore[operator]


@given(currencies, st.integers(-(10**8), 10**8), st.integers(-1000, 1000))
def test_multiplying_by_an_int_scales_the_amount(cur: Currency, amount: int, factor: int) -> None:
    assert (Money(amount, cur) * factor).amount == amount * factor
    assert factor * Money(amount, cur) == Money(amount, cur) * factor


@pytest.mark.parametrize("factor", [1.5, 2.0, True])
def test_multiplying_by_float_or_bool_is_refused(factor: object) -> None:
    with pytest.raises(TypeError):
        Money(10, Currency.USD) * factor  # type: ignore[operator]


@given(money_pair())
def test_sum_beyond_the_range_is_rejected_not_wrapped(pair: tuple[Money, Money]) -> None:
    cur = pair[0].currency
    with pytest.raises(ValidationError):
        Money(MAX_AMOUNT, cur) + Money(1, cur)
    with pytest.raises(ValidationError):
        Money(-MAX_AMOUNT, cur) - Money(1, cur)


# -- construction -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [True, False, 1.0, 0.5, "10", None])
def test_non_integer_amounts_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        Money(bad, Currency.USD)  # type: ignore[arg-type]
    assert info.value.field == "amount"


@given(currencies, st.integers(MAX_AMOUNT + 1, 10**30) | st.integers(-(10**30), -MAX_AMOUNT - 1))
def test_out_of_range_amounts_are_rejected(cur: Currency, amount: int) -> None:
    with pytest.raises(ValidationError) as info:
        Money(amount, cur)
    assert info.value.code == "AMOUNT_OUT_OF_RANGE"


@given(currencies)
def test_the_range_limits_themselves_are_accepted(cur: Currency) -> None:
    assert Money(MAX_AMOUNT, cur).amount == MAX_AMOUNT
    assert Money(-MAX_AMOUNT, cur).amount == -MAX_AMOUNT


@given(currencies, st.text(max_size=3).map(str.upper))
def test_currency_parse_is_case_insensitive_and_strict(cur: Currency, junk: str) -> None:
    assert Currency.parse(cur.value.lower()) is cur
    assert Money(1, cur.value.lower()).currency is cur
    assume(junk.strip() not in {c.value for c in Currency})
    with pytest.raises(ValidationError) as info:
        Currency.parse(junk)
    assert info.value.code == "INVALID_CURRENCY"


def test_exponents_are_the_documented_ones() -> None:
    assert {c: c.exponent for c in Currency} == {
        Currency.IRR: 0, Currency.IRT: 0, Currency.RUB: 2, Currency.USD: 2, Currency.EUR: 2, Currency.USDT: 6}


# -- parse / format -----------------------------------------------------------------------------------
@given(currencies, st.integers(-MAX_AMOUNT, MAX_AMOUNT))
def test_format_then_parse_round_trips_for_every_currency(cur: Currency, amount: int) -> None:
    money = Money(amount, cur)
    text = money.format()
    assert Money.parse(text, cur) == money
    whole, _, frac = text.lstrip("-").partition(".")
    assert len(frac) == cur.exponent  # every minor digit is shown, and no more
    assert whole == whole.lstrip("0") or whole == "0"
    assert str(money) == f"{text} {cur.value}"


@given(currencies, st.integers(0, 10**12), st.integers(0, 5))
def test_parse_accepts_trailing_zeros_and_whitespace(cur: Currency, amount: int, zeros: int) -> None:
    text = Money(amount, cur).format()
    padded = text + ("." if cur.exponent == 0 and zeros else "") + "0" * zeros
    assert Money.parse(f"  {padded} ", cur) == Money(amount, cur)
    assert Money.parse(f"+{text}", cur) == Money(amount, cur)


@given(currencies, st.integers(1, 9))
def test_parse_refuses_digits_below_the_minor_unit(cur: Currency, digit: int) -> None:
    text = "1." + "0" * cur.exponent + str(digit)  # one decimal place too many, and not zero
    with pytest.raises(ValidationError) as info:
        Money.parse(text, cur)
    assert info.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize("text", ["", "abc", "1,5", "1e3", "--1", "1.2.3", "0x10", "½", " . "])
def test_parse_refuses_non_decimals(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        Money.parse(text, Currency.USD)
    assert info.value.code == "INVALID_AMOUNT"


def test_parse_examples() -> None:
    assert Money.parse("12.50", "USD") == Money(1250, Currency.USD)
    assert Money.parse("-0.000001", Currency.USDT) == Money(-1, Currency.USDT)
    assert Money.parse("620000", Currency.IRR).format() == "620000"
    with pytest.raises(ValidationError):
        Money.parse("10000000000000000", Currency.USD)  # 10^16 dollars = 10^18 cents: out of range


# -- scale ---------------------------------------------------------------------------------------------
@given(st.integers(-(10**10), 10**10), st.integers(0, 10**6), st.integers(1, 10**6))
def test_scale_rounding_stays_within_one_minor_unit(amount: int, num: int, den: int) -> None:
    money = Money(amount, Currency.USD)
    exact = amount * num  # the true result is exact / den
    down = money.scale(num, den, Rounding.DOWN).amount
    up = money.scale(num, den, Rounding.UP).amount
    half_up = money.scale(num, den, Rounding.HALF_UP).amount
    mag = abs(exact)
    # DOWN truncates toward zero, UP rounds away from zero, HALF_UP is nearest with ties away from zero.
    assert abs(down) * den <= mag < (abs(down) + 1) * den
    assert (abs(up) - 1) * den < mag <= abs(up) * den
    assert abs(2 * abs(half_up) * den - 2 * mag) <= den
    assert abs(down) <= abs(half_up) <= abs(up) <= abs(down) + 1
    for value in (down, up, half_up):
        assert value == 0 or (value > 0) == (exact > 0)
    if exact % den == 0:
        assert down == up == half_up == exact // den


def test_scale_ties_round_away_from_zero() -> None:
    assert Money(5, Currency.USD).scale(1, 2, Rounding.HALF_UP).amount == 3
    assert Money(-5, Currency.USD).scale(1, 2, Rounding.HALF_UP).amount == -3
    assert Money(5, Currency.USD).scale(1, 2, Rounding.DOWN).amount == 2
    assert Money(-5, Currency.USD).scale(1, 2, Rounding.UP).amount == -3


# -- exchange rates -------------------------------------------------------------------------------------
# Bounded so a converted amount stays inside MAX_AMOUNT even from IRR (exponent 0) to USDT (exponent 6).
rates = st.builds(
    lambda pair, num, den: ExchangeRate(pair[0], pair[1], num, den),
    two_currencies(), st.integers(1, 10**4), st.integers(1, 10**7))
convertible = st.integers(-(10**6), 10**6)


@pytest.mark.parametrize("rounding", list(Rounding))
@given(rate=rates, a=convertible, b=convertible)
def test_convert_is_monotonic(rounding: Rounding, rate: ExchangeRate, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert (rate.convert(Money(lo, rate.source), rounding).amount
            <= rate.convert(Money(hi, rate.source), rounding).amount)


@given(rates, st.integers(0, 10**6))
def test_convert_matches_the_exact_ratio_in_minor_units(rate: ExchangeRate, amount: int) -> None:
    # target_minor = amount / 10^src_exp * num / den * 10^tgt_exp, truncated
    got = rate.convert(Money(amount, rate.source), Rounding.DOWN)
    assert got.currency is rate.target
    numerator = amount * rate.numerator * 10**rate.target.exponent
    denominator = rate.denominator * 10**rate.source.exponent
    assert got.amount == numerator // denominator


def test_convert_examples() -> None:
    usd_irr = ExchangeRate.parse(Currency.USD, Currency.IRR, "620000")
    assert usd_irr.convert(Money.parse("12.50", "USD")) == Money(7_750_000, Currency.IRR)
    irr_usd = ExchangeRate.parse(Currency.IRR, Currency.USD, "0.0000016")
    assert irr_usd.convert(Money(620_000, Currency.IRR)) == Money(99, Currency.USD)  # 0.992 USD, half-up
    assert irr_usd.convert(Money(620_000, Currency.IRR), Rounding.UP) == Money(100, Currency.USD)
    assert usd_irr.format() == "620000"
    assert irr_usd.format() == "0.0000016"


@given(rates)
def test_convert_refuses_the_wrong_source_currency(rate: ExchangeRate) -> None:
    with pytest.raises(CurrencyMismatchError):
        rate.convert(Money(1, rate.target))


@given(two_currencies(), st.integers(0, 10**9), st.integers(0, 8))
def test_rate_parse_and_format_round_trip(pair: tuple[Currency, Currency], digits: int, places: int) -> None:
    text = str(digits).rjust(places + 1, "0")
    text = f"{text[:-places]}.{text[-places:]}" if places else text
    assume(digits > 0)
    rate = ExchangeRate.parse(pair[0], pair[1], text)
    assert ExchangeRate.parse(pair[0], pair[1], rate.format()) == rate


@pytest.mark.parametrize("text", ["0", "-1", "abc", "", "0.000"])
def test_rate_must_be_a_positive_decimal(text: str) -> None:
    with pytest.raises(ValidationError):
        ExchangeRate.parse(Currency.USD, Currency.IRR, text)


def test_conversion_beyond_the_range_is_rejected() -> None:
    rate = ExchangeRate(Currency.IRR, Currency.USDT, 10**6, 1)
    with pytest.raises(ValidationError):
        rate.convert(Money(10**6, Currency.IRR))  # 10^12 USDT = 10^18 minor units


def test_rate_needs_two_currencies() -> None:
    with pytest.raises(ValidationError):
        ExchangeRate(Currency.USD, Currency.USD, 1, 1)


def test_exchange_rate_formats_any_ratio_and_normalises() -> None:
    from vpnsmm.domain.money import Currency, ExchangeRate

    assert ExchangeRate(Currency.USD, Currency.IRR, 7, 2).format() == "3.5"
    assert ExchangeRate(Currency.USD, Currency.IRR, 1, 3).format(max_digits=4) == "0.3333…"
    assert ExchangeRate(Currency.USD, Currency.IRR, 15, 10) == ExchangeRate(Currency.USD, Currency.IRR, 3, 2)
    assert ExchangeRate.parse(Currency.USD, Currency.IRR, "620000.5").format() == "620000.5"
