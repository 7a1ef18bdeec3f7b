"""Domain events: what happened to an order or a payment, as told to webhooks and live subscribers.

Pure rules only. An event is recorded in the same transaction as the change it describes (see
``application/events.py``) and delivered afterwards, so it carries everything a consumer needs (a
snapshot), never a reference to re-read.

Event ids are derived from what happened (``evt_order_12_completed``): an order reaches each public
status at most once (statuses never go back, see :func:`vpnsmm.domain.smm.next_status`), and a payment
is completed once, so the id is the natural idempotency key of the event for every consumer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from attrs import frozen

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.smm import OrderStatus


class EventType(StrEnum):
    """Event names; the order ones and ``payment.completed`` are those of the SMM REST API we mirror."""

    ORDER_CREATED = "order.created"
    ORDER_PROCESSING = "order.processing"
    ORDER_COMPLETED = "order.completed"
    ORDER_PARTIAL = "order.partial"
    ORDER_CANCELED = "order.canceled"
    ORDER_REFUNDED = "order.refunded"
    PAYMENT_COMPLETED = "payment.completed"

    @property
    def is_order(self) -> bool:
        return self.value.startswith("order.")


#: Our order statuses in the vocabulary of the SMM REST API (``pending``/``processing``/...): the running
#: statuses (In progress, Processing, Paused) are all ``processing`` there.
PUBLIC_STATUS: Mapping[OrderStatus, str] = {
    OrderStatus.PENDING: "pending",
    OrderStatus.IN_PROGRESS: "processing",
    OrderStatus.PROCESSING: "processing",
    OrderStatus.PAUSED: "processing",
    OrderStatus.PARTIAL: "partial",
    OrderStatus.COMPLETED: "completed",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REFUNDED: "refunded",
}

_EVENT_OF_PUBLIC = {
    "processing": EventType.ORDER_PROCESSING,
    "partial": EventType.ORDER_PARTIAL,
    "completed": EventType.ORDER_COMPLETED,
    "canceled": EventType.ORDER_CANCELED,
    "refunded": EventType.ORDER_REFUNDED,
}


def order_event_type(before: OrderStatus | None, after: OrderStatus) -> EventType | None:
    """The event a status change is, or None when nothing a consumer sees changed.

    ``before`` None means the order was just created. Moves between the running statuses (In progress
    <-> Processing <-> Paused) keep the public status ``processing`` and make no event.
    """
    if before is None:
        return EventType.ORDER_CREATED
    if PUBLIC_STATUS[before] == PUBLIC_STATUS[after]:
        return None
    return _EVENT_OF_PUBLIC.get(PUBLIC_STATUS[after])


def parse_event_types(names: Iterable[object]) -> frozenset[EventType]:
    """``["order.completed", ...]`` -> event types. Raises ValidationError (code UNKNOWN_EVENT) naming the
    first unknown name, and for an empty list or one that is not a list of strings."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise ValidationError("events must be a list of event names", field="events", code="UNKNOWN_EVENT")
    found: set[EventType] = set()
    for name in names:
        try:
            found.add(EventType(str(name).strip()) if isinstance(name, str) else EventType(""))
        except ValueError:
            shown = name if isinstance(name, str) else type(name).__name__
            raise ValidationError(f"unknown event {str(shown)[:64]!r}; known: {', '.join(e.value for e in EventType)}",
                                  field="events", code="UNKNOWN_EVENT") from None
    if not found:
        raise ValidationError("select at least one event", field="events", code="UNKNOWN_EVENT")
    return frozenset(found)


def iso_z(moment: datetime) -> str:
    """``2024-01-15T12:00:00Z``: UTC, whole seconds, the format of the SMM REST API."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@frozen
class DomainEvent:
    """One event. ``user_id`` owns it (who may see it); ``data`` is a JSON-safe snapshot (no floats:
    money is minor units and decimal text)."""

    id: str
    type: EventType
    occurred_at: datetime
    user_id: int
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type.value, "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
                "user_id": self.user_id, "data": dict(self.data)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DomainEvent:
        """Inverse of :meth:`to_json`. Raises ValidationError for a malformed record."""
        try:
            occurred = datetime.fromisoformat(str(raw["occurred_at"]))
            user_id, data = raw["user_id"], raw["data"]
            if occurred.tzinfo is None or type(user_id) is not int or not isinstance(data, Mapping):
                raise ValueError("bad field")
            return cls(id=str(raw["id"]), type=EventType(raw["type"]), occurred_at=occurred, user_id=user_id,
                       data=dict(data))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValidationError(f"malformed event record: {exc}", field="event") from None


def order_event_id(order_id: int, event: EventType) -> str:
    return f"evt_order_{order_id}_{event.value.partition('.')[2]}"


def payment_event_id(payment_id: int) -> str:
    return f"evt_payment_{payment_id}_completed"
