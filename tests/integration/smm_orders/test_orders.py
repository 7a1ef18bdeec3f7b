"""SMM use cases on memory, SQLite and PostgreSQL: charge, submit, poll, settle, refund, cancel, refill, admin."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.smm_orders.harness import USD, SmmWorld
from vpnsmm.application.smm import NewOrder
from vpnsmm.domain.errors import (
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import OrderFilter, SubmitState


def usd(text: str) -> Money:
    return Money.parse(text, USD)


async def transfer_ids(world: SmmWorld) -> set[str]:
    async with world.uow(read_only=True) as uow:
        ids = set()
        for owner in (None,):
            for account in await uow.ledger.accounts_of(owner):
                ids |= {e.transfer_id for e in await uow.ledger.entries(account.id, limit=500)}
        return ids


async def test_place_order_charges_records_and_submits(world: SmmWorld) -> None:
    buyer = await world.user("buyer")
    await world.fund(buyer, "10.00")
    order = await world.place(await world.order(buyer))
    assert order.charge == usd("0.90") and order.quantity == 1000
    assert order.submit_state is SubmitState.SENT and order.provider_order_id is not None
    assert await world.balance(buyer) == usd("9.10")
    upstream = world.panel.order(order.provider_order_id)
    assert upstream.quantity == 1000 and upstream.link == "https://instagram.com/p/abc"
    assert f"smm:{order.id}:charge" in await transfer_ids(world)
    await world.books_balance()


async def test_insufficient_funds_writes_nothing(world: SmmWorld) -> None:
    buyer = await world.user("poor")
    await world.fund(buyer, "0.50")
    with pytest.raises(InsufficientFundsError) as err:
        await world.place(await world.order(buyer))
    assert err.value.code == "INSUFFICIENT_BALANCE"
    assert await world.balance(buyer) == usd("0.50")
    _, total = await world.orders.search(OrderFilter(user_id=buyer.id))
    assert total == 0
    assert world.panel.orders == {}


@pytest.mark.parametrize(("fields", "code", "details"), [
    ({"quantity": 49}, "INVALID_QUANTITY", {"min": 50}),
    ({"quantity": 10001}, "INVALID_QUANTITY", {"max": 10000}),
    ({"quantity": None}, "INVALID_QUANTITY", {}),
    ({"link": "not a link"}, "INVALID_LINK", {}),
    ({"link": "ftp://x.example/a"}, "INVALID_LINK", {}),
    ({"link": None}, "INVALID_LINK", {}),
    ({"comments": "a\nb"}, "VALIDATION_ERROR", {}),  # Default services take no comments
])
async def test_validation_codes(world: SmmWorld, fields: dict[str, Any], code: str,
                                details: dict[str, int]) -> None:
    buyer = await world.user("v")
    await world.fund(buyer, "100.00")
    with pytest.raises(ValidationError) as err:
        await world.place(await world.order(buyer, **fields))
    assert err.value.code == code
    for key, value in details.items():
        assert err.value.details[key] == value
    assert await world.balance(buyer) == usd("100.00")


async def test_unknown_or_inactive_service_is_service_not_found(world: SmmWorld) -> None:
    buyer = await world.user("u")
    await world.fund(buyer, "5.00")
    cmd = await world.order(buyer)
    with pytest.raises(NotFoundError) as err:
        await world.place(NewOrder(user_id=buyer.id, service_id=9999, link="https://x.example/a", quantity=100))
    assert err.value.code == "SERVICE_NOT_FOUND"
    await world.services.update(cmd.service_id, active=False)
    with pytest.raises(NotFoundError):
        await world.place(cmd)


async def test_every_priced_type_places_with_its_fields(world: SmmWorld) -> None:
    buyer = await world.user("types")
    await world.fund(buyer, "100.00")
    comments = await world.place(await world.order(buyer, "2", quantity=None, comments="nice\ncool\n" * 5))
    assert comments.quantity == 10 and comments.charge == usd("0.08")  # 8 per 1000 x 10 lines
    package = await world.place(await world.order(buyer, "4", quantity=None))
    assert package.quantity == 1 and package.charge == usd("2.50")  # flat
    drip = await world.place(await world.order(buyer, "1", link="https://instagram.com/p/drip", quantity=100,
                                               runs=5, interval=30))
    assert drip.quantity == 500 and drip.charge == usd("0.45") and drip.runs == 5
    assert world.panel.order(drip.provider_order_id or "").quantity == 500
    poll = await world.place(await world.order(buyer, "10", link="https://t.me/c/1", quantity=100, answer_number=2))
    assert poll.fields == {"quantity": 100, "answer_number": 2}
    mentions = await world.place(await world.order(buyer, "8", link="https://instagram.com/p/m", quantity=None,
                                                   usernames=["a", "b", "c"]))
    assert mentions.quantity == 3
    assert all(o.submit_state is SubmitState.SENT for o in (comments, package, drip, poll, mentions))


async def test_partial_refunds_undelivered_share_once_then_cancel_refunds_rest(world: SmmWorld) -> None:
    buyer = await world.user("partial")
    await world.fund(buyer, "10.00")
    order = await world.place(await world.order(buyer))
    world.panel.advance(order.provider_order_id or "", OrderStatus.IN_PROGRESS)
    report = await world.sync()
    assert report.polled == 1 and report.settled == 0
    world.panel.advance(order.provider_order_id or "", OrderStatus.PARTIAL, remains=157)
    report = await world.sync()
    assert report.settled == 1
    after = await world.orders.get(buyer.id, order.id)
    assert after.status is OrderStatus.PARTIAL and after.remains == 157
    assert after.refunded == usd("0.14")  # 90 cents * 157/1000 = 14.13, rounded down
    assert await world.balance(buyer) == usd("9.24")
    # a second poll of the same terminal status refunds nothing
    again = await world.sync(order_ids=[order.id])
    assert again.polled == 1 and again.settled == 0 and again.changed == 0
    assert await world.balance(buyer) == usd("9.24")
    # a later Canceled refunds only what is still held
    sim = world.panel.order(order.provider_order_id or "")
    sim.status, sim.reported_as = OrderStatus.CANCELED, "Cancelled"
    report = await world.sync(order_ids=[order.id])
    assert report.settled == 1
    final = await world.orders.get(buyer.id, order.id)
    assert final.status is OrderStatus.CANCELED and final.refunded == usd("0.90")
    assert await world.balance(buyer) == usd("10.00")
    for _ in range(2):
        assert (await world.sync(order_ids=[order.id])).settled == 0
    assert await world.balance(buyer) == usd("10.00")
    ids = await transfer_ids(world)
    assert {f"smm:{order.id}:refund:partial", f"smm:{order.id}:refund:canceled"} <= ids
    await world.books_balance()


async def test_canceled_refunds_full_charge_and_never_downgrades(world: SmmWorld) -> None:
    buyer = await world.user("canceled")
    await world.fund(buyer, "1.00")
    order = await world.place(await world.order(buyer))
    world.panel.advance(order.provider_order_id or "", OrderStatus.CANCELED)
    assert (await world.sync()).settled == 1
    assert await world.balance(buyer) == usd("1.00")
    sim = world.panel.order(order.provider_order_id or "")
    sim.status, sim.reported_as = OrderStatus.IN_PROGRESS, None  # a confused provider
    assert (await world.sync(order_ids=[order.id])).changed == 0
    assert (await world.orders.get(buyer.id, order.id)).status is OrderStatus.CANCELED
    sim.reported_as = "Weird status"
    assert (await world.sync(order_ids=[order.id])).changed == 0
    assert await world.balance(buyer) == usd("1.00")


async def test_completed_keeps_the_charge(world: SmmWorld) -> None:
    buyer = await world.user("done")
    await world.fund(buyer, "1.00")
    order = await world.place(await world.order(buyer))
    world.panel.advance(order.provider_order_id or "", OrderStatus.COMPLETED)
    report = await world.sync()
    assert report.changed == 1 and report.settled == 0
    done = await world.orders.get(buyer.id, order.id)
    assert done.status is OrderStatus.COMPLETED and done.remains == 0 and done.start_count
    assert await world.balance(buyer) == usd("0.10")


async def test_permanent_submit_failure_refunds(world: SmmWorld) -> None:
    buyer = await world.user("rejected")
    await world.fund(buyer, "1.00")
    del world.panel.catalogue[1]  # the provider dropped the service: "Incorrect service ID"
    order = await world.place(await world.order(buyer))
    assert order.submit_state is SubmitState.FAILED and order.status is OrderStatus.CANCELED
    assert "Incorrect service ID" in order.error
    assert await world.balance(buyer) == usd("1.00")
    assert f"smm:{order.id}:refund" in await transfer_ids(world)
    await world.books_balance()


async def test_retryable_failure_queues_then_submit_orders_sends(world: SmmWorld) -> None:
    buyer = await world.user("retry")
    await world.fund(buyer, "5.00")
    world.panel.balance = 0  # our provider balance is short: retryable
    order = await world.place(await world.order(buyer))
    assert order.submit_state is SubmitState.QUEUED and order.submit_attempts == 1
    assert await world.balance(buyer) == usd("4.10")
    world.panel.balance = 10**10
    assert await world.submit() == 1
    sent = await world.orders.get(buyer.id, order.id)
    assert sent.submit_state is SubmitState.SENT and sent.provider_order_id


async def test_unknown_outcome_waits_for_an_admin_resume(world: SmmWorld) -> None:
    buyer, admin = await world.user("unknown"), await world.user("admin")
    await world.fund(buyer, "5.00")
    world.panel.outage = True
    order = await world.place(await world.order(buyer))
    assert order.submit_state is SubmitState.UNKNOWN
    assert await world.submit() == 0  # never retried automatically
    world.panel.outage = False
    resumed = await world.admin.resume(admin.id, order.id)
    assert resumed.submit_state is SubmitState.SENT
    async with world.uow(read_only=True) as uow:
        log = await uow.audit.for_target(f"smm_order:{order.id}")
    assert [e.action for e in log] == ["smm_order.resume"]


async def test_admin_actions_are_audited(world: SmmWorld) -> None:
    buyer, admin = await world.user("b"), await world.user("boss")
    await world.fund(buyer, "5.00")
    one = await world.place(await world.order(buyer, link="https://instagram.com/p/1"))
    two = await world.place(await world.order(buyer, link="https://instagram.com/p/2"))
    assert (await world.admin.set_start_count(admin.id, one.id, 1234)).start_count == 1234
    assert (await world.admin.complete(admin.id, one.id)).status is OrderStatus.COMPLETED
    canceled = await world.admin.cancel_and_refund(admin.id, two.id, "customer asked")
    assert canceled.status is OrderStatus.CANCELED and canceled.refunded == canceled.charge
    with pytest.raises(InvalidTransitionError):
        await world.admin.cancel_and_refund(admin.id, two.id)
    assert await world.balance(buyer) == usd("4.10")
    async with world.uow(read_only=True) as uow:
        first = [e.action for e in await uow.audit.for_target(f"smm_order:{one.id}")]
        second = [e.action for e in await uow.audit.for_target(f"smm_order:{two.id}")]
    assert first == ["smm_order.complete", "smm_order.set_start_count"]
    assert second == ["smm_order.cancel"]


async def test_ownership_and_listing(world: SmmWorld) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    await world.fund(alice, "5.00")
    order = await world.place(await world.order(alice))
    with pytest.raises(NotFoundError) as err:
        await world.orders.get(bob.id, order.id)
    assert err.value.code == "ORDER_NOT_FOUND"
    assert await world.orders.many(bob.id, [order.id]) == {}
    (result,) = await world.orders.cancel(bob.id, [order.id])
    assert not result.accepted and result.code == "ORDER_NOT_FOUND"
    with pytest.raises(NotFoundError):
        await world.orders.refill(bob.id, order.id)
    items, total = await world.orders.search(OrderFilter(user_id=alice.id, status=OrderStatus.PENDING))
    assert total == 1 and items[0].id == order.id


async def test_cancel_and_refill_go_through_the_provider(world: SmmWorld) -> None:
    buyer = await world.user("cr")
    await world.fund(buyer, "5.00")
    order = await world.place(await world.order(buyer, link="https://instagram.com/p/c"))
    (result,) = await world.orders.cancel(buyer.id, [order.id])
    assert result.accepted
    assert (await world.orders.get(buyer.id, order.id)).cancel_requested
    assert await world.balance(buyer) == usd("4.10")  # "cancel: 1" is not a refund yet
    world.panel.tick()
    await world.sync()
    assert (await world.orders.get(buyer.id, order.id)).status is OrderStatus.CANCELED
    assert await world.balance(buyer) == usd("5.00")
    other = await world.place(await world.order(buyer, link="https://instagram.com/p/r"))
    with pytest.raises(InvalidTransitionError):
        await world.orders.refill(buyer.id, other.id)  # not delivered yet
    world.panel.advance(other.provider_order_id or "", OrderStatus.COMPLETED)
    await world.sync()
    refill = await world.orders.refill(buyer.id, other.id)
    world.panel.advance_refill(refill.provider_refill_id, "Completed")
    report = await world.sync()
    assert report.refills_polled == 1
    assert (await world.orders.refill_status(buyer.id, refill.id)).status.value == "Completed"


async def test_polling_groups_at_most_100_ids_per_call(world: SmmWorld) -> None:
    buyer = await world.user("many")
    await world.fund(buyer, "1000.00")
    for i in range(150):
        await world.place(await world.order(buyer, link=f"https://instagram.com/p/{i}", quantity=50))
    world.panel.calls.clear()
    report = await world.sync()
    assert report.polled == 150
    assert [n for action, n in world.panel.calls if action == "status"] == [100, 50]


async def test_catalogue_sync_markup_and_user_prices(world: SmmWorld) -> None:
    assert world.provider is not None
    result = await world.providers.sync_services(world.provider.id, markup="20")
    # Subscriptions (11) are sold now (prepaid per post); Web Traffic (12) is still a type we cannot order
    assert result.created == 0 and result.updated == 11 and result.skipped == ["12"]
    followers = await world.service("1")
    assert followers.rate == usd("1.08") and followers.markup == "20" and followers.provider_rate == "0.9"
    buyer, admin = await world.user("vip"), await world.user("adm")
    await world.services.set_user_rate(actor_id=admin.id, user_id=buyer.id, service_id=None, discount_bp=5000)
    priced = {p.service.id: p.rate for p in await world.catalogue.services(user_id=buyer.id)}
    assert priced[followers.id] == usd("0.54")
    await world.services.set_user_rate(actor_id=admin.id, user_id=buyer.id, service_id=followers.id,
                                       rate=usd("0.10"))
    await world.fund(buyer, "1.00")
    order = await world.place(await world.order(buyer))
    assert order.charge == usd("0.10")
    del world.panel.catalogue[9]
    assert (await world.providers.sync_services(world.provider.id)).disabled == 1
    assert await world.providers.balance(world.provider.id) > usd("0")


async def test_an_order_is_priced_with_the_buyers_own_rates_only(world: SmmWorld) -> None:
    """The service, its provider and the buyer's rates are read in one query: only the rates of this buyer for
    this service (or for all services) may apply -- not another user's, not another service's."""
    followers, views = await world.service("1"), await world.service("3")
    buyer, other, admin = await world.user("own"), await world.user("other"), await world.user("adm2")
    await world.services.set_user_rate(actor_id=admin.id, user_id=other.id, service_id=followers.id,
                                       rate=usd("0.01"))
    await world.services.set_user_rate(actor_id=admin.id, user_id=buyer.id, service_id=views.id, rate=usd("0.02"))
    await world.fund(buyer, "10.00")
    full = await world.place(await world.order(buyer, quantity=1000))
    assert full.charge == followers.rate  # neither the other user's nor the other service's rate
    await world.services.set_user_rate(actor_id=admin.id, user_id=buyer.id, service_id=None, discount_bp=5000)
    discounted = await world.place(await world.order(buyer, quantity=1000))
    assert discounted.charge.amount * 2 == followers.rate.amount  # 50% off (rate chosen to divide exactly)
    viewed = await world.place(await world.order(buyer, provider_service_id="3", quantity=1000))
    assert viewed.charge == usd("0.02")


async def test_stats(world: SmmWorld) -> None:
    buyer = await world.user("st")
    await world.fund(buyer, "5.00")
    one = await world.place(await world.order(buyer, link="https://instagram.com/p/s1"))
    await world.place(await world.order(buyer, link="https://instagram.com/p/s2"))
    world.panel.advance(one.provider_order_id or "", OrderStatus.CANCELED)
    await world.sync()
    stats = await world.stats(days=7)
    assert stats.orders == 2 and stats.by_status == {"Canceled": 1, "Pending": 1}
    assert stats.charged["USD"] == usd("1.80") and stats.refunded["USD"] == usd("0.90")
    assert [(d, m) for d, m in stats.revenue_by_day] == [(world.clock.now().date().isoformat(), usd("0.90"))]


async def test_provider_keys_are_encrypted_at_rest(world: SmmWorld) -> None:
    assert world.provider is not None
    stored = await world.providers.get(world.provider.id)
    assert "sim-key" not in stored.api_key_encrypted
    assert world.cipher.decrypt(stored.api_key_encrypted) == "sim-key"


async def test_record_sent_marks_only_an_order_still_sending(world: SmmWorld) -> None:
    buyer = await world.user("rs")
    await world.fund(buyer, "5.00")
    order = await world.place(await world.order(buyer, quantity=100), submit=False)  # left in ``sending``
    assert order.submit_state is SubmitState.SENDING
    later = world.clock.now()
    async with world.uow() as uow:
        sent = await uow.smm_orders.record_sent(order.id, "p-77", later)
        await uow.commit()
    assert sent is not None and sent.submit_state is SubmitState.SENT and sent.provider_order_id == "p-77"
    assert sent.updated_at == later and sent.charge == order.charge and sent.link == order.link
    async with world.uow() as uow:  # no longer sending: nothing changes, None says so
        assert await uow.smm_orders.record_sent(order.id, "p-other", later) is None
        await uow.commit()
    async with world.uow(read_only=True) as uow:
        stored = await uow.smm_orders.get(order.id)
    assert stored is not None and stored.provider_order_id == "p-77"


async def test_admin_stop_holds_an_unsent_order_until_resumed(world: SmmWorld) -> None:
    buyer, admin = await world.user("held"), await world.user("stopper")
    await world.fund(buyer, "5.00")
    world.panel.balance = 0  # the provider is short of money: the order waits queued
    order = await world.place(await world.order(buyer, quantity=100))
    assert order.submit_state is SubmitState.QUEUED
    stopped = await world.admin.stop(admin.id, order.id, "fraud check")
    assert stopped.status is OrderStatus.PAUSED and stopped.submit_state is SubmitState.HELD
    world.panel.balance = 10**10
    assert await world.submit() == 0  # the sweep does not send a held order ...
    assert await world.submit.forward([order.id]) == 0  # ... nor does a forwarder that had its id
    with pytest.raises(InvalidTransitionError) as again:
        await world.admin.stop(admin.id, order.id)
    assert again.value.code == "ORDER_NOT_STOPPABLE"
    resumed = await world.admin.resume(admin.id, order.id)
    assert resumed.submit_state is SubmitState.SENT and resumed.status is OrderStatus.PENDING
    with pytest.raises(InvalidTransitionError) as at_provider:  # Perfect Panel providers cannot pause
        await world.admin.stop(admin.id, order.id)
    assert at_provider.value.code == "ORDER_AT_PROVIDER"
    async with world.uow(read_only=True) as uow:
        log = [(e.action, e.details.get("reason")) for e in await uow.audit.for_target(f"smm_order:{order.id}")]
    assert ("smm_order.stop", "fraud check") in log and ("smm_order.resume", None) in log


async def test_a_customer_may_cancel_a_held_order_and_gets_everything_back(world: SmmWorld) -> None:
    buyer, admin = await world.user("heldcancel"), await world.user("stopper2")
    await world.fund(buyer, "5.00")
    world.panel.balance = 0
    order = await world.place(await world.order(buyer, quantity=100))
    await world.admin.stop(admin.id, order.id)
    [result] = await world.orders.cancel(buyer.id, [order.id])
    assert result.accepted
    assert await world.balance(buyer) == usd("5.00")
    await world.books_balance()


async def test_bulk_admin_actions_report_per_order_and_audit_each(world: SmmWorld) -> None:
    buyer, admin = await world.user("bulk"), await world.user("bulkboss")
    await world.fund(buyer, "5.00")
    one = await world.place(await world.order(buyer, link="https://instagram.com/p/b1", quantity=100))
    two = await world.place(await world.order(buyer, link="https://instagram.com/p/b2", quantity=100))
    results = await world.admin.bulk(admin.id, "update_start_count", [one.id, two.id, 987654, one.id],
                                     start_count=77)
    assert [(r.order_id, r.order is not None) for r in results] == [(one.id, True), (two.id, True), (987654, False)]
    assert results[0].order is not None and results[0].order.start_count == 77
    assert results[2].code == "ORDER_NOT_FOUND"
    stopped = await world.admin.bulk(admin.id, "STOP", [one.id])  # already at the provider
    assert stopped[0].code == "ORDER_AT_PROVIDER"
    world.panel.advance(one.provider_order_id or "", OrderStatus.COMPLETED, remains=0)
    await world.sync()
    refilled = await world.admin.bulk(admin.id, "refill", [one.id, two.id])
    assert refilled[0].order is not None and refilled[1].code == "REFILL_NOT_ALLOWED"  # two is not delivered
    canceled = await world.admin.bulk(admin.id, "cancel", [two.id], reason="bulk")
    assert canceled[0].order is not None and canceled[0].order.status is OrderStatus.CANCELED
    with pytest.raises(ValidationError):
        await world.admin.bulk(admin.id, "explode", [one.id])
    with pytest.raises(ValidationError):
        await world.admin.bulk(admin.id, "set_start_count", [one.id])  # the count is required
    async with world.uow(read_only=True) as uow:
        first = [e.action for e in await uow.audit.for_target(f"smm_order:{one.id}")]
        second = [e.action for e in await uow.audit.for_target(f"smm_order:{two.id}")]
    assert first.count("smm_order.set_start_count") == 1 and "smm_order.refill" in first
    assert sorted(second) == ["smm_order.cancel", "smm_order.set_start_count"]


async def test_a_cancel_waits_for_an_order_being_forwarded(world: SmmWorld) -> None:
    """Deferred forwarding: a customer may cancel while the forwarder holds the order (``sending``)."""
    buyer = await world.user("racecancel")
    await world.fund(buyer, "5.00")
    order = await world.place(await world.order(buyer, quantity=100), submit=False)  # held in ``sending``
    assert order.submit_state is SubmitState.SENDING

    async def forward_a_moment_later() -> None:
        await asyncio.sleep(0.1)
        await world.submit.submit(order.id)

    [result], _ = await asyncio.gather(world.orders.cancel(buyer.id, [order.id]), forward_a_moment_later())
    assert result.accepted  # asked of the provider once it had the order
    stuck = await world.place(await world.order(buyer, link="https://instagram.com/p/stuck", quantity=100),
                              submit=False)
    world.orders.sending_wait = 0.2  # a forward that never comes back: refused after the wait, as before
    [refused] = await world.orders.cancel(buyer.id, [stuck.id])
    assert not refused.accepted and refused.code == "CANCEL_NOT_ALLOWED"
