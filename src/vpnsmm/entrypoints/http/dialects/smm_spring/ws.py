"""``/ws?token=<jwt>``: live ORDER_UPDATE messages for the token owner's orders.

The socket subscribes to the owner's order channel on the event bus (:func:`order_channel`) and turns each
order event into the document's message::

    {"type": "ORDER_UPDATE", "orderId": 12345, "status": "PROCESSING", "progress": 250, "remains": 750,
     "timestamp": "2024-01-01T12:00:00Z"}

Events of other users are never forwarded (checked again per event, whatever the channel). A missing, bad,
expired or logged-out token closes the socket with 1008 (policy violation). Delivery is best effort, as the
bus promises: a client that reconnects re-reads its orders over HTTP. Live updates appear only where the
order-event publisher puts order events on the bus (see docs/dialects/smm-spring.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from vpnsmm.application.identity import Authenticate
from vpnsmm.application.ports.events import EventBus
from vpnsmm.domain.errors import VpnsmmError
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.entrypoints.http.dialects.smm_spring.wire import WIRE_STATUS, now_iso

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
#: A connected socket re-checks its token this often: logout, a ban or expiry end it (1008) within this time.
REAUTH_SECONDS = 30.0

#: Lower-case public statuses some publishers use (order.processing ...) -> the document's names.
_PUBLIC = {"pending": "PENDING", "processing": "PROCESSING", "in_progress": "ACTIVE", "active": "ACTIVE",
           "paused": "PAUSED", "partial": "PARTIAL", "completed": "COMPLETED", "canceled": "CANCELLED",
           "cancelled": "CANCELLED", "refunded": "CANCELLED"}


def order_channel(user_id: int) -> str:
    """The event-bus channel carrying one user's events: ``events:user:<id>``, the channel the order-event
    publisher (application/events.py, built alongside) publishes each user's events on."""
    return f"events:user:{user_id}"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _status(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return WIRE_STATUS[OrderStatus(raw)]
    except ValueError:
        return _PUBLIC.get(raw.strip().lower().replace(" ", "_").removeprefix("order."))


def order_update(event: Mapping[str, Any], user_id: int) -> dict[str, Any] | None:
    """The ORDER_UPDATE message for a bus event, or None when it is not an order event of ``user_id``.

    Accepts a domain event (``{"type": "order.processing", "user_id", "occurred_at", "data": {order snapshot}}``)
    or a flat snapshot (``{"order_id", "user_id", "status", "quantity", "remains", ...}``).
    """
    data = event.get("data")
    body: Mapping[str, Any] = data if isinstance(data, Mapping) else event
    owner = _int(event.get("user_id", body.get("user_id")))
    if owner != user_id:
        return None
    kind = event.get("type")
    if isinstance(kind, str) and kind and not kind.lower().startswith("order"):
        return None
    order_id = _int(body.get("order_id", body.get("orderId", body.get("id"))))
    status = _status(body.get("status")) or (_status(kind) if isinstance(kind, str) else None)
    if order_id is None or status is None:
        return None
    quantity, remains = _int(body.get("quantity")), _int(body.get("remains"))
    if remains is None and status == "COMPLETED":
        remains = 0
    progress = quantity - remains if quantity is not None and remains is not None else None
    when = event.get("occurred_at", body.get("updated_at"))
    return {"type": "ORDER_UPDATE", "orderId": order_id, "status": status, "progress": progress,
            "remains": remains, "timestamp": _iso(when) if isinstance(when, str) else now_iso()}


def _iso(text: str) -> str:
    from datetime import datetime

    from vpnsmm.entrypoints.http.dialects.smm_spring.wire import iso
    try:
        return iso(datetime.fromisoformat(text.replace("Z", "+00:00"))) or now_iso()
    except ValueError:
        return now_iso()


@websocket("/ws", exclude_from_auth=True)
async def order_updates(socket: WebSocket[Any, Any, Any], authenticate: Authenticate, event_bus: Any) -> None:
    # ``event_bus`` is typed Any in the signature: Litestar type-checks injected values and the port is a Protocol.
    bus: EventBus = event_bus
    await socket.accept()
    token = socket.query_params.get("token") or ""
    try:
        if not token:
            raise VpnsmmError("token query parameter is required", code="UNAUTHORIZED")
        principal = await authenticate.access_token(token)
    except VpnsmmError as exc:
        await socket.close(code=POLICY_VIOLATION, reason=exc.message[:120])
        return
    user_id = principal.user_id

    revoked: list[str] = []

    async def drain() -> None:
        # Clients may send pings or nothing; we only need to notice them leaving -- or the token ending.
        async def recheck() -> None:
            while True:
                await asyncio.sleep(REAUTH_SECONDS)
                try:
                    await authenticate.access_token(token)
                except VpnsmmError as exc:
                    revoked.append(exc.message)
                    return

        checker = asyncio.create_task(recheck())
        try:
            with contextlib.suppress(WebSocketDisconnect):
                reader = asyncio.create_task(socket.receive_data(mode="text"))
                while True:
                    done, _ = await asyncio.wait({reader, checker}, return_when=asyncio.FIRST_COMPLETED)
                    if checker in done:
                        reader.cancel()
                        return
                    reader.result()
                    reader = asyncio.create_task(socket.receive_data(mode="text"))
        finally:
            checker.cancel()

    unavailable = False
    try:
        async with bus.subscribe(order_channel(user_id)) as events:
            listener = asyncio.create_task(drain())
            try:
                await socket.send_json({"type": "SYSTEM_NOTIFICATION", "severity": "INFO",
                                        "message": "Connected; order updates follow", "timestamp": now_iso()})
                async for event in _until(events, listener):
                    message = order_update(event, user_id)
                    if message is not None:
                        await socket.send_json(message)
            except WebSocketDisconnect:
                pass
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                    await listener
    except VpnsmmError:  # the bus (Redis) cannot be reached: say so, the client retries later
        unavailable = True
    with contextlib.suppress(Exception):
        if revoked:
            await socket.close(code=POLICY_VIOLATION, reason=revoked[0][:120])
        elif unavailable:
            await socket.close(code=TRY_AGAIN_LATER, reason="live updates are unavailable; retry later")
        else:
            await socket.close()


async def _until(events: Any, listener: asyncio.Task[None]) -> Any:
    """Events until the client leaves (``listener`` ends) or the subscription ends."""
    iterator = events.__aiter__()
    while not listener.done():
        nxt = asyncio.ensure_future(iterator.__anext__())
        done, _ = await asyncio.wait({nxt, listener}, return_when=asyncio.FIRST_COMPLETED)
        if nxt in done:
            try:
                yield nxt.result()
            except StopAsyncIteration:
                return
        else:
            nxt.cancel()
            return
