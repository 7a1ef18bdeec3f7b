"""/v1/webhooks (the caller's outgoing webhooks and their delivery log) and /v1/ws (live order events)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import structlog
from litestar import Controller, WebSocket, delete, get, patch, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET

from vpnsmm.application.events import EventSubscriptions, Subscription, native_message
from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.application.webhooks import ManageWebhooks
from vpnsmm.domain.errors import (
    AuthenticationError,
    PermissionDeniedError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.events import EventType, parse_event_types
from vpnsmm.entrypoints.http.webhook_schemas import DeliveryOut, NewWebhookOut, WebhookIn, WebhookOut, WebhookPatch

log = structlog.get_logger("vpnsmm.ws")

Limit = Annotated[int, Parameter(ge=1, le=200)]
BeforeId = Annotated[int | None, Parameter(ge=1, le=2**62)]

#: WebSocket close codes (RFC 6455 and the registered 4xxx-free range we do not use).
WS_POLICY_VIOLATION = 1008  # authentication failed, or not allowed (scope=all without admin)
WS_BAD_REQUEST = 1007  # a malformed query parameter (events=, scope=)
WS_INTERNAL = 1011  # the event bus cannot be reached
WS_RESTART = 1012  # the stream ended (bus reconnecting, server stopping): reconnect
WS_TRY_AGAIN = 1013  # the client fell too far behind: resync over HTTP, then reconnect
#: How often a connected stream re-checks its credential: logout, a ban, a revoked API key or an expired access
#: token end the stream within this many seconds (close 1008), as they end HTTP access at once.
REAUTH_SECONDS = 30.0


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


async def websocket_principal(socket: WebSocket[Any, Any, Any], authenticate: Authenticate) -> Principal:
    """The caller of a WebSocket: ``?token=<access JWT>``, ``Authorization: Bearer <JWT>``, ``X-API-Key``
    or ``?api_key=``. Raises AuthenticationError. Shared with other dialects' WebSocket endpoints."""
    token = socket.query_params.get("token")
    header = socket.headers.get("authorization")
    if token:
        return await authenticate.access_token(token.strip())
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>'", code="INVALID_TOKEN")
        return await authenticate.access_token(value.strip())
    key = socket.headers.get("x-api-key") or socket.query_params.get("api_key")
    if key:
        return await authenticate.api_key(key)
    raise AuthenticationError("authentication required", code="UNAUTHORIZED")


async def _forward(socket: WebSocket[Any, Any, Any], events: Subscription) -> None:
    async for event in events:
        await socket.send_json(native_message(event))


async def _drain(socket: WebSocket[Any, Any, Any]) -> None:
    """Read (and ignore) what the client sends, so that its close is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")


async def _recheck(socket: WebSocket[Any, Any, Any], authenticate: Authenticate) -> str:
    """Return the error code once the connection's credential stops being valid."""
    while True:
        await asyncio.sleep(REAUTH_SECONDS)
        try:
            await websocket_principal(socket, authenticate)
        except AuthenticationError as exc:
            return exc.code


async def close_quietly(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason[:120])


@websocket("/v1/ws", name="event_stream")
async def event_stream(socket: WebSocket[Any, Any, Any], authenticate: Authenticate,
                       event_subscriptions: EventSubscriptions) -> None:
    """Live events of the caller's orders and payments (admins: everyone's with ``?scope=all``).

    Query: ``token`` (access JWT; or the ``Authorization``/``X-API-Key`` headers), ``scope`` (``own`` or
    ``all``), ``events`` (comma-separated filter). The first message is ``{"type": "subscribed", ...}``;
    then one ``{"type": "order.completed", "id", "timestamp", "user_id", "data"}`` per event.
    Authentication failures close with 1008 (policy violation), also later: the credential is re-checked
    every REAUTH_SECONDS, so logout, a ban or token expiry ends the stream. See docs/events.md.
    """
    await socket.accept()
    try:
        principal = await websocket_principal(socket, authenticate)
    except AuthenticationError as exc:
        await close_quietly(socket, WS_POLICY_VIOLATION, exc.code)
        return
    scope = (socket.query_params.get("scope") or "own").strip().lower()
    raw_events = socket.query_params.get("events")
    try:
        if scope not in ("own", "all"):
            raise ValidationError("scope is own or all", field="scope")
        types: frozenset[EventType] | None = None
        if raw_events:
            types = parse_event_types([t for t in raw_events.split(",") if t.strip()])
    except ValidationError as exc:
        await close_quietly(socket, WS_BAD_REQUEST, exc.code)
        return
    try:
        async with event_subscriptions.open(principal, everyone=scope == "all", types=types) as events:
            await socket.send_json({"type": "subscribed", "user_id": principal.user_id, "scope": scope,
                                    "events": sorted(t.value for t in (types or EventType))})
            forward = asyncio.create_task(_forward(socket, events))
            drain = asyncio.create_task(_drain(socket))
            recheck = asyncio.create_task(_recheck(socket, authenticate))
            done, pending = await asyncio.wait({forward, drain, recheck}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if recheck in done and recheck.exception() is None:
                await close_quietly(socket, WS_POLICY_VIOLATION, recheck.result())
            elif forward in done and forward.exception() is None:
                lagged = events.lagged
                await close_quietly(socket, WS_TRY_AGAIN if lagged else WS_RESTART,
                                    "LAGGED" if lagged else "STREAM_ENDED")
    except PermissionDeniedError:
        await close_quietly(socket, WS_POLICY_VIOLATION, "FORBIDDEN")
    except UpstreamUnavailableError:
        log.warning("ws_bus_unavailable")
        await close_quietly(socket, WS_INTERNAL, "EVENT_BUS_UNAVAILABLE")
    except WebSocketDisconnect:
        pass
