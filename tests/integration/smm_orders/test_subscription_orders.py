"""Prepaid Perfect Panel Subscriptions orders on memory, SQLite and PostgreSQL: placing and pricing per post,
child orders adopted from the provider's ``orders`` list exactly once, children settled on their own, the parent
refunding only the posts that never came -- and our own /api/v2 answering the smm.md §1.4 shape."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from attrs import evolve

from tests.conftest import FrozenClock
from tests.integration.smm_orders.harness import USD, SmmWorld
from vpnsmm.application.identity import Principal
from vpnsmm.application.smm import NewOrder
from vpnsmm.domain.errors import InsufficientFundsError, ValidationError
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import OrderFilter, SmmOrder, SubmitState
from vpnsmm.entrypoints.http.routes.perfect_panel import PerfectPanelApi, error_text

SUBSCRIPTION = "11"  # "Auto Likes Subscription": rate 0.60 per 1000, min 50, max 5000


def usd(text: str) -> Money:
    return Money.parse(text, USD)


async def subscription(world: SmmWorld, user: User, **fields: Any) -> NewOrder:
    """A Subscriptions order: max 100 costs price_for(0.60, 100) = 0.06 per post; 5 + 2 posts = 0.42."""
    service = await world.service(SUBSCRIPTION)
    values: dict[str, Any] = {"username": "someone", "min": 50, "max": 100, "delay": 30, "posts": 5,
                              "old_posts": 2}
    values.update(fields)
    return NewOrder(user_id=user.id, service_id=service.id, **{k: v for k, v in values.items() if v is not None})


async def children(world: SmmWorld, parent: SmmOrder) -> list[SmmOrder]:
    async with world.uow(read_only=True) as uow:
        return list(await uow.smm_orders.children_of(parent.id))


async def transfers(world: SmmWorld, user: User) -> list[tuple[str, int]]:
    """(transfer id, amount) of every entry on the user's USD wallet, sorted."""
    async with world.uow(read_only=True) as uow:
        out = []
        for account in await uow.ledger.accounts_of(user.id):
            out += [(e.transfer_id, e.delta) for e in await uow.ledger.entries(account.id, limit=500)]
        return sorted(out)


async def placed(world: SmmWorld, funds: str = "10.00", **fields: Any) -> tuple[User, SmmOrder]:
    buyer = await world.user("subscriber")
    await world.fund(buyer, funds)
    return buyer, await world.place(await subscription(world, buyer, **fields))


# ------------------------------------------------------------------------------------------ placing
async def test_place_charges_each_post_at_max_and_forwards_a_subscriptions_add(world: SmmWorld) -> None:
    buyer, order = await placed(world)

    assert order.charge == usd("0.42")  # (5 + 2) x price_for(0.60, 100)
    assert (order.quantity, order.remains, order.per_post) == (700, 7, usd("0.06"))
    assert order.submit_state is SubmitState.SENT and order.link == ""
    assert await world.balance(buyer) == usd("9.58")
    assert (f"smm:{order.id}:charge", -42) in await transfers(world, buyer)
    assert order.provider_order_id is not None
    upstream = world.panel.order(order.provider_order_id)
    assert upstream.subscription is not None and upstream.subscription.total == 7
    assert (upstream.subscription.min, upstream.subscription.max) == (50, 100)
    assert upstream.link == "someone"  # the simulated panel keeps the username where a link would be
    await world.books_balance()


async def test_unicode_username_and_expiry_are_kept_and_sent(world: SmmWorld, clock: FrozenClock) -> None:
    expiry = clock.now().date() + timedelta(days=30)
    _, order = await placed(world, username="ñandú_Ωmega", expiry=expiry, old_posts=None)

    terms = order.subscription
    assert terms is not None and (terms.username, terms.expiry, terms.total_posts) == ("ñandú_Ωmega", expiry, 5)
    assert order.charge == usd("0.30")
    assert order.provider_order_id is not None
    upstream = world.panel.order(order.provider_order_id)
    assert upstream.link == "ñandú_Ωmega"
    assert upstream.subscription is not None and upstream.subscription.expiry == expiry.strftime("%d/%m/%Y")


async def test_custom_user_rate_prices_each_post(world: SmmWorld) -> None:
    buyer = await world.user("vip")
    await world.fund(buyer, "10.00")
    service = await world.service(SUBSCRIPTION)
    await world.services.set_user_rate(actor_id=None, user_id=buyer.id, service_id=service.id, rate=usd("0.25"))

    order = await world.place(await subscription(world, buyer, max=90, posts=3, old_posts=0))

    assert order.charge == usd("0.09")  # price_for(0.25, 90) = 0.0225 -> 0.03 (rounded up) x 3 posts


