"""Server capacity is hard: purchases racing for the last seats never put more accounts on a server than its
capacity, on memory, SQLite and PostgreSQL. The losers go to another server with room, or are refunded."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from tests.conftest import FrozenClock
from tests.integration.vpn.harness import VpnWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.billing import InvoiceStatus
from vpnsmm.domain.vpn_sales import AccountStatus

BUYERS = 12


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    w = VpnWorld(uow_factory, clock)
    yield w
    await w.close()


async def _race(world: VpnWorld) -> list[InvoiceStatus]:
    plan = await world.plan()
    buyers = [await world.user(f"buyer{n}") for n in range(BUYERS)]
    purchases = await asyncio.gather(*(world.buy_with_wallet(b, plan) for b in buyers))
    statuses = []
    for buyer, purchase in zip(buyers, purchases, strict=True):
        async with world.uow(read_only=True) as uow:
            invoice = await uow.invoices.get(purchase.invoice.id)
        assert invoice is not None
        statuses.append(invoice.status)
        expected = 10_000_000 - (1_000_000 if invoice.status is InvoiceStatus.FULFILLED else 0)
        assert await world.balance(buyer) == expected, invoice.last_error
    return statuses


async def _placed(world: VpnWorld) -> Counter[int]:
    accounts = await world.accounts.list(None, limit=500)
    return Counter(a.server_id for a in accounts if a.status is not AccountStatus.REVOKED)


async def test_racing_purchases_never_exceed_a_single_servers_capacity(world: VpnWorld) -> None:
    server = await world.fake_server("tiny", capacity=3)
    statuses = await _race(world)
    assert Counter(statuses) == {InvoiceStatus.FULFILLED: 3, InvoiceStatus.REFUNDED: BUYERS - 3}
    assert await _placed(world) == {server.id: 3}
    panel = await world.fake_panel(server)
    assert len(panel.clients) == 3  # the losers never reached the panel


async def test_losers_of_a_race_overflow_to_the_next_server_with_room(world: VpnWorld) -> None:
    small = await world.fake_server("small", capacity=2, weight=100)  # preferred until full
    large = await world.fake_server("large", capacity=5)
    statuses = await _race(world)
    assert Counter(statuses) == {InvoiceStatus.FULFILLED: 7, InvoiceStatus.REFUNDED: BUYERS - 7}
    assert await _placed(world) == {small.id: 2, large.id: 5}


async def test_fulfillers_racing_for_the_last_seats_place_exactly_capacity(world: VpnWorld) -> None:
    """The fulfiller itself under a race (as when several job workers deliver paid invoices at once)."""
    from vpnsmm.application.billing import NewInvoice
    from vpnsmm.domain.billing import InvoicePurpose
    from vpnsmm.domain.errors import UpstreamRejectedError
    from vpnsmm.domain.money import Currency, Money

    server = await world.fake_server("tiny", capacity=3)
    plan = await world.plan()
    user = await world.user("reseller", funds=0)
    invoices = [await world.create_invoice(NewInvoice(
        user_id=user.id, purpose=InvoicePurpose.VPN_PURCHASE, amount=Money(1_000_000, Currency.IRR),
        item={"plan_id": plan.id, "server_group": "default", "location": None, "duration_days": 30,
              "traffic_bytes": None})) for _ in range(20)]
    results = await asyncio.gather(*(world.fulfiller.fulfil(i) for i in invoices), return_exceptions=True)
    placed = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, UpstreamRejectedError)]
    assert len(placed) == 3 and len(refused) == 17, results
    assert all(r.code == "NO_SERVER_AVAILABLE" for r in refused)
    assert await _placed(world) == {server.id: 3}
