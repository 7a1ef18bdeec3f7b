"""Operator use cases (application/operations.py) and the repository additions they need, on memory, SQLite
and PostgreSQL: sorted/filtered order search, audit search, the YouTube account list, price coefficients,
paged wallet statements, user counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.conftest import FrozenClock
from tests.integration.smm_orders.harness import SmmWorld
from vpnsmm.application.operations import (
    CountUsers,
    ManageYoutubeAccounts,
    OperatorLog,
    ServiceCoefficients,
    WalletStatement,
    coefficient_of,
    markup_of,
)
from vpnsmm.application.ports.persistence import AuditFilter, UnitOfWorkFactory
from vpnsmm.domain.errors import ConflictError, NotFoundError, ValidationError
from vpnsmm.domain.identity import UserStatus
from vpnsmm.domain.money import Currency
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import OrderFilter
from vpnsmm.domain.youtube_accounts import YoutubeAccountStatus


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[SmmWorld]:
    w = SmmWorld(uow_factory, clock)
    await w.with_simulated_provider()
    yield w
    await w.close()


async def test_order_search_sorts_and_filters_by_status_set_and_creation_time(world: SmmWorld,
                                                                             clock: FrozenClock) -> None:
    alice = await world.user("alice")
    await world.fund(alice, "50.00")
    placed = []
    for quantity in (300, 100, 200):
        placed.append(await world.place(await world.order(alice, quantity=quantity)))
        clock.advance(hours=1)
    first, second, third = placed
    await world.admin.complete(None, second.id)

    def ids(items: list) -> list[int]:  # type: ignore[type-arg]
        return [o.id for o in items]

    mine = OrderFilter(user_id=alice.id)
    assert ids((await world.orders.search(mine))[0]) == [third.id, second.id, first.id]
    assert ids((await world.orders.search(mine, sort="quantity", descending=False))[0]) == [second.id, third.id,
                                                                                           first.id]
    assert ids((await world.orders.search(mine, sort="created_at", descending=False))[0]) == [first.id, second.id,
                                                                                             third.id]
    assert ids((await world.orders.search(mine, sort="updated_at"))[0])[0] == second.id  # completed last
    by_status = ids((await world.orders.search(mine, sort="status", descending=False))[0])
    assert by_status[0] == second.id  # "Completed" < "Pending"
    with pytest.raises(ValidationError):
        await world.orders.search(mine, sort="link")

    done = OrderFilter(user_id=alice.id, statuses=(OrderStatus.COMPLETED, OrderStatus.CANCELED))
    assert await world.orders.search(done) == ([await world.orders.get(alice.id, second.id)], 1)
    assert await world.orders.search(OrderFilter(user_id=alice.id, statuses=())) == ([], 0)
    window = OrderFilter(created_from=first.created_at + timedelta(minutes=30),
                         created_before=third.created_at)
    assert ids((await world.orders.search(window))[0]) == [second.id]
    page, total = await world.orders.search(mine, limit=1, offset=1, sort="quantity")
    assert total == 3 and ids(page) == [third.id]


async def test_audit_search_and_the_operator_log(world: SmmWorld, clock: FrozenClock) -> None:
    boss, other = await world.user("boss"), await world.user("other")
    customer = await world.user("cust")
    await world.fund(customer, "10.00")  # an adjustment by actor None (system)
    order = await world.place(await world.order(customer))
    await world.admin.complete(boss.id, order.id)
    clock.advance(days=2)
    order2 = await world.place(await world.order(customer))
    await world.admin.cancel_and_refund(other.id, order2.id, "User request")

    async with world.uow(read_only=True) as uow:
        everything, total = await uow.audit.search(AuditFilter(), limit=100, offset=0)
        people, people_total = await uow.audit.search(AuditFilter(operators_only=True), limit=100, offset=0)
        cancels, _ = await uow.audit.search(AuditFilter(actions=("smm_order.cancel",)), limit=10, offset=0)
        none, none_total = await uow.audit.search(AuditFilter(actions=()), limit=10, offset=0)
        early, _ = await uow.audit.search(AuditFilter(at_before=clock.now() - timedelta(days=1), operators_only=True),
                                          limit=10, offset=0)
        second_page, _ = await uow.audit.search(AuditFilter(operators_only=True), limit=1, offset=1)
    assert total == len(everything) >= people_total == 2
    assert [e.actor_id for e in people] == [other.id, boss.id]  # newest first
    assert [e.target for e in cancels] == [f"smm_order:{order2.id}"] and (none, none_total) == ([], 0)
    assert [e.action for e in early] == ["smm_order.complete"] and [e.actor_id for e in second_page] == [boss.id]

    log = OperatorLog(world.uow)
    entries, count = await log.search(operator_username="OTHER")
    assert count == 1 and entries[0].operator_username == "other" and entries[0].record.details["reason"] == \
        "User request"
    assert await log.search(operator_username="nobody") == ([], 0)
    assert await log.search(operator_username="   ") == (await log.search())  # blank: no filter
    assert (await log.search(actions=["smm_order.complete"]))[1] == 1
    assert (await log.search(since=clock.now() - timedelta(hours=1)))[1] == 1


async def test_youtube_accounts_are_a_managed_audited_list(uow_factory: UnitOfWorkFactory,
                                                           clock: FrozenClock) -> None:
    accounts = ManageYoutubeAccounts(uow_factory, clock)
    one = await accounts.add("account1@gmail.com", daily_limit=100, actor_id=None)
    two = await accounts.add("account2@gmail.com")
    with pytest.raises(ConflictError) as taken:
        await accounts.add("ACCOUNT1@gmail.com")
    assert taken.value.code == "EMAIL_TAKEN"
    for bad_email, limit in (("not-an-email", 1), ("x@y.z", -1), ("a@b.cd", 10**9)):
        with pytest.raises(ValidationError):
            await accounts.add(bad_email, daily_limit=limit)
    items, total = await accounts.page(limit=1, offset=1)
    assert total == 2 and [a.email for a in items] == ["account2@gmail.com"]

    async with uow_factory() as uow:  # deliveries use the quota (no use case yet: the repository directly)
        stored = await uow.youtube_accounts.get(one.id)
        assert stored is not None
        stored.daily_used, stored.total_processed, stored.last_used_at = 25, 1000, clock.now()
        await uow.youtube_accounts.update(stored)
        await uow.commit()
    reset = await accounts.reset_daily_limit(one.id, actor_id=7)
    assert reset.daily_used == 0 and reset.total_processed == 1000 and reset.last_used_at == clock.now()
    again = await accounts.reset_daily_limit(one.id, actor_id=7)
    assert again.daily_used == 0
    changed = await accounts.set_status(two.id, YoutubeAccountStatus.parse("inactive"), actor_id=7)
    assert changed.status is YoutubeAccountStatus.INACTIVE
    assert (await accounts.page(limit=10, offset=0))[0][1].status is YoutubeAccountStatus.INACTIVE
    with pytest.raises(ValidationError):
        YoutubeAccountStatus.parse("SLEEPY")
    with pytest.raises(NotFoundError):
        await accounts.reset_daily_limit(999, actor_id=7)
    with pytest.raises(NotFoundError):
        await accounts.set_status(999, YoutubeAccountStatus.ACTIVE, actor_id=7)
    async with uow_factory(read_only=True) as uow:
        trail, _ = await uow.audit.search(AuditFilter(actor_id=7), limit=10, offset=0)
    assert [e.action for e in trail] == ["youtube_account.status", "youtube_account.reset_daily_limit",
                                         "youtube_account.reset_daily_limit"]
    assert trail[1].details == {"cleared": 0} and trail[2].details == {"cleared": 25}


def test_coefficients_and_markups_are_exact_decimals() -> None:
    assert [coefficient_of(m) for m in ("0", "20", "12.5", "100")] == ["1", "1.2", "1.125", "2"]
    assert [markup_of(c) for c in ("1", "1.2", "1.5", " 2 ", "1.0001")] == ["0", "20", "50", "100", "0.01"]
    for bad in ("0.99", "abc", "1.00001", "101", "NaN", "Infinity", "", "1e1", "-1.5"):
        with pytest.raises(ValidationError):
            markup_of(bad)


async def test_setting_a_coefficient_reprices_from_the_provider_rate(world: SmmWorld, clock: FrozenClock) -> None:
    coefficients = ServiceCoefficients(world.uow, clock)
    service = await world.service("1")
    listed = {c.service.id: c for c in await coefficients.all()}
    assert listed[service.id].coefficient == "1" and listed[service.id].updated_at is None  # never changed
    clock.advance(minutes=5)
    result = await coefficients.set(service.id, "1.5", actor_id=3, reason="Market adjustment")
    assert result.coefficient == "1.5" and result.updated_at == clock.now()
    repriced = await world.service("1")
    assert repriced.markup == "50" and repriced.rate.format() == "1.35"  # 0.90 x 1.5
    assert {c.service.id: c for c in await coefficients.all()}[service.id].updated_at == clock.now()
    # an order is priced at the new rate
    buyer = await world.user("buyer")
    await world.fund(buyer, "5.00")
    order = await world.place(await world.order(buyer, quantity=1000))
    assert order.charge.format() == "1.35"
    with pytest.raises(NotFoundError):
        await coefficients.set(999_999, "1.2", actor_id=3)
    with pytest.raises(ValidationError):
        await coefficients.set(service.id, "0.5", actor_id=3)
    assert (await world.service("1")).rate.format() == "1.35"  # nothing half-written
    async with world.uow(read_only=True) as uow:
        (entry,) = (await uow.audit.search(AuditFilter(actions=("smm_service.coefficient",)), limit=5, offset=0))[0]
    assert entry.details["rate_before"] == "0.90" and entry.details["rate_after"] == "1.35"


async def test_wallet_statement_pages_by_number_and_counts_users(world: SmmWorld) -> None:
    ann = await world.user("ann")
    await world.fund(ann, "10.00")
    for _ in range(4):
        await world.place(await world.order(ann, quantity=100))
    statement = WalletStatement(world.uow)
    page0, total = await statement.page(ann.id, Currency.USD, page=0, size=2)
    page2, _ = await statement.page(ann.id, Currency.USD, page=2, size=2)
    assert total == 5 and len(page0) == 2 and len(page2) == 1
    assert page0[0].id > page0[1].id > page2[0].id and page2[0].delta == 1000
    assert await statement.page(ann.id, Currency.EUR, page=0, size=10) == ([], 0)
    with pytest.raises(ValidationError):
        await statement.page(ann.id, Currency.USD, page=-1, size=10)
    with pytest.raises(ValidationError):
        await statement.page(ann.id, Currency.USD, page=10**6, size=10)

    async with world.uow() as uow:
        user = await uow.users.get(ann.id)
        assert user is not None
        user.status = UserStatus.BANNED
        await uow.users.update(user)
        await uow.commit()
    counts = await CountUsers(world.uow)()
    assert (counts.total, counts.active) == (1, 0)