@pytest.mark.parametrize(("fields", "field", "code"), [
    ({"posts": None}, "posts", "SUBSCRIPTION_POSTS_REQUIRED"),  # unlimited: cannot be prepaid
    ({"posts": 0, "old_posts": 5}, "posts", "SUBSCRIPTION_POSTS_REQUIRED"),
    ({"delay": 7}, "delay", "VALIDATION_ERROR"),
    ({"delay": None}, "delay", "VALIDATION_ERROR"),
    ({"min": 200, "max": 100}, "min", "VALIDATION_ERROR"),
    ({"max": 5001}, "max", "INVALID_QUANTITY"),
    ({"min": 49}, "min", "INVALID_QUANTITY"),
    ({"max": None}, "max", "INVALID_QUANTITY"),
    ({"username": "  "}, "username", "VALIDATION_ERROR"),
    ({"old_posts": -1}, "old_posts", "VALIDATION_ERROR"),
    ({"expiry": date(2020, 1, 1)}, "expiry", "VALIDATION_ERROR"),
    ({"link": "https://instagram.com/u"}, "link", "VALIDATION_ERROR"),
    ({"quantity": 100}, "quantity", "VALIDATION_ERROR"),
])
async def test_invalid_subscriptions_are_refused_before_any_charge(world: SmmWorld, fields: dict[str, Any],
                                                                    field: str, code: str) -> None:
    buyer = await world.user("bad")
    await world.fund(buyer, "10.00")
    with pytest.raises(ValidationError) as err:
        await world.place(await subscription(world, buyer, **fields))
    assert (err.value.field, err.value.code) == (field, code)
    assert await world.balance(buyer) == usd("10.00")
    assert (await world.orders.search(OrderFilter(user_id=buyer.id)))[1] == 0
    assert world.panel.orders == {}


async def test_service_bounds_are_in_the_error_details(world: SmmWorld) -> None:
    buyer = await world.user("bounds")
    with pytest.raises(ValidationError) as err:
        await world.place(await subscription(world, buyer, max=5001))
    assert err.value.details == {"max": 5000}
    assert error_text(err.value) == "Quantity more than maximum 5000"


async def test_other_types_refuse_subscription_fields(world: SmmWorld) -> None:
    buyer = await world.user("mixed")
    await world.fund(buyer, "10.00")
    with pytest.raises(ValidationError) as err:
        await world.place(await world.order(buyer, posts=5))
    assert err.value.field == "posts"


async def test_insufficient_balance_writes_nothing(world: SmmWorld) -> None:
    buyer = await world.user("short")
    await world.fund(buyer, "0.41")
    with pytest.raises(InsufficientFundsError):
        await world.place(await subscription(world, buyer))
    assert await world.balance(buyer) == usd("0.41")
    assert (await world.orders.search(OrderFilter(user_id=buyer.id)))[1] == 0
    assert world.panel.orders == {}


# ------------------------------------------------------------------------------------------ polling
async def test_polling_adopts_each_child_once_and_charges_nothing(world: SmmWorld) -> None:
    buyer, order = await placed(world)
    assert order.provider_order_id is not None
    upstream = [world.panel.new_post(order.provider_order_id).id for _ in range(2)]
    ledger_before = await transfers(world, buyer)

    first = await world.sync()
    second = await world.sync()

    kids = await children(world, order)
    assert [k.provider_order_id for k in kids] == [str(i) for i in upstream]
    assert all((k.parent_order_id, k.charge, k.quantity, k.submit_state, k.user_id, k.service_id)
               == (order.id, usd("0.06"), 100, SubmitState.SENT, buyer.id, order.service_id) for k in kids)
    parent = await world.orders.get(buyer.id, order.id)
    assert (parent.status, parent.remains, parent.children_count) == (OrderStatus.IN_PROGRESS, 5, 2)
    assert await transfers(world, buyer) == ledger_before  # children are prepaid: no new wallet entry
    assert first.settled == second.settled == 0
    assert (await world.orders.search(OrderFilter(user_id=buyer.id)))[1] == 3
    stats = await world.stats()
    assert stats.charged == {"USD": usd("0.42")}  # a child's charge is the parent's money, counted once
    await world.books_balance()


async def test_a_child_partial_refunds_its_share_of_remains_once(world: SmmWorld) -> None:
    buyer, order = await placed(world)
    assert order.provider_order_id is not None
    child_pid = world.panel.new_post(order.provider_order_id).id
    await world.sync()
    (child,) = await children(world, order)

    world.panel.advance(child_pid, OrderStatus.PARTIAL, remains=50)
    await world.sync(order_ids=[child.id])
    await world.sync(order_ids=[child.id])

    settled = await world.orders.get(buyer.id, child.id)
    assert (settled.status, settled.refunded) == (OrderStatus.PARTIAL, usd("0.03"))  # 0.06 x 50 / 100
    assert await world.balance(buyer) == usd("9.61")
    assert [t for t in await transfers(world, buyer) if t[0].startswith(f"smm:{child.id}:")] == [
        (f"smm:{child.id}:refund:partial", 3)]
    await world.books_balance()


