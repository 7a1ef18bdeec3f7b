"""A purchase, renewal or add-on replayed with the same idempotency key after it was delivered hands back the same
invoice and charges nothing again (it used to raise ConflictError, then INVOICE_NOT_PAYABLE)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import FrozenClock
from tests.integration.vpn.harness import IRR, VpnWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.billing import Gateway, InvoiceStatus
from vpnsmm.domain.vpn_sales import AddOnKind


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    w = VpnWorld(uow_factory, clock)
    yield w
    await w.close()


async def test_replays_after_delivery_return_the_invoice_and_charge_once(world: VpnWorld) -> None:
    alice = await world.user("alice")
    plan = await world.plan()
    await world.fake_server()
    first = await world.buy_with_wallet(alice, plan, idempotency_key="buy-1")
    again = await world.buy_with_wallet(alice, plan, idempotency_key="buy-1")
    assert again.invoice.id == first.invoice.id and again.payment is None
    assert again.invoice.status is InvoiceStatus.FULFILLED
    account = await world.account_of(first)
    renewals = [await world.renew(alice.id, account.id, IRR, Gateway.WALLET, idempotency_key="renew-1")
                for _ in range(3)]
    addons = [await world.addon(alice.id, account.id, AddOnKind.DAYS, 2, IRR, Gateway.WALLET,
                                idempotency_key="days-1") for _ in range(2)]
    assert len({p.invoice.id for p in renewals}) == 1 and len({p.invoice.id for p in addons}) == 1
    assert [p.payment is not None for p in renewals] == [True, False, False]
    assert await world.balance(alice) == 10_000_000 - 2 * 1_000_000 - 2 * 5_000
    fresh = await world.accounts.get(alice.id, account.id)
    assert fresh.applied_invoices == [renewals[0].invoice.id, addons[0].invoice.id]
