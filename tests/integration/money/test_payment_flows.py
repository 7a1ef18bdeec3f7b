"""Paying invoices through every gateway (real adapters against faithful fakes) on memory, SQLite and Postgres.

Duplicate and concurrent deliveries credit once; forged webhooks write nothing; money is never lost or made.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import FrozenClock
from tests.integration.money.harness import MoneyWorld
from vpnsmm.application.billing import ExpireInvoices, NewInvoice
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.billing import Gateway, InvoicePurpose, InvoiceStatus, PaymentStatus
from vpnsmm.domain.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
)
from vpnsmm.domain.ledger import AccountPurpose
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import CardTransferClaim

IRR = Currency.IRR


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[MoneyWorld]:
    w = MoneyWorld(uow_factory, clock)
    yield w
    await w.close()


async def test_zarinpal_topup_credits_once_even_when_the_callback_is_replayed(world: MoneyWorld) -> None:
    alice = await world.user("alice")
    invoice = await world.topup_invoice(alice, Money(500_000, IRR))
    started = await world.pay(alice.id, invoice.id, Gateway.ZARINPAL)
    assert started.redirect_url and started.payment.external_id
    authority = started.payment.external_id
    query = {"Authority": authority, "Status": "OK"}

    # A callback before the customer paid (Status=OK forged) credits nothing.
    early = await world.notices.callback(Gateway.ZARINPAL, query)
    assert early.status is not PaymentStatus.PAID and await world.balance(alice) == 0

    world.zarinpal_fake.pay(authority)
    paid = await world.notices.callback(Gateway.ZARINPAL, query)
    assert paid.status is PaymentStatus.PAID and paid.provider_ref
    for _ in range(3):  # replayed callback: Zarinpal answers 101, nothing more is credited
        await world.notices.callback(Gateway.ZARINPAL, query)
    assert await world.balance(alice) == 500_000
    await world.books_balance()


async def test_concurrent_identical_cryptomus_webhooks_credit_once(world: MoneyWorld) -> None:
    bob = await world.user("bob")
    invoice = await world.topup_invoice(bob, Money.parse("25.00", "USD"))
    started = await world.pay(bob.id, invoice.id, Gateway.CRYPTOMUS)
    uuid = started.payment.external_id
    assert uuid is not None
    world.cryptomus_fake.complete(uuid, "paid")
    body, headers = world.cryptomus_fake.webhook(uuid)
    results = await asyncio.gather(*(world.notices.webhook(Gateway.CRYPTOMUS, body, headers, None)
                                     for _ in range(100)))
    assert all(p is not None and p.status is PaymentStatus.PAID for p in results)
    assert await world.balance(bob, Currency.USD) == 2500
    async with world.uow(read_only=True) as uow:
        account = await uow.ledger.find_account(bob.id, Currency.USD, AccountPurpose.WALLET)
        assert account is not None
        entries = await uow.ledger.entries(account.id)
    assert len(entries) == 1
    await world.books_balance()


async def test_forged_or_unsigned_webhook_is_rejected_and_writes_nothing(world: MoneyWorld) -> None:
    carol = await world.user("carol")
    invoice = await world.topup_invoice(carol, Money.parse("10.00", "USD"))
    started = await world.pay(carol.id, invoice.id, Gateway.CRYPTOMUS)
    uuid = started.payment.external_id
    assert uuid is not None
    world.cryptomus_fake.complete(uuid, "paid")
    forged_body, forged_headers = world.cryptomus_fake.webhook(uuid, api_key="not-the-key")
    with pytest.raises(AuthenticationError):
        await world.notices.webhook(Gateway.CRYPTOMUS, forged_body, forged_headers, None)
    body, _ = world.cryptomus_fake.webhook(uuid)
    tampered = json.loads(body)
    tampered["amount"] = "1000.00"
    with pytest.raises(AuthenticationError):
        await world.notices.webhook(Gateway.CRYPTOMUS, json.dumps(tampered).encode(), {}, None)
    assert await world.balance(carol, Currency.USD) == 0
    async with world.uow(read_only=True) as uow:
        payment = await uow.payments.get(started.payment.id)
        assert payment is not None and payment.status is PaymentStatus.PENDING
        assert await uow.audit.for_target(f"payment:{started.payment.id}") == []


async def test_card_to_card_approval_is_idempotent_and_rejection_is_final(world: MoneyWorld) -> None:
    dave = await world.user("dave")
    admin = await world.user("boss")
    invoice = await world.topup_invoice(dave, Money(300_000, IRR))
    started = await world.pay(dave.id, invoice.id, Gateway.CARD)
    assert started.card is not None and started.card.amount == Money(300_000, IRR)
    claim = CardTransferClaim(transaction_id="77889900", card_last4="4321")
    await world.submit_receipt(dave.id, started.payment.id, claim)
    await world.submit_receipt(dave.id, started.payment.id, claim)  # same claim again: no-op
    approved = await asyncio.gather(*(world.review(admin.id, started.payment.id, approve=True, text="ok")
                                      for _ in range(5)), return_exceptions=True)
    assert all(not isinstance(a, BaseException) for a in approved), approved
    assert await world.balance(dave) == 300_000
    with pytest.raises(InvalidTransitionError):
        await world.review(admin.id, started.payment.id, approve=False, text="changed my mind")
    assert await world.balance(dave) == 300_000

    other = await world.topup_invoice(dave, Money(100_000, IRR))
    second = await world.pay(dave.id, other.id, Gateway.CARD)
    await world.submit_receipt(dave.id, second.payment.id, CardTransferClaim(transaction_id="1111", card_last4="0000"))
    rejected = await world.review(admin.id, second.payment.id, approve=False, text="no such transfer")
    assert rejected.status is PaymentStatus.REJECTED
    with pytest.raises(InvalidTransitionError):
        await world.review(admin.id, second.payment.id, approve=True)
    with pytest.raises(NotFoundError):  # someone else's payment is not found
        await world.submit_receipt(admin.id, second.payment.id, claim)
    assert await world.balance(dave) == 300_000
    await world.books_balance()


async def test_purchase_from_wallet_is_charged_once_and_fulfilled(world: MoneyWorld) -> None:
    erin = await world.user("erin")
    invoice = await world.topup_invoice(erin, Money(1_000_000, IRR))
    started = await world.pay(erin.id, invoice.id, Gateway.ZARINPAL)
    assert started.payment.external_id
    world.zarinpal_fake.pay(started.payment.external_id)
    await world.confirm(Gateway.ZARINPAL, started.payment.external_id)
    buy = await world.create_invoice(NewInvoice(user_id=erin.id, purpose=InvoicePurpose.VPN_PURCHASE,
                                                amount=Money(400_000, IRR), item={"plan_id": 1}))
    paid = await world.pay(erin.id, buy.id, Gateway.WALLET)
    assert paid.invoice.status is InvoiceStatus.FULFILLED and paid.invoice.item["result"] == {"delivered": buy.id}
    assert await world.balance(erin) == 600_000
    with pytest.raises(InvalidTransitionError):
        await world.pay(erin.id, buy.id, Gateway.WALLET)
    assert await world.balance(erin) == 600_000 and world.fulfiller.delivered == [buy.id]
    expensive = await world.create_invoice(NewInvoice(user_id=erin.id, purpose=InvoicePurpose.VPN_PURCHASE,
                                                      amount=Money(700_000, IRR)))
    with pytest.raises(InsufficientFundsError):
        await world.pay(erin.id, expensive.id, Gateway.WALLET)
    assert await world.balance(erin) == 600_000
    await world.books_balance()


async def test_failed_fulfilment_retries_then_refunds_to_the_wallet(world: MoneyWorld) -> None:
    fay = await world.user("fay")
    admin = await world.user("root")
    await world.wallets.adjust(actor_id=admin.id, user_id=fay.id, amount=Money(900, IRR), reason="test funds",
                               idempotency_key="seed-fay")
    world.fulfiller.fail_with = UpstreamUnavailableError("panel down")
    first = await world.create_invoice(NewInvoice(user_id=fay.id, purpose=InvoicePurpose.VPN_PURCHASE,
                                                  amount=Money(500, IRR)))
    paid = await world.pay(fay.id, first.id, Gateway.WALLET)
    assert paid.invoice.status is InvoiceStatus.PAID and paid.invoice.fulfilment_attempts == 1
    assert await world.balance(fay) == 400
    world.fulfiller.fail_with = None
    done = await world.fulfil(first.id)  # the retry succeeds
    assert done.status is InvoiceStatus.FULFILLED and await world.balance(fay) == 400

    world.fulfiller.fail_with = UpstreamRejectedError("plan no longer sold")
    second = await world.create_invoice(NewInvoice(user_id=fay.id, purpose=InvoicePurpose.VPN_PURCHASE,
                                                   amount=Money(400, IRR)))
    refunded = await world.pay(fay.id, second.id, Gateway.WALLET)
    assert refunded.invoice.status is InvoiceStatus.REFUNDED
    assert await world.balance(fay) == 400  # charged, then refunded in full
    again = await world.fulfil(second.id)  # re-running a refunded invoice does nothing
    assert again.status is InvoiceStatus.REFUNDED and await world.balance(fay) == 400
    await world.books_balance()


async def test_late_payment_for_an_expired_invoice_is_still_credited(world: MoneyWorld) -> None:
    gus = await world.user("gus")
    invoice = await world.topup_invoice(gus, Money(200_000, IRR))
    started = await world.pay(gus.id, invoice.id, Gateway.ZARINPAL)
    world.clock.advance(hours=3)
    assert await ExpireInvoices(world.uow, world.clock)() == 1
    assert started.payment.external_id
    world.zarinpal_fake.pay(started.payment.external_id)
    assert await world.reconcile() == 1  # the customer never came back; reconciliation finds it
    assert await world.balance(gus) == 200_000


async def test_canceled_payment_is_recorded_and_credits_nothing(world: MoneyWorld) -> None:
    hal = await world.user("hal")
    invoice = await world.topup_invoice(hal, Money(200_000, IRR))
    started = await world.pay(hal.id, invoice.id, Gateway.ZARINPAL)
    assert started.payment.external_id
    world.zarinpal_fake.cancel(started.payment.external_id)
    result = await world.notices.callback(Gateway.ZARINPAL, {"Authority": started.payment.external_id,
                                                             "Status": "NOK"})
    assert result.status is PaymentStatus.CANCELED and await world.balance(hal) == 0


async def test_manual_adjustments_are_audited_and_cannot_overdraw(world: MoneyWorld) -> None:
    ivy = await world.user("ivy")
    admin = await world.user("admin")
    credit = await world.wallets.adjust(actor_id=admin.id, user_id=ivy.id, amount=Money(1000, IRR),
                                        reason="goodwill", idempotency_key="adj-1")
    again = await world.wallets.adjust(actor_id=admin.id, user_id=ivy.id, amount=Money(1000, IRR),
                                       reason="goodwill", idempotency_key="adj-1")
    assert credit.id == again.id and credit.balance_before == 0 and credit.balance_after == 1000
    with pytest.raises(InsufficientFundsError):
        await world.wallets.adjust(actor_id=admin.id, user_id=ivy.id, amount=Money(-1001, IRR), reason="oops",
                                   idempotency_key="adj-2")
    await world.wallets.adjust(actor_id=admin.id, user_id=ivy.id, amount=Money(-400, IRR), reason="fee",
                               idempotency_key="adj-3")
    assert await world.balance(ivy) == 600
    async with world.uow(read_only=True) as uow:
        actions = [r.action for r in await uow.audit.for_target(f"user:{ivy.id}")]
    assert actions == ["wallet.debit", "wallet.credit"]

