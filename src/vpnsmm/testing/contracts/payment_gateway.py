"""The PaymentGateway contract: what every gateway adapter guarantees, as checks you can run against yours.

The harness gives a fresh gateway, an amount it accepts, and the two things only the payer's side can do:
``pay(external_id)`` (the customer pays at the gateway) and ``cancel(external_id)`` (the customer gives up).
Both may be plain or async functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from attrs import define

from vpnsmm.application.ports.payments import PaymentGateway, StartPayment
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome
from vpnsmm.testing.contracts._base import (
    Check,
    ContractReport,
    HarnessFactory,
    expect,
    expect_equal,
    expect_raises,
    maybe_await,
    run_contract,
)


@define
class GatewayHarness:
    """A gateway under test. ``name`` is the ``gateway.name`` it must report; ``unknown_id`` an external id the
    gateway never issued (well-formed for it). ``verify_step=False`` for a gateway without a verify call that
    reports PAID on every verification (Cryptomus) instead of PAID once then ALREADY_VERIFIED.
    ``has_provider_ref`` says a paid verification carries a receipt number."""

    gateway: PaymentGateway
    name: str
    amount: Money
    pay: Callable[[str], object]
    cancel: Callable[[str], object]
    unknown_id: str
    verify_step: bool = True
    has_provider_ref: bool = True


def _request(h: GatewayHarness, payment_id: str = "pay-1") -> StartPayment:
    return StartPayment(payment_id=payment_id, amount=h.amount, description="VPN 30 days",
                        callback_url="https://shop.example/pay/return", customer_email="a@b.example",
                        customer_mobile="09120000000", webhook_url="https://shop.example/hooks/pay")


async def implements_the_port(h: GatewayHarness) -> None:
    expect(isinstance(h.gateway, PaymentGateway), "the adapter must implement PaymentGateway (name, start, verify)")
    expect_equal(h.gateway.name, h.name, "gateway.name")


async def start_returns_an_external_id_and_a_redirect(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    other = await h.gateway.start(_request(h, "pay-2"))
    expect(started.external_id, "start must return an external id")
    expect(started.external_id != other.external_id, "two payments must get two external ids")
    expect(started.external_id in started.redirect_url, "the redirect URL must carry the external id")
    expect_equal(started.amount, h.amount, "started amount")
    expect_equal((started.gateway, started.payment_id), (h.name, "pay-1"), "(gateway, payment_id)")


async def not_paid_yet_is_pending(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    result = await h.gateway.verify(started.external_id, h.amount)
    expect_equal(result.status, PaymentOutcome.PENDING, "status before the customer paid")
    expect(not result.credits, "an unpaid payment must never credit")


async def paid_then_verified_credits_the_expected_amount(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    await maybe_await(h.pay(started.external_id))
    result = await h.gateway.verify(started.external_id, h.amount)
    expect_equal(result.status, PaymentOutcome.PAID, "status after paying")
    expect(result.credits, "a paid payment credits")
    expect_equal(result.amount, h.amount, "amount held by the gateway")
    expect_equal(result.expected, h.amount, "expected amount echoed")
    expect_equal(result.external_id, started.external_id, "external id echoed")
    if h.has_provider_ref:
        expect(result.provider_ref, "a paid verification carries the receipt number")


async def verifying_with_another_amount_never_credits(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    await maybe_await(h.pay(started.external_id))
    other = h.amount + Money(1, h.amount.currency)
    result = await h.gateway.verify(started.external_id, other)
    expect_equal(result.status, PaymentOutcome.WRONG_AMOUNT, "status when verifying another amount")
    expect(not result.credits, "a wrong amount must never credit")
    again = await h.gateway.verify(started.external_id, h.amount)
    expect(again.credits, "a wrong attempt must not consume the payment: the right amount still verifies")


async def verifying_twice_is_safe_and_still_reports_paid(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    await maybe_await(h.pay(started.external_id))
    first = await h.gateway.verify(started.external_id, h.amount)
    second = await h.gateway.verify(started.external_id, h.amount)
    expect_equal(first.status, PaymentOutcome.PAID, "first verification")
    expect(second.credits, "a second verification still says the money is there")
    expected = PaymentOutcome.ALREADY_VERIFIED if h.verify_step else PaymentOutcome.PAID
    expect_equal(second.status, expected, "second verification")


async def unknown_external_id_is_not_found(h: GatewayHarness) -> None:
    await expect_raises(NotFoundError, h.gateway.verify(h.unknown_id, h.amount), "verify of an unknown id")


async def canceled_payment_is_final_and_never_credits(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    await maybe_await(h.cancel(started.external_id))
    result = await h.gateway.verify(started.external_id, h.amount)
    expect_equal(result.status, PaymentOutcome.CANCELED, "status of a canceled payment")
    expect(result.status.is_final, "canceled is final")
    expect(not result.credits, "a canceled payment never credits")


async def concurrent_verifies_report_a_fresh_success_at_most_once(h: GatewayHarness) -> None:
    started = await h.gateway.start(_request(h))
    await maybe_await(h.pay(started.external_id))
    results = await asyncio.gather(*(h.gateway.verify(started.external_id, h.amount) for _ in range(5)))
    expect(all(r.credits for r in results), "every concurrent verification of a paid payment credits")
    fresh = [r for r in results if r.status is PaymentOutcome.PAID]
    # with a verify step the gateway says "paid" once and "already verified" after; without one it says "paid"
    # every time -- either way the caller's compare-and-set credits once
    expect_equal(len(fresh), 1 if h.verify_step else 5, "fresh PAID answers among 5 concurrent verifications")


PAYMENT_GATEWAY_CHECKS: dict[str, Check[GatewayHarness]] = {
    fn.__name__: fn for fn in (
        implements_the_port,
        start_returns_an_external_id_and_a_redirect,
        not_paid_yet_is_pending,
        paid_then_verified_credits_the_expected_amount,
        verifying_with_another_amount_never_credits,
        verifying_twice_is_safe_and_still_reports_paid,
        unknown_external_id_is_not_found,
        canceled_payment_is_final_and_never_credits,
        concurrent_verifies_report_a_fresh_success_at_most_once,
    )
}


async def check_payment_gateway(make: HarnessFactory[GatewayHarness], *,
                                only: list[str] | None = None) -> ContractReport:
    """Run every PaymentGateway check (or ``only`` those) against fresh harnesses from ``make()``."""
    return await run_contract("PaymentGateway", PAYMENT_GATEWAY_CHECKS, make, only=only)


__all__ = ["PAYMENT_GATEWAY_CHECKS", "GatewayHarness", "check_payment_gateway"]
