"""Outgoing webhooks: users' endpoints (CRUD, delivery log) and delivering one event to one endpoint.

Delivery contract (``webhooks.deliver`` job, one per delivery):

* at most one attempt of a delivery runs at a time (job key ``webhook:delivery:<id>``); a delivery that
  succeeded is never sent again, so re-running a job or the dispatch that created it sends nothing twice;
* a failure (no answer, timeout, non-2xx) is recorded as an attempt with its status code, latency and
  error, and the next attempt is scheduled ``retry.delay(n)`` later (exponential backoff) up to
  ``retry.max_attempts``; then the delivery is ``failed``;
* a worker that dies after the POST and before recording it makes the receiver see that attempt again:
  receivers dedupe by ``X-Webhook-Id`` (the event id).

Secrets are stored encrypted (SecretCipher), shown once at creation (and on rotation), never logged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from vpnsmm.application.events import DELIVER_TASK
from vpnsmm.application.jobs import RetryPolicy
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.ports.system import Clock
from vpnsmm.application.ports.webhooks import WebhookSender, WebhookSendError
from vpnsmm.application.smm import SecretCipher
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.events import EventType, parse_event_types
from vpnsmm.domain.webhooks import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    MAX_ENDPOINTS_PER_USER,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    check_webhook_url,
    signature_headers,
)

MAX_DESCRIPTION = 200
USER_AGENT = "vpnsmm-webhooks/1"


def webhook_not_found() -> NotFoundError:
    return NotFoundError("webhook not found", code="WEBHOOK_NOT_FOUND")


def new_secret() -> str:
    """``whsec_`` + 32 random bytes, URL-safe base64: the HMAC key exactly as the receiver stores it."""
    return "whsec_" + secrets.token_urlsafe(32)


def _description(text: object) -> str:
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION:
        raise ValidationError(f"description must be text of at most {MAX_DESCRIPTION} characters",
                              field="description")
    return text.strip()


@frozen
class NewWebhook:
    """An endpoint as created: ``secret`` is shown in this answer only."""

    endpoint: WebhookEndpoint
    secret: str


@frozen
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: Sequence[WebhookAttempt]


class ManageWebhooks:
    """The caller's endpoints. Another user's endpoint id is WEBHOOK_NOT_FOUND (404), like a missing one."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, cipher: SecretCipher, *,
                 allow_private: bool = False) -> None:
        self._uow, self._clock, self._cipher, self._allow_private = uow, clock, cipher, allow_private

    async def create(self, user_id: int, *, url: object, events: object | None = None, description: object = "",
                     active: bool = True) -> NewWebhook:
        """Add an endpoint subscribed to ``events`` (default: every event). Raises ValidationError
        (INVALID_URL, PRIVATE_URL, UNKNOWN_EVENT, TOO_MANY_WEBHOOKS); writes nothing then."""
        clean_url = check_webhook_url(url, allow_private=self._allow_private)
        wanted = frozenset(EventType) if events is None else parse_event_types(events)  # type: ignore[arg-type]
        text = _description(description)
        secret = new_secret()
        now = self._clock.now()
        endpoint = WebhookEndpoint(user_id=user_id, url=clean_url, secret_encrypted=self._cipher.encrypt(secret),
                                   events=wanted, created_at=now, description=text, active=bool(active))
        async with self._uow() as uow:
            if len(await uow.webhooks.list_endpoints(user_id)) >= MAX_ENDPOINTS_PER_USER:
                raise ValidationError(f"at most {MAX_ENDPOINTS_PER_USER} webhooks per user", field="url",
                                      code="TOO_MANY_WEBHOOKS")
            await uow.webhooks.add_endpoint(endpoint)
            await uow.commit()
        return NewWebhook(endpoint, secret)

    async def all(self, user_id: int) -> list[WebhookEndpoint]:
        async with self._uow(read_only=True) as uow:
            return list(await uow.webhooks.list_endpoints(user_id))

    async def get(self, user_id: int, endpoint_id: int) -> WebhookEndpoint:
        async with self._uow(read_only=True) as uow:
            found = await uow.webhooks.get_endpoint(endpoint_id, user_id=user_id)
        if found is None:
            raise webhook_not_found()
        return found

    async def update(self, user_id: int, endpoint_id: int, *, url: object | None = None,
                     events: object | None = None, description: object | None = None,
                     active: bool | None = None) -> WebhookEndpoint:
        """Change the given fields; validation as in :meth:`create`, all checked before anything is written."""
        clean_url = None if url is None else check_webhook_url(url, allow_private=self._allow_private)
        wanted = None if events is None else parse_event_types(events)  # type: ignore[arg-type]
        text = None if description is None else _description(description)
        async with self._uow() as uow:
            endpoint = await uow.webhooks.get_endpoint(endpoint_id, user_id=user_id)
            if endpoint is None:
                raise webhook_not_found()
            if clean_url is not None:
                endpoint.url = clean_url
            if wanted is not None:
                endpoint.events = wanted
            if text is not None:
                endpoint.description = text
            if active is not None:
                endpoint.active = bool(active)
            endpoint.updated_at = self._clock.now()
            await uow.webhooks.update_endpoint(endpoint)
            await uow.commit()
        return endpoint

    async def rotate_secret(self, user_id: int, endpoint_id: int) -> NewWebhook:
        """A new secret (shown once); deliveries from now on are signed with it."""
        secret = new_secret()
        async with self._uow() as uow:
            endpoint = await uow.webhooks.get_endpoint(endpoint_id, user_id=user_id)
            if endpoint is None:
                raise webhook_not_found()
            endpoint.secret_encrypted = self._cipher.encrypt(secret)
            endpoint.updated_at = self._clock.now()
            await uow.webhooks.update_endpoint(endpoint)
            await uow.commit()
        return NewWebhook(endpoint, secret)

    async def delete(self, user_id: int, endpoint_id: int) -> None:
        """Remove the endpoint and its delivery log; pending deliveries are dropped."""
        async with self._uow() as uow:
            if await uow.webhooks.get_endpoint(endpoint_id, user_id=user_id) is None:
                raise webhook_not_found()
            await uow.webhooks.delete_endpoint(endpoint_id)
            await uow.commit()

    async def deliveries(self, user_id: int, endpoint_id: int, *, limit: int = 50,
                         before_id: int | None = None) -> Sequence[DeliveryLog]:
        """Newest deliveries first (``before_id`` pages back), each with its attempts."""
        async with self._uow(read_only=True) as uow:
            if await uow.webhooks.get_endpoint(endpoint_id, user_id=user_id) is None:
                raise webhook_not_found()
            found = list(await uow.webhooks.deliveries(endpoint_id, limit=max(1, min(limit, 200)),
                                                       before_id=before_id))
            attempts = await uow.webhooks.attempts_for([d.id for d in found])
        by_delivery: dict[int, list[WebhookAttempt]] = {}
        for attempt in attempts:
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        return [DeliveryLog(d, by_delivery.get(d.id, [])) for d in found]


