"""``/ws?token=`` of the smm-spring dialect in process: an order event published on the app's own event bus
(the in-memory bus, as without Redis) reaches the token owner's socket as ORDER_UPDATE, and only theirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from vpnsmm.config import Settings
from vpnsmm.container import Container, build_container
from vpnsmm.entrypoints.http.app import create_app
from vpnsmm.entrypoints.http.dialects.smm_spring.ws import POLICY_VIOLATION, order_channel, order_update


@pytest.fixture
def app_and_container(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Container]]:
    settings = Settings(data_dir=tmp_path, secret_key="in-process test secret key 0123456789", rate_limits="off",
                        redis_url="", jobs_in_process="off")
    container = build_container(settings)
    with TestClient(create_app(container)) as client:
        yield client, container


def register(client: TestClient[Any], name: str) -> tuple[str, int]:
    r = client.post("/api/v1/auth/register", json={"username": name, "password": "password123"})
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["id"]


def test_an_order_event_on_the_bus_reaches_its_owner_as_order_update(
        app_and_container: tuple[TestClient[Any], Container]) -> None:
    client, container = app_and_container
    token, user_id = register(client, "wsuser")
    _, other_id = register(client, "wsother")
    bus = container.event_bus()
    with client.websocket_connect(f"/ws?token={token}") as socket:
        assert socket.receive_json()["type"] == "SYSTEM_NOTIFICATION"
        portal = client.blocking_portal  # the app's own event loop, where the bus lives
        portal.call(bus.publish, order_channel(other_id), {
            "type": "order.completed", "user_id": other_id, "data": {"order_id": 7, "status": "Completed"}})
        portal.call(bus.publish, order_channel(user_id), {
            "type": "order.partial", "user_id": other_id, "data": {"order_id": 8, "status": "Partial"}})
        portal.call(bus.publish, order_channel(user_id), {"type": "payment.completed", "user_id": user_id,
                                                                 "data": {"payment_id": 3}})
        portal.call(bus.publish, order_channel(user_id), {
            "id": "evt_order_9_completed", "type": "order.completed", "occurred_at": "2026-01-01T10:00:00+00:00",
            "user_id": user_id, "data": {"order_id": 9, "status": "Completed", "quantity": 1000}})
        assert socket.receive_json() == {"type": "ORDER_UPDATE", "orderId": 9, "status": "COMPLETED",
                                         "progress": 1000, "remains": 0, "timestamp": "2026-01-01T10:00:00Z"}


@pytest.mark.parametrize("query", ["", "?token=", "?token=abc.def.ghi"])
def test_bad_tokens_close_with_policy_violation(app_and_container: tuple[TestClient[Any], Container],
                                                query: str) -> None:
    client, _ = app_and_container
    with client.websocket_connect(f"/ws{query}") as socket, pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json()
    assert closed.value.code == POLICY_VIOLATION


@pytest.mark.parametrize(("event", "expected"), [
    ({"user_id": 5, "data": {"order_id": 1, "status": "In progress", "quantity": 100, "remains": 40},
      "type": "order.processing"}, {"orderId": 1, "status": "ACTIVE", "progress": 60, "remains": 40}),
    ({"user_id": 5, "order_id": "2", "status": "processing"}, {"orderId": 2, "status": "PROCESSING",
                                                               "progress": None, "remains": None}),
    ({"user_id": 5, "type": "order.canceled", "data": {"id": 3}}, {"orderId": 3, "status": "CANCELLED"}),
    ({"user_id": 5, "data": {"order_id": 4, "status": "Refunded"}}, {"orderId": 4, "status": "CANCELLED"}),
])
def test_order_update_mapping(event: dict[str, Any], expected: dict[str, Any]) -> None:
    message = order_update(event, 5)
    assert message is not None and message["type"] == "ORDER_UPDATE"
    assert {k: message[k] for k in expected} == expected and isinstance(message["timestamp"], str)


@pytest.mark.parametrize("event", [
    {"user_id": 6, "data": {"order_id": 1, "status": "Pending"}},  # someone else's
    {"data": {"order_id": 1, "status": "Pending"}},  # no owner: never shown
    {"user_id": 5, "type": "payment.completed", "data": {"payment_id": 1, "status": "paid"}},
    {"user_id": 5, "data": {"status": "Pending"}},  # no order id
    {"user_id": 5, "data": {"order_id": 1, "status": "weird"}},
    {"user_id": True, "data": {"order_id": 1, "status": "Pending"}},
])
def test_events_that_are_not_the_owners_order_updates_are_dropped(event: dict[str, Any]) -> None:
    assert order_update(event, 5) is None


def test_a_connected_socket_closes_with_policy_violation_after_logout(
        app_and_container: tuple[TestClient[Any], Container], monkeypatch: pytest.MonkeyPatch) -> None:
    from vpnsmm.entrypoints.http.dialects.smm_spring import ws

    monkeypatch.setattr(ws, "REAUTH_SECONDS", 0.2)
    client, _ = app_and_container
    token, _ = register(client, "leaver")
    with client.websocket_connect(f"/ws?token={token}") as socket:
        assert socket.receive_json()["type"] == "SYSTEM_NOTIFICATION"
        assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == POLICY_VIOLATION


def test_an_unreachable_event_bus_closes_with_try_again_later(tmp_path: Path) -> None:
    from vpnsmm.entrypoints.http.dialects.smm_spring.ws import TRY_AGAIN_LATER

    settings = Settings(data_dir=tmp_path, secret_key="in-process test secret key 0123456789", rate_limits="off",
                        redis_url="redis://127.0.0.1:1/0", jobs_in_process="off")  # nothing listens there
    with TestClient(create_app(build_container(settings))) as client:
        token, _ = register(client, "nobus")
        with client.websocket_connect(f"/ws?token={token}") as socket, pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == TRY_AGAIN_LATER
