"""The smm-spring dialect over a real socket, walked through smm-spring-api.md end to end.

The real ``vpnsmm serve`` runs on SQLite and PostgreSQL (one server per module and backend) with the Cryptomus
fake served over HTTP, Redis for the event bus, a ``simulated`` SMM provider, an admin, an operator and two
customers. The client below is written from the document: JSON bodies, ``Authorization: Bearer``, the
document's paths, field names, envelopes, status codes and error format.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect

from tests.support.asgi_server import serve_in_thread
from tests.support.databases import temporary_postgres_database
from tests.support.redis import require_redis
from tests.support.server import running_server
from vpnsmm.adapters.events.redis import RedisEventBus
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.entrypoints.http.dialects.smm_spring.ws import order_channel

ADMIN, OPERATOR = ("boss", "boss password"), ("oper", "operator password")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MONEY = re.compile(r"^-?\d+\.\d\d$")

#: Every (method, path) the document lists; ``{id}`` stands for an existing id.
DOCUMENTED = [
    ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"),
    ("GET", "/api/v1/auth/me"), ("GET", "/api/v1/auth/profile"), ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-all"),
    ("POST", "/api/v1/orders"), ("GET", "/api/v1/orders"), ("GET", "/api/v1/orders/{id}"),
    ("POST", "/api/v1/orders/{id}/cancel"), ("GET", "/api/v1/orders/stats"), ("POST", "/api/v1/orders/bulk"),
    ("GET", "/api/v1/orders/health"),
    ("GET", "/api/v1/balance"), ("POST", "/api/v1/balance/deposit"), ("GET", "/api/v1/balance/transactions"),
    ("GET", "/api/v1/balance/transactions/recent"), ("POST", "/api/v1/balance/check-funds"),
    ("GET", "/api/v1/service/services"),
    ("GET", "/api/v2/admin/dashboard"), ("GET", "/api/v2/admin/orders"),
    ("POST", "/api/v2/admin/orders/{id}/actions"), ("POST", "/api/v2/admin/orders/bulk-actions"),
    ("GET", "/api/v2/admin/conversion-coefficients"), ("PUT", "/api/v2/admin/conversion-coefficients/{id}"),
    ("GET", "/api/v2/admin/youtube-accounts"), ("POST", "/api/v2/admin/youtube-accounts/{id}/reset-daily-limit"),
    ("PUT", "/api/v2/admin/youtube-accounts/{id}/status"), ("GET", "/api/v2/admin/system/health"),
    ("GET", "/api/v2/admin/logs/operator"),
    ("POST", "/api/v1/api-keys/generate"), ("POST", "/api/v1/api-keys/rotate"), ("DELETE", "/api/v1/api-keys/revoke"),
    ("GET", "/api/v1/api-keys/info"),
    ("POST", "/api/v2"),
    ("POST", "/api/v2/webhooks/cryptomus"), ("POST", "/api/v2/webhooks/test"), ("GET", "/api/v2/webhooks/health"),
    ("GET", "/api/v1/kafka/consumer-groups"), ("GET", "/api/v1/kafka/errors"),
    ("GET", "/api/v1/monitoring/hibernate/stats"), ("GET", "/api/v1/error-recovery/status"),
    ("GET", "/api/v1/offers/assignment/status"),
]


class Stack:
    def __init__(self, url: str, cryptomus: FakeCryptomus, backend: str) -> None:
        self.url, self.cryptomus, self.backend = url, cryptomus, backend


def _cli(data_dir: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    full.update({"VPNSMM_DATA_DIR": str(data_dir), **env})
    done = subprocess.run([sys.executable, "-m", "vpnsmm", *args], input=stdin, text=True, capture_output=True,
                          env=full, check=False, timeout=90)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_url = require_redis()
    cryptomus = FakeCryptomus("merchant-uuid", "pay-key")
    data_dir: Path = tmp_path_factory.mktemp("smm-spring")
    with serve_in_thread(cryptomus.app) as cm_url:
        env = {"VPNSMM_DEFAULT_CURRENCY": "USD", "VPNSMM_RATE_LIMITS": "off", "VPNSMM_REDIS_URL": redis_url,
               "VPNSMM_CRYPTOMUS_MERCHANT": "merchant-uuid", "VPNSMM_CRYPTOMUS_API_KEY": "pay-key",
               "VPNSMM_CRYPTOMUS_BASE_URL": cm_url}

        def run() -> Iterator[Stack]:
            _cli(data_dir, env, "users", "create", ADMIN[0], "--role", "admin", "--password-stdin",
                 stdin=ADMIN[1] + "\n")
            _cli(data_dir, env, "users", "create", OPERATOR[0], "--role", "operator", "--password-stdin",
                 stdin=OPERATOR[1] + "\n")
            _cli(data_dir, env, "youtube-accounts", "add", "account1@gmail.com", "--daily-limit", "100")
            _cli(data_dir, env, "youtube-accounts", "add", "account2@gmail.com")
            with running_server(data_dir, env=env) as url:
                yield Stack(url, cryptomus, request.param)

        if request.param == "postgres":
            with temporary_postgres_database() as db_url:
                env["VPNSMM_DATABASE_URL"] = db_url
                yield from run()
        else:
            yield from run()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await http.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


def assert_error(r: httpx.Response, status: int, path: str | None = None, field: str | None = None) -> dict[str, Any]:
    """The Standard Error Response, exactly: error, code (= HTTP status), timestamp, path, details."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "code", "timestamp", "path", "details"}, body
    assert body["code"] == status and isinstance(body["error"], str) and body["error"]
    assert ISO.match(body["timestamp"]) and isinstance(body["details"], dict)
    if path is not None:
        assert body["path"] == path
    if field is not None:
        assert field in body["details"], body
    return body


