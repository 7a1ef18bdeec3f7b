"""PaymentGateway contract: every implementation behaves the same from a use case's point of view.

Implementations: ZarinpalGateway against FakeZarinpal, CryptomusGateway against FakeCryptomus (both through
httpx.ASGITransport), and the pure InMemoryPaymentGateway. The checks are the packaged suite
``vpnsmm.testing.contracts.PAYMENT_GATEWAY_CHECKS`` that third-party gateways run too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from vpnsmm.adapters.payments.cryptomus import CryptomusGateway
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal
from vpnsmm.adapters.payments.memory import InMemoryPaymentGateway
from vpnsmm.adapters.payments.zarinpal import ZarinpalGateway
from vpnsmm.domain.money import Money
from vpnsmm.testing.contracts import PAYMENT_GATEWAY_CHECKS, Check, GatewayHarness, check_payment_gateway

ZP_MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
CM_MERCHANT = "8b03432e-385b-4670-8d06-064591096795"
CM_KEY = "test-payment-key-0123456789"


@asynccontextmanager
async def zarinpal() -> AsyncIterator[GatewayHarness]:
    zp = FakeZarinpal([ZP_MERCHANT])
    async with httpx.AsyncClient(transport=zp.transport()) as client:
        yield GatewayHarness(ZarinpalGateway(client, ZP_MERCHANT), "zarinpal", Money(1_250_000, "IRR"), zp.pay,
                             zp.cancel, "A" + "0" * 35)


@asynccontextmanager
async def cryptomus() -> AsyncIterator[GatewayHarness]:
    cm = FakeCryptomus(CM_MERCHANT, CM_KEY)
    async with httpx.AsyncClient(transport=cm.transport()) as client:
        yield GatewayHarness(CryptomusGateway(client, CM_MERCHANT, CM_KEY), "cryptomus", Money.parse("12.50", "USD"),
                             lambda u: cm.complete(u, "paid"), lambda u: cm.complete(u, "cancel"),
                             "00000000-0000-4000-8000-000000000000", verify_step=False)


@asynccontextmanager
async def memory() -> AsyncIterator[GatewayHarness]:
    mem = InMemoryPaymentGateway()
    yield GatewayHarness(mem, "memory", Money(1_250_000, "IRR"), mem.pay, mem.cancel, "mem-999999",
                         has_provider_ref=False)


FACTORIES: dict[str, Callable[[], AbstractAsyncContextManager[GatewayHarness]]] = {
    "zarinpal": zarinpal, "cryptomus": cryptomus, "memory": memory}


@pytest.mark.parametrize("check", list(PAYMENT_GATEWAY_CHECKS.values()), ids=list(PAYMENT_GATEWAY_CHECKS))
@pytest.mark.parametrize("kind", sorted(FACTORIES))
async def test_payment_gateway_contract(kind: str, check: Check[GatewayHarness]) -> None:
    async with FACTORIES[kind]() as h:
        await check(h)


async def test_a_gateway_that_credits_unpaid_payments_fails_the_contract() -> None:
    class Generous(InMemoryPaymentGateway):
        async def verify(self, external_id, expected):  # type: ignore[no-untyped-def]
            self.pay(external_id)  # bug: treats every verification as paid
            return await super().verify(external_id, expected)

    @asynccontextmanager
    async def broken() -> AsyncIterator[GatewayHarness]:
        gw = Generous()
        yield GatewayHarness(gw, "memory", Money(100, "USD"), gw.pay, gw.cancel, "mem-999999", has_provider_ref=False)

    report = await check_payment_gateway(broken)
    failed = {r.name for r in report.failures}
    assert "not_paid_yet_is_pending" in failed
    assert "implements_the_port" not in failed and "canceled_payment_is_final_and_never_credits" in failed
