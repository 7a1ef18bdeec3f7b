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


# -- entities ------------------------------------------------------------------------------------------------
from datetime import UTC, datetime  # noqa: E402

from hypothesis import settings  # noqa: E402

from vpnsmm.domain.smm import OrderStatus  # noqa: E402
from vpnsmm.domain.vpn import validate_client_key  # noqa: E402
from vpnsmm.domain.vpn_sales import Plan  # noqa: E402
from vpnsmm.testing import (  # noqa: E402
    add_orders,
    client_keys,
    client_specs,
    invalid_client_keys,
    invalid_plan_changes,
    plan_drafts,
    plans,
    provider_services,
    smm_orders,
    smm_services,
)


@given(plans())
def test_generated_plans_are_valid_and_priced(plan: Plan) -> None:
    plan.validate()  # idempotent: a valid plan stays valid
    for currency, price in plan.prices.items():
        assert plan.price_in(currency) == price and price.is_positive


@given(plan_drafts(currencies=[Currency.IRR]))
def test_plan_drafts_respect_the_currencies_asked_for(draft) -> None:  # type: ignore[no-untyped-def]
    assert set(draft.prices) == {Currency.IRR}


@given(plans(), invalid_plan_changes())
def test_invalid_plan_changes_are_refused(plan: Plan, changes: dict[str, object]) -> None:
    for name, value in changes.items():
        setattr(plan, name, value)
    with pytest.raises(ValidationError):
        plan.validate()


@given(smm_services(), provider_services(), add_orders())
def test_smm_catalogue_values_are_consistent(service, offered, order) -> None:  # type: ignore[no-untyped-def]
    assert 0 < service.min <= service.max and not service.rate.is_negative
    assert 0 < offered.min <= offered.max and offered.rate_exact.currency is offered.rate.currency
    assert order.link and order.quantity and order.quantity > 0


@given(smm_orders())
def test_generated_orders_hold_what_was_not_refunded(order) -> None:  # type: ignore[no-untyped-def]
    assert not order.held.is_negative and order.held <= order.charge
    if order.status in (OrderStatus.CANCELED, OrderStatus.REFUNDED):
        assert order.held.is_zero


@given(client_keys())
def test_client_keys_are_valid(key: str) -> None:
    assert validate_client_key(key) == key


@given(invalid_client_keys())
def test_invalid_client_keys_are_refused(key: object) -> None:
    with pytest.raises(ValidationError):
        validate_client_key(key)


@settings(max_examples=50)
@given(client_specs())
def test_client_specs_have_second_precision_utc_expiry(spec) -> None:  # type: ignore[no-untyped-def]
    expires = spec.limits.expires_at
    assert expires is None or (expires.tzinfo is UTC and expires.microsecond == 0 and expires > datetime(2019, 1, 1,
                                                                                                        tzinfo=UTC))
