"""/v1/ws in one process over a real socket (the app served on 127.0.0.1 in the test's event loop): an event
dispatched in the same process reaches its owner only; API-key and header auth; admin firehose; filters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, WebSocket, websocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.asgi_server import serve
from vpnsmm.application.events import EventSubscriptions, order_update_message
from vpnsmm.application.identity import Authenticate, RegisterUserCommand
from vpnsmm.config import Settings
from vpnsmm.container import Container, build_container, start, stop
from vpnsmm.domain.events import DomainEvent, EventType
from vpnsmm.domain.identity import Role
from vpnsmm.entrypoints.http.app import create_app
from vpnsmm.entrypoints.http.dependencies import http_dependencies
from vpnsmm.entrypoints.http.event_stream import serve_event_stream
from vpnsmm.testing import FrozenClock


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Container, str]]:
    container = build_container(Settings(data_dir=tmp_path, secret_key="k" * 48, rate_limits="off",
                                         jobs_in_process="off"))
    await start(container)
    try:
        async with serve(create_app(container, manage_container=False)) as base:
            yield container, base.replace("http://", "ws://")
    finally:
        await stop(container)


async def _user(container: Container, name: str, role: Role = Role.USER) -> tuple[int, str, str]:
    """(user id, access JWT, API key)"""
    user = await container.register_user()(RegisterUserCommand(username=name, password="a long password 1", role=role))
    pair = await container.login()(name, "a long password 1")
    key = await container.api_keys().generate(user.id, "ws")
    return user.id, pair.access.token, key.secret


def _event(user_id: int, order_id: int, kind: EventType = EventType.ORDER_COMPLETED) -> DomainEvent:
    return DomainEvent(id=f"evt_order_{order_id}_{kind.value.split('.')[1]}", type=kind,
                       occurred_at=FrozenClock().now(), user_id=user_id,
                       data={"order_id": order_id, "service_id": 1, "status": "Completed", "public_status": "completed",
                             "quantity": 100, "remains": 0})


async def _recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def test_owner_only_header_and_api_key_auth_admin_firehose_and_filters(app: tuple[Container, str]) -> None:
    container, base = app
    alice, alice_jwt, alice_key = await _user(container, "alice")
    bob, bob_jwt, _ = await _user(container, "bob")
    _, admin_jwt, _ = await _user(container, "root", Role.ADMIN)
    dispatch = container.dispatch_event()
    async with connect(f"{base}/v1/ws", additional_headers={"X-API-Key": alice_key}) as by_key, \
            connect(f"{base}/v1/ws", additional_headers={"Authorization": f"Bearer {alice_jwt}"}) as by_header, \
            connect(f"{base}/v1/ws?token={bob_jwt}") as bobs, \
            connect(f"{base}/v1/ws?token={admin_jwt}&scope=all") as firehose, \
            connect(f"{base}/v1/ws?token={alice_jwt}&events=order.partial") as partial_only:
        for ws in (by_key, by_header, bobs, firehose, partial_only):
            hello = await _recv(ws)
            assert hello["type"] == "subscribed"
        assert hello["events"] == ["order.partial"]
        await dispatch(_event(alice, 11))
        await dispatch(_event(bob, 12))
        await dispatch(_event(alice, 13, EventType.ORDER_PARTIAL))
        for ws in (by_key, by_header):
            assert [(m["type"], m["data"]["order_id"]) for m in [await _recv(ws), await _recv(ws)]] == [
                ("order.completed", 11), ("order.partial", 13)]
        message = await _recv(bobs)
        assert message == {"type": "order.completed", "id": "evt_order_12_completed",
                           "timestamp": "2026-01-01T12:00:00Z", "user_id": bob,
                           "data": {"order_id": 12, "service_id": 1, "status": "Completed",
                                    "public_status": "completed", "quantity": 100, "remains": 0}}
        with pytest.raises(TimeoutError):
            await _recv(bobs, timeout=0.5)  # none of alice's
        assert [(await _recv(firehose))["data"]["order_id"] for _ in range(3)] == [11, 12, 13]
        assert (await _recv(partial_only))["data"]["order_id"] == 13


@pytest.mark.parametrize(("query", "headers", "code", "reason"), [
    ("", {}, 1008, "UNAUTHORIZED"),
    ("?token=", {}, 1008, "UNAUTHORIZED"),
    ("?token=eyJhbGciOiJIUzI1NiJ9.e30.AAAA", {}, 1008, "INVALID_TOKEN"),
    ("", {"X-API-Key": "vsm_nope"}, 1008, None),
    ("", {"Authorization": "Token abc"}, 1008, "INVALID_TOKEN"),
])
async def test_authentication_failures_close_with_policy_violation(app: tuple[Container, str], query: str,
                                                                   headers: dict[str, str], code: int,
                                                                   reason: str | None) -> None:
    _, base = app
    async with connect(f"{base}/v1/ws{query}", additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    if reason:
        assert closed.value.rcvd.reason == reason


async def test_bad_parameters_and_forbidden_scope(app: tuple[Container, str]) -> None:
    container, base = app
    _, jwt, _ = await _user(container, "carol")
    for query, code in [("scope=everyone", 1007), ("events=order.created,bogus", 1007), ("scope=all", 1008)]:
        async with connect(f"{base}/v1/ws?token={jwt}&{query}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code, query


async def test_logout_ends_a_connected_stream(app: tuple[Container, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from vpnsmm.entrypoints.http import event_stream

    monkeypatch.setattr(event_stream, "REAUTH_SECONDS", 0.2)
    container, base = app
    user_id, jwt, _ = await _user(container, "dave")
    async with connect(f"{base}/v1/ws?token={jwt}") as ws:
        assert (await _recv(ws))["type"] == "subscribed"
        await asyncio.sleep(0.5)  # re-checks pass while the session lives
        await container.dispatch_event()(_event(user_id, 21))
        assert (await _recv(ws))["data"]["order_id"] == 21
        await container.logout_all()(user_id)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "SESSION_REVOKED")


@websocket("/ws")
async def spring_ws(socket: WebSocket[Any, Any, Any], authenticate: Authenticate,
                    event_subscriptions: EventSubscriptions) -> None:
    """A dialect's endpoint as the smm-spring helper would write it."""
    await serve_event_stream(socket, authenticate, event_subscriptions, render=order_update_message, hello=None)


