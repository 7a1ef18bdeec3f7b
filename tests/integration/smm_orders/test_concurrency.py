"""500 concurrent PlaceOrder calls against a wallet that covers exactly 100: 100 orders, balance 0."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.smm_orders.harness import USD, SmmWorld
from vpnsmm.application.smm import OrderForwarder, PlaceOrder
from vpnsmm.domain.errors import InsufficientFundsError
from vpnsmm.domain.ledger import AccountPurpose
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm_orders import OrderFilter, SubmitState


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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_500_concurrent_deferred_orders_exactly_100_and_each_forwarded_once(world: SmmWorld) -> None:
    """The /api/v2 path: orders answered before forwarding, forwarded in batches by the OrderForwarder while
    the periodic sweep races it; every order reaches the provider exactly once."""
    forwarder = OrderForwarder(world.submit, batch=25, linger=0.005)
    place = PlaceOrder(world.uow, world.clock, world.submit, forwarder)
    stop = asyncio.Event()
    running = asyncio.create_task(forwarder.run(stop))
    await asyncio.sleep(0)
    buyer = await world.user("deferred")
    await world.fund(buyer, "5.00")
    commands = [await world.order(buyer, link=f"https://instagram.com/p/d{i}", quantity=50) for i in range(500)]

    async def one(i: int) -> bool:
        try:
            order = await place(commands[i], defer=True)
        except InsufficientFundsError:
            return False
        assert order.submit_state is SubmitState.QUEUED  # answered before the provider saw it
        return True

    results, _ = await asyncio.gather(asyncio.gather(*(one(i) for i in range(500))), world.submit())
    assert results.count(True) == 100
    assert await forwarder.idle(within=30)
    await world.submit()  # a late sweep finds nothing left to send
    stop.set()
    await running
    orders, total = await world.orders.search(OrderFilter(user_id=buyer.id), limit=200)
    assert total == 100 and all(o.submit_state is SubmitState.SENT for o in orders)
    assert len(world.panel.orders) == 100  # forwarded once each
    assert len({o.provider_order_id for o in orders}) == 100
    assert await world.balance(buyer) == Money.zero(USD)
    await world.books_balance()


async def test_without_a_running_forwarder_a_deferred_order_is_sent_inline(world: SmmWorld) -> None:
    place = PlaceOrder(world.uow, world.clock, world.submit, OrderForwarder(world.submit))
    buyer = await world.user("inline")
    await world.fund(buyer, "1.00")
    order = await place(await world.order(buyer, quantity=50), defer=True)
    assert order.submit_state is SubmitState.SENT and order.provider_order_id is not None


async def test_an_order_the_forwarder_refuses_waits_queued_for_the_sweep(world: SmmWorld) -> None:
    forwarder = OrderForwarder(world.submit, queue_limit=1, linger=0)
    place = PlaceOrder(world.uow, world.clock, world.submit, forwarder)
    forwarder._running = True  # accepting, but nobody consumes: the second push finds the queue full
    buyer = await world.user("full")
    await world.fund(buyer, "1.00")
    first = await place(await world.order(buyer, link="https://instagram.com/p/f1", quantity=50), defer=True)
    second = await place(await world.order(buyer, link="https://instagram.com/p/f2", quantity=50), defer=True)
    assert first.submit_state is SubmitState.QUEUED and second.submit_state is SubmitState.QUEUED
    assert await world.submit() == 2  # the sweep forwards both (the queued id is skipped later: claimed)
    assert await world.submit.forward([first.id, second.id]) == 0
    assert len(world.panel.orders) == 2
