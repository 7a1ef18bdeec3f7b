"""SMM order rules without a database: settling reports, voiding, pricing for a user, API v2 error strings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vpnsmm.application.ports.smm_provider import ProviderRejectedError
from vpnsmm.application.smm import order_price, user_rate_for
from vpnsmm.domain.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus, ServiceType
from vpnsmm.domain.smm_orders import (
    Service,
    SmmOrder,
    UserRate,
    check_link,
    discounted,
    parse_discount,
)
from vpnsmm.entrypoints.http.routes.perfect_panel import error_text

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USD = Currency.USD


def usd(cents: int) -> Money:
    return Money(cents, USD)


def order(charge: int = 90, quantity: int = 1000) -> SmmOrder:
    return SmmOrder(id=7, user_id=1, service_id=1, provider_id=1, charge=usd(charge), quantity=quantity,
                    created_at=NOW)


def service(**overrides: object) -> Service:
    values: dict[str, object] = {"id": 3, "name": "F", "type": ServiceType.DEFAULT, "category_id": 1,
                                 "rate": usd(90), "min": 10, "max": 1000, "provider_id": 1,
                                 "provider_service_id": "1"}
    values.update(overrides)
    return Service(**values)  # type: ignore[arg-type]


def test_partial_settles_undelivered_share_once() -> None:
    o = order()
    s = o.apply_report(OrderStatus.PARTIAL, start_count=5, remains=157, now=NOW)
    assert s.refund == usd(14) and s.transfer_id == "smm:7:refund:partial"
    again = o.apply_report(OrderStatus.PARTIAL, start_count=5, remains=10, now=NOW)
    assert again.refund == usd(0) and again.transfer_id is None and not again.changed
    assert o.remains == 157  # a settled order's remains do not move
    rest = o.apply_report(OrderStatus.CANCELED, start_count=None, remains=None, now=NOW)
    assert rest.refund == usd(76) and rest.transfer_id == "smm:7:refund:canceled"
    assert o.refunded == o.charge and o.held == usd(0)


def test_partial_without_remains_waits_and_unknown_or_lower_status_is_ignored() -> None:
    o = order()
    assert not o.apply_report(OrderStatus.PARTIAL, start_count=None, remains=None, now=NOW).changed
    o.apply_report(OrderStatus.IN_PROGRESS, start_count=100, remains=500, now=NOW)
    assert o.status is OrderStatus.IN_PROGRESS and o.remains == 500 and o.start_count == 100
    assert not o.apply_report(OrderStatus.PENDING, start_count=None, remains=None, now=NOW).changed
    assert not o.apply_report(None, start_count=None, remains=None, now=NOW).changed
    done = o.apply_report(OrderStatus.COMPLETED, start_count=None, remains=3, now=NOW)
    assert done.refund == usd(0) and o.remains == 0


def test_over_delivery_refunds_nothing() -> None:
    o = order()
    assert o.apply_report(OrderStatus.PARTIAL, start_count=None, remains=-20, now=NOW).refund == usd(0)


def test_void_refunds_everything_held_and_only_once() -> None:
    o = order()
    o.apply_report(OrderStatus.PARTIAL, start_count=None, remains=500, now=NOW)
    s = o.void(NOW, reason="operator")
    assert s.refund == usd(45) and s.transfer_id == "smm:7:refund"
    with pytest.raises(InvalidTransitionError):
        o.void(NOW, reason="again")


def test_user_prices() -> None:
    s = service()
    assert user_rate_for(s, []) == usd(90)
    assert user_rate_for(s, [UserRate(user_id=1, service_id=None, discount_bp=1000)]) == usd(81)
    assert user_rate_for(s, [UserRate(user_id=1, service_id=None, discount_bp=1000),
                             UserRate(user_id=1, service_id=3, discount_bp=5000)]) == usd(45)
    assert user_rate_for(s, [UserRate(user_id=1, service_id=3, rate=usd(10))]) == usd(10)
    assert order_price(s, usd(90), 1500) == usd(135)
    assert order_price(service(type=ServiceType.PACKAGE), usd(250), 1000) == usd(250)
    assert discounted(usd(1), 3333) == usd(1)  # rounded up
    assert parse_discount("12.5") == 1250
    with pytest.raises(ValidationError):
        parse_discount("101")


@pytest.mark.parametrize("link", ["https://instagram.com/p/x", "http://t.me/c/1?x=2"])
def test_good_links(link: str) -> None:
    assert check_link(f"  {link} ") == link


@pytest.mark.parametrize("link", ["", "instagram.com/p/x", "javascript:alert(1)", "https:// spaces in.url",
                                  "ftp://x.example/a", "https://"])
def test_bad_links(link: str) -> None:
    with pytest.raises(ValidationError) as err:
        check_link(link)
    assert err.value.code == "INVALID_LINK"


@pytest.mark.parametrize(("exc", "text"), [
    (AuthenticationError("x"), "Invalid API key"),
    (InsufficientFundsError("x"), "Not enough funds on balance"),
    (NotFoundError("x", code="SERVICE_NOT_FOUND"), "Incorrect service ID"),
    (NotFoundError("x", code="ORDER_NOT_FOUND"), "Incorrect order ID"),
    (NotFoundError("x", code="REFILL_NOT_FOUND"), "Refill not found"),
    (ValidationError("x", code="INVALID_LINK"), "Incorrect link"),
    (ValidationError("x", code="INVALID_QUANTITY", details={"min": 50}), "Quantity less than minimal 50"),
    (ValidationError("x", code="INVALID_QUANTITY", details={"max": 9}), "Quantity more than maximum 9"),
    (ValidationError("x"), "Incorrect request"),
    (InvalidTransitionError("x", code="REFILL_NOT_ALLOWED"), "Order not eligible for refill."),
    (ProviderRejectedError("Refill Request Not found"), "Refill Request Not found"),
    (UpstreamUnavailableError("x"), "Service temporarily unavailable, try again later"),
])
def test_api_v2_error_strings(exc: Exception, text: str) -> None:
    assert error_text(exc) == text  # type: ignore[arg-type]