async def ensure_catalogue(http: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A simulated provider imported through the native admin API, then the services as the document lists them."""
    listed = await http.get("/v1/admin/smm/providers", headers=admin)
    if not listed.json():
        added = await http.post("/v1/admin/smm/providers", headers=admin, json={
            "name": "simulated", "kind": "simulated", "api_url": "http://simulated.invalid/api/v2",
            "api_key": "sim-key", "currency": "USD"})
        assert added.status_code == 201, added.text
        synced = await http.post(f"/v1/admin/smm/providers/{added.json()['id']}/sync", headers=admin,
                                 json={"markup": "0"})
        assert synced.status_code == 200, synced.text
    r = await http.get("/api/v1/service/services")
    assert r.status_code == 200 and r.json()["success"] is True
    return {s["name"]: s for s in r.json()["data"]}


async def customer(http: httpx.AsyncClient, admin: dict[str, str], name: str, funds: str) -> tuple[dict[str, str], int]:
    r = await http.post("/api/v1/auth/register", json={"username": name, "email": f"{name}@example.com",
                                                       "password": "password123", "confirmPassword": "password123"})
    assert r.status_code == 201, r.text
    body = r.json()
    if funds != "0":
        funded = await http.post(f"/v1/admin/wallets/{body['id']}/adjust", headers=admin, json={
            "amount": funds, "currency": "USD", "reason": "test funds", "idempotency_key": f"spring-{name}"})
        assert funded.status_code == 201, funded.text
    return bearer(body["token"]), int(body["id"])


# ------------------------------------------------------------------------------------------ auth
async def test_auth_register_login_refresh_me_profile_logout(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/auth/register", json={"username": "newuser", "email": "new@example.com",
                                                       "password": "password123", "confirmPassword": "password123"})
    assert r.status_code == 201, r.text
    reg = r.json()
    assert set(reg) == {"id", "username", "email", "role", "token", "refreshToken", "tokenType", "expiresIn"}
    assert reg["username"] == "newuser" and reg["role"] == "USER" and reg["tokenType"] == "Bearer"
    assert isinstance(reg["id"], int) and reg["expiresIn"] > 0
    assert "httponly" in r.headers.get("set-cookie", "").lower()

    assert_error(await http.post("/api/v1/auth/register", json={"username": "newuser", "password": "password123"}),
                 409, "/api/v1/auth/register")
    assert_error(await http.post("/api/v1/auth/register", json={"username": "other", "password": "password123",
                                                                "confirmPassword": "different1"}),
                 400, field="confirmPassword")
    assert_error(await http.post("/api/v1/auth/register", json={"username": "x"}), 400, field="password")
    assert_error(await http.post("/api/v1/auth/register", json={"username": 5, "password": "password123"}), 400)

    r = await http.post("/api/v1/auth/login", json={"username": "newuser", "password": "password123"})
    assert r.status_code == 200 and set(r.json()) == set(reg) and r.json()["id"] == reg["id"]
    token, refresh = r.json()["token"], r.json()["refreshToken"]
    assert_error(await http.post("/api/v1/auth/login", json={"username": "newuser", "password": "wrong-pass"}),
                 401, "/api/v1/auth/login")

    me = await http.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {"id": reg["id"], "username": "newuser", "email": "new@example.com", "role": "USER",
                         "balance": "0.00"}
    profile = (await http.get("/api/v1/auth/profile", headers=bearer(token))).json()
    assert profile["isActive"] is True and profile["hasApiKey"] is False and profile["apiKeyLastRotated"] is None
    assert profile["balance"] == "0.00" and ISO.match(profile["createdAt"]) and profile["updatedAt"] is None

    r = await http.post("/api/v1/auth/refresh", json={"refreshToken": refresh})
    assert r.status_code == 200 and set(r.json()) == {"accessToken", "refreshToken"}
    fresh = r.json()["accessToken"]
    assert (await http.get("/api/v1/auth/me", headers=bearer(fresh))).status_code == 200
    assert_error(await http.post("/api/v1/auth/refresh", json={"refreshToken": refresh}), 401)  # spent: reuse
    assert_error(await http.post("/api/v1/auth/refresh", json={"refreshToken": 42}), 400)

    other = (await http.post("/api/v1/auth/login", json={"username": "newuser", "password": "password123"})).json()
    r = await http.post("/api/v1/auth/logout", headers=bearer(other["token"]))
    assert r.status_code == 200 and r.json()["success"] is True
    assert_error(await http.get("/api/v1/auth/me", headers=bearer(other["token"])), 401, "/api/v1/auth/me")

    a = (await http.post("/api/v1/auth/login", json={"username": "newuser", "password": "password123"})).json()
    b = (await http.post("/api/v1/auth/login", json={"username": "newuser", "password": "password123"})).json()
    assert (await http.post("/api/v1/auth/logout-all", headers=bearer(a["token"]))).status_code == 200
    for t in (a["token"], b["token"]):
        assert_error(await http.get("/api/v1/auth/me", headers=bearer(t)), 401)

    # the HttpOnly cookie set by login is enough to refresh ("Refresh tokens supported with HttpOnly cookies")
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=60.0) as browser:
        assert (await browser.post("/api/v1/auth/login", json={"username": "newuser", "password": "password123"})
                ).status_code == 200
        by_cookie = await browser.post("/api/v1/auth/refresh")
        assert by_cookie.status_code == 200 and set(by_cookie.json()) == {"accessToken", "refreshToken"}
    assert_error(await http.post("/api/v1/auth/refresh"), 401)  # neither body nor cookie

    assert_error(await http.get("/api/v1/auth/me"), 401, "/api/v1/auth/me")
    assert_error(await http.get("/api/v1/auth/me", headers=bearer("not-a-jwt")), 401)
    assert_error(await http.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}), 401)


# ------------------------------------------------------------------------------------------ orders, balance
async def test_orders_and_balance_walkthrough(http: httpx.AsyncClient) -> None:
    admin = await login(http, *ADMIN)
    services = await ensure_catalogue(http, admin)
    views = services["Instagram Followers"]
    assert {"id", "name", "category", "type", "rate", "min", "max", "description", "dripfeed", "refill",
            "cancel"} <= set(views)
    assert views["type"] == "Default" and MONEY.match(views["rate"]) and isinstance(views["min"], int)
    alice, alice_id = await customer(http, admin, "alice", "10.00")
    bob, _ = await customer(http, admin, "bob", "1.00")

    bal = (await http.get("/api/v1/balance", headers=alice)).json()
    assert bal["balance"] == "10.00" and bal["currency"] == "USD" and ISO.match(bal["lastUpdated"])

    r = await http.post("/api/v1/orders", headers=alice, json={"service": views["id"],
                                                               "link": "https://instagram.com/p/spring",
                                                               "quantity": 1000})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["success"] is True and created["message"] == "Order created successfully"
    order = created["data"]
    assert set(order) == {"id", "service", "link", "quantity", "status", "charge", "startCount", "remains",
                          "createdAt"}
    assert order["service"] == views["id"] and order["quantity"] == 1000 and order["status"] == "PENDING"
    assert order["charge"] == "0.90" and order["remains"] == 1000 and order["startCount"] == 0
    assert ISO.match(order["createdAt"])
    second = (await http.post("/api/v1/orders", headers=alice, json={
        "service": views["id"], "link": "https://instagram.com/p/two", "quantity": 500})).json()["data"]

    # validation, payment required, unknown service, no auth
    assert_error(await http.post("/api/v1/orders", headers=alice, json={"service": views["id"],
                                                                        "link": "https://x.example/a"}),
                 400, "/api/v1/orders", field="quantity")
    assert_error(await http.post("/api/v1/orders", headers=alice, json={"service": "one", "link": "https://a.b/c",
                                                                        "quantity": 100}), 400, field="service")
    assert_error(await http.post("/api/v1/orders", headers=alice, json={"service": views["id"], "link": "nope",
                                                                        "quantity": 100}), 400, field="link")
    assert_error(await http.post("/api/v1/orders", headers=alice, json={"service": views["id"],
                                                                        "link": "https://a.b/c", "quantity": 10}),
                 400, field="quantity")
    assert_error(await http.post("/api/v1/orders", headers=bob, json={"service": views["id"], "link": "https://a.b/c",
                                                                      "quantity": 10000}), 402)
    assert_error(await http.post("/api/v1/orders", headers=alice, json={"service": 999999, "link": "https://a.b/c",
                                                                        "quantity": 100}), 404)
    assert_error(await http.post("/api/v1/orders", json={"service": 1, "link": "https://a.b/c", "quantity": 100}),
                 401)
    assert_error(await http.post("/api/v1/orders", headers=alice, content=b"{not json",
                                 ), 400)

    # list: page from 0, size, sort, direction, status filter
    r = await http.get("/api/v1/orders", headers=alice, params={"page": 0, "size": 1, "sort": "createdAt",
                                                                "direction": "desc"})
    assert r.status_code == 200 and r.json()["success"] is True
    page = r.json()["data"]
    assert page["totalElements"] == 2 and page["totalPages"] == 2 and page["number"] == 0 and page["size"] == 1
    assert [o["id"] for o in page["content"]] == [second["id"]]
    asc = (await http.get("/api/v1/orders", headers=alice, params={"sort": "quantity", "direction": "asc"})).json()
    assert [o["quantity"] for o in asc["data"]["content"]] == [500, 1000]
    pending = (await http.get("/api/v1/orders", headers=alice, params={"status": "PENDING"})).json()["data"]
    assert pending["totalElements"] == 2
    active = (await http.get("/api/v1/orders", headers=alice, params={"status": "ACTIVE"})).json()["data"]
    assert active["totalElements"] == 0 and active["content"] == []
    assert (await http.get("/api/v1/orders", headers=alice, params={"size": 1000})).json()["data"]["size"] == 100
    assert_error(await http.get("/api/v1/orders", headers=alice, params={"status": "BOGUS"}), 400, field="status")
    assert_error(await http.get("/api/v1/orders", headers=alice, params={"sort": "link"}), 400, field="sort")
    assert_error(await http.get("/api/v1/orders", headers=alice, params={"direction": "up"}), 400)
    assert_error(await http.get("/api/v1/orders", headers=alice, params={"page": -1}), 400)
    assert (await http.get("/api/v1/orders", headers=bob)).json()["data"]["totalElements"] == 0

    # get by id; another user's id -> 404
    got = (await http.get(f"/api/v1/orders/{order['id']}", headers=alice)).json()
    assert got["success"] is True and got["data"]["id"] == order["id"] and ISO.match(got["data"]["updatedAt"])
    assert_error(await http.get(f"/api/v1/orders/{order['id']}", headers=bob), 404, f"/api/v1/orders/{order['id']}")
    assert_error(await http.get("/api/v1/orders/99999999", headers=alice), 404)
    assert_error(await http.get(f"/api/v1/orders/{10**20}", headers=alice), 400)  # beyond any bigint: no 500
    assert_error(await http.get("/api/v1/orders/0", headers=alice), 400)

    # balance after two orders, transactions (paged, newest first), recent, check-funds
    assert (await http.get("/api/v1/balance", headers=alice)).json()["balance"] == "8.65"
    tx = (await http.get("/api/v1/balance/transactions", headers=alice, params={"page": 0, "size": 2})).json()
    assert tx["totalElements"] == 3 and tx["totalPages"] == 2 and tx["number"] == 0 and tx["size"] == 2
    first = tx["content"][0]
    assert set(first) == {"id", "type", "amount", "balanceBefore", "balanceAfter", "description", "createdAt"}
    assert first["type"] == "CHARGE" and first["amount"] == "-0.45" and first["balanceBefore"] == "9.10"
    assert first["balanceAfter"] == "8.65" and first["description"] == f"Order #{second['id']}"
    older = (await http.get("/api/v1/balance/transactions", headers=alice, params={"page": 1, "size": 2})).json()
    assert [t["type"] for t in older["content"]] == ["DEPOSIT"] and older["content"][0]["amount"] == "10.00"
    recent = (await http.get("/api/v1/balance/transactions/recent", headers=alice)).json()
    assert [t["id"] for t in recent["content"]] == [t["id"] for t in tx["content"] + older["content"]]
    funds = await http.post("/api/v1/balance/check-funds", headers=alice, json={"amount": "25.00"})
    assert funds.status_code == 200
    assert funds.json() == {"hasSufficientFunds": False, "currentBalance": "8.65", "requiredAmount": "25.00"}
    assert (await http.post("/api/v1/balance/check-funds", headers=alice, json={"amount": 5})).json()[
        "hasSufficientFunds"] is True
    assert_error(await http.post("/api/v1/balance/check-funds", headers=alice, json={"amount": "abc"}), 400,
                 field="amount")
    assert_error(await http.post("/api/v1/balance/check-funds", headers=alice, json={"amount": "-1"}), 400)
    assert_error(await http.post("/api/v1/balance/check-funds", headers=alice, json={"amount": "0.001"}), 400)
    assert_error(await http.post("/api/v1/balance/check-funds", headers=alice, json={}), 400, field="amount")

    # cancel: queued at the provider? the simulated provider accepts cancels for a pending order
    r = await http.post(f"/api/v1/orders/{second['id']}/cancel", headers=alice)
    assert r.status_code == 200 and r.json()["success"] is True
    assert r.json()["message"] == "Order cancelled successfully"
    assert_error(await http.post(f"/api/v1/orders/{order['id']}/cancel", headers=bob), 404)
    assert alice_id > 0


async def test_deposit_creates_a_cryptomus_payment_credited_once_by_the_webhook(http: httpx.AsyncClient,
                                                                              stack: Stack) -> None:
    admin = await login(http, *ADMIN)
    carol, _ = await customer(http, admin, "carol", "0")
    r = await http.post("/api/v1/balance/deposit", headers=carol, json={"amount": "50.00",
                                                                        "description": "Payment via Cryptomus"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["newBalance"] == "0.00" and body["status"] == "PENDING"
    assert body["paymentUrl"].startswith("http") and body["paymentMethod"] == "CRYPTOMUS"
    payment = (await http.get(f"/v1/payments/{body['paymentId']}", headers=carol)).json()
    uuid = payment["external_id"]
    assert (await http.get("/api/v1/balance", headers=carol)).json()["balance"] == "0.00"  # nothing from nothing

    stack.cryptomus.complete(uuid, "paid")
    forged, headers = stack.cryptomus.webhook(uuid, api_key="wrong-key")
    assert_error(await http.post("/api/v2/webhooks/cryptomus", content=forged, headers=headers), 401,
                 "/api/v2/webhooks/cryptomus")
    assert (await http.get("/api/v1/balance", headers=carol)).json()["balance"] == "0.00"
    signed, headers = stack.cryptomus.webhook(uuid)
    answers = await asyncio.gather(*(http.post("/api/v2/webhooks/cryptomus", content=signed, headers=headers)
                                     for _ in range(5)))
    assert all(a.status_code == 200 and a.json() == {"status": "success"} for a in answers), [a.text for a in answers]
    assert (await http.get("/api/v1/balance", headers=carol)).json()["balance"] == "50.00"
    tx = (await http.get("/api/v1/balance/transactions", headers=carol)).json()
    assert tx["totalElements"] == 1 and tx["content"][0]["type"] == "DEPOSIT"

    # an admin may credit a named user at once (audited operator credit, idempotent per key); nobody else may
    credit = {"amount": "5.00", "username": "carol", "description": "Goodwill", "idempotencyKey": "carol-gift-1"}
    for _ in range(2):
        r = await http.post("/api/v1/balance/deposit", headers=admin, json=credit)
        assert r.status_code == 200 and r.json()["newBalance"] == "55.00" and r.json()["success"] is True, r.text
    assert (await http.get("/api/v1/balance", headers=carol)).json()["balance"] == "55.00"
    assert_error(await http.post("/api/v1/balance/deposit", headers=carol, json={**credit, "idempotencyKey": "x"}),
                 403)
    assert_error(await http.post("/api/v1/balance/deposit", headers=admin, json={"amount": "1", "userId": 999999}),
                 404)
    assert_error(await http.post("/api/v1/balance/deposit", headers=carol, json={"amount": "0"}), 400)
    assert_error(await http.post("/api/v1/balance/deposit", headers=carol, json={"amount": "5", "method": "zarinpal"}),
                 503)
    assert_error(await http.post("/api/v1/balance/deposit", json={"amount": "5"}), 401)

    test = await http.post("/api/v2/webhooks/test", json={"test": "data", "timestamp": 1704067200})
    assert test.status_code == 200 and test.json()["status"] == "received"
    assert test.json()["timestamp"].isdigit()
    health = await http.get("/api/v2/webhooks/health")
    assert health.status_code == 200 and health.json() == {"status": "healthy", "service": "webhooks"}


# ------------------------------------------------------------------------------------------ API keys + /api/v2
async def test_api_keys_and_the_perfect_panel_examples(http: httpx.AsyncClient) -> None:
    admin = await login(http, *ADMIN)
    services = await ensure_catalogue(http, admin)
    dave, _ = await customer(http, admin, "dave", "5.00")
    assert (await http.get("/api/v1/api-keys/info", headers=dave)).json() == {
        "hasApiKey": False, "lastRotated": None, "createdAt": None}
    assert_error(await http.post("/api/v1/api-keys/rotate", headers=dave), 404)
    gen = await http.post("/api/v1/api-keys/generate", headers=dave)
    assert gen.status_code == 200 and set(gen.json()) == {"apiKey", "createdAt", "message"}
    key = gen.json()["apiKey"]
    info = (await http.get("/api/v1/api-keys/info", headers=dave)).json()
    assert info["hasApiKey"] is True and ISO.match(info["createdAt"]) and info["lastRotated"] is None
    assert key not in json.dumps(info)
    assert (await http.get("/api/v1/auth/profile", headers=dave)).json()["hasApiKey"] is True

    # X-API-Key works on the JWT endpoints too
    assert (await http.get("/api/v1/balance", headers={"X-API-Key": key})).json()["balance"] == "5.00"
    assert (await http.get("/api/v1/balance", params={"key": key})).json()["balance"] == "5.00"  # "or key query"
    assert_error(await http.get("/api/v1/balance", params={"key": key + "x"}), 401, "/api/v1/balance")

    # The document's /api/v2 examples: POST with key/action in the query string
    views = services["Instagram Followers"]
    added = await http.post(f"/api/v2?key={key}&action=add&service={views['id']}"
                            f"&link=https://youtube.com/watch?v=xxx&quantity=1000")
    assert added.status_code == 200 and isinstance(added.json()["order"], int), added.text
    status = (await http.post(f"/api/v2?key={key}&action=status&order={added.json()['order']}")).json()
    assert {"charge", "start_count", "status", "remains", "currency"} <= set(status)
    assert status["charge"] == "0.90" and status["status"] == "Pending"
    listed = (await http.post(f"/api/v2?key={key}&action=services")).json()
    assert any(s["service"] == views["id"] and s["name"] == views["name"] for s in listed)
    assert (await http.post(f"/api/v2?key={key}&action=balance")).json() == {"balance": "4.10", "currency": "USD"}
    # the order placed through /api/v2 is the same order in the JWT API
    mine = (await http.get("/api/v1/orders", headers=dave)).json()["data"]["content"]
    assert [o["id"] for o in mine] == [added.json()["order"]]

    rot = await http.post("/api/v1/api-keys/rotate", headers=dave)
    assert rot.status_code == 200 and set(rot.json()) == {"apiKey", "rotatedAt", "message"}
    new_key = rot.json()["apiKey"]
    assert new_key != key
    assert (await http.post(f"/api/v2?key={key}&action=balance")).json() == {"error": "Invalid API key"}
    assert (await http.post(f"/api/v2?key={new_key}&action=balance")).json()["balance"] == "4.10"
    info = (await http.get("/api/v1/api-keys/info", headers=dave)).json()
    assert ISO.match(info["lastRotated"])
    rev = await http.delete("/api/v1/api-keys/revoke", headers=dave)
    assert rev.status_code == 200 and rev.json() == {"success": True, "message": "API key revoked successfully",
                                                     "revoked": 1}
    assert (await http.get("/api/v1/api-keys/info", headers=dave)).json()["hasApiKey"] is False
    assert_error(await http.get("/api/v1/balance", headers={"X-API-Key": new_key}), 401)
    assert_error(await http.post("/api/v1/api-keys/generate"), 401)


# ------------------------------------------------------------------------------------------ admin
async def test_admin_api(http: httpx.AsyncClient) -> None:
    admin = await login(http, *ADMIN)
    operator = await login(http, *OPERATOR)
    services = await ensure_catalogue(http, admin)
    erin, _ = await customer(http, admin, "erin", "20.00")
    views = services["Instagram Followers"]
    orders = [(await http.post("/api/v1/orders", headers=erin, json={
        "service": views["id"], "link": f"https://instagram.com/p/adm{i}", "quantity": 1000})).json()["data"]
        for i in range(4)]

    # role checks: a customer gets 403, no token 401
    for method, path in (("GET", "/api/v2/admin/dashboard"), ("GET", "/api/v2/admin/orders"),
                         ("GET", "/api/v1/orders/stats"), ("GET", "/api/v1/kafka/consumer-groups")):
        assert_error(await http.request(method, path, headers=erin), 403, path)
        assert_error(await http.request(method, path), 401, path)
    assert_error(await http.post("/api/v1/orders/bulk", headers=operator, json={"orderIds": [1], "action": "CANCEL"}),
                 403)

    dash = (await http.get("/api/v2/admin/dashboard", headers=operator)).json()
    assert {"totalUsers", "activeUsers", "totalOrders", "activeOrders", "totalRevenue", "todayRevenue",
            "systemHealth"} <= set(dash)
    assert dash["totalUsers"] >= 3 and dash["activeUsers"] <= dash["totalUsers"] and dash["totalOrders"] >= 4
    assert MONEY.match(dash["totalRevenue"]) and MONEY.match(dash["todayRevenue"])
    assert dash["systemHealth"] == {"database": "UP", "kafka": "UP", "redis": "UP"}

    stats = (await http.get("/api/v1/orders/stats", headers=operator, params={"days": 30})).json()
    assert stats["success"] is True and stats["message"] == "Statistics retrieved successfully"
    s = stats["data"]
    assert s["totalOrders"] >= 4 and s["ordersByStatus"].get("PENDING", 0) >= 4
    assert s["dailyStats"] and s["dailyStats"][-1]["orders"] >= 4 and MONEY.match(s["dailyStats"][-1]["revenue"])
    assert_error(await http.get("/api/v1/orders/stats", headers=operator, params={"days": 0}), 400, field="days")

    # admin orders with filters
    listed = (await http.get("/api/v2/admin/orders", headers=operator, params={
        "status": "PENDING", "username": "erin", "dateFrom": "2020-01-01", "dateTo": "2999-12-31", "page": 0,
        "size": 2})).json()
    assert listed["totalElements"] == 4 and listed["totalPages"] == 2 and len(listed["content"]) == 2
    row = listed["content"][0]
    assert row["username"] == "erin" and row["service"] == views["name"] and row["status"] == "PENDING"
    assert (await http.get("/api/v2/admin/orders", headers=operator, params={"username": "nobody"})).json()[
        "totalElements"] == 0
    assert (await http.get("/api/v2/admin/orders", headers=operator, params={"dateTo": "2001-01-01"})).json()[
        "totalElements"] == 0
    assert_error(await http.get("/api/v2/admin/orders", headers=operator, params={"dateFrom": "yesterday"}), 400,
                 field="dateFrom")

    # order actions
    target = orders[0]["id"]
    r = await http.post(f"/api/v2/admin/orders/{target}/actions", headers=operator,
                        json={"action": "update_start_count", "newStartCount": 150})
    assert r.status_code == 200 and r.json()["data"] == {"message": "Action completed successfully"}
    assert r.json()["success"] is True
    assert (await http.get(f"/api/v1/orders/{target}", headers=erin)).json()["data"]["startCount"] == 150
    assert (await http.post(f"/api/v2/admin/orders/{target}/actions", headers=operator,
                            json={"action": "complete"})).status_code == 200
    assert (await http.get(f"/api/v1/orders/{target}", headers=erin)).json()["data"]["status"] == "COMPLETED"
    assert_error(await http.post(f"/api/v2/admin/orders/{target}/actions", headers=operator,
                                 json={"action": "stop"}), 409)
    assert_error(await http.post(f"/api/v2/admin/orders/{target}/actions", headers=operator,
                                 json={"action": "explode"}), 400, field="action")
    assert_error(await http.post(f"/api/v2/admin/orders/{target}/actions", headers=operator,
                                 json={"action": "update_start_count"}), 400, field="newStartCount")
    assert_error(await http.post("/api/v2/admin/orders/99999999/actions", headers=operator,
                                 json={"action": "cancel"}), 404)
    before = (await http.get("/api/v1/balance", headers=erin)).json()["balance"]
    r = await http.post(f"/api/v2/admin/orders/{orders[1]['id']}/actions", headers=operator,
                        json={"action": "cancel", "reason": "User request"})
    assert r.status_code == 200
    after = (await http.get("/api/v1/balance", headers=erin)).json()["balance"]
    assert float(after) - float(before) == pytest.approx(0.90)

    # bulk (v2 operator, v1 admin): one order fails (already cancelled), the others succeed
    bulk = await http.post("/api/v2/admin/orders/bulk-actions", headers=operator, json={
        "orderIds": [orders[1]["id"], orders[2]["id"]], "action": "CANCEL", "reason": "System maintenance"})
    assert bulk.status_code == 200 and bulk.json()["success"] is True
    assert bulk.json()["data"]["message"] == "Bulk action completed" and bulk.json()["data"]["processed"] == 2
    assert bulk.json()["data"]["succeeded"] == 1
    v1 = await http.post("/api/v1/orders/bulk", headers=admin, json={"orderIds": [orders[3]["id"], 99999999],
                                                                      "action": "CANCEL", "reason": "Bulk"})
    assert v1.status_code == 200 and v1.json()["message"] == "Bulk operation completed"
    assert {k: v1.json()["data"][k] for k in ("processed", "succeeded", "failed")} == {
        "processed": 2, "succeeded": 1, "failed": 1}
    assert v1.json()["data"]["errors"][0]["orderId"] == 99999999
    assert_error(await http.post("/api/v1/orders/bulk", headers=admin, json={"orderIds": [], "action": "CANCEL"}),
                 400)
    cancelled = (await http.get("/api/v1/orders", headers=erin, params={"status": "CANCELLED"})).json()["data"]
    assert cancelled["totalElements"] == 3

    # conversion coefficients: markup over the provider rate; PUT reprices (admin only)
    coeffs = (await http.get("/api/v2/admin/conversion-coefficients", headers=operator)).json()
    entry = next(c for c in coeffs if c["serviceId"] == views["id"])
    assert entry["serviceName"] == views["name"] and entry["coefficient"] == "1"
    assert_error(await http.put(f"/api/v2/admin/conversion-coefficients/{views['id']}", headers=operator,
                                json={"coefficient": "1.5"}), 403)
    r = await http.put(f"/api/v2/admin/conversion-coefficients/{views['id']}", headers=admin,
                       json={"coefficient": "1.5", "reason": "Market adjustment"})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("serviceId", "serviceName", "coefficient")} == {
        "serviceId": views["id"], "serviceName": views["name"], "coefficient": "1.5"}
    assert ISO.match(r.json()["lastUpdated"])
    repriced = (await ensure_catalogue(http, admin))["Instagram Followers"]
    assert repriced["rate"] == "1.35"  # 0.90 provider rate x 1.5
    for bad in ("0.5", "abc", "1.00001", True, None):
        assert_error(await http.put(f"/api/v2/admin/conversion-coefficients/{views['id']}", headers=admin,
                                    json={"coefficient": bad}), 400, field="coefficient")
    assert_error(await http.put("/api/v2/admin/conversion-coefficients/99999999", headers=admin,
                                json={"coefficient": "1.2"}), 404)
    await http.put(f"/api/v2/admin/conversion-coefficients/{views['id']}", headers=admin, json={"coefficient": "1"})

    # YouTube accounts: list, reset-daily-limit, status (admin only)
    yt = (await http.get("/api/v2/admin/youtube-accounts", headers=operator, params={"page": 0, "size": 20})).json()
    assert yt["totalElements"] == 2 and yt["totalPages"] == 1
    acc = yt["content"][0]
    assert acc == {"id": acc["id"], "email": "account1@gmail.com", "status": "ACTIVE", "dailyLimit": 100,
                   "dailyUsed": 0, "totalProcessed": 0, "lastUsed": None}
    r = await http.post(f"/api/v2/admin/youtube-accounts/{acc['id']}/reset-daily-limit", headers=admin)
    assert r.status_code == 204 and r.content == b""
    r = await http.put(f"/api/v2/admin/youtube-accounts/{acc['id']}/status", headers=admin,
                       json={"status": "INACTIVE"})
    assert r.status_code == 204
    assert (await http.get("/api/v2/admin/youtube-accounts", headers=admin)).json()["content"][0]["status"] == \
        "INACTIVE"
    assert_error(await http.put(f"/api/v2/admin/youtube-accounts/{acc['id']}/status", headers=admin,
                                json={"status": "SLEEPY"}), 400, field="status")
    assert_error(await http.put(f"/api/v2/admin/youtube-accounts/{acc['id']}/status", headers=operator,
                                json={"status": "ACTIVE"}), 403)
    assert_error(await http.post("/api/v2/admin/youtube-accounts/99999/reset-daily-limit", headers=admin), 404)

    # system health: real figures
    health = await http.get("/api/v2/admin/system/health", headers=operator)
    assert health.status_code == 200
    h = health.json()
    assert h["status"] == "UP" and set(h["components"]) == {"database", "kafka", "redis"}
    db = h["components"]["database"]
    assert db["status"] == "UP" and isinstance(db["details"]["maxConnections"], int)
    assert isinstance(db["details"]["activeConnections"], int)
    assert h["components"]["kafka"]["status"] == "UP" and isinstance(h["components"]["kafka"]["details"][
        "consumerLag"], int)
    assert h["components"]["redis"]["status"] == "UP" and h["components"]["redis"]["details"]["usedMemory"]

    # operator logs: our audit log in the document's vocabulary
    logs = (await http.get("/api/v2/admin/logs/operator", headers=operator, params={
        "operatorUsername": "oper", "action": "ORDER_CANCEL", "dateFrom": "2020-01-01", "dateTo": "2999-01-01"})).json()
    assert logs["totalElements"] >= 2
    line = logs["content"][0]
    assert line["operatorUsername"] == "oper" and line["action"] == "ORDER_CANCEL" and line["targetType"] == "ORDER"
    assert isinstance(line["targetId"], int) and ISO.match(line["timestamp"]) and "ipAddress" in line
    admin_logs = (await http.get("/api/v2/admin/logs/operator", headers=admin,
                                 params={"operatorUsername": "boss"})).json()
    assert {"SERVICE_COEFFICIENT", "YOUTUBE_ACCOUNT_STATUS", "YOUTUBE_ACCOUNT_RESET_DAILY_LIMIT"} <= {
        e["action"] for e in admin_logs["content"]}
    assert (await http.get("/api/v2/admin/logs/operator", headers=admin,
                           params={"operatorUsername": "ghost"})).json()["totalElements"] == 0


async def test_health_and_monitoring_report_real_figures(http: httpx.AsyncClient) -> None:
    operator = await login(http, *OPERATOR)
    r = await http.get("/api/v1/orders/health")
    assert r.status_code == 200
    assert r.json()["data"] == {"status": "UP", "healthy": True,
                                "components": {"database": "UP", "kafka": "UP", "redis": "UP"}}
    assert r.json()["success"] is True and r.json()["message"] == "Service healthy"

    groups = (await http.get("/api/v1/kafka/consumer-groups", headers=operator)).json()["groups"]
    assert isinstance(groups, list)
    for g in groups:
        assert {"groupId", "state", "members", "lag"} <= set(g) and g["lag"] >= 0
    errors = (await http.get("/api/v1/kafka/errors", headers=operator, params={"days": 7})).json()
    assert errors["totalErrors"] == sum(errors["errorsByType"].values()) == len(errors["recentErrors"])
    assert_error(await http.get("/api/v1/kafka/errors", headers=operator, params={"days": "x"}), 400, field="days")

    first = (await http.get("/api/v1/monitoring/hibernate/stats", headers=operator)).json()
    second = (await http.get("/api/v1/monitoring/hibernate/stats", headers=operator)).json()
    assert {"secondLevelCacheHitCount", "secondLevelCacheMissCount", "queryExecutionCount", "entityLoadCount",
            "sessionOpenCount", "sessionCloseCount"} <= set(first)
    assert second["queryExecutionCount"] > first["queryExecutionCount"] > 0  # each request runs SQL
    assert second["sessionOpenCount"] > first["sessionOpenCount"]

    recovery = (await http.get("/api/v1/error-recovery/status", headers=operator)).json()
    assert set(recovery) == {"dlqSize", "processingErrors", "recoveredToday", "failedToday"}
    assert all(isinstance(v, int) and v >= 0 for v in recovery.values())
    offers = (await http.get("/api/v1/offers/assignment/status", headers=operator)).json()
    assert set(offers) == {"pendingAssignments", "activeAssignments", "completedToday", "failedToday"}
    admin = await login(http, *ADMIN)
    services = await ensure_catalogue(http, admin)
    frank, _ = await customer(http, admin, "frank", "5.00")
    await http.post("/api/v1/orders", headers=frank, json={"service": services["Instagram Followers"]["id"],
                                                           "link": "https://instagram.com/p/f", "quantity": 100})
    later = (await http.get("/api/v1/offers/assignment/status", headers=operator)).json()
    assert later["pendingAssignments"] + later["activeAssignments"] == \
        offers["pendingAssignments"] + offers["activeAssignments"] + 1


# ------------------------------------------------------------------------------------------ WebSocket
async def test_websocket_order_updates_for_the_token_owner_only(http: httpx.AsyncClient, stack: Stack) -> None:
    admin = await login(http, *ADMIN)
    gina_auth, gina_id = await customer(http, admin, "gina", "0")
    token = gina_auth["Authorization"].split()[1]
    ws_url = stack.url.replace("http://", "ws://") + "/ws"

    for bad in ("", "?token=garbage", f"?token={token}x"):
        async with ws_connect(ws_url + bad) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    bus = RedisEventBus.from_url(require_redis())
    try:
        async with ws_connect(f"{ws_url}?token={token}") as socket:
            hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert hello["type"] == "SYSTEM_NOTIFICATION"
            # another user's event (even on gina's channel) is not forwarded; gina's is, in the document's shape
            await bus.publish(order_channel(gina_id), {"id": "evt_order_1_processing", "type": "order.processing",
                                                   "occurred_at": "2024-01-01T12:00:00+00:00", "user_id": gina_id + 1,
                                                   "data": {"order_id": 1, "status": "processing"}})
            await bus.publish(order_channel(gina_id), {
                "id": "evt_order_12345_processing", "type": "order.processing",
                "occurred_at": "2024-01-01T12:00:00+00:00", "user_id": gina_id,
                "data": {"order_id": 12345, "status": "Processing", "quantity": 1000, "remains": 750}})
            update = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert update == {"type": "ORDER_UPDATE", "orderId": 12345, "status": "PROCESSING", "progress": 250,
                              "remains": 750, "timestamp": "2024-01-01T12:00:00Z"}
    finally:
        await bus.close()

    logged_out = (await http.post("/api/v1/auth/login", json={"username": "gina", "password": "password123"})).json()
    await http.post("/api/v1/auth/logout", headers=bearer(logged_out["token"]))
    async with ws_connect(f"{ws_url}?token={logged_out['token']}") as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


# ------------------------------------------------------------------------------------------ every endpoint answers
async def test_every_documented_endpoint_answers(http: httpx.AsyncClient, stack: Stack) -> None:
    admin = await login(http, *ADMIN)
    for method, path in DOCUMENTED:
        url = path.replace("{id}", "1")
        r = await http.request(method, url, headers=admin, json={} if method in ("POST", "PUT") else None)
        # A 404 is allowed only as the document's own error body (an id that is not there): then the route exists.
        routed = r.status_code != 404 or set(r.json()) == {"error", "code", "timestamp", "path", "details"}
        assert routed and r.status_code not in (405, 500), (method, path, r.status_code, r.text)
    # routing errors on the document's paths are in its format too; a path no API serves is the native 404
    assert_error(await http.patch("/api/v1/orders", headers=admin, json={}), 405, "/api/v1/orders")
    assert_error(await http.get("/api/v1/orders/abc", headers=admin), 404, "/api/v1/orders/abc")
    assert (await http.get("/api/v1/not-documented", headers=admin)).headers["content-type"].startswith(
        "application/problem+json")


async def test_rate_limit_headers_are_those_the_document_names(tmp_path: Path) -> None:
    with running_server(tmp_path, env={"VPNSMM_RATE_LIMITS": "default"}) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.get("/api/v1/service/services")
            assert r.status_code == 200
            limit, remaining, reset = (r.headers[h] for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining",
                                                              "X-RateLimit-Reset"))
            assert int(limit) >= int(remaining) >= 0 and int(reset) > 0
            answers = [await http.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
                       for _ in range(10)]
            # the first GET and nine logins spend the anonymous budget of 10 a minute; the tenth login is over
            assert [a.status_code for a in answers[:9]] == [401] * 9
            limited = answers[-1]
            assert "Retry-After" in limited.headers and limited.headers["X-RateLimit-Remaining"] == "0"
            assert_error(limited, 429, "/api/v1/auth/login")
            # the native API keeps its own problem body
            native = await http.post("/v1/auth/login", json={"username": "x", "password": "y"})
            assert native.status_code == 429 and native.json()["code"] == "RATE_LIMITED"


async def test_bad_input_unicode_huge_values_duplicates_and_concurrent_orders(http: httpx.AsyncClient) -> None:
    admin = await login(http, *ADMIN)
    services = await ensure_catalogue(http, admin)
    views = services["Instagram Followers"]  # 0.90 per 1000
    r = await http.post("/api/v1/auth/register", json={"username": "zoë_Ω", "password": "pässwörd123"})
    assert r.status_code == 201 and r.json()["username"] == "zoë_Ω", r.text
    assert (await http.post("/api/v1/auth/login", json={"username": "zoë_Ω", "password": "pässwörd123"})
            ).status_code == 200
    assert_error(await http.post("/api/v1/auth/register", json={"username": "a" * 65, "password": "password123"}),
                 400, field="username")
    assert_error(await http.post("/api/v1/auth/login", json={"username": "x", "password": "p" * 2000}), 400)
    assert_error(await http.post("/api/v1/auth/login", json=["not", "an", "object"]), 400)

    hank, _ = await customer(http, admin, "hank", "2.70")  # exactly three orders of 1000
    for bad in ({"service": views["id"], "link": "https://a.b/c", "quantity": 10**10},
                {"service": views["id"], "link": "https://a.b/" + "x" * 2000, "quantity": 100},
                {"service": views["id"], "link": "https://a.b/c", "quantity": 1.5},
                {"service": -1, "link": "https://a.b/c", "quantity": 100},
                {"service": views["id"], "link": None, "quantity": 100}):
        assert_error(await http.post("/api/v1/orders", headers=hank, json=bad), 400)
    # (a numeric string such as "100" is accepted as a number, as Spring's Jackson does)
    answers = await asyncio.gather(*(http.post("/api/v1/orders", headers=hank, json={
        "service": views["id"], "link": f"https://instagram.com/p/ü{i}", "quantity": 1000}) for i in range(8)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 201, 201, 402, 402, 402, 402, 402], [a.text for a in answers]
    for a in answers:
        if a.status_code == 402:
            assert_error(a, 402, "/api/v1/orders")
    assert (await http.get("/api/v1/balance", headers=hank)).json()["balance"] == "0.00"
    mine = (await http.get("/api/v1/orders", headers=hank)).json()["data"]
    assert mine["totalElements"] == 3 and all("ü" in o["link"] for o in mine["content"])

    # duplicate ids in a bulk request are processed once
    first = mine["content"][0]["id"]
    r = await http.post("/api/v2/admin/orders/bulk-actions", headers=admin, json={
        "orderIds": [first, first, first], "action": "cancel", "reason": "dup"})
    assert r.status_code == 200 and r.json()["data"]["processed"] == 1 and r.json()["data"]["succeeded"] == 1
    assert (await http.get("/api/v1/balance", headers=hank)).json()["balance"] == "0.90"  # refunded once
    assert_error(await http.post("/api/v2/admin/orders/bulk-actions", headers=admin, json={
        "orderIds": list(range(1, 102)), "action": "cancel"}), 400, field="orderIds")
    assert_error(await http.post("/api/v2/admin/orders/bulk-actions", headers=admin, json={
        "orderIds": ["a"], "action": "cancel"}), 400)
