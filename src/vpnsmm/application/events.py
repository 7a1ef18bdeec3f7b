"""Domain events after commit: recorded in the business transaction, dispatched by a job, streamed live.

Guarantees:

* **recorded with the change**: :func:`record_order_event` / :func:`record_payment_completed` enqueue an
  ``events.dispatch`` job on ``uow.jobs`` inside the caller's transaction, so the event exists if and
  only if the change commits (nothing is published from inside a transaction; a process that dies right
  after the commit loses nothing: a worker dispatches the job);
* **dispatched at least once**: the job creates one webhook delivery per subscribed endpoint (unique per
  (endpoint, event id), so a re-run creates none twice) and then publishes the event on the bus;
  a failed publish (Redis down) retries the job; live subscribers may then see an event twice and
  dedupe by ``id``;
* **live stream, best effort**: :class:`EventSubscriptions` gives a subscriber the events of its own
  user (or, for an admin asking for it, everyone's) published while it is subscribed; across processes
  when the bus is Redis. Clients resynchronise over HTTP after a reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from vpnsmm.application.identity import Principal
from vpnsmm.application.jobs import JobContext, RetryPolicy, TaskRegistry
from vpnsmm.application.ports.events import EventBus, EventStream
from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from vpnsmm.application.ports.system import Clock
from vpnsmm.domain.billing import Payment
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.events import (
    PUBLIC_STATUS,
    DomainEvent,
    EventType,
    iso_z,
    order_event_id,
    order_event_type,
    payment_event_id,
)
from vpnsmm.domain.identity import Role
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import SmmOrder
from vpnsmm.domain.webhooks import WebhookDelivery, encode_body, webhook_payload

DISPATCH_TASK = "events.dispatch"
DELIVER_TASK = "webhooks.deliver"
#: Bus channel of everyone's events (admins' streams).
ALL_CHANNEL = "events:all"


def user_channel(user_id: int) -> str:
    """Bus channel of one user's events."""
    return f"events:user:{user_id}"


# ------------------------------------------------------------------------------------------ recording
def order_snapshot(order: SmmOrder) -> dict[str, Any]:
    """What consumers see of an order: JSON-safe, money as minor units plus currency (no floats)."""
    assert order.refunded is not None
    return {"order_id": order.id, "service_id": order.service_id, "status": order.status.value,
            "public_status": PUBLIC_STATUS[order.status], "quantity": order.quantity, "remains": order.remains,
            "start_count": order.start_count, "link": order.link, "currency": order.charge.currency.value,
            "charge_minor": order.charge.amount, "refunded_minor": order.refunded.amount,
            "charge": order.charge.format(), "refunded": order.refunded.format()}


async def record_event(uow: UnitOfWork, event: DomainEvent) -> None:
    """Enqueue ``event`` for dispatch in the caller's transaction (visible to workers after its commit).
    Jobs of one user share a key, so a user's events are dispatched one at a time, in order."""
    await uow.jobs.enqueue(DISPATCH_TASK, event.to_json(), key=f"events:user:{event.user_id}")


async def record_order_event(uow: UnitOfWork, order: SmmOrder, before: OrderStatus | None,
                             now: datetime) -> DomainEvent | None:
    """Call where an order's status change is written: ``before`` is the status before the change (None
    for a new order, which must already have its id). Records ``order.created`` / ``.processing`` /
    ``.completed`` / ``.partial`` / ``.canceled`` / ``.refunded``, or nothing when the public status did
    not change. Returns the event recorded."""
    event_type = order_event_type(before, order.status)
    if event_type is None:
        return None
    event = DomainEvent(id=order_event_id(order.id, event_type), type=event_type, occurred_at=now,
                        user_id=order.user_id, data=order_snapshot(order))
    await record_event(uow, event)
    return event


async def record_payment_completed(uow: UnitOfWork, payment: Payment, now: datetime) -> DomainEvent:
    """Call in the transaction that marked ``payment`` paid (once: the compare-and-set winner)."""
    event = DomainEvent(
        id=payment_event_id(payment.id), type=EventType.PAYMENT_COMPLETED, occurred_at=now, user_id=payment.user_id,
        data={"payment_id": payment.id, "invoice_id": payment.invoice_id, "gateway": payment.gateway.value,
              "amount": payment.amount.format(), "amount_minor": payment.amount.amount,
              "currency": payment.amount.currency.value, "status": "completed"})
    await record_event(uow, event)
    return event


