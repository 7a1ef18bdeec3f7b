"""Overdraft safety under real concurrency: 200 concurrent debits, a wallet that covers exactly 50."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import FrozenClock
from tests.integration.money.harness import MoneyWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.errors import InsufficientFundsError
from vpnsmm.domain.ledger import AccountPurpose
from vpnsmm.domain.money import Currency, Money

PRICE = Money(7_000, Currency.IRR)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[MoneyWorld]:
    w = MoneyWorld(uow_factory, clock)
    yield w
    await w.close()


async def test_200_concurrent_debits_exactly_50_succeed(world: MoneyWorld) -> None:
    payer, shop, admin = await world.user("payer"), await world.user("shop"), await world.user("admin")
    await world.wallets.adjust(actor_id=admin.id, user_id=payer.id, amount=PRICE * 50, reason="float",
                               idempotency_key="fund")

    async def debit(i: int) -> bool:
        try:
            await world.wallets.transfer(from_user_id=payer.id, to_user_id=shop.id, amount=PRICE,
                                         idempotency_key=f"buy-{i}")
        except InsufficientFundsError:
            return False
        return True

    results = await asyncio.gather(*(debit(i) for i in range(200)))
    assert results.count(True) == 50
    assert await world.balance(payer) == 0
    assert await world.balance(shop) == PRICE.amount * 50
    async with world.uow(read_only=True) as uow:
        wallet = await uow.ledger.find_account(payer.id, Currency.IRR, AccountPurpose.WALLET)
        assert wallet is not None and wallet.balance == 0 and wallet.available == 0
        entries = await uow.ledger.entries(wallet.id, limit=500)
        assert len(entries) == 51  # the funding credit and exactly 50 debits
        assert all(e.balance_after >= 0 for e in entries)
        assert sum(e.delta for e in entries) == 0
    await world.books_balance()


async def test_concurrent_replays_of_one_debit_move_money_once(world: MoneyWorld) -> None:
    payer, shop, admin = await world.user("payer"), await world.user("shop"), await world.user("admin")
    await world.wallets.adjust(actor_id=admin.id, user_id=payer.id, amount=PRICE * 3, reason="float",
                               idempotency_key="fund")
    entries = await asyncio.gather(*(world.wallets.transfer(from_user_id=payer.id, to_user_id=shop.id, amount=PRICE,
                                                            idempotency_key="same-order") for _ in range(50)))
    assert len({e.id for e in entries}) == 1
    assert await world.balance(payer) == PRICE.amount * 2
