"""vpnsmm.testing's strategies produce what they promise (the domain accepts the valid, refuses the invalid)."""

from __future__ import annotations

import pytest
from hypothesis import given

from vpnsmm.domain import Currency, Money, ValidationError
from vpnsmm.domain.identity import normalise_username
from vpnsmm.testing import currencies, exchange_rates, invalid_usernames, money, transfer_requests, usernames


@given(money())
def test_money_round_trips_through_its_decimal_text(value: Money) -> None:
    assert Money.parse(value.format(), value.currency) == value


@given(money(Currency.RUB, min_value=0, max_value=10_000))
def test_money_respects_currency_and_bounds(value: Money) -> None:
    assert value.currency is Currency.RUB and 0 <= value.amount <= 10_000


@given(usernames())
def test_generated_usernames_are_accepted(name: str) -> None:
    assert normalise_username(name)


@given(invalid_usernames())
def test_invalid_usernames_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        normalise_username(name)


@given(exchange_rates(), money(min_value=0, max_value=10**9))
def test_rates_convert_their_own_source_currency(rate, value) -> None:  # type: ignore[no-untyped-def]
    source = Money(value.amount, rate.source)
    try:
        converted = rate.convert(source)
    except ValidationError as exc:  # a product beyond what Money holds is refused, never wrapped or truncated
        assert exc.code == "AMOUNT_OUT_OF_RANGE"  # noqa: PT017 - the else branch checks the success case
    else:
        assert converted.currency is rate.target and converted.amount >= 0


@given(transfer_requests(), currencies())
def test_transfer_requests_are_well_formed(request, currency) -> None:  # type: ignore[no-untyped-def]
    assert request.debit_account_id != request.credit_account_id and request.amount > 0
    assert currency in set(Currency)
