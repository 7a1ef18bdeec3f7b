"""Recurring SMM orders on memory, SQLite and PostgreSQL: first run at creation, due runs placed by the job
through PlaceOrder, exactly once per run (retries, duplicates, concurrency), pausing on a short wallet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from attrs import evolve

from tests.conftest import FrozenClock
from tests.integration.smm_orders.harness import USD, SmmWorld
from vpnsmm.application.jobs import TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.smm_subscriptions import (
    SUBSCRIPTIONS_TASK,
    NewSubscription,
    RunOutcome,
    RunSubscriptions,
    SmmSubscriptions,
    register_subscription_tasks,
)
from vpnsmm.domain.errors import InsufficientFundsError, InvalidTransitionError, NotFoundError, ValidationError
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm_orders import OrderFilter
from vpnsmm.domain.smm_subscriptions import RecurrenceInterval, SubscriptionStatus


class SubsWorld(SmmWorld):
    def __init__(self, uow: UnitOfWorkFactory, clock: FrozenClock) -> None:
        super().__init__(uow, clock)
        self.subs = SmmSubscriptions(uow, clock, self.place)
        self.run = RunSubscriptions(uow, clock, self.place)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[SubsWorld]:
    w = SubsWorld(uow_factory, clock)
    await w.with_simulated_provider()
    yield w
    await w.close()


def usd(text: str) -> Money:
    return Money.parse(text, USD)


async def new(world: SubsWorld, user_id: int, interval: str = "daily", *, provider_service_id: str = "1",
              quantity: int | None = 1000, link: str | None = "https://instagram.com/u") -> NewSubscription:
    service = await world.service(provider_service_id)
    return NewSubscription(user_id=user_id, service_id=service.id, link=link, quantity=quantity, interval=interval)


async def order_count(world: SubsWorld, user_id: int) -> int:
    return (await world.orders.search(OrderFilter(user_id=user_id)))[1]


async def test_create_places_the_first_run_and_schedules_the_next(world: SubsWorld) -> None:
    buyer = await world.user("sub")
    await world.fund(buyer, "10.00")
    started = await world.subs.create(await new(world, buyer.id, "daily"))
    sub, order = started.subscription, started.first_order
    assert sub.status is SubscriptionStatus.ACTIVE and sub.interval is RecurrenceInterval.DAILY
    assert sub.runs_placed == 1 and sub.last_order_id == order.id and sub.next_run == 1
    assert sub.next_run_at == world.clock.now() + timedelta(days=1)
    assert order.charge == usd("0.90") and order.provider_order_id is not None
    assert await world.balance(buyer) == usd("9.10")
    assert [(r.run, r.order_id) for r in await world.subs.runs(buyer.id, sub.id)] == [(0, order.id)]
    stored = await world.subs.get(buyer.id, sub.id)
    assert stored.next_run_at == sub.next_run_at and stored.anchor_at == world.clock.now()
    await world.books_balance()


async def test_create_without_money_writes_nothing(world: SubsWorld) -> None:
    buyer = await world.user("poor")
    await world.fund(buyer, "0.10")
    with pytest.raises(InsufficientFundsError):
        await world.subs.create(await new(world, buyer.id))
    assert (await world.subs.search(buyer.id))[1] == 0
    assert await order_count(world, buyer.id) == 0
    assert await world.balance(buyer) == usd("0.10")


@pytest.mark.parametrize(("changes", "code"), [
    ({"interval": "fortnightly"}, "INVALID_INTERVAL"),
    ({"interval": "custom"}, "INVALID_INTERVAL"),
    ({"quantity": 10}, "INVALID_QUANTITY"),
    ({"quantity": 10**7}, "INVALID_QUANTITY"),
    ({"link": "javascript:alert(1)"}, "INVALID_LINK"),
    ({"provider_service_id": "2", "quantity": None}, "NOT_RECURRING"),  # custom comments
])
async def test_bad_input_is_refused_with_a_code(world: SubsWorld, changes: dict[str, object], code: str) -> None:
    buyer = await world.user("bad")
    await world.fund(buyer, "10.00")
    with pytest.raises(ValidationError) as err:
        await world.subs.create(await new(world, buyer.id, **changes))  # type: ignore[arg-type]
    assert err.value.code == code
    assert await world.balance(buyer) == usd("10.00")
    assert (await world.subs.search(buyer.id))[1] == 0


async def test_a_package_service_recurs_without_quantity(world: SubsWorld) -> None:
    buyer = await world.user("pkg")
    await world.fund(buyer, "10.00")
    started = await world.subs.create(await new(world, buyer.id, "weekly", provider_service_id="4", quantity=500))
    assert started.subscription.quantity is None and started.first_order.charge == usd("2.50")


async def test_due_runs_are_placed_by_the_job_once_each(world: SubsWorld) -> None:
    buyer = await world.user("runner")
    await world.fund(buyer, "10.00")
    sub = (await world.subs.create(await new(world, buyer.id, "hourly"))).subscription
    assert (await world.run()).placed == 0  # nothing due yet
    world.clock.advance(minutes=59)
    assert (await world.run()).placed == 0
    world.clock.advance(minutes=1, seconds=30)
    report = await world.run()
    assert report.placed == 1
    assert (await world.run()).placed == 0  # the same tick again: nothing more
    after = await world.subs.get(buyer.id, sub.id)
    assert after.runs_placed == 2 and after.next_run == 2
    assert after.next_run_at == sub.anchor_at + timedelta(hours=2)  # from the anchor: no drift
    assert await world.balance(buyer) == usd("8.20")
    assert await order_count(world, buyer.id) == 2


async def test_a_retried_or_duplicated_run_never_charges_twice(world: SubsWorld) -> None:
    buyer = await world.user("dup")
    await world.fund(buyer, "10.00")
    sub = (await world.subs.create(await new(world, buyer.id))).subscription
    world.clock.advance(days=1)
    assert await world.run.run(sub.id, 1) is RunOutcome.PLACED
    assert await world.run.run(sub.id, 1) is RunOutcome.SKIPPED  # a retried job for the same run
    assert await world.run.run(sub.id, 0) is RunOutcome.SKIPPED  # an old run
    assert await world.run.run(sub.id, 2) is RunOutcome.SKIPPED  # not due yet
    assert await order_count(world, buyer.id) == 2
    assert await world.balance(buyer) == usd("8.20")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_concurrent_attempts_at_one_run_charge_once(world: SubsWorld) -> None:
    buyer = await world.user("race")
    await world.fund(buyer, "10.00")
    sub = (await world.subs.create(await new(world, buyer.id))).subscription
    world.clock.advance(days=1)
    outcomes = await asyncio.gather(*(world.run.run(sub.id, 1) for _ in range(8)), world.run(), world.run())
    placed = [o for o in outcomes[:8] if o is RunOutcome.PLACED]
    reports = outcomes[8:]
    assert len(placed) + sum(r.placed for r in reports) == 1  # type: ignore[union-attr]
    assert await order_count(world, buyer.id) == 2
    assert await world.balance(buyer) == usd("8.20")
    assert [r.run for r in await world.subs.runs(buyer.id, sub.id)] == [1, 0]
    await world.books_balance()


async def test_missed_runs_are_skipped_not_caught_up(world: SubsWorld) -> None:
    buyer = await world.user("late")
    await world.fund(buyer, "10.00")
    sub = (await world.subs.create(await new(world, buyer.id, "daily"))).subscription
    world.clock.advance(days=3, hours=5)  # workers were down for three slots
    assert (await world.run()).placed == 1
    after = await world.subs.get(buyer.id, sub.id)
    assert after.runs_placed == 2 and after.next_run == 4
    assert after.next_run_at == sub.anchor_at + timedelta(days=4)
    assert [r.run for r in await world.subs.runs(buyer.id, sub.id)] == [1, 0]


async def test_insufficient_balance_pauses_then_resume_continues(world: SubsWorld) -> None:
    buyer = await world.user("short")
    await world.fund(buyer, "1.00")
    sub = (await world.subs.create(await new(world, buyer.id))).subscription
    world.clock.advance(days=1)
    report = await world.run()
    assert report.paused == 1 and report.placed == 0
    paused = await world.subs.get(buyer.id, sub.id)
    assert paused.status is SubscriptionStatus.PAUSED and paused.pause_code == "INSUFFICIENT_BALANCE"
    assert await world.balance(buyer) == usd("0.10") and await order_count(world, buyer.id) == 1
    assert (await world.run()).placed == 0  # paused: not due
    await world.fund(buyer, "5.00")
    world.clock.advance(hours=2)
    resumed = await world.subs.resume(buyer.id, sub.id)
    assert resumed.status is SubscriptionStatus.ACTIVE and resumed.pause_code == ""
    assert resumed.next_run == 2 and resumed.next_run_at == sub.anchor_at + timedelta(days=2)
    world.clock.advance(days=1)
    assert (await world.run()).placed == 1
    assert await world.balance(buyer) == usd("4.20")


async def test_a_vanished_service_pauses_with_its_code(world: SubsWorld) -> None:
    buyer = await world.user("gone")
    await world.fund(buyer, "10.00")
    sub = (await world.subs.create(await new(world, buyer.id))).subscription
    await world.services.update(sub.service_id, active=False)
    world.clock.advance(days=1)
    assert (await world.run()).paused == 1
    assert (await world.subs.get(buyer.id, sub.id)).pause_code == "SERVICE_NOT_FOUND"


async def test_cancel_pause_and_ownership(world: SubsWorld) -> None:
    owner, other = await world.user("owner"), await world.user("other")
    await world.fund(owner, "10.00")
    sub = (await world.subs.create(await new(world, owner.id))).subscription
    for action in (world.subs.get, world.subs.cancel, world.subs.pause, world.subs.resume, world.subs.runs):
        with pytest.raises(NotFoundError) as err:
            await action(other.id, sub.id)
        assert err.value.code == "SUBSCRIPTION_NOT_FOUND"
    assert (await world.subs.search(other.id))[1] == 0
    paused = await world.subs.pause(owner.id, sub.id)
    assert paused.status is SubscriptionStatus.PAUSED and paused.pause_code == "PAUSED_BY_USER"
    canceled = await world.subs.cancel(owner.id, sub.id)
    assert canceled.status is SubscriptionStatus.CANCELED and canceled.canceled_at == world.clock.now()
    assert (await world.subs.cancel(owner.id, sub.id)).status is SubscriptionStatus.CANCELED  # idempotent
    with pytest.raises(InvalidTransitionError):
        await world.subs.resume(owner.id, sub.id)
    world.clock.advance(days=5)
    assert (await world.run()).placed == 0
    assert await order_count(world, owner.id) == 1


async def test_listing_pages_and_filters(world: SubsWorld) -> None:
    buyer = await world.user("lister")
    await world.fund(buyer, "50.00")
    ids = [(await world.subs.create(await new(world, buyer.id, link=f"https://instagram.com/u{i}")))
           .subscription.id for i in range(5)]
    await world.subs.cancel(buyer.id, ids[0])
    page, total = await world.subs.search(buyer.id, limit=2, offset=0)
    assert total == 5 and [s.id for s in page] == [ids[4], ids[3]]
    active, n = await world.subs.search(buyer.id, status=SubscriptionStatus.ACTIVE, limit=100)
    assert n == 4 and ids[0] not in [s.id for s in active]


async def test_monthly_runs_follow_the_calendar(uow_factory: UnitOfWorkFactory) -> None:
    clock = FrozenClock(datetime(2026, 1, 31, 9, 0, tzinfo=UTC))
    world = SubsWorld(uow_factory, clock)
    try:
        await world.with_simulated_provider()
        buyer = await world.user("monthly")
        await world.fund(buyer, "10.00")
        sub = (await world.subs.create(await new(world, buyer.id, "monthly"))).subscription
        assert sub.next_run_at == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
        clock.current = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
        assert (await world.run()).placed == 1
        after = await world.subs.get(buyer.id, sub.id)
        assert after.next_run_at == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    finally:
        await world.close()


@pytest.mark.parametrize("backend", ["memory"])
async def test_the_job_is_registered_once_every_minute(world: SubsWorld) -> None:
    registry = TaskRegistry()
    register_subscription_tasks(registry, run=world.run)
    register_subscription_tasks(registry, run=world.run)
    spec = registry.get(SUBSCRIPTIONS_TASK)
    assert spec.schedule is not None and spec.schedule.every_seconds == 60


async def test_due_runs_are_placed_through_the_job_queue_once(world: SubsWorld) -> None:
    from tests.integration.jobs.test_smm_vpn_tasks import Later, runner

    buyer = await world.user("queue")
    await world.fund(buyer, "10.00")
    sub = (await world.subs.create(await new(world, buyer.id, "hourly"))).subscription
    world.clock.advance(hours=1)
    registry = TaskRegistry()
    register_subscription_tasks(registry, run=world.run)
    later = Later()
    jobs = runner(world.uow, registry, later)
    assert await jobs.run_once() == 1  # the periodic smm.subscriptions job for the current slot
    assert await jobs.run_once() == 0  # the same slot is not enqueued twice
    later.offset = timedelta(minutes=2)  # the next slot: the job runs again, but run 1 is already placed
    assert await jobs.run_once() == 1
    after = await world.subs.get(buyer.id, sub.id)
    assert after.runs_placed == 2 and await world.balance(buyer) == usd("8.20")


async def test_a_recurring_drip_feed_places_a_drip_feed_order_every_run(world: SubsWorld) -> None:
    """Each run of a drip-feed subscription is itself a drip-feed order: quantity per run x runs, charged per
    run of the subscription (0.90 per 1000; 500 x 3 drip-feed runs = 1500 units = 1.35 a run)."""
    buyer = await world.user("drip")
    await world.fund(buyer, "10.00")
    cmd = evolve(await new(world, buyer.id, "hourly", quantity=500), dripfeed_runs=3, dripfeed_interval=30)
    started = await world.subs.create(cmd)
    first, sub = started.first_order, started.subscription
    assert (first.runs, first.interval, first.quantity) == (3, 30, 1500)  # an order keeps its total
    assert first.charge == usd("1.35") and first.provider_order_id is not None
    assert (sub.dripfeed_runs, sub.dripfeed_interval) == (3, 30)
    provider_side = world.panel.orders[int(first.provider_order_id)]
    assert provider_side.quantity == 1500  # the provider was asked for 500 x 3 runs (a drip-feed)
    world.clock.advance(hours=1, seconds=1)
    assert (await world.run()).placed == 1
    stored = await world.subs.get(buyer.id, sub.id)
    assert (stored.dripfeed_runs, stored.dripfeed_interval) == (3, 30)  # survives the store
    second = await world.orders.get(buyer.id, stored.last_order_id or 0)
    assert (second.runs, second.interval, second.charge) == (3, 30, usd("1.35"))
    assert await world.balance(buyer) == usd("7.30")


async def test_recurring_drip_feed_needs_a_drip_feed_service_and_both_settings(world: SubsWorld) -> None:
    buyer = await world.user("nodrip")
    await world.fund(buyer, "10.00")
    views = await new(world, buyer.id, provider_service_id="3", quantity=1000)  # YouTube Views: no drip-feed
    with pytest.raises(ValidationError) as refused:
        await world.subs.create(evolve(views, dripfeed_runs=2, dripfeed_interval=10))
    assert refused.value.code == "DRIPFEED_NOT_ALLOWED"
    followers = await new(world, buyer.id, quantity=1000)
    with pytest.raises(ValidationError) as half:
        await world.subs.create(evolve(followers, dripfeed_runs=2))
    assert half.value.field == "dripfeed_interval"
    with pytest.raises(ValidationError):  # out of range, as for a one-off drip-feed order
        await world.subs.create(evolve(followers, dripfeed_runs=0, dripfeed_interval=10))
    assert await order_count(world, buyer.id) == 0 and await world.balance(buyer) == usd("10.00")
    assert (await world.subs.search(buyer.id))[1] == 0  # nothing half-written
