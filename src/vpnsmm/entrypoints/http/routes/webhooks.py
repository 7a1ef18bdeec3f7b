"""/v1/webhooks (the caller's outgoing webhooks and their delivery log) and /v1/ws (live order events)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, WebSocket, delete, get, patch, post, websocket
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET

from vpnsmm.application.events import EventSubscriptions, native_message
from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.application.webhooks import ManageWebhooks
from vpnsmm.entrypoints.http.event_stream import serve_event_stream
from vpnsmm.entrypoints.http.webhook_schemas import DeliveryOut, NewWebhookOut, WebhookIn, WebhookOut, WebhookPatch

Limit = Annotated[int, Parameter(ge=1, le=200)]
BeforeId = Annotated[int | None, Parameter(ge=1, le=2**62)]


class WebhooksController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]

    @post("", operation_id="CreateWebhook", status_code=HTTP_201_CREATED)
    async def create(self, principal: Principal, manage_webhooks: ManageWebhooks, data: WebhookIn) -> NewWebhookOut:
        """A new endpoint. The ``secret`` (HMAC key of the signatures) is shown only in this response."""
        return NewWebhookOut.new(await manage_webhooks.create(
            principal.user_id, url=data.url, events=data.events, description=data.description, active=data.active))

    @get("", operation_id="ListWebhooks")
    async def list_webhooks(self, principal: Principal, manage_webhooks: ManageWebhooks) -> list[WebhookOut]:
        return [WebhookOut.of(e) for e in await manage_webhooks.all(principal.user_id)]

    @get("/{webhook_id:int}", operation_id="GetWebhook")
    async def get_webhook(self, webhook_id: int, principal: Principal, manage_webhooks: ManageWebhooks) -> WebhookOut:
        """Another user's webhook id gives 404."""
        return WebhookOut.of(await manage_webhooks.get(principal.user_id, webhook_id))

    @patch("/{webhook_id:int}", operation_id="UpdateWebhook")
    async def update(self, webhook_id: int, principal: Principal, manage_webhooks: ManageWebhooks,
                     data: WebhookPatch) -> WebhookOut:
        def given(value: Any) -> Any:
            return None if value is UNSET else value
        return WebhookOut.of(await manage_webhooks.update(
            principal.user_id, webhook_id, url=given(data.url), events=given(data.events),
            description=given(data.description), active=given(data.active)))

    @post("/{webhook_id:int}/rotate-secret", operation_id="RotateWebhookSecret", status_code=HTTP_201_CREATED)
    async def rotate(self, webhook_id: int, principal: Principal, manage_webhooks: ManageWebhooks) -> NewWebhookOut:
        """A new signing secret, shown only in this response; the old one stops working at once."""
        return NewWebhookOut.new(await manage_webhooks.rotate_secret(principal.user_id, webhook_id))

    @delete("/{webhook_id:int}", operation_id="DeleteWebhook", status_code=HTTP_204_NO_CONTENT)
    async def remove(self, webhook_id: int, principal: Principal, manage_webhooks: ManageWebhooks) -> None:
        await manage_webhooks.delete(principal.user_id, webhook_id)

    @get("/{webhook_id:int}/deliveries", operation_id="ListWebhookDeliveries")
    async def deliveries(self, webhook_id: int, principal: Principal, manage_webhooks: ManageWebhooks,
                         limit: Limit = 50, before_id: BeforeId = None) -> list[DeliveryOut]:
        """Newest first, each with its attempts (status code, latency, error, next retry)."""
        found = await manage_webhooks.deliveries(principal.user_id, webhook_id, limit=limit, before_id=before_id)
        return [DeliveryOut.of(entry) for entry in found]


@websocket("/v1/ws", name="event_stream")
async def event_stream(socket: WebSocket[Any, Any, Any], authenticate: Authenticate,
                       event_subscriptions: EventSubscriptions) -> None:
    """Live events of the caller's orders and payments (admins: everyone's with ``?scope=all``).

    Query: ``token`` (access JWT; or the ``Authorization``/``X-API-Key`` headers), ``scope`` (``own`` or
    ``all``), ``events`` (comma-separated filter). The first message is ``{"type": "subscribed", ...}``;
    then one ``{"type": "order.completed", "id", "timestamp", "user_id", "data"}`` per event.
    Authentication failures close with 1008 (policy violation), also later: the credential is re-checked
    periodically, so logout, a ban or token expiry ends the stream. See docs/events.md.
    """
    await serve_event_stream(socket, authenticate, event_subscriptions, render=native_message)
