"""Reseller price lists apply to purchase, renewal and add-ons alike; a plan's traffic reset strategy starts a fresh
quota every interval (panel counters zeroed, lifetime totals kept); a start-on-first-use account's expiry reaches
the panel once its clock starts. On memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.conftest import FrozenClock
from tests.integration.vpn.harness import IRR, VpnWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.vpn import PlanDraft
from vpnsmm.application.vpn_prices import ManagePriceLists
from vpnsmm.domain.billing import Gateway
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn_sales import GIB, AccountStatus, AddOnKind, TrafficReset

USD = Currency.USD


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    w = VpnWorld(uow_factory, clock)
    yield w
    await w.close()


async def test_a_resellers_price_list_prices_purchase_renewal_and_add_ons(world: VpnWorld) -> None:
    prices = ManagePriceLists(world.uow, world.clock)
    await world.fake_server(capacity=10)
    monthly = await world.plan("Monthly", price=1_000_000)  # add-ons: 10,000/GiB, 5,000/day
    yearly = await world.plan("Yearly", price=9_000_000, days=365)
    reseller = await world.user("reseller", funds=50_000_000)
    public = await world.user("walk-in", funds=50_000_000)
    await prices.set(actor_id=None, user_id=reseller.id, plan_id=None, discount_bp=2000)  # 20 % off everything
    await prices.set(actor_id=None, user_id=reseller.id, plan_id=monthly.id, discount_bp=1000,
                     prices={IRR: Money(700_000, IRR)})  # this plan: its own price, and 10 % off its add-ons

    quote = await prices.quote(reseller.id, monthly.id, IRR)
    assert (quote.period, quote.public_period) == (Money(700_000, IRR), Money(1_000_000, IRR))
    assert quote.extra_gb is not None and quote.extra_gb.price == Money(9_000, IRR)
    assert quote.extra_day is not None and quote.extra_day.price == Money(4_500, IRR)

    bought = await world.buy_with_wallet(reseller, monthly)
    assert bought.invoice.amount == Money(700_000, IRR)
    account = await world.account_of(bought)
    renewal = await world.renew(reseller.id, account.id, IRR, Gateway.WALLET)
    assert renewal.invoice.amount == Money(700_000, IRR)
    gigs = await world.addon(reseller.id, account.id, AddOnKind.TRAFFIC, 3, IRR, Gateway.WALLET)
    days = await world.addon(reseller.id, account.id, AddOnKind.DAYS, 7, IRR, Gateway.WALLET)
    assert (gigs.invoice.amount, days.invoice.amount) == (Money(27_000, IRR), Money(31_500, IRR))
    other = await world.buy_with_wallet(reseller, yearly)  # the every-plan entry: 20 % off
    assert other.invoice.amount == Money(7_200_000, IRR)
    assert await world.balance(reseller) == 50_000_000 - 700_000 * 2 - 27_000 - 31_500 - 7_200_000

    walk_in = await world.buy_with_wallet(public, monthly)  # nobody else gets the reseller's prices
    assert walk_in.invoice.amount == Money(1_000_000, IRR)
    walk_in_account = await world.account_of(walk_in)
    assert (await world.addon(public.id, walk_in_account.id, AddOnKind.TRAFFIC, 1, IRR)).invoice.amount == \
        Money(10_000, IRR)

    assert await prices.remove(actor_id=None, user_id=reseller.id, plan_id=monthly.id) is True
    assert (await world.renew(reseller.id, account.id, IRR)).invoice.amount == Money(800_000, IRR)  # 20 % again
    assert [e.plan_id for e in await prices.list(reseller.id)] == [None]


async def test_price_lists_refuse_bad_entries(world: VpnWorld) -> None:
    prices = ManagePriceLists(world.uow, world.clock)
    plan = await world.plan()
    user = await world.user("r2")
    for bad in ({"discount_bp": 10_001}, {"discount_bp": -1}, {"plan_id": None, "prices": {IRR: Money(1, IRR)}},
                {"prices": {IRR: Money(0, IRR)}}, {"prices": {IRR: Money(5, USD)}}):
        kwargs = {"plan_id": plan.id, **bad}
        with pytest.raises(ValidationError):
            await prices.set(actor_id=None, user_id=user.id, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await prices.set(actor_id=None, user_id=user.id, plan_id=999, discount_bp=100)
    with pytest.raises(NotFoundError):
        await prices.set(actor_id=None, user_id=999_999, plan_id=None, discount_bp=100)
    assert await prices.list(user.id) == []
    # a currency the plan does not sell stays refused unless the price list names a price in it
    with pytest.raises(ValidationError) as refused:
        await prices.quote(user.id, plan.id, USD)
    assert refused.value.code == "CURRENCY_NOT_OFFERED"
    await prices.set(actor_id=None, user_id=user.id, plan_id=plan.id, prices={USD: Money(300, USD)})
    assert (await prices.quote(user.id, plan.id, USD)).period == Money(300, USD)


async def test_a_weekly_traffic_reset_restarts_the_quota_and_zeroes_the_panel(world: VpnWorld) -> None:
    plan = await world.plans.create(PlanDraft(name="Weekly 1 GiB", prices={IRR: Money(1_000, IRR)}, duration_days=30,
                                              traffic_bytes=GIB, traffic_reset=TrafficReset.WEEK, transport="ws"))
    assert plan.traffic_reset is TrafficReset.WEEK
    stored = await world.plans.get(plan.id)
    assert (stored.traffic_reset, stored.transport) == (TrafficReset.WEEK, "ws")
    server = await world.fake_server()
    user = await world.user("weekly")
    account = await world.account_of(await world.buy_with_wallet(user, plan))
    start = world.clock.now()
    assert account.next_traffic_reset_at == start + timedelta(days=7)
    panel = await world.fake_panel(server)
    key = f"acc-{account.id}"
    panel.add_traffic(key, GIB // 2, GIB // 2)
    await world.sync(server.id)
    assert (await world.accounts.get(user.id, account.id)).status is AccountStatus.LIMITED
    world.clock.advance(days=3)
    assert (await world.enforce()).changed == []  # not due yet
    world.clock.advance(days=4, minutes=1)
    report = await world.enforce()
    assert report.changed == [account.id]
    fresh = await world.accounts.get(user.id, account.id)
    assert fresh.status is AccountStatus.ACTIVE and fresh.period_used_bytes == 0 and fresh.used_bytes == GIB
    assert fresh.next_traffic_reset_at == start + timedelta(days=14)
    assert fresh.expires_at == start + timedelta(days=30) and not fresh.pending_reset
    client = await panel.get_client(key)
    assert client.used_bytes == 0 and client.enabled
    panel.add_traffic(key, 100, 200)  # the next reading counts from the panel's zero
    await world.sync(server.id)
    again = await world.accounts.get(user.id, account.id)
    assert (again.used_bytes, again.period_used_bytes) == (GIB + 300, 300)
    assert (await world.enforce()).changed == []  # nothing due: one reset per interval


async def test_plans_refuse_an_unknown_reset_strategy(world: VpnWorld) -> None:
    with pytest.raises(ValidationError) as refused:
        await world.plans.create(PlanDraft(name="Bad", prices={IRR: Money(1, IRR)}, duration_days=30,
                                           traffic_reset="fortnight"))  # type: ignore[arg-type]
    assert refused.value.field == "traffic_reset"
    with pytest.raises(ValidationError) as bad_transport:
        await world.plans.create(PlanDraft(name="Bad", prices={IRR: Money(1, IRR)}, duration_days=30, transport="kcp"))
    assert bad_transport.value.field == "transport"


async def test_first_use_starts_the_clock_and_pushes_the_expiry_to_the_panel(world: VpnWorld) -> None:
    plan = await world.plans.create(PlanDraft(name="Hold weekly", prices={IRR: Money(1_000, IRR)}, duration_days=30,
                                              traffic_bytes=GIB, start_on_first_use=True,
                                              traffic_reset=TrafficReset.WEEK))
    server = await world.fake_server()
    user = await world.user("holder")
    account = await world.account_of(await world.buy_with_wallet(user, plan))
    assert account.status is AccountStatus.ON_HOLD and account.next_traffic_reset_at is None
    panel = await world.fake_panel(server)
    key = f"acc-{account.id}"
    assert (await panel.get_client(key)).limits.expires_at is None
    world.clock.advance(days=10)
    assert (await world.enforce()).changed == []  # on hold: no expiry, no reset
    panel.add_traffic(key, 10, 10)
    await world.sync(server.id)
    started = await world.accounts.get(user.id, account.id)
    first_use = world.clock.now()
    assert started.expires_at == first_use + timedelta(days=30)
    assert started.next_traffic_reset_at == first_use + timedelta(days=7) and started.needs_push
    assert (await world.enforce()).changed == [account.id]
    assert (await panel.get_client(key)).limits.expires_at == started.expires_at
    assert not (await world.accounts.get(user.id, account.id)).needs_push