async def test_parent_completing_early_refunds_missing_posts_once(world: SmmWorld) -> None:
    buyer, order = await placed(world)
    assert order.provider_order_id is not None
    for _ in range(3):
        world.panel.new_post(order.provider_order_id)
    await world.sync()
    world.panel.advance(order.provider_order_id, OrderStatus.COMPLETED)

    await world.sync(order_ids=[order.id])
    await world.sync(order_ids=[order.id])

    parent = await world.orders.get(buyer.id, order.id)
    assert (parent.status, parent.refunded, parent.children_count) == (OrderStatus.COMPLETED, usd("0.24"), 3)
    assert await world.balance(buyer) == usd("9.82")  # 10 - 0.42 + 4 missing posts x 0.06
    assert [t for t in await transfers(world, buyer) if t[0].startswith(f"smm:{order.id}:refund")] == [
        (f"smm:{order.id}:refund:completed", 24)]
    await world.books_balance()


async def test_children_reported_with_the_final_status_are_adopted_first(world: SmmWorld) -> None:
    buyer, order = await placed(world, posts=1, old_posts=1)
    assert order.provider_order_id is not None
    world.panel.new_post(order.provider_order_id)
    world.panel.new_post(order.provider_order_id)  # the last post completes the subscription upstream

    await world.sync()

    parent = await world.orders.get(buyer.id, order.id)
    assert (parent.status, parent.children_count, parent.refunded) == (OrderStatus.COMPLETED, 2, usd("0"))
    assert await world.balance(buyer) == usd("9.88")


async def test_child_ids_beyond_the_posts_paid_for_are_ignored(world: SmmWorld) -> None:
    buyer, order = await placed(world, posts=1, old_posts=0)
    assert order.provider_order_id is not None
    sub = world.panel.order(order.provider_order_id).subscription
    assert sub is not None
    sub.total = None  # a provider that keeps sending posts past the limit
    extra = [world.panel.new_post(order.provider_order_id).id for _ in range(3)]

    await world.sync()
    await world.sync()

    kids = await children(world, order)
    assert [k.provider_order_id for k in kids] == [str(extra[0])]
    parent = await world.orders.get(buyer.id, order.id)
    assert parent.remains == 0 and f"{extra[1]}, {extra[2]}" in parent.error
    assert await world.balance(buyer) == usd("9.94")
    await world.books_balance()


async def test_provider_cancel_refunds_missing_posts_and_children_settle_alone(world: SmmWorld) -> None:
    buyer, order = await placed(world)
    assert order.provider_order_id is not None
    child_pid = world.panel.new_post(order.provider_order_id).id
    await world.sync()
    world.panel.advance(order.provider_order_id, OrderStatus.CANCELED, report_as="Cancelled")
    world.panel.advance(child_pid, OrderStatus.CANCELED)

    await world.sync(order_ids=[order.id, *(k.id for k in await children(world, order))])
    await world.sync(order_ids=[order.id, *(k.id for k in await children(world, order))])

    parent = await world.orders.get(buyer.id, order.id)
    assert (parent.status, parent.refunded) == (OrderStatus.CANCELED, usd("0.36"))  # 6 missing posts
    assert await world.balance(buyer) == usd("10.00")  # + the canceled child's 0.06
    await world.books_balance()


async def test_operator_cancel_of_a_parent_keeps_its_childrens_shares(world: SmmWorld) -> None:
    buyer, order = await placed(world)
    assert order.provider_order_id is not None
    world.panel.new_post(order.provider_order_id)
    world.panel.new_post(order.provider_order_id)
    await world.sync()

    voided = await world.admin.cancel_and_refund(None, order.id, "test")

    assert voided.refunded == usd("0.30")  # 5 posts that never came; the 2 children hold their own 0.12
    for kid in await children(world, order):
        await world.admin.cancel_and_refund(None, kid.id, "test")
    assert await world.balance(buyer) == usd("10.00")
    await world.books_balance()


async def test_a_full_simulated_run_balances_to_what_was_delivered(world: SmmWorld) -> None:
    buyer, order = await placed(world, posts=3, old_posts=1)
    for _ in range(40):
        world.panel.tick()
        await world.sync()
    everything, _ = await world.orders.search(OrderFilter(user_id=buyer.id), limit=100)
    assert all(o.status.is_terminal for o in everything)
    parent = await world.orders.get(buyer.id, order.id)
    assert (parent.status, parent.children_count) == (OrderStatus.COMPLETED, 4)
    # the parent keeps what it handed to its children; each child keeps what it delivered
    kept = parent.held - parent.per_post * parent.children_count + sum(
        (o.held for o in everything if o.parent_order_id == order.id), Money.zero(USD))
    assert await world.balance(buyer) == usd("10.00") - kept
    await world.books_balance()


