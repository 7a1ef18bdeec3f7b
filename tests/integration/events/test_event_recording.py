"""Which events each order and payment path records, in the business transaction (memory, SQLite, PostgreSQL);
the live-subscription filter; concurrent dispatch creating one delivery; the HTTP sender's target rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog

from tests.conftest import FrozenClock
from tests.integration.events.receiver import Receiver
from tests.integration.events.test_webhooks import EventsWorld
from tests.integration.jobs.test_smm_vpn_tasks import store_of
from tests.integration.smm_orders.harness import SmmWorld
from tests.support.asgi_server import serve
from vpnsmm.adapters.events.local import InMemoryEventBus
from vpnsmm.adapters.webhooks.http import HttpWebhookSender
from vpnsmm.application.events import DISPATCH_TASK, EventSubscriptions, order_update_message, user_channel
from vpnsmm.application.identity import Principal
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.ports.webhooks import WebhookSendError
from vpnsmm.domain.events import DomainEvent
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import SmmOrder


@pytest.fixture
async def smm(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[SmmWorld]:
    w = SmmWorld(uow_factory, clock)
    await w.with_simulated_provider()
    yield w
    await w.close()


async def recorded(world: SmmWorld, order: SmmOrder | None = None) -> list[str]:
    """Event types recorded so far (for one order), in the order the jobs were enqueued."""
    jobs = await store_of(world.uow).find(task=DISPATCH_TASK)
    events = [DomainEvent.from_json(job.payload) for job in jobs]
    return [e.type.value for e in events if order is None or e.data.get("order_id") == order.id]


async def test_provider_progress_records_one_event_per_public_status(smm: SmmWorld) -> None:
    buyer = await smm.user("buyer")
    await smm.fund(buyer, "10.00")
    order = await smm.place(await smm.order(buyer))
    assert order.provider_order_id is not None
    for status in (OrderStatus.IN_PROGRESS, OrderStatus.PROCESSING, OrderStatus.PAUSED, OrderStatus.IN_PROGRESS):
        smm.panel.advance(order.provider_order_id, status, remains=500)
        await smm.sync()
    smm.panel.advance(order.provider_order_id, OrderStatus.COMPLETED, remains=0)
    await smm.sync()
    await smm.sync(order_ids=[order.id])  # a repeated terminal report records nothing
    assert await recorded(smm, order) == ["order.created", "order.processing", "order.completed"]
    jobs = await store_of(smm.uow).find(task=DISPATCH_TASK)
    completed = DomainEvent.from_json(jobs[-1].payload)
    assert completed.id == f"evt_order_{order.id}_completed" and completed.user_id == buyer.id
    assert completed.data["status"] == "Completed" and completed.data["remains"] == 0
    assert order_update_message(completed) == {
        "type": "ORDER_UPDATE", "orderId": order.id, "status": "COMPLETED", "progress": 1000, "remains": 0,
        "timestamp": "2026-01-01T12:00:00Z"}


async def test_partial_then_refunded_and_admin_actions(smm: SmmWorld) -> None:
    buyer = await smm.user("buyer")
    await smm.fund(buyer, "10.00")
    first = await smm.place(await smm.order(buyer))
    assert first.provider_order_id is not None
    smm.panel.advance(first.provider_order_id, OrderStatus.PARTIAL, remains=400)
    await smm.sync()
    assert await recorded(smm, first) == ["order.created", "order.partial"]
    refunded = await smm.place(await smm.order(buyer))
    assert refunded.provider_order_id is not None
    smm.panel.advance(refunded.provider_order_id, OrderStatus.REFUNDED)
    await smm.sync()
    assert await recorded(smm, refunded) == ["order.created", "order.refunded"]

    second = await smm.place(await smm.order(buyer))
    await smm.admin.complete(None, second.id)
    assert await recorded(smm, second) == ["order.created", "order.completed"]

    third = await smm.place(await smm.order(buyer))
    await smm.admin.cancel_and_refund(None, third.id, reason="operator")
    assert await recorded(smm, third) == ["order.created", "order.canceled"]


async def test_a_rejected_submit_records_canceled(smm: SmmWorld) -> None:
    buyer = await smm.user("buyer")
    await smm.fund(buyer, "10.00")
    smm.panel.balance = 0  # the provider refuses; after the retries the order is voided and refunded
    order = await smm.place(await smm.order(buyer))
    for _ in range(25):
        await smm.submit()
    fresh = await smm.orders.get(buyer.id, order.id)
    assert fresh.status is OrderStatus.CANCELED
    assert await recorded(smm, order) == ["order.created", "order.canceled"]


async def test_a_rolled_back_transaction_records_nothing(smm: SmmWorld) -> None:
    buyer = await smm.user("buyer")
    await smm.fund(buyer, "10.00")
    order = await smm.place(await smm.order(buyer))
    with pytest.raises(RuntimeError):
        async with smm.uow() as uow:
            fresh = await uow.smm_orders.get(order.id, for_update=True)
            assert fresh is not None
            fresh.complete(smm.clock.now())
            from vpnsmm.application.events import record_order_event
            await record_order_event(uow, fresh, OrderStatus.PENDING, smm.clock.now())
            raise RuntimeError("the use case failed before commit")
    assert await recorded(smm, order) == ["order.created"]


async def test_subscriptions_drop_foreign_and_malformed_events() -> None:
    from vpnsmm.domain.identity import User

    bus = InMemoryEventBus()
    alice = User.register(username="alice", password_hash="x", joined_at=FrozenClock().now())
    alice.id = 7
    async with EventSubscriptions(bus).open(Principal(user=alice)) as events:
        channel = user_channel(7)
        await bus.publish(channel, {"not": "an event"})
        await bus.publish(channel, {"id": "x", "type": "order.created", "occurred_at": "2026-01-01T00:00:00+00:00",
                                    "user_id": 8, "data": {"order_id": 1}})  # someone else's, mis-published
        await bus.publish(channel, {"id": "y", "type": "order.created", "occurred_at": "2026-01-01T00:00:00+00:00",
                                    "user_id": 7, "data": {"order_id": 2}})
        got = await asyncio.wait_for(events.__aiter__().__anext__(), 2)
        assert got.id == "y" and got.user_id == 7
    await bus.close()


async def test_concurrent_dispatch_of_one_event_creates_one_delivery(uow_factory: UnitOfWorkFactory,
                                                                     clock: FrozenClock) -> None:
    receiver = Receiver()
    async with serve(receiver) as base:
        smm = SmmWorld(uow_factory, clock)
        await smm.with_simulated_provider()
        world = EventsWorld(smm, base, receiver)
        buyer = await smm.user("buyer")
        await smm.fund(buyer, "10.00")
        await world.webhooks.create(buyer.id, url=f"{base}/a")
        await world.webhooks.create(buyer.id, url=f"{base}/b")
        await smm.place(await smm.order(buyer))
        [job] = await store_of(smm.uow).find(task=DISPATCH_TASK)
        event = DomainEvent.from_json(job.payload)
        created = await asyncio.gather(*(world.dispatch(event) for _ in range(4)))
        assert sum(created) == 2  # one per endpoint, whoever won
        await world.run_jobs()
        assert sorted(r.path for r in receiver.received) == ["/a", "/b"]
        await world.close()
        await smm.close()


async def test_secrets_are_never_logged(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    receiver = Receiver(statuses=[500, 500])
    async with serve(receiver) as base:
        smm = SmmWorld(uow_factory, clock)
        await smm.with_simulated_provider()
        world = EventsWorld(smm, base, receiver)
        buyer = await smm.user("buyer")
        await smm.fund(buyer, "10.00")
        made = await world.webhooks.create(buyer.id, url=f"{base}/h")
        with structlog.testing.capture_logs() as logs:
            await smm.place(await smm.order(buyer))
            await world.run_jobs()
        assert len(receiver.received) == 3
        signature = receiver.received[0].headers["x-signature"]
        assert logs and not any(made.secret in repr(entry) or signature in repr(entry) for entry in logs)
        for job in await store_of(smm.uow).find():
            assert made.secret not in repr(job.payload) + job.last_error
        await world.close()
        await smm.close()


class _Redirecting(Receiver):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(3)
        await super().__call__(scope, receive, send)


async def test_the_sender_refuses_private_targets_and_follows_no_redirect() -> None:
    receiver = _Redirecting(statuses=[302])
    async with serve(receiver) as base, httpx.AsyncClient() as http:
        strict = HttpWebhookSender(http, allow_private=False)
        for url in (f"{base}/h", base.replace("127.0.0.1", "localhost") + "/h"):
            with pytest.raises(WebhookSendError) as refused:
                await strict.post(url, b"{}", {})
            assert refused.value.permanent and "non-public" in refused.value.message
        assert receiver.received == []  # refused before any connection
        lenient = HttpWebhookSender(http, allow_private=True, timeout=1.0)
        assert await lenient.post(f"{base}/h", b"{}", {"Content-Type": "application/json"}) == 302
        assert len(receiver.received) == 1  # the redirect was not followed
        with pytest.raises(WebhookSendError) as slow:
            await lenient.post(f"{base}/slow", b"{}", {})
        assert "timed out" in slow.value.message and not slow.value.permanent
