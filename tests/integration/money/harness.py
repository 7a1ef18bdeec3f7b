"""A money world for tests: use cases over a unit of work, real gateway adapters against their fakes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from tests.conftest import FrozenClock
from vpnsmm.adapters.payments.cryptomus import CryptomusGateway
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal
from vpnsmm.adapters.payments.zarinpal import ZarinpalGateway
from vpnsmm.application.billing import (
    ConfirmPayment,
    CreateInvoice,
    FulfilInvoice,
    GatewaySet,
    HandleGatewayNotice,
    NewInvoice,
    PayInvoice,
    ReconcilePayments,
    ReviewCardPayment,
    SubmitCardReceipt,
    Wallets,
)
from vpnsmm.application.ports.fulfilment import Fulfiller
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import CardAccount

ZP_MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
CARD = CardAccount(holder="Shop Owner", card_number="6037997412345671", bank="Melli")


class RecordingFulfiller:
    """Delivers by remembering; can be told to fail (retryable or for good)."""

    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.fail_with: Exception | None = None

    async def fulfil(self, invoice: Invoice) -> Mapping[str, Any] | None:
        if self.fail_with is not None:
            raise self.fail_with
        if invoice.id not in self.delivered:
            self.delivered.append(invoice.id)
        return {"delivered": invoice.id}


class MoneyWorld:
    def __init__(self, uow: UnitOfWorkFactory, clock: FrozenClock) -> None:
        self.uow, self.clock = uow, clock
        self.zarinpal_fake = FakeZarinpal([ZP_MERCHANT])
        self.cryptomus_fake = FakeCryptomus("merchant-uuid", "pay-key")
        self.zp_http = httpx.AsyncClient(transport=self.zarinpal_fake.transport(), base_url="https://zp.test")
        self.cm_http = httpx.AsyncClient(transport=self.cryptomus_fake.transport(), base_url="https://cm.test")
        self.zarinpal = ZarinpalGateway(self.zp_http, ZP_MERCHANT, api_base="https://zp.test",
                                        startpay_base="https://zp.test")
        self.cryptomus = CryptomusGateway(self.cm_http, "merchant-uuid", "pay-key", base_url="https://cm.test")
        self.gateways = GatewaySet(gateways={Gateway.ZARINPAL: self.zarinpal, Gateway.CRYPTOMUS: self.cryptomus},
                                   card_account=CARD)
        self.fulfiller = RecordingFulfiller()
        fulfillers: dict[InvoicePurpose, Fulfiller] = {InvoicePurpose.VPN_PURCHASE: self.fulfiller}
        self.fulfil = FulfilInvoice(uow, clock, fulfillers)
        self.create_invoice = CreateInvoice(uow, clock)
        self.pay = PayInvoice(uow, clock, self.gateways, self.fulfil, "https://shop.test")
        self.confirm = ConfirmPayment(uow, clock, self.gateways, self.fulfil)
        self.notices = HandleGatewayNotice(self.gateways, self.confirm)
        self.reconcile = ReconcilePayments(uow, self.gateways, self.confirm)
        self.submit_receipt = SubmitCardReceipt(uow, clock, self.gateways)
        self.review = ReviewCardPayment(uow, clock, self.gateways, self.fulfil)
        self.wallets = Wallets(uow, clock)

    async def close(self) -> None:
        await self.zp_http.aclose()
        await self.cm_http.aclose()

    async def user(self, name: str) -> User:
        async with self.uow() as uow:
            user = await uow.users.add(User.register(username=name, password_hash="x", joined_at=self.clock.now()))
            await uow.commit()
        return user

    async def balance(self, user: User, currency: Currency = Currency.IRR) -> int:
        return (await self.wallets.balance(user.id, currency)).balance.amount

    async def topup_invoice(self, user: User, amount: Money) -> Invoice:
        return await self.create_invoice(NewInvoice(user_id=user.id, purpose=InvoicePurpose.WALLET_TOPUP,
                                                    amount=amount))

    async def books_balance(self) -> None:
        async with self.uow(read_only=True) as uow:
            totals = await uow.ledger.totals()
            assert all(t.balanced for t in totals.values()), totals
