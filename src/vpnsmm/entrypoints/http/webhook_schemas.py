"""Wire shapes of /v1/webhooks (msgspec Structs). Inbound Structs forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from vpnsmm.application.webhooks import DeliveryLog, NewWebhook
from vpnsmm.domain.webhooks import MAX_URL_LENGTH, WebhookAttempt, WebhookEndpoint
from vpnsmm.entrypoints.http.schemas import In

Url = Annotated[str, Meta(min_length=1, max_length=MAX_URL_LENGTH, description="http(s) URL of your receiver")]
EventNames = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(
    min_length=1, max_length=20, description="event names, e.g. order.completed; omitted = every event")]
Description = Annotated[str, Meta(max_length=200)]


class WebhookIn(In):
    url: Url
    events: EventNames | None = None
    description: Description = ""
    active: bool = True


class WebhookPatch(In):
    url: Url | UnsetType = UNSET
    events: EventNames | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class WebhookOut(Struct):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookOut:
        return cls(id=e.id, url=e.url, events=sorted(t.value for t in e.events), description=e.description,
                   active=e.active, created_at=e.created_at, updated_at=e.updated_at)


class NewWebhookOut(WebhookOut):
    secret: str = ""  # the signing secret: shown in this response only, never again

    @classmethod
    def new(cls, made: NewWebhook) -> NewWebhookOut:
        base = WebhookOut.of(made.endpoint)
        return cls(**{f: getattr(base, f) for f in base.__struct_fields__}, secret=made.secret)


class AttemptOut(Struct):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str
    next_retry_at: datetime | None

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptOut:
        return cls(attempt=a.attempt, at=a.at, status_code=a.status_code, latency_ms=a.latency_ms, error=a.error,
                   next_retry_at=a.next_retry_at)


class DeliveryOut(Struct):
    id: int
    event_id: str
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    payload: str  # the exact body sent
    log: list[AttemptOut]

    @classmethod
    def of(cls, entry: DeliveryLog) -> DeliveryOut:
        d = entry.delivery
        return cls(id=d.id, event_id=d.event_id, event=d.event_type.value, status=d.status.value, attempts=d.attempts,
                   last_status_code=d.last_status_code, last_error=d.last_error, next_attempt_at=d.next_attempt_at,
                   created_at=d.created_at, delivered_at=d.delivered_at, payload=d.body,
                   log=[AttemptOut.of(a) for a in entry.attempts])