async def test_another_dialect_builds_its_stream_from_the_same_pieces(tmp_path: Path) -> None:
    """What the smm-spring dialect does for ``/ws?token=``: its own message shape, no hello message."""
    container = build_container(Settings(data_dir=tmp_path, secret_key="k" * 48, rate_limits="off",
                                         jobs_in_process="off"))
    await start(container)
    try:
        spring = Litestar(route_handlers=[spring_ws], dependencies=http_dependencies(container))
        async with serve(spring) as base:
            user_id, jwt, _ = await _user(container, "erin")
            async with connect(base.replace("http://", "ws://") + f"/ws?token={jwt}") as ws:
                await asyncio.sleep(0.2)  # no hello message here: give the subscription a moment
                partial = _event(user_id, 31, EventType.ORDER_PARTIAL)
                partial = DomainEvent(id=partial.id, type=partial.type, occurred_at=partial.occurred_at,
                                      user_id=user_id, data={**partial.data, "public_status": "partial",
                                                             "status": "Partial", "remains": 40})
                await container.dispatch_event()(partial)
                assert await _recv(ws) == {"type": "ORDER_UPDATE", "orderId": 31, "status": "PARTIAL",
                                           "progress": 60, "remains": 40, "timestamp": "2026-01-01T12:00:00Z"}
            async with connect(base.replace("http://", "ws://") + "/ws?token=nope") as bad:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(bad.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    finally:
        await stop(container)