async def test_a_deferred_subscription_is_forwarded_by_the_sweep(world: SmmWorld) -> None:
    buyer = await world.user("later")
    await world.fund(buyer, "1.00")
    order = await world.place(await subscription(world, buyer), submit=False)
    assert order.submit_state is SubmitState.SENDING
    async with world.uow() as uow:  # as a deferred add leaves it
        stored = await uow.smm_orders.get(order.id)
        assert stored is not None
        stored.submit_state = SubmitState.QUEUED
        await uow.smm_orders.update(stored)
        await uow.commit()

    assert await world.submit() == 1

    sent = await world.orders.get(buyer.id, order.id)
    assert sent.submit_state is SubmitState.SENT and sent.provider_order_id is not None
    assert world.panel.order(sent.provider_order_id).subscription is not None


# ------------------------------------------------------------------------------------------ /api/v2
def api(world: SmmWorld, user: User) -> PerfectPanelApi:
    return PerfectPanelApi(Principal(user=user), world.catalogue, world.place, world.orders, world.wallets,
                           Currency.USD)


async def test_api_v2_add_and_status_answer_the_subscription_shape(world: SmmWorld) -> None:
    buyer = await world.user("reseller")
    await world.fund(buyer, "1.00")
    service = await world.service(SUBSCRIPTION)
    v2 = api(world, buyer)

    added = await v2.dispatch("add", {"service": str(service.id), "username": "shop", "min": "50", "max": "100",
                                      "delay": "0", "posts": "2", "expiry": "31/12/2099"})
    order_id = added["order"]
    assert await world.balance(buyer) == usd("0.88")
    assert await v2.dispatch("status", {"order": str(order_id)}) == {
        "status": "Active", "expiry": "31/12/2099", "posts": "0", "orders": []}

    order = await world.orders.get(buyer.id, order_id)
    assert order.provider_order_id is not None
    world.panel.new_post(order.provider_order_id)
    await world.sync()
    kids = [k.id for k in await children(world, order)]

    assert await v2.dispatch("status", {"order": str(order_id)}) == {
        "status": "Active", "expiry": "31/12/2099", "posts": "1", "orders": [str(kids[0])]}
    many = await v2.dispatch("status", {"orders": f"{order_id},{kids[0]}"})
    assert many[str(order_id)]["orders"] == [str(kids[0])]
    assert many[str(kids[0])] == {"charge": "0.06", "start_count": "0", "status": "Pending", "remains": "100",
                                  "currency": "USD"}  # a child reads as an ordinary order

    world.panel.advance(order.provider_order_id, OrderStatus.COMPLETED)
    await world.sync(order_ids=[order_id])
    assert (await v2.dispatch("status", {"order": str(order_id)}))["status"] == "Completed"
    assert await world.balance(buyer) == usd("0.94")  # the second post never came


async def test_api_v2_says_why_an_unlimited_subscription_is_refused(world: SmmWorld) -> None:
    buyer = await world.user("unlimited")
    await world.fund(buyer, "1.00")
    service = await world.service(SUBSCRIPTION)
    with pytest.raises(ValidationError) as err:
        await api(world, buyer).dispatch("add", {"service": str(service.id), "username": "shop", "min": "50",
                                                 "max": "100", "delay": "0"})
    assert "posts" in error_text(err.value) and error_text(err.value) != "Incorrect request"
    assert await world.balance(buyer) == usd("1.00")


async def test_customer_cancel_goes_upstream_and_refunds_missing_posts(world: SmmWorld) -> None:
    entry = world.panel.catalogue[11]
    world.panel.catalogue[11] = evolve(entry, cancel=True)  # a provider that lets subscriptions be canceled
    assert world.provider is not None
    await world.providers.sync_services(world.provider.id)
    buyer, order = await placed(world)
    assert order.provider_order_id is not None
    world.panel.new_post(order.provider_order_id)
    await world.sync()

    (result,) = await world.orders.cancel(buyer.id, [order.id])
    assert result.accepted
    assert (await world.orders.get(buyer.id, order.id)).cancel_requested
    world.panel.tick()  # the provider cancels it
    await world.sync(order_ids=[order.id])

    parent = await world.orders.get(buyer.id, order.id)
    assert (parent.status, parent.refunded, parent.cancel_requested) == (OrderStatus.CANCELED, usd("0.36"), False)
    assert await world.balance(buyer) == usd("9.94")  # the one post that came stays paid
    await world.books_balance()
