"""WebSocket event streams on top of :class:`~vpnsmm.application.events.EventSubscriptions`, for every dialect.

``serve_event_stream`` does everything but the message shape: authentication (``?token=``, Bearer,
``X-API-Key``, ``?api_key=``), the ``scope``/``events`` query, the subscription, forwarding, noticing the
client's close, periodic re-checks of the credential, and the close codes. A dialect passes ``render``
(event -> message, or None to skip) and optionally ``hello`` (the first message, or None for none).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from vpnsmm.application.events import EventSubscriptions, Subscription
from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.domain.errors import (
    AuthenticationError,
    PermissionDeniedError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.events import DomainEvent, EventType, parse_event_types

log = structlog.get_logger("vpnsmm.ws")

Render = Callable[[DomainEvent], Mapping[str, Any] | None]
Hello = Callable[[Principal, str, frozenset[EventType]], Mapping[str, Any] | None]

#: WebSocket close codes (RFC 6455 and the registered 4xxx-free range we do not use).
WS_POLICY_VIOLATION = 1008  # authentication failed, or not allowed (scope=all without admin)
WS_BAD_REQUEST = 1007  # a malformed query parameter (events=, scope=)
WS_INTERNAL = 1011  # the event bus cannot be reached
WS_RESTART = 1012  # the stream ended (bus reconnecting, server stopping): reconnect
WS_TRY_AGAIN = 1013  # the client fell too far behind: resync over HTTP, then reconnect
#: How often a connected stream re-checks its credential: logout, a ban, a revoked API key or an expired access
#: token end the stream within this many seconds (close 1008), as they end HTTP access at once.
REAUTH_SECONDS = 30.0


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


async def _forward(socket: WebSocket[Any, Any, Any], events: Subscription, render: Render) -> None:
    async for event in events:
        message = render(event)
        if message is not None:
            await socket.send_json(dict(message))


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


def native_hello(principal: Principal, scope: str, types: frozenset[EventType]) -> Mapping[str, Any]:
    """The first message of ``/v1/ws``: ``{"type": "subscribed", "user_id", "scope", "events"}``."""
    return {"type": "subscribed", "user_id": principal.user_id, "scope": scope,
            "events": sorted(t.value for t in types)}


async def serve_event_stream(socket: WebSocket[Any, Any, Any], authenticate: Authenticate,
                             subscriptions: EventSubscriptions, *, render: Render,
                             hello: Hello | None = native_hello) -> None:
    """Run one WebSocket connection to its end (the handler just awaits this).

    Accepts, authenticates (close 1008 with the error code as reason on failure), reads ``scope=own|all``
    (``all`` needs admin: 1008 ``FORBIDDEN``) and ``events=a,b`` (1007 on a bad value), subscribes, sends
    ``hello`` then ``render(event)`` for each event the caller may see, and closes with 1008 when the
    credential stops being valid (re-checked every REAUTH_SECONDS), 1013 when the client fell behind, 1012
    when the stream ended otherwise, 1011 when the bus is unreachable. Never raises for a client going away.
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
        async with subscriptions.open(principal, everyone=scope == "all", types=types) as events:
            first = None if hello is None else hello(principal, scope, types or frozenset(EventType))
            if first is not None:
                await socket.send_json(dict(first))
            forward = asyncio.create_task(_forward(socket, events, render))
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
