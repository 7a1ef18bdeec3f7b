"""500 concurrent PlaceOrder calls against a wallet that covers exactly 100: 100 orders, balance 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import FrozenClock
from tests.integration.smm_orders.harness import USD, SmmWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.errors import InsufficientFundsError
from vpnsmm.domain.ledger import AccountPurpose
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm_orders import OrderFilter, SubmitState


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[SmmWorld]:
    w = SmmWorld(uow_factory, clock)
    await w.with_simulated_provider()
    yield w
    await w.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_500_concurrent_orders_exactly_100_succeed(world: SmmWorld) -> None:
    buyer = await world.user("racer")
    await world.fund(buyer, "5.00")  # 50 followers cost 0.045 -> 0.05 (rounded up): exactly 100 orders
    commands = [await world.order(buyer, link=f"https://instagram.com/p/{i}", quantity=50) for i in range(500)]

    async def place(i: int) -> bool:
        try:
            await world.place(commands[i])
        except InsufficientFundsError:
            return False
        return True

    results = await asyncio.gather(*(place(i) for i in range(500)))
    assert results.count(True) == 100
    assert await world.balance(buyer) == Money.zero(USD)
    orders, total = await world.orders.search(OrderFilter(user_id=buyer.id), limit=200)
    assert total == 100
    assert all(o.submit_state is SubmitState.SENT for o in orders)
    assert len(world.panel.orders) == 100
    async with world.uow(read_only=True) as uow:
        wallet = await uow.ledger.find_account(buyer.id, USD, AccountPurpose.WALLET)
        assert wallet is not None and wallet.balance == 0
        entries = await uow.ledger.entries(wallet.id, limit=500)
        assert len(entries) == 101 and all(e.balance_after >= 0 for e in entries)
    await world.books_balance()
