"""Events end to end over real sockets: ``vpnsmm serve`` processes, a real webhook receiver on 127.0.0.1 and
WebSocket clients.

* one process on SQLite (jobs in process): /v1/webhooks CRUD, bad input and ownership over HTTP; an order
  placed over HTTP reaches the WebSocket subscriber and the receiver, signed; auth failures close 1008;
* the scaled-out deployment on PostgreSQL and Redis: the WebSocket client is connected to an API process
  whose jobs are off, so the event it receives was dispatched by the ``vpnsmm worker`` process and fanned
  out through Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.test_multiprocess_deploy import _demo, _env, _login, _worker
from tests.integration.events.receiver import Receiver
from tests.support.asgi_server import serve_in_thread
from tests.support.databases import temporary_postgres_database
from tests.support.redis import require_redis
from tests.support.server import running_server
from vpnsmm.domain.webhooks import verify_signature

WAIT = 30.0


def _ws_url(base: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + "/v1/ws" + (f"?{query}" if query else "")


def _next(ws: ClientConnection, *, wanted: str, timeout: float = WAIT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == wanted:
            return dict(message)


def _closed_with(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    with connect(url, additional_headers=dict(headers or {}), open_timeout=10) as ws, \
            pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def _place(http: httpx.Client, headers: Mapping[str, str], link: str) -> dict[str, Any]:
    services = http.get("/v1/smm/services", headers=headers).json()
    service = next(s for s in services if s["type"] == "Default")
    placed = http.post("/v1/smm/orders", headers=headers, json={
        "service": service["id"], "link": link, "quantity": max(service["min"], 100)})
    assert placed.status_code == 201, placed.text
    return dict(placed.json())


def _wait_for(receiver: Receiver, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(receiver.received) >= count, receiver.received


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with serve_in_thread(r) as base:
        yield r, base


def test_webhooks_api_and_live_stream_on_one_process(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    hook, hook_url = receiver
    env = {"VPNSMM_WEBHOOKS_ALLOW_PRIVATE": "true", "VPNSMM_JOB_POLL_MS": "100",
           "VPNSMM_JOB_SCHEDULES": "smm.poll=every:1", "VPNSMM_DATA_DIR": str(tmp_path / "data")}
    passwords = _demo(env)
    with running_server(tmp_path / "data", env=env) as base, httpx.Client(base_url=base, timeout=30) as http:
        demo = _login(http, "demo", passwords["demo"])
        admin = _login(http, "demo-admin", passwords["demo-admin"])

        # bad input: 400 with the field named, nothing created
        for body, code in [({"url": "ftp://x.example/h"}, "INVALID_URL"),
                           ({"url": f"{hook_url}/h", "events": ["order.shipped"]}, "UNKNOWN_EVENT"),
                           ({"url": f"{hook_url}/h", "events": []}, None),
                           ({"url": f"{hook_url}/h", "secret": "mine"}, None),
                           ({"url": 42}, None)]:
            bad = http.post("/v1/webhooks", headers=demo, json=body)
            assert bad.status_code == 400, (body, bad.text)
            if code:
                assert bad.json()["code"] == code and bad.json()["errors"][0]["field"] in ("url", "events")
        assert http.get("/v1/webhooks", headers=demo).json() == []
        assert http.post("/v1/webhooks", json={"url": f"{hook_url}/h"}).status_code == 401

        made = http.post("/v1/webhooks", headers=demo, json={
            "url": f"{hook_url}/smm", "events": ["order.created"], "description": "my shop ✓"})
        assert made.status_code == 201, made.text
        endpoint = made.json()
        secret = endpoint["secret"]
        assert secret.startswith("whsec_") and endpoint["events"] == ["order.created"]
        listed = http.get("/v1/webhooks", headers=demo).json()
        assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
        # another user's id: 404 for every verb
        other = f"/v1/webhooks/{endpoint['id']}"
        assert http.get(other, headers=admin).status_code == 404
        assert http.patch(other, headers=admin, json={"active": False}).status_code == 404
        assert http.delete(other, headers=admin).status_code == 404
        assert http.get(f"{other}/deliveries", headers=admin).status_code == 404
        assert http.post(f"{other}/rotate-secret", headers=admin).status_code == 404
        assert http.get(other, headers=demo).json()["active"] is True

        # WebSocket auth failures close with 1008 (policy violation)
        assert _closed_with(_ws_url(base, "token=not-a-jwt"))[0] == 1008
        assert _closed_with(_ws_url(base))[0] == 1008
        assert _closed_with(_ws_url(base), {"Authorization": "Basic eDp5"})[0] == 1008
        demo_token = demo["Authorization"].split()[1]
        assert _closed_with(_ws_url(base, f"token={demo_token}&scope=all")) == (1008, "FORBIDDEN")
        assert _closed_with(_ws_url(base, f"token={demo_token}&events=order.nope"))[0] == 1007

        admin_token = admin["Authorization"].split()[1]
        with connect(_ws_url(base, f"token={demo_token}"), open_timeout=10) as mine, \
                connect(_ws_url(base, f"token={admin_token}"), open_timeout=10) as admins_own, \
                connect(_ws_url(base, f"token={admin_token}&scope=all"), open_timeout=10) as everyone, \
                connect(_ws_url(base), additional_headers=demo, open_timeout=10) as by_header:
            for ws in (mine, admins_own, everyone, by_header):
                assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            order = _place(http, demo, "https://instagram.com/p/events-e2e")
            created = _next(mine, wanted="order.created")
            assert created["id"] == f"evt_order_{order['id']}_created"
            assert created["data"]["order_id"] == order["id"] and created["data"]["status"] == "Pending"
            assert created["user_id"] == demo_user_id(http, demo)
            assert _next(everyone, wanted="order.created")["id"] == created["id"]
            assert _next(by_header, wanted="order.created")["id"] == created["id"]
            # The simulated provider moves the order on each poll (every second here).
            processing = _next(mine, wanted="order.processing")
            assert processing["data"]["public_status"] == "processing"
            with pytest.raises(TimeoutError):
                admins_own.recv(timeout=1.0)  # the admin's own stream has none of demo's events

        _wait_for(hook, 1)
        hit = hook.received[0]
        assert hit.json == {"event": "order.created", "timestamp": hit.json["timestamp"],
                            "data": {"order_id": f"order_{order['id']}", "status": "pending",
                                     "service_id": f"service_{order['service_id']}"}}
        assert hit.headers["x-signature"] == hmac.new(secret.encode(), hit.body, hashlib.sha256).hexdigest()
        assert verify_signature(secret, hit.body, hit.headers, now=int(time.time()))
        time.sleep(1.5)
        assert len(hook.received) == 1  # order.processing is not subscribed; nothing is sent twice
        log = http.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=demo)
        assert log.status_code == 200, log.text
        [delivery] = log.json()
        assert delivery["status"] == "succeeded" and delivery["event"] == "order.created"
        assert delivery["payload"].encode() == hit.body
        [attempt] = delivery["log"]
        assert attempt["attempt"] == 1 and attempt["status_code"] == 200 and attempt["next_retry_at"] is None
        assert attempt["latency_ms"] >= 0 and attempt["error"] == ""
        assert http.delete(f"/v1/webhooks/{endpoint['id']}", headers=demo).status_code == 204
        assert http.get("/v1/webhooks", headers=demo).json() == []


def demo_user_id(http: httpx.Client, headers: Mapping[str, str]) -> int:
    return int(http.get("/v1/me", headers=headers).json()["id"])


def test_an_event_dispatched_by_the_worker_reaches_a_websocket_on_another_process(tmp_path: Path) -> None:
    redis_url = require_redis()
    with ExitStack() as stack:
        db_url = stack.enter_context(temporary_postgres_database())
        env = _env(db_url, redis_url, tmp_path / "shared")
        env["VPNSMM_JOB_SCHEDULES"] = "smm.poll=off; smm.submit=off"
        passwords = _demo(env)
        api = stack.enter_context(running_server(tmp_path / "api", env=env))  # jobs off: it dispatches nothing
        http = stack.enter_context(httpx.Client(base_url=api, timeout=30.0))
        demo = _login(http, "demo", passwords["demo"])
        token = demo["Authorization"].split()[1]
        ws = stack.enter_context(connect(_ws_url(api, f"token={token}"), open_timeout=10))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        order = _place(http, demo, "https://instagram.com/p/redis-fanout")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.5)  # no worker yet: the event waits in the outbox, not lost, not published
        worker = stack.enter_context(_worker(env, tmp_path / "worker.log"))
        created = _next(ws, wanted="order.created")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-4000:]
        assert created["data"]["order_id"] == order["id"] and created["id"] == f"evt_order_{order['id']}_created"
