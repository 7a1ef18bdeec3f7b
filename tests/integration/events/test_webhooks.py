"""Order and payment events reach users' webhooks (memory, SQLite, PostgreSQL), through the job queue and a
real HTTP receiver on 127.0.0.1: signed as the SMM REST API documents, retried with backoff after 500s,
never delivered twice, with bad input refused and ownership enforced."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import FrozenClock
from tests.integration.events.receiver import Receiver
from tests.integration.jobs.test_smm_vpn_tasks import Later, store_of
from tests.integration.smm_orders.harness import SmmWorld
from tests.support.asgi_server import serve
from vpnsmm.adapters.events.local import InMemoryEventBus
from vpnsmm.adapters.jobs.runner import JobRunner
from vpnsmm.adapters.smm.registry import FernetSecretCipher
from vpnsmm.adapters.webhooks.http import HttpWebhookSender
from vpnsmm.application.events import (
    DELIVER_TASK,
    DISPATCH_TASK,
    DispatchEvent,
    EventSubscriptions,
    register_event_tasks,
)
from vpnsmm.application.identity import Principal
from vpnsmm.application.jobs import RetryPolicy, TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.webhooks import DeliverWebhook, ManageWebhooks
from vpnsmm.domain.errors import InsufficientFundsError, NotFoundError, PermissionDeniedError, ValidationError
from vpnsmm.domain.events import DomainEvent
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.webhooks import DeliveryStatus, verify_signature


class EventsWorld:
    def __init__(self, smm: SmmWorld, url: str, receiver: Receiver, *, max_attempts: int = 4) -> None:
        self.smm, self.url, self.receiver = smm, url, receiver
        self.bus = InMemoryEventBus()
        self.http = httpx.AsyncClient()
        self.webhooks = ManageWebhooks(smm.uow, smm.clock, smm.cipher, allow_private=True)
        self.deliver = DeliverWebhook(smm.uow, smm.clock, smm.cipher, HttpWebhookSender(self.http, allow_private=True),
                                      retry=RetryPolicy(max_attempts=max_attempts, base_delay=1.0, factor=2.0))
        self.dispatch = DispatchEvent(smm.uow, self.bus, smm.clock)
        self.registry = TaskRegistry()
        register_event_tasks(self.registry, dispatch=self.dispatch, deliver=self.deliver)
        # The outbox stamps jobs with wall-clock time and retries carry the frozen clock's (2026-01-01):
        # a runner on wall-clock time sees every retry as due at once, while the log keeps exact times.
        self.runner = JobRunner(store_of(smm.uow), self.registry, now=Later(), concurrency=1)

    async def run_jobs(self) -> int:
        return await self.runner.run_once()

    async def close(self) -> None:
        await self.http.aclose()
        await self.bus.close()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver()
    async with serve(r) as base:
        yield r, base


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock,
                receiver: tuple[Receiver, str]) -> AsyncIterator[EventsWorld]:
    smm = SmmWorld(uow_factory, clock)
    await smm.with_simulated_provider()
    w = EventsWorld(smm, receiver[1], receiver[0])
    yield w
    await w.close()
    await smm.close()


def stringify(body: bytes) -> bytes:
    """What JavaScript's ``JSON.stringify(JSON.parse(body))`` gives (the seed's verification input)."""
    return json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def test_order_events_are_delivered_signed_in_the_seed_format(world: EventsWorld) -> None:
    buyer = await world.smm.user("buyer")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url=f"{world.url}/hooks/smm",
                                       events=["order.created", "order.partial", "order.refunded"])
    assert made.secret.startswith("whsec_") and len(made.secret) > 40
    order = await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()

    assert world.receiver.events() == ["order.created"]
    hit = world.receiver.received[0]
    assert hit.path == "/hooks/smm" and hit.headers["content-type"] == "application/json"
    assert hit.json == {"event": "order.created", "timestamp": "2026-01-01T12:00:00Z",
                        "data": {"order_id": f"order_{order.id}", "status": "pending",
                                 "service_id": f"service_{order.service_id}"}}
    assert list(hit.json) == ["event", "timestamp", "data"]  # the seed's key order
    # The seed's check: hmac(secret, JSON.stringify(payload)) === X-Signature.
    assert stringify(hit.body) == hit.body
    expected = hmac.new(made.secret.encode(), stringify(hit.body), hashlib.sha256).hexdigest()
    assert hit.headers["x-signature"] == expected
    # The timestamped check resists replay: right now yes, ten minutes later no, and not for another body.
    now = int(world.smm.clock.now().timestamp())
    assert hit.headers["x-webhook-timestamp"] == str(now)
    assert verify_signature(made.secret, hit.body, hit.headers, now=now)
    assert not verify_signature(made.secret, hit.body, hit.headers, now=now + 600)
    assert not verify_signature(made.secret, hit.body.replace(b"pending", b"complete"), hit.headers, now=now)
    assert not verify_signature("whsec_wrong", hit.body, hit.headers, now=now)
    assert hit.headers["x-webhook-id"] == f"evt_order_{order.id}_created"
    assert hit.headers["x-webhook-event"] == "order.created" and hit.headers["x-webhook-attempt"] == "1"

    # In progress (not subscribed) then Partial: only the partial one is sent.
    assert order.provider_order_id is not None
    world.smm.panel.advance(order.provider_order_id, OrderStatus.IN_PROGRESS, remains=1000)
    await world.smm.sync()
    world.smm.panel.advance(order.provider_order_id, OrderStatus.PARTIAL, remains=400)
    world.smm.clock.advance(minutes=5)
    await world.smm.sync()
    await world.run_jobs()
    assert world.receiver.events() == ["order.created", "order.partial"]
    partial = world.receiver.received[1].json
    assert partial == {"event": "order.partial", "timestamp": "2026-01-01T12:05:00Z",
                       "data": {"order_id": f"order_{order.id}", "status": "partial",
                                "service_id": f"service_{order.service_id}"}}

    log = await world.webhooks.deliveries(buyer.id, made.endpoint.id)
    assert [entry.delivery.event_type.value for entry in log] == ["order.partial", "order.created"]  # newest first
    assert all(entry.delivery.status is DeliveryStatus.SUCCEEDED for entry in log)
    first = log[1].attempts[0]
    assert first.status_code == 200 and first.error == "" and first.next_retry_at is None and first.latency_ms >= 0


async def test_receiver_errors_are_retried_with_exponential_backoff(world: EventsWorld) -> None:
    buyer = await world.smm.user("retry")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url=f"{world.url}/h", events=["order.created"])
    world.receiver.statuses = [500, 503, 204]
    await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()

    assert world.receiver.events() == ["order.created"] * 3
    assert [r.headers["x-webhook-attempt"] for r in world.receiver.received] == ["1", "2", "3"]
    bodies = {r.body for r in world.receiver.received}
    assert len(bodies) == 1  # every attempt sends the same event, the same bytes
    [entry] = await world.webhooks.deliveries(buyer.id, made.endpoint.id)
    assert entry.delivery.status is DeliveryStatus.SUCCEEDED and entry.delivery.attempts == 3
    assert [(a.attempt, a.status_code, a.error) for a in entry.attempts] == [
        (1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 204, "")]
    at = entry.attempts[0].at
    assert [a.next_retry_at for a in entry.attempts] == [at + timedelta(seconds=1), at + timedelta(seconds=2), None]


async def test_a_receiver_that_keeps_failing_is_given_up_after_max_attempts(world: EventsWorld) -> None:
    buyer = await world.smm.user("down")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url=f"{world.url}/h", events=["order.created"])
    world.receiver.statuses = [500] * 10
    await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()
    assert len(world.receiver.received) == 4  # max_attempts
    [entry] = await world.webhooks.deliveries(buyer.id, made.endpoint.id)
    assert entry.delivery.status is DeliveryStatus.FAILED and entry.delivery.next_attempt_at is None
    assert entry.attempts[-1].next_retry_at is None and entry.delivery.last_status_code == 500
    assert await world.deliver(entry.delivery.id) is not None
    assert len(world.receiver.received) == 4  # a failed delivery is not resent by a stray job


async def test_an_unreachable_receiver_is_logged_as_an_error_without_status(world: EventsWorld) -> None:
    buyer = await world.smm.user("gone")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url="http://127.0.0.1:9/nothing-listens", events=["order.created"])
    await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()
    [entry] = await world.webhooks.deliveries(buyer.id, made.endpoint.id)
    assert entry.delivery.status is DeliveryStatus.FAILED and len(entry.attempts) == 4
    assert all(a.status_code is None and "Connect" in a.error for a in entry.attempts)


async def test_re_running_dispatch_and_delivery_sends_nothing_twice(world: EventsWorld) -> None:
    buyer = await world.smm.user("once")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url=f"{world.url}/h")
    order = await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()
    assert world.receiver.events() == ["order.created"]

    async with world.smm.uow(read_only=True) as uow:
        [delivery] = await uow.webhooks.deliveries(made.endpoint.id, limit=10, before_id=None)
    store = store_of(world.smm.uow)
    [dispatch_job] = await store.find(task=DISPATCH_TASK)
    event = DomainEvent.from_json(dispatch_job.payload)
    assert event.id == f"evt_order_{order.id}_created" and event.user_id == buyer.id
    assert await world.dispatch(event) == 0  # the job ran again (lost lease): no second delivery
    assert await world.deliver(delivery.id) is not None  # a duplicate delivery job: nothing sent
    await world.run_jobs()
    assert world.receiver.events() == ["order.created"]
    assert len(await store.find(task=DELIVER_TASK)) == 1


async def test_payment_completed_is_an_event(world: EventsWorld) -> None:
    buyer = await world.smm.user("payer")
    await world.webhooks.create(buyer.id, url=f"{world.url}/pay", events=["payment.completed"])
    await world.smm.fund(buyer, "10.00")
    order = await world.smm.place(await world.smm.order(buyer))  # an order event the endpoint does not want
    assert order.id
    # Wallet top-ups are payments too; settle one through the billing use case that marks payments paid.
    from vpnsmm.application.billing import settle_paid
    from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose, Payment, PaymentStatus
    from vpnsmm.domain.money import Money

    now = world.smm.clock.now()
    async with world.smm.uow() as uow:
        invoice = await uow.invoices.add(Invoice.open(user_id=buyer.id, amount=Money.parse("5.00", "USD"),
                                                      purpose=InvoicePurpose.WALLET_TOPUP, description="top-up",
                                                      now=now))
        payment = await uow.payments.add(Payment(invoice_id=invoice.id, user_id=buyer.id, gateway=Gateway.CARD,
                                                 amount=invoice.amount, created_at=now, status=PaymentStatus.PENDING))
        assert (await settle_paid(uow, payment, now)).credited
        assert not (await settle_paid(uow, payment, now)).credited  # the loser records no event
        await uow.commit()
    await world.run_jobs()
    assert world.receiver.events() == ["payment.completed"]
    assert world.receiver.received[0].json["data"] == {
        "payment_id": f"payment_{payment.id}", "status": "completed", "invoice_id": f"invoice_{invoice.id}",
        "amount": "5.00", "currency": "USD"}


async def test_nothing_is_recorded_when_the_business_write_fails(world: EventsWorld) -> None:
    poor = await world.smm.user("poor")
    await world.webhooks.create(poor.id, url=f"{world.url}/h")
    with pytest.raises(InsufficientFundsError):
        await world.smm.place(await world.smm.order(poor))
    assert await store_of(world.smm.uow).find(task=DISPATCH_TASK) == []
    await world.run_jobs()
    assert world.receiver.received == []


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://example.com/hook", "INVALID_URL"),
    ("javascript:alert(1)", "INVALID_URL"),
    ("https://user:pass@example.com/hook", "INVALID_URL"),
    ("https://example.com/hook#frag", "INVALID_URL"),
    ("https://exa mple.com/", "INVALID_URL"),
    ("https://" + "a" * 2000 + ".com/", "INVALID_URL"),
    ("http://127.0.0.1:8080/hook", "PRIVATE_URL"),
    ("http://localhost/hook", "PRIVATE_URL"),
    ("http://[::1]/hook", "PRIVATE_URL"),
    ("http://10.1.2.3/hook", "PRIVATE_URL"),
    ("http://169.254.169.254/latest/meta-data", "PRIVATE_URL"),
    ("http://2130706433/", "PRIVATE_URL"),
    ("http://printer.local/hook", "PRIVATE_URL"),
])
async def test_bad_urls_are_refused_and_nothing_is_written(uow_factory: UnitOfWorkFactory, clock: FrozenClock,
                                                           url: str, code: str) -> None:
    smm = SmmWorld(uow_factory, clock)
    user = await smm.user("u")
    strict = ManageWebhooks(uow_factory, clock, smm.cipher, allow_private=False)
    with pytest.raises(ValidationError) as caught:
        await strict.create(user.id, url=url)
    assert caught.value.code == code and caught.value.field == "url"
    assert await strict.all(user.id) == []
    await smm.close()


@pytest.mark.parametrize("events", [["order.shipped"], [], "order.created", [1], ["order.created", "ORDER.CREATED"]])
async def test_unknown_events_are_refused(uow_factory: UnitOfWorkFactory, clock: FrozenClock, events: Any) -> None:
    smm = SmmWorld(uow_factory, clock)
    user = await smm.user("u")
    manage = ManageWebhooks(uow_factory, clock, smm.cipher)
    with pytest.raises(ValidationError) as caught:
        await manage.create(user.id, url="https://hooks.example.com/x", events=events)
    assert caught.value.code == "UNKNOWN_EVENT" and caught.value.field == "events"
    assert await manage.all(user.id) == []
    await smm.close()


async def test_another_users_webhook_is_not_found(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    smm = SmmWorld(uow_factory, clock)
    alice, bob = await smm.user("alice"), await smm.user("bob")
    manage = ManageWebhooks(uow_factory, clock, smm.cipher)
    made = await manage.create(alice.id, url="https://hooks.example.com/a", description="ünïcode ✓")
    assert made.endpoint.description == "ünïcode ✓" and len(made.endpoint.events) == 7
    for attempt in (manage.get(bob.id, made.endpoint.id), manage.update(bob.id, made.endpoint.id, active=False),
                    manage.delete(bob.id, made.endpoint.id), manage.deliveries(bob.id, made.endpoint.id),
                    manage.rotate_secret(bob.id, made.endpoint.id)):
        with pytest.raises(NotFoundError):
            await attempt
    assert await manage.all(bob.id) == []
    assert (await manage.get(alice.id, made.endpoint.id)).active is True  # untouched by bob's attempts
    # The secret is stored encrypted, never in clear.
    async with uow_factory(read_only=True) as uow:
        stored = await uow.webhooks.get_endpoint(made.endpoint.id, user_id=alice.id)
    assert stored is not None and made.secret not in stored.secret_encrypted
    rotated = await manage.rotate_secret(alice.id, made.endpoint.id)
    assert rotated.secret != made.secret
    await manage.delete(alice.id, made.endpoint.id)
    with pytest.raises(NotFoundError):
        await manage.get(alice.id, made.endpoint.id)
    await smm.close()


async def test_a_disabled_endpoint_gets_nothing(world: EventsWorld) -> None:
    buyer = await world.smm.user("off")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url=f"{world.url}/h", active=False)
    await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()
    assert world.receiver.received == []
    assert await world.webhooks.deliveries(buyer.id, made.endpoint.id) == []


async def test_live_subscribers_see_only_their_own_events(world: EventsWorld) -> None:
    alice, bob = await world.smm.user("alice"), await world.smm.user("bob")
    await world.smm.fund(alice, "10.00")
    await world.smm.fund(bob, "10.00")
    subs = EventSubscriptions(world.bus)
    async with subs.open(Principal(user=alice)) as alice_events, subs.open(Principal(user=bob)) as bob_events:
        a_order = await world.smm.place(await world.smm.order(alice))
        await world.smm.place(await world.smm.order(bob))
        await world.run_jobs()
        a_iter, b_iter = alice_events.__aiter__(), bob_events.__aiter__()
        first = await a_iter.__anext__()
        assert first.type.value == "order.created" and first.data["order_id"] == a_order.id
        assert first.user_id == alice.id
        bob_first = await b_iter.__anext__()
        assert bob_first.user_id == bob.id and bob_first.data["order_id"] != a_order.id
        with pytest.raises(PermissionDeniedError):
            async with subs.open(Principal(user=bob), everyone=True):
                pass


async def test_an_unreadable_secret_fails_the_delivery_instead_of_sending_unsigned(world: EventsWorld) -> None:
    buyer = await world.smm.user("rekeyed")
    await world.smm.fund(buyer, "10.00")
    made = await world.webhooks.create(buyer.id, url=f"{world.url}/h", events=["order.created"])
    async with world.smm.uow() as uow:  # as if VPNSMM_SECRET_KEY had been changed since
        endpoint = await uow.webhooks.get_endpoint(made.endpoint.id, user_id=buyer.id)
        assert endpoint is not None
        endpoint.secret_encrypted = FernetSecretCipher("another instance key").encrypt(made.secret)
        await uow.webhooks.update_endpoint(endpoint)
        await uow.commit()
    await world.smm.place(await world.smm.order(buyer))
    await world.run_jobs()
    assert world.receiver.received == []
    [entry] = await world.webhooks.deliveries(buyer.id, made.endpoint.id)
    assert entry.delivery.status is DeliveryStatus.FAILED and "rotate it" in entry.delivery.last_error
    rotated = await world.webhooks.rotate_secret(buyer.id, made.endpoint.id)
    assert rotated.secret != made.secret