class DeliverWebhook:
    """Make the next attempt of one delivery (the ``webhooks.deliver`` job); see the module contract."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, cipher: SecretCipher, sender: WebhookSender, *,
                 retry: RetryPolicy | None = None) -> None:
        self._uow, self._clock, self._cipher, self._sender = uow, clock, cipher, sender
        self.retry = retry or RetryPolicy(max_attempts=8, base_delay=30.0, factor=2.0, max_delay=6 * 3600.0)

    async def __call__(self, delivery_id: int) -> WebhookDelivery | None:
        """Returns the delivery as recorded after this call (None if it no longer exists)."""
        async with self._uow(read_only=True) as uow:
            delivery = await uow.webhooks.get_delivery(delivery_id)
            endpoint = None if delivery is None else await uow.webhooks.get_endpoint(delivery.endpoint_id,
                                                                                   user_id=None)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return delivery
        if endpoint is None or not endpoint.active:
            return await self._record(delivery, status_code=None, latency_ms=0,
                                      error="endpoint disabled before delivery", permanent=True)
        try:
            secret = self._cipher.decrypt(endpoint.secret_encrypted)
        except ValidationError:
            return await self._record(delivery, status_code=None, latency_ms=0, permanent=True,
                                      error="cannot read the endpoint secret (the instance key changed?): rotate it")
        body = delivery.body.encode("utf-8")
        attempt = delivery.attempts + 1
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   EVENT_ID_HEADER: delivery.event_id, EVENT_TYPE_HEADER: delivery.event_type.value,
                   DELIVERY_HEADER: str(delivery.id), ATTEMPT_HEADER: str(attempt),
                   **signature_headers(secret, body, timestamp=int(self._clock.now().timestamp()))}
        started = time.perf_counter()
        status_code: int | None = None
        error, permanent = "", False
        try:
            status_code = await self._sender.post(endpoint.url, body, headers)
        except WebhookSendError as exc:
            error, permanent = exc.message[:500], exc.permanent
        latency_ms = int((time.perf_counter() - started) * 1000)
        if status_code is not None and not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
        return await self._record(delivery, status_code=status_code, latency_ms=latency_ms, error=error,
                                  permanent=permanent)

    async def _record(self, seen: WebhookDelivery, *, status_code: int | None, latency_ms: int, error: str,
                      permanent: bool) -> WebhookDelivery | None:
        now = self._clock.now()
        async with self._uow() as uow:
            delivery = await uow.webhooks.get_delivery(seen.id, for_update=True)
            # Someone else recorded this attempt already (a duplicate run): keep theirs.
            if delivery is None or delivery.status is not DeliveryStatus.PENDING or delivery.attempts != seen.attempts:
                return delivery
            delivery.attempts += 1
            delivery.last_status_code, delivery.last_error = status_code, error
            next_at: datetime | None = None
            if not error:
                delivery.status, delivery.delivered_at = DeliveryStatus.SUCCEEDED, now
            elif not permanent and delivery.attempts < self.retry.max_attempts:
                next_at = now + self.retry.delay(delivery.attempts)
                await uow.jobs.enqueue(DELIVER_TASK, {"delivery_id": delivery.id}, run_at=next_at,
                                       key=f"webhook:delivery:{delivery.id}")
            else:
                delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = next_at
            await uow.webhooks.add_attempt(WebhookAttempt(
                delivery_id=delivery.id, attempt=delivery.attempts, at=now, status_code=status_code,
                latency_ms=latency_ms, error=error, next_retry_at=next_at))
            await uow.webhooks.update_delivery(delivery)
            await uow.commit()
        return delivery
