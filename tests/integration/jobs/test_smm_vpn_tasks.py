"""SMM and VPN background work runs through the job queue (memory, SQLite, PostgreSQL): the tasks are registered
with their schedules and locks, and running them through a JobRunner does the work once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import FrozenClock
from tests.integration.smm_orders.harness import USD, SmmWorld
from tests.integration.vpn.harness import VpnWorld
from vpnsmm.adapters.jobs.memory import InMemoryJobStore
from vpnsmm.adapters.jobs.runner import JobRunner
from vpnsmm.adapters.jobs.sql import SqlJobStore
from vpnsmm.adapters.jobs.store import JobStore
from vpnsmm.adapters.memory import InMemoryUnitOfWorkFactory
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.jobs import Schedule, TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.smm import POLL_TASK, SUBMIT_TASK, register_smm_tasks
from vpnsmm.application.vpn import (
    ENFORCE_TASK,
    USAGE_SYNC_SERVER_TASK,
    USAGE_SYNC_TASK,
    ScheduleUsageSync,
    register_vpn_tasks,
)
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import SubmitState
from vpnsmm.domain.vpn_sales import GIB, AccountStatus


class Later:
    """Wall-clock time (what outboxes stamp jobs with) plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def store_of(uow: UnitOfWorkFactory) -> JobStore:
    if isinstance(uow, InMemoryUnitOfWorkFactory):
        store: InMemoryJobStore = uow.job_store
        return store
    assert isinstance(uow, SqlUnitOfWorkFactory)
    return SqlJobStore(uow.engine)


def runner(uow: UnitOfWorkFactory, registry: TaskRegistry, now: Later) -> JobRunner:
    return JobRunner(store_of(uow), registry, now=now, concurrency=1)


@pytest.fixture
async def smm(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[SmmWorld]:
    w = SmmWorld(uow_factory, clock)
    await w.with_simulated_provider()
    yield w
    await w.close()


@pytest.fixture
async def vpn(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    w = VpnWorld(uow_factory, clock)
    yield w
    await w.close()


def test_the_tasks_are_registered_with_their_schedules_and_locks(smm: SmmWorld, vpn: VpnWorld) -> None:
    registry = TaskRegistry()
    for _ in range(2):  # registering twice is a no-op
        register_smm_tasks(registry, submit=smm.submit, sync=smm.sync)
        register_vpn_tasks(registry, fan_out=ScheduleUsageSync(vpn.uow), sync=vpn.sync, enforce=vpn.enforce)
    assert set(registry.names) == {SUBMIT_TASK, POLL_TASK, USAGE_SYNC_TASK, USAGE_SYNC_SERVER_TASK, ENFORCE_TASK}
    assert registry.get("smm.submit").schedule == Schedule.every(30)
    assert registry.get("smm.poll").schedule == Schedule.every(60)
    assert registry.get("vpn.usage_sync").schedule == Schedule.every(300)
    assert registry.get("vpn.enforce").schedule == Schedule.every(300)
    per_server = registry.get("vpn.usage_sync.server")
    assert per_server.schedule is None and per_server.key_for({"server_id": 7}) == "vpn:usage:7"
    registry.configure_schedules({"smm.poll": "every:1", "vpn.enforce": "off"})  # VPNSMM_JOB_SCHEDULES names
    assert registry.get("smm.poll").schedule == Schedule.every(1) and registry.get("vpn.enforce").schedule is None


async def test_smm_submit_and_poll_run_through_the_queue_once(smm: SmmWorld) -> None:
    registry = TaskRegistry()
    register_smm_tasks(registry, submit=smm.submit, sync=smm.sync)
    buyer = await smm.user("queued")
    await smm.fund(buyer, "5.00")
    sent = await smm.place(await smm.order(buyer))  # charged 0.90, sent at once
    smm.panel.advance(sent.provider_order_id or "", OrderStatus.CANCELED)  # the poll refunds it
    smm.panel.balance = 0  # our provider balance is short: the next order waits in ``queued``
    queued = await smm.place(await smm.order(buyer))
    assert queued.submit_state is SubmitState.QUEUED
    smm.panel.balance = 10**10
    assert await smm.balance(buyer) == Money.parse("3.20", USD)

    later = Later()
    jobs = runner(smm.uow, registry, later)
    assert await jobs.run_once() == 2  # smm.submit and smm.poll, enqueued for the current slot
    now_sent = await smm.orders.get(buyer.id, queued.id)
    assert now_sent.submit_state is SubmitState.SENT and now_sent.provider_order_id
    assert (await smm.orders.get(buyer.id, sent.id)).status is OrderStatus.CANCELED
    assert await smm.balance(buyer) == Money.parse("4.10", USD)  # refunded once
    assert await jobs.run_once() == 0  # the same slot is not enqueued twice

    later.offset = timedelta(minutes=2)  # the next slots: polling again refunds nothing twice
    assert await jobs.run_once() == 2
    assert await smm.balance(buyer) == Money.parse("4.10", USD)
    await smm.books_balance()


async def test_vpn_usage_sync_and_enforce_run_through_the_queue_once(vpn: VpnWorld) -> None:
    registry = TaskRegistry()
    register_vpn_tasks(registry, fan_out=ScheduleUsageSync(vpn.uow), sync=vpn.sync, enforce=vpn.enforce)
    owner = await vpn.user("owner")
    plan = await vpn.plan(days=1, traffic=10 * GIB)
    server = await vpn.fake_server()
    account = await vpn.account_of(await vpn.buy_with_wallet(owner, plan))
    panel = await vpn.fake_panel(server)
    panel.add_traffic(f"acc-{account.id}", 1 * GIB, 2 * GIB)
    vpn.clock.advance(days=2)  # past the plan's end: enforcement expires and disables it

    later = Later()
    jobs = runner(vpn.uow, registry, later)
    assert await jobs.run_once() == 3  # the fan-out, one per-server sync, the enforcement sweep
    synced = await vpn.accounts.get(owner.id, account.id)
    assert synced.used_bytes == 3 * GIB
    assert synced.status is AccountStatus.EXPIRED
    assert not panel.clients[f"acc-{account.id}"].enabled
    assert await jobs.run_once() == 0

    later.offset = timedelta(minutes=6)  # the next slots: the same counters are folded in once
    assert await jobs.run_once() == 3
    again = await vpn.accounts.get(owner.id, account.id)
    assert again.used_bytes == 3 * GIB and again.status is AccountStatus.EXPIRED