# ------------------------------------------------------------------------------------------ dispatch
class DispatchEvent:
    """The ``events.dispatch`` job: fan out to webhooks (one transaction), then publish on the bus.

    Idempotent for webhooks (a delivery is unique per (endpoint, event id)); the bus may see a re-run
    twice. Raises UpstreamUnavailableError when the bus is unreachable (the job is retried).
    """

    def __init__(self, uow: UnitOfWorkFactory, bus: EventBus, clock: Clock) -> None:
        self._uow, self._bus, self._clock = uow, bus, clock

    async def __call__(self, event: DomainEvent) -> int:
        """Returns how many deliveries this run created."""
        created = 0
        body = encode_body(webhook_payload(event))
        async with self._uow() as uow:
            for endpoint in await uow.webhooks.endpoints_for(event.user_id, event.type):
                delivery = WebhookDelivery(endpoint_id=endpoint.id, user_id=event.user_id, event_id=event.id,
                                           event_type=event.type, body=body, created_at=self._clock.now(),
                                           next_attempt_at=self._clock.now())
                if await uow.webhooks.add_delivery(delivery):
                    created += 1
                    await uow.jobs.enqueue(DELIVER_TASK, {"delivery_id": delivery.id},
                                           key=f"webhook:delivery:{delivery.id}")
            await uow.commit()
        message = event.to_json()
        await self._bus.publish(user_channel(event.user_id), message)
        await self._bus.publish(ALL_CHANNEL, message)
        return created


def register_event_tasks(registry: TaskRegistry, *, dispatch: DispatchEvent,
                         deliver: Any) -> None:
    """``events.dispatch`` (retried 10 times over ~17 minutes while the bus is down) and
    ``webhooks.deliver`` (which schedules its own retries, see application/webhooks.py). No-op if present."""
    if DISPATCH_TASK in registry:
        return

    async def dispatch_job(ctx: JobContext) -> None:
        await dispatch(DomainEvent.from_json(ctx.payload))

    async def deliver_job(ctx: JobContext) -> None:
        delivery_id = ctx.payload.get("delivery_id")
        if type(delivery_id) is not int:
            raise ValidationError("webhooks.deliver needs an integer delivery_id", field="delivery_id")
        await deliver(delivery_id)

    registry.register(DISPATCH_TASK, dispatch_job, retry=RetryPolicy(max_attempts=10, base_delay=2.0), timeout=60)
    # The handler records every failure and enqueues the next attempt itself; the queue's own retries only
    # cover a crash of the handler (e.g. the database blipped while recording).
    registry.register(DELIVER_TASK, deliver_job, retry=RetryPolicy(max_attempts=3, base_delay=5.0), timeout=120)


# ------------------------------------------------------------------------------------------ live stream
class Subscription:
    """The events one subscriber may see, in order. Ends when the bus stream ends: ``lagged`` then says
    whether it was cut off for falling behind (resynchronise over HTTP, then subscribe again)."""

    def __init__(self, stream: EventStream, *, owner: int | None, types: frozenset[EventType] | None) -> None:
        self._stream, self._owner, self._types = stream, owner, types

    @property
    def lagged(self) -> bool:
        return self._stream.lagged

    def __aiter__(self) -> AsyncIterator[DomainEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[DomainEvent]:
        async for raw in self._stream:
            try:
                event = DomainEvent.from_json(raw)
            except ValidationError:
                continue  # not one of ours: never forward what we cannot vouch for
            # The channel already is the owner's; checking again costs nothing and keeps a mis-published
            # event from ever reaching another user.
            if self._owner is not None and event.user_id != self._owner:
                continue
            if self._types is not None and event.type not in self._types:
                continue
            yield event


class EventSubscriptions:
    """Live events for WebSocket endpoints (ours and other dialects'): who may see what, and the messages.

    ``async with subs.open(principal) as events: async for event in events: send(native_message(event))``.
    """

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    @asynccontextmanager
    async def open(self, principal: Principal, *, everyone: bool = False,
                   types: frozenset[EventType] | None = None) -> AsyncIterator[Subscription]:
        """Subscribe ``principal`` to its own events, or with ``everyone`` (admins only; PermissionDeniedError
        otherwise) to all users' events. Events published once the body starts are delivered. Raises
        UpstreamUnavailableError when the bus cannot be reached."""
        if everyone:
            principal.require(Role.ADMIN)
        channel = ALL_CHANNEL if everyone else user_channel(principal.user_id)
        async with self._bus.subscribe(channel) as stream:
            yield Subscription(stream, owner=None if everyone else principal.user_id, types=types)


def native_message(event: DomainEvent) -> dict[str, Any]:
    """The ``/v1/ws`` message: ``{"type": "order.completed", "id", "timestamp", "user_id", "data"}``."""
    return {"type": event.type.value, "id": event.id, "timestamp": iso_z(event.occurred_at),
            "user_id": event.user_id, "data": dict(event.data)}


def order_update_message(event: DomainEvent) -> dict[str, Any] | None:
    """The smm-spring ``ORDER_UPDATE`` message of an order event (None for other events):
    ``{"type": "ORDER_UPDATE", "orderId", "status": "PROCESSING", "progress", "remains", "timestamp"}``
    where ``progress`` is the units delivered so far (quantity - remains) when remains is known."""
    if not event.type.is_order:
        return None
    d: Mapping[str, Any] = event.data
    remains = d.get("remains")
    quantity = d.get("quantity")
    progress = None
    if isinstance(remains, int) and isinstance(quantity, int):
        progress = max(0, quantity - remains)
    elif d.get("public_status") == "completed" and isinstance(quantity, int):
        progress = quantity
    return {"type": "ORDER_UPDATE", "orderId": d.get("order_id"), "status": str(d.get("public_status", "")).upper(),
            "progress": progress, "remains": remains, "timestamp": iso_z(event.occurred_at)}
