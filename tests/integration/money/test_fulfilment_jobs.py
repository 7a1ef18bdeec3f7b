"""A paid purchase whose delivery failed is delivered later by the job queue (enqueued with the payment)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import FrozenClock
from tests.integration.money.harness import MoneyWorld
from vpnsmm.adapters.jobs.runner import JobRunner
from vpnsmm.adapters.jobs.sql import SqlJobStore
from vpnsmm.adapters.memory import InMemoryUnitOfWorkFactory
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.billing import (
    ExpireInvoices,
    NewInvoice,
    ReconcilePayments,
    register_billing_tasks,
)
from vpnsmm.application.jobs import TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.billing import Gateway, InvoicePurpose, InvoiceStatus
from vpnsmm.domain.errors import InsufficientFundsError, UpstreamUnavailableError
from vpnsmm.domain.money import Currency, Money


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[MoneyWorld]:
    w = MoneyWorld(uow_factory, clock)
    yield w
    await w.close()


class Later:
    """Wall-clock time (what the outbox stamps jobs with) plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def runner_for(world: MoneyWorld, now: Later | None = None) -> JobRunner:
    registry = TaskRegistry()
    register_billing_tasks(registry, fulfil=world.fulfil, expire=ExpireInvoices(world.uow, world.clock),
                           reconcile=ReconcilePayments(world.uow, world.gateways, world.confirm))
    if isinstance(world.uow, InMemoryUnitOfWorkFactory):
        store = world.uow.job_store
    else:
        assert isinstance(world.uow, SqlUnitOfWorkFactory)
        store = SqlJobStore(world.uow.engine)  # type: ignore[assignment]
    return JobRunner(store, registry, now=now or Later(), run_periodic=False, concurrency=1)


async def test_a_failed_delivery_is_retried_by_the_queue(world: MoneyWorld) -> None:
    buyer, admin = await world.user("buyer"), await world.user("admin")
    await world.wallets.adjust(actor_id=admin.id, user_id=buyer.id, amount=Money(1_000, Currency.IRR),
                               reason="funds", idempotency_key="f")
    world.fulfiller.fail_with = UpstreamUnavailableError("panel unreachable")
    invoice = await world.create_invoice(NewInvoice(user_id=buyer.id, purpose=InvoicePurpose.VPN_PURCHASE,
                                                    amount=Money(600, Currency.IRR)))
    paid = await world.pay(buyer.id, invoice.id, Gateway.WALLET)
    assert paid.invoice.status is InvoiceStatus.PAID and world.fulfiller.delivered == []

    later = Later()
    runner = runner_for(world, later)
    assert await runner.run_once() == 1  # the panel is still down: the attempt fails and is rescheduled
    world.fulfiller.fail_with = None
    later.offset = timedelta(minutes=5)  # past the backoff
    assert await runner.run_once() == 1
    assert world.fulfiller.delivered == [invoice.id]
    async with world.uow(read_only=True) as uow:
        stored = await uow.invoices.get(invoice.id)
    assert stored is not None and stored.status is InvoiceStatus.FULFILLED
    assert await world.balance(buyer) == 400
    later.offset = timedelta(hours=2)
    assert await runner.run_once() == 0  # nothing left: the job succeeded once


async def test_the_fulfilment_job_is_enqueued_only_if_the_payment_commits(world: MoneyWorld) -> None:
    buyer = await world.user("poor")
    invoice = await world.create_invoice(NewInvoice(user_id=buyer.id, purpose=InvoicePurpose.VPN_PURCHASE,
                                                    amount=Money(600, Currency.IRR)))
    with pytest.raises(InsufficientFundsError):  # the transaction rolls back, and its job with it
        await world.pay(buyer.id, invoice.id, Gateway.WALLET)
    assert await runner_for(world).run_once() == 0
