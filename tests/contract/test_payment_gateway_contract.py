"""PaymentGateway contract: every implementation behaves the same from a use case's point of view.

Implementations: ZarinpalGateway against FakeZarinpal, CryptomusGateway against FakeCryptomus (both through
httpx.ASGITransport), and the pure InMemoryPaymentGateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from attrs import define

from vpnsmm.adapters.payments.cryptomus import CryptomusGateway
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal
from vpnsmm.adapters.payments.memory import InMemoryPaymentGateway
from vpnsmm.adapters.payments.zarinpal import ZarinpalGateway
from vpnsmm.application.ports.payments import PaymentGateway, StartPayment
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome

ZP_MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
CM_MERCHANT = "8b03432e-385b-4670-8d06-064591096795"
CM_KEY = "test-payment-key-0123456789"


@define
class Harness:
    kind: str
    gateway: PaymentGateway
    amount: Money
    pay: Callable[[str], object]
    cancel: Callable[[str], object]
    unknown_id: str


@pytest.fixture(params=["zarinpal", "cryptomus", "memory"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    kind = request.param
    if kind == "zarinpal":
        zp = FakeZarinpal([ZP_MERCHANT])
        async with httpx.AsyncClient(transport=zp.transport()) as client:
            yield Harness(kind, ZarinpalGateway(client, ZP_MERCHANT), Money(1_250_000, "IRR"), zp.pay, zp.cancel,
                          "A" + "0" * 35)
    elif kind == "cryptomus":
        cm = FakeCryptomus(CM_MERCHANT, CM_KEY)
        async with httpx.AsyncClient(transport=cm.transport()) as client:
            yield Harness(kind, CryptomusGateway(client, CM_MERCHANT, CM_KEY), Money.parse("12.50", "USD"),
                          lambda u: cm.complete(u, "paid"), lambda u: cm.complete(u, "cancel"),
                          "00000000-0000-4000-8000-000000000000")
    else:
        mem = InMemoryPaymentGateway()
        yield Harness(kind, mem, Money(1_250_000, "IRR"), mem.pay, mem.cancel, "mem-999999")


def _request(h: Harness, payment_id: str = "pay-1") -> StartPayment:
    return StartPayment(payment_id=payment_id, amount=h.amount, description="VPN 30 days",
                        callback_url="https://shop.example/pay/return", customer_email="a@b.example",
                        customer_mobile="09120000000", webhook_url="https://shop.example/hooks/pay")


async def test_implements_the_port(harness: Harness) -> None:
    assert isinstance(harness.gateway, PaymentGateway)
    assert harness.gateway.name == harness.kind


async def test_start_returns_an_external_id_and_a_redirect(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    other = await harness.gateway.start(_request(harness, "pay-2"))
    assert started.external_id
    assert started.external_id != other.external_id
    assert started.external_id in started.redirect_url
    assert started.amount == harness.amount
    assert (started.gateway, started.payment_id) == (harness.kind, "pay-1")


async def test_not_paid_yet_is_pending(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    result = await harness.gateway.verify(started.external_id, harness.amount)
    assert result.status is PaymentOutcome.PENDING
    assert not result.credits


async def test_paid_then_verified_credits_the_expected_amount(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    harness.pay(started.external_id)
    result = await harness.gateway.verify(started.external_id, harness.amount)
    assert result.status is PaymentOutcome.PAID
    assert result.credits
    assert result.amount == harness.amount
    assert result.expected == harness.amount
    assert result.external_id == started.external_id
    if harness.kind != "memory":
        assert result.provider_ref


async def test_verifying_with_another_amount_never_credits(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    harness.pay(started.external_id)
    other = harness.amount + Money(1, harness.amount.currency)
    result = await harness.gateway.verify(started.external_id, other)
    assert result.status is PaymentOutcome.WRONG_AMOUNT
    assert not result.credits
    # the wrong attempt does not consume the payment: the stored amount still verifies
    assert (await harness.gateway.verify(started.external_id, harness.amount)).credits


async def test_verifying_twice_is_safe_and_still_reports_paid(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    harness.pay(started.external_id)
    first = await harness.gateway.verify(started.external_id, harness.amount)
    second = await harness.gateway.verify(started.external_id, harness.amount)
    assert first.status is PaymentOutcome.PAID
    assert second.credits
    expected = PaymentOutcome.PAID if harness.kind == "cryptomus" else PaymentOutcome.ALREADY_VERIFIED
    assert second.status is expected


async def test_unknown_external_id_is_not_found(harness: Harness) -> None:
    with pytest.raises(NotFoundError):
        await harness.gateway.verify(harness.unknown_id, harness.amount)


async def test_canceled_payment_is_final_and_never_credits(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    harness.cancel(started.external_id)
    result = await harness.gateway.verify(started.external_id, harness.amount)
    assert result.status is PaymentOutcome.CANCELED
    assert result.status.is_final
    assert not result.credits


async def test_concurrent_verifies_report_a_fresh_success_at_most_once(harness: Harness) -> None:
    started = await harness.gateway.start(_request(harness))
    harness.pay(started.external_id)
    results = await asyncio.gather(*(harness.gateway.verify(started.external_id, harness.amount) for _ in range(5)))
    assert all(r.credits for r in results)
    fresh = [r for r in results if r.status is PaymentOutcome.PAID]
    # a gateway with a verify step (Zarinpal, memory) says "paid" once and "already verified" after; Cryptomus has
    # no verify step and says "paid" every time -- either way the caller's compare-and-set credits once
    assert len(fresh) == (5 if harness.kind == "cryptomus" else 1)
