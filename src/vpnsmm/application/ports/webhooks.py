"""Webhook storage (a repository of the unit of work) and the outgoing HTTP call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from vpnsmm.domain.events import EventType
from vpnsmm.domain.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookRepository(Protocol):
    """Endpoints, deliveries and attempts. Ownership is part of every user-facing query (``user_id``)."""

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        """Store and assign ``endpoint.id``."""
        ...

    async def get_endpoint(self, endpoint_id: int, *, user_id: int | None) -> WebhookEndpoint | None:
        """The endpoint, only if it belongs to ``user_id`` (None: any owner; for workers)."""
        ...

    async def list_endpoints(self, user_id: int) -> Sequence[WebhookEndpoint]:
        """The user's endpoints by id ascending."""
        ...

    async def update_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    async def delete_endpoint(self, endpoint_id: int) -> None:
        """Remove the endpoint with its deliveries and attempts."""
        ...

    async def endpoints_for(self, user_id: int, event: EventType) -> Sequence[WebhookEndpoint]:
        """The user's active endpoints subscribed to ``event``."""
        ...

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        """Insert unless a delivery of the same (endpoint, event id) exists. Sets ``delivery.id`` to the
        stored row's id either way; True only when this call inserted it (idempotent per pair)."""
        ...

    async def get_delivery(self, delivery_id: int, *, for_update: bool = False) -> WebhookDelivery | None: ...

    async def update_delivery(self, delivery: WebhookDelivery) -> None: ...

    async def add_attempt(self, attempt: WebhookAttempt) -> None: ...

    async def deliveries(self, endpoint_id: int, *, limit: int, before_id: int | None) -> Sequence[WebhookDelivery]:
        """Newest first."""
        ...

    async def attempts_for(self, delivery_ids: Sequence[int]) -> Sequence[WebhookAttempt]:
        """Attempts of those deliveries, by delivery then attempt number."""
        ...


class WebhookSendError(Exception):
    """No HTTP answer: refused target, DNS, connect or read failure, timeout. ``permanent``: retrying the
    same URL cannot help (e.g. it resolves to a private address)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message, self.permanent = message, permanent


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` and return the HTTP status code (redirects are not followed, the response body is
        not read). Raises WebhookSendError. Never logs headers (they carry signatures)."""
        ...
