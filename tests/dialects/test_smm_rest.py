"""smm-rest-api.md served by ``vpnsmm serve`` (SQLite and PostgreSQL) over a real socket, walked end to end
by a client written from the document: X-API-Key auth, ``{success, data}`` envelopes, the document's error
codes, prefixed ids, pagination, subscriptions, refills and the rate-limit headers. Also the native
``/v1/smm/subscriptions`` API, which sees the same subscriptions, orders and wallets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_perfect_panel_api import ADMIN_PASSWORD, Stack, bearer, customer, ensure_provider, smm_stack
from tests.support.server import running_server

BASE = "/compat/smm-rest/api/v1"
#: Every endpoint the document lists (method, path template), at the default prefix.
DOCUMENTED = [
    ("GET", "/services"), ("GET", "/services/{serviceId}"),
    ("POST", "/orders"), ("POST", "/orders/bulk"), ("GET", "/orders/{orderId}"), ("GET", "/orders"),
    ("GET", "/balance"),
    ("POST", "/subscriptions"), ("DELETE", "/subscriptions/{subscriptionId}"),
    ("POST", "/refills"),
]
CODES = {"INVALID_API_KEY", "RATE_LIMIT_EXCEEDED", "INSUFFICIENT_BALANCE", "SERVICE_NOT_FOUND", "INVALID_QUANTITY",
         "INVALID_LINK", "ORDER_NOT_FOUND", "SERVER_ERROR"}
# Limits on (so the X-RateLimit-* headers are sent) but far above what this suite spends.
HIGH_LIMITS = ",".join(f"{c}=100000/60" for c in ("auth", "orders", "balance", "admin", "read", "anonymous",
                                                   "authenticated"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from smm_stack(request, tmp_path_factory, rate_limits=HIGH_LIMITS)


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    """Admin, a simulated provider, and two customers with API keys: alice (10 USD) and bob (0.50 USD)."""
    import asyncio

    async def setup() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as http:
            admin = await bearer(http, "boss", ADMIN_PASSWORD)
            await ensure_provider(http, admin)
            alice_auth, alice_key, alice_id = await customer(http, admin, "alice", "10.00")
            _, bob_key, _ = await customer(http, admin, "bob", "0.50")
            return {"admin": admin, "alice_auth": alice_auth, "alice": {"X-API-Key": alice_key},
                    "bob": {"X-API-Key": bob_key}, "alice_id": alice_id}

    return asyncio.run(setup())


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url + BASE, timeout=60.0) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True and "data" in body, body
    return body["data"]


def failed(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and set(body["error"]) >= {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


async def services_by_name(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    return {s["name"]: s for s in ok(await http.get("/services", headers=headers))}


async def test_services_list_filters_and_get(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice = world["alice"]
    listed = await http.get("/services", headers=alice)
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert listed.headers[name].isdigit(), name
    services = ok(listed)
    followers = next(s for s in services if s["name"] == "Instagram Followers")
    assert followers["id"].startswith("service_") and followers["category"] == "Instagram"
    assert followers["price"] == pytest.approx(0.0009) and followers["currency"] == "USD"
    assert followers["minQuantity"] == 50 and followers["maxQuantity"] == 10000
    assert isinstance(followers["speed"], str) and "instagram" in followers["tags"]
    assert {"id", "name", "category", "description", "price", "currency", "minQuantity", "maxQuantity", "speed",
            "tags"} <= set(followers)
    youtube = ok(await http.get("/services", headers=alice, params={"category": "youtube"}))
    assert [s["name"] for s in youtube] == ["YouTube Views"]
    assert ok(await http.get("/services", headers=alice, params={"category": "Nope"})) == []
    assert all(s["active"] for s in ok(await http.get("/services", headers=alice, params={"active": "true"})))
    assert ok(await http.get("/services", headers=alice, params={"active": "false"})) == []
    failed(await http.get("/services", headers=alice, params={"active": "maybe"}), 400, "VALIDATION_ERROR")

    detail = ok(await http.get(f"/services/{followers['id']}", headers=alice))
    assert detail["refillEnabled"] is True and detail["subscriptionCapable"] is True
    assert {"averageTime", "refillEnabled", "subscriptionCapable"} <= set(detail)
    bare = followers["id"].removeprefix("service_")
    assert ok(await http.get(f"/services/{bare}", headers=alice))["id"] == followers["id"]
    comments = next(s for s in services if s["name"] == "Instagram Custom Comments")
    assert ok(await http.get(f"/services/{comments['id']}", headers=alice))["subscriptionCapable"] is False
    for missing in ("service_999999", "999999", "order_1", "abc", "service_-1", "%E2%98%83"):
        failed(await http.get(f"/services/{missing}", headers=alice), 404, "SERVICE_NOT_FOUND")


async def test_auth_is_x_api_key(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    for headers in ({}, {"X-API-Key": "nonsense"}, {"X-API-Key": "vs_000000000000_wrongsecretwrongsecret"},
                    {"Authorization": "Bearer not-a-jwt"}):
        for method, path in DOCUMENTED:
            concrete = path.replace("{serviceId}", "service_1").replace("{orderId}", "order_1") \
                .replace("{subscriptionId}", "sub_1")
            response = await http.request(method, concrete, headers=headers, json={})
            failed(response, 401, "INVALID_API_KEY")
    # a logged-in session works too (same users everywhere)
    assert ok(await http.get("/balance", headers=world["alice_auth"]))["currency"] == "USD"


async def test_orders_create_get_list_and_errors(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice, bob = world["alice"], world["bob"]
    by_name = await services_by_name(http, alice)
    followers = by_name["Instagram Followers"]["id"]
    before = ok(await http.get("/balance", headers=alice))["balance"]

    created = ok(await http.post("/orders", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/username", "quantity": 1000}), 201)
    assert created["order_id"].startswith("order_") and created["service_id"] == followers
    assert created["status"] == "pending" and created["quantity"] == 1000
    assert created["charge"] == pytest.approx(0.90) and created["currency"] == "USD"
    assert created["created_at"].endswith("Z") and created["link"] == "https://instagram.com/username"
    after = ok(await http.get("/balance", headers=alice))["balance"]
    assert after == pytest.approx(before - 0.90)

    got = ok(await http.get(f"/orders/{created['order_id']}", headers=alice))
    assert {"order_id", "service_id", "status", "link", "quantity", "start_count", "remains", "charge", "currency",
            "created_at", "updated_at", "completed_at"} <= set(got)
    assert got["order_id"] == created["order_id"] and got["status"] in ("pending", "processing")
    bare = created["order_id"].removeprefix("order_")
    assert ok(await http.get(f"/orders/{bare}", headers=alice))["order_id"] == created["order_id"]
    # bare numeric ids and the camelCase spelling are accepted on input too
    numeric = ok(await http.post("/orders", headers=alice, json={
        "service_id": int(followers.removeprefix("service_")), "link": "https://instagram.com/n", "quantity": 100}),
        201)
    assert numeric["charge"] == pytest.approx(0.09)

    # another user's order is not found; so are ids that cannot exist
    failed(await http.get(f"/orders/{created['order_id']}", headers=bob), 404, "ORDER_NOT_FOUND")
    for missing in ("order_99999999", "sub_1", "x", "0"):
        failed(await http.get(f"/orders/{missing}", headers=alice), 404, "ORDER_NOT_FOUND")

    # the document's error codes
    failed(await http.post("/orders", headers=bob, json={
        "service_id": followers, "link": "https://instagram.com/u", "quantity": 1000}), 402, "INSUFFICIENT_BALANCE")
    for body, status, code in [
        ({"service_id": "service_999999", "link": "https://instagram.com/u", "quantity": 100}, 404,
         "SERVICE_NOT_FOUND"),
        ({"service_id": "nope", "link": "https://instagram.com/u", "quantity": 100}, 404, "SERVICE_NOT_FOUND"),
        ({"link": "https://instagram.com/u", "quantity": 100}, 400, "SERVICE_NOT_FOUND"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 10}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 10**9}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 10**40}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": "lots"}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": -5}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": True}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "https://instagram.com/u"}, 400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "not a link", "quantity": 100}, 400, "INVALID_LINK"),
        ({"service_id": followers, "link": "ftp://x.example/a", "quantity": 100}, 400, "INVALID_LINK"),
        ({"service_id": followers, "link": "https://инстаграм.рф/ü ser", "quantity": 100}, 400, "INVALID_LINK"),
        ({"service_id": followers, "link": 42, "quantity": 100}, 400, "INVALID_LINK"),
        ({"service_id": followers, "quantity": 100}, 400, "INVALID_LINK"),
    ]:
        failed(await http.post("/orders", headers=alice, json=body), status, code)
    failed(await http.post("/orders", headers={**alice, "Content-Type": "application/json"}, content=b"{not json"),
           400, "VALIDATION_ERROR")
    failed(await http.post("/orders", headers=alice, json=[1, 2]), 400, "VALIDATION_ERROR")
    assert ok(await http.get("/balance", headers=alice))["balance"] == pytest.approx(after - 0.09)


async def test_drip_feed_orders_charge_quantity_times_runs(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice = world["alice"]
    by_name = await services_by_name(http, alice)
    followers, youtube = by_name["Instagram Followers"]["id"], by_name["YouTube Views"]["id"]
    drip = ok(await http.post("/orders", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/drip", "quantity": 100, "runs": 5,
        "interval": 30}), 201)
    assert drip["quantity"] == 100 and drip["runs"] == 5 and drip["interval"] == 30
    assert drip["charge"] == pytest.approx(0.45)  # 0.90 per 1000 x 500
    # a service without drip-feed refuses runs; runs without interval is refused
    failed(await http.post("/orders", headers=alice, json={
        "service_id": youtube, "link": "https://youtube.com/v", "quantity": 100, "runs": 2, "interval": 5}),
        400, "INVALID_QUANTITY")
    failed(await http.post("/orders", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/d", "quantity": 100, "runs": 2}),
        400, "INVALID_QUANTITY")
    failed(await http.post("/orders", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/d", "quantity": 100, "runs": 2, "interval": "x"}),
        400, "VALIDATION_ERROR")


async def test_type_specific_fields_ride_along(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice = world["alice"]
    comments = (await services_by_name(http, alice))["Instagram Custom Comments"]["id"]
    order = ok(await http.post("/orders", headers=alice, json={
        "service_id": comments, "link": "https://instagram.com/p/c", "comments": ["nice", "cool \U0001f525"] * 5}),
        201)
    assert order["quantity"] == 10 and order["charge"] == pytest.approx(0.08)  # 8 per 1000 x 10 lines
    failed(await http.post("/orders", headers=alice, json={
        "service_id": comments, "link": "https://instagram.com/p/c", "comments": [1, 2]}), 400, "VALIDATION_ERROR")
    failed(await http.post("/orders", headers=alice, json={
        "service_id": comments, "link": "https://instagram.com/p/c", "quantity": 100}), 400, "INVALID_QUANTITY")
    package = (await services_by_name(http, alice))["Instagram Likes Package"]
    assert package["minQuantity"] == 1
    bought = ok(await http.post("/orders", headers=alice, json={
        "service_id": package["id"], "link": "https://instagram.com/p/pkg", "quantity": 1}), 201)
    assert bought["charge"] == pytest.approx(2.50)  # the package price; the document's quantity is ignored


async def test_bulk_reports_each_line(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice = world["alice"]
    followers = (await services_by_name(http, alice))["Instagram Followers"]["id"]
    data = ok(await http.post("/orders/bulk", headers=alice, json={"orders": [
        {"service_id": followers, "link": "https://instagram.com/user1", "quantity": 100},
        {"service_id": "service_999999", "link": "https://instagram.com/user2", "quantity": 500},
        {"service_id": followers, "link": "bad", "quantity": 100},
        {"service_id": followers, "link": "https://instagram.com/user3", "quantity": 1},
        "not an object",
        {"service_id": followers, "link": "https://instagram.com/user4", "quantity": 200},
    ]}))
    assert data["created"] == 2 and data["failed"] == 4
    lines = data["orders"]
    assert [line["success"] for line in lines] == [True, False, False, False, False, True]
    assert lines[0]["order_id"].startswith("order_") and lines[0]["status"] == "pending"
    assert [line["error"]["code"] for line in lines if not line["success"]] == [
        "SERVICE_NOT_FOUND", "INVALID_LINK", "INVALID_QUANTITY", "VALIDATION_ERROR"]
    for body in ({}, {"orders": []}, {"orders": "x"}, {"orders": [{}] * 101}):
        failed(await http.post("/orders/bulk", headers=alice, json=body), 400, "VALIDATION_ERROR")
    short = ok(await http.post("/orders/bulk", headers=world["bob"], json={"orders": [
        {"service_id": followers, "link": "https://instagram.com/b", "quantity": 1000}]}))
    assert short["created"] == 0 and short["orders"][0]["error"]["code"] == "INSUFFICIENT_BALANCE"


async def test_list_orders_paginates_and_filters(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice = world["alice"]
    first = ok(await http.get("/orders", headers=alice, params={"limit": 2}))
    total = first["pagination"]["total"]
    assert total >= 5 and first["pagination"] == {"page": 1, "limit": 2, "total": total, "pages": -(-total // 2)}
    assert len(first["orders"]) == 2
    ids = [o["order_id"] for o in first["orders"]]
    second = ok(await http.get("/orders", headers=alice, params={"limit": 2, "page": 2}))
    assert not set(ids) & {o["order_id"] for o in second["orders"]}
    default = ok(await http.get("/orders", headers=alice))["pagination"]
    assert default["page"] == 1 and default["limit"] == 20
    assert ok(await http.get("/orders", headers=alice, params={"limit": 1000}))["pagination"]["limit"] == 100
    pending = ok(await http.get("/orders", headers=alice, params={"status": "pending", "limit": 100}))
    assert all(o["status"] == "pending" for o in pending["orders"])
    assert ok(await http.get("/orders", headers=alice, params={"status": "refunded"}))["orders"] == []
    far = ok(await http.get("/orders", headers=alice, params={"page": 999}))
    assert far["orders"] == [] and far["pagination"]["total"] == total
    assert ok(await http.get("/orders", headers=world["bob"]))["pagination"]["total"] == 0
    for params in ({"status": "lost"}, {"page": "x"}, {"limit": "-1"}):
        failed(await http.get("/orders", headers=alice, params=params), 400, "VALIDATION_ERROR")


async def test_concurrent_orders_never_overdraw(http: httpx.AsyncClient, world: dict[str, Any],
                                                stack: Stack) -> None:
    import asyncio

    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as native:
        _, key, _ = await customer(native, world["admin"], "carol", "0.45")  # covers exactly 5 orders of 0.09
    carol = {"X-API-Key": key}
    followers = (await services_by_name(http, carol))["Instagram Followers"]["id"]
    answers = await asyncio.gather(*(http.post("/orders", headers=carol, json={
        "service_id": followers, "link": f"https://instagram.com/c{i}", "quantity": 100}) for i in range(20)))
    assert sorted(a.status_code for a in answers) == [201] * 5 + [402] * 15
    assert all(a.json()["error"]["code"] == "INSUFFICIENT_BALANCE" for a in answers if a.status_code == 402)
    assert ok(await http.get("/balance", headers=carol))["balance"] == 0
    assert ok(await http.get("/orders", headers=carol))["pagination"]["total"] == 5


async def test_balance(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    data = ok(await http.get("/balance", headers=world["bob"]))
    assert data == {"balance": 0.5, "currency": "USD"}


async def test_subscriptions_create_and_cancel(http: httpx.AsyncClient, world: dict[str, Any],
                                               stack: Stack) -> None:
    alice, bob = world["alice"], world["bob"]
    followers = (await services_by_name(http, alice))["Instagram Followers"]["id"]
    before = ok(await http.get("/balance", headers=alice))["balance"]
    sub = ok(await http.post("/subscriptions", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/username", "quantity": 1000, "interval": "daily"}),
        201)
    assert sub["subscription_id"].startswith("sub_") and sub["service_id"] == followers
    assert sub["status"] == "active" and sub["interval"] == "daily" and sub["next_run"].endswith("Z")
    assert sub["order_id"].startswith("order_")  # the first run, placed now
    assert ok(await http.get("/balance", headers=alice))["balance"] == pytest.approx(before - 0.90)
    first = ok(await http.get(f"/orders/{sub['order_id']}", headers=alice))
    assert first["quantity"] == 1000 and first["link"] == "https://instagram.com/username"

    for interval in ("hourly", "weekly", "monthly"):
        made = ok(await http.post("/subscriptions", headers=alice, json={
            "service_id": followers, "link": f"https://instagram.com/{interval}", "quantity": 100,
            "interval": interval}), 201)
        assert made["interval"] == interval
    for body, status, code in [
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 100, "interval": "custom"},
         400, "VALIDATION_ERROR"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 100, "interval": "yearly"},
         400, "VALIDATION_ERROR"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 100}, 400, "VALIDATION_ERROR"),
        ({"service_id": followers, "link": "https://instagram.com/u", "quantity": 1, "interval": "daily"},
         400, "INVALID_QUANTITY"),
        ({"service_id": followers, "link": "nope", "quantity": 100, "interval": "daily"}, 400, "INVALID_LINK"),
        ({"service_id": "service_999999", "link": "https://instagram.com/u", "quantity": 100, "interval": "daily"},
         404, "SERVICE_NOT_FOUND"),
    ]:
        failed(await http.post("/subscriptions", headers=alice, json=body), status, code)
    failed(await http.post("/subscriptions", headers=bob, json={
        "service_id": followers, "link": "https://instagram.com/u", "quantity": 1000, "interval": "daily"}),
        402, "INSUFFICIENT_BALANCE")

    failed(await http.delete(f"/subscriptions/{sub['subscription_id']}", headers=bob), 404, "ORDER_NOT_FOUND")
    canceled = await http.delete(f"/subscriptions/{sub['subscription_id']}", headers=alice)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json() == {"success": True, "message": "Subscription canceled successfully"}
    bare = sub["subscription_id"].removeprefix("sub_")
    assert (await http.delete(f"/subscriptions/{bare}", headers=alice)).json()["success"] is True  # idempotent
    for missing in ("sub_99999999", "order_1", "zzz"):
        failed(await http.delete(f"/subscriptions/{missing}", headers=alice), 404, "ORDER_NOT_FOUND")

    # the native API sees the same subscription (same users, wallets and orders whatever API touched them)
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as native:
        listed = (await native.get("/v1/smm/subscriptions", headers=world["alice_auth"])).json()
        assert listed["total"] == 4
        mine = next(s for s in listed["items"] if s["id"] == int(bare))
        assert mine["status"] == "canceled" and mine["runs_placed"] == 1


async def test_refills(http: httpx.AsyncClient, world: dict[str, Any], stack: Stack) -> None:
    alice, bob = world["alice"], world["bob"]
    followers = (await services_by_name(http, alice))["Instagram Followers"]["id"]
    order = ok(await http.post("/orders", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/refill", "quantity": 100}), 201)
    not_yet = await http.post("/refills", headers=alice, json={"order_id": order["order_id"]})
    assert not_yet.status_code == 409 and not_yet.json()["success"] is False
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as native:
        for _ in range(60):  # the simulated provider moves orders one step per poll (remains shrink by 1/4-1/2)
            await native.post("/v1/admin/smm/orders/sync", headers=world["admin"])
            if ok(await http.get(f"/orders/{order['order_id']}", headers=alice))["status"] in ("completed",
                                                                                               "partial"):
                break
    done = ok(await http.get(f"/orders/{order['order_id']}", headers=alice))
    assert done["status"] in ("completed", "partial") and done["completed_at"] is not None
    failed(await http.post("/refills", headers=bob, json={"order_id": order["order_id"]}), 404, "ORDER_NOT_FOUND")
    refill = ok(await http.post("/refills", headers=alice, json={"order_id": order["order_id"]}), 201)
    assert refill["refill_id"].startswith("refill_") and refill["order_id"] == order["order_id"]
    assert refill["status"] == "pending"
    for body in ({}, {"order_id": "order_99999999"}, {"order_id": "x"}):
        response = await http.post("/refills", headers=alice, json=body)
        assert response.json()["error"]["code"] == "ORDER_NOT_FOUND" and response.status_code in (400, 404)


async def test_every_documented_endpoint_answers(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    alice = world["alice"]
    followers = (await services_by_name(http, alice))["Instagram Followers"]["id"]
    order = ok(await http.post("/orders", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/any", "quantity": 100}), 201)
    sub = ok(await http.post("/subscriptions", headers=alice, json={
        "service_id": followers, "link": "https://instagram.com/any", "quantity": 100, "interval": "weekly"}), 201)
    bodies = {"/orders": {"service_id": followers, "link": "https://instagram.com/e", "quantity": 100},
              "/orders/bulk": {"orders": [{"service_id": followers, "link": "https://instagram.com/e",
                                           "quantity": 100}]},
              "/subscriptions": {"service_id": followers, "link": "https://instagram.com/e", "quantity": 100,
                                 "interval": "monthly"},
              "/refills": {"order_id": order["order_id"]}}
    for method, path in DOCUMENTED:
        concrete = path.replace("{serviceId}", followers).replace("{orderId}", order["order_id"]) \
            .replace("{subscriptionId}", sub["subscription_id"])
        response = await http.request(method, concrete, headers=alice, json=bodies.get(path))
        assert response.status_code not in (404, 405), (method, path, response.text)
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("success"), bool), (method, path, body)
        if not body["success"]:
            assert body["error"]["code"] in CODES | {"REFILL_NOT_ALLOWED"}, (method, path, body)
        assert response.headers.get("x-ratelimit-limit"), (method, path)


async def test_native_subscription_api(stack: Stack, world: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as native:
        auth = world["alice_auth"]
        services = (await native.get("/v1/smm/services", headers=auth)).json()
        followers = next(s for s in services if s["name"] == "Instagram Followers")["id"]
        created = await native.post("/v1/smm/subscriptions", headers=auth, json={
            "service_id": followers, "link": "https://instagram.com/native", "quantity": 100, "interval": "hourly"})
        assert created.status_code == 201, created.text
        sub, order = created.json()["subscription"], created.json()["order"]
        assert sub["interval"] == "hourly" and sub["next_run"] == 1 and sub["runs_placed"] == 1
        assert order["charge"]["amount"] == "0.09"
        got = (await native.get(f"/v1/smm/subscriptions/{sub['id']}", headers=auth)).json()
        assert got["next_run_at"] == sub["next_run_at"]
        runs = (await native.get(f"/v1/smm/subscriptions/{sub['id']}/runs", headers=auth)).json()
        assert runs == [{"run": 0, "order_id": order["id"], "created_at": runs[0]["created_at"]}]
        paused = (await native.post(f"/v1/smm/subscriptions/{sub['id']}/pause", headers=auth)).json()
        assert paused["status"] == "paused" and paused["pause_code"] == "PAUSED_BY_USER"
        resumed = (await native.post(f"/v1/smm/subscriptions/{sub['id']}/resume", headers=auth)).json()
        assert resumed["status"] == "active"
        filtered = (await native.get("/v1/smm/subscriptions", headers=auth, params={"status": "active"})).json()
        assert sub["id"] in [s["id"] for s in filtered["items"]]
        bad = await native.post("/v1/smm/subscriptions", headers=auth, json={
            "service_id": followers, "link": "https://instagram.com/n", "quantity": 100, "interval": "yearly"})
        assert bad.status_code == 400 and bad.json()["code"] == "INVALID_INTERVAL"
        drip = await native.post("/v1/smm/subscriptions", headers=auth, json={
            "service_id": followers, "link": "https://instagram.com/drip", "quantity": 100, "interval": "daily",
            "dripfeed_runs": 2, "dripfeed_interval": 15})
        assert drip.status_code == 201, drip.text
        assert (drip.json()["subscription"]["dripfeed_runs"], drip.json()["subscription"]["dripfeed_interval"]) \
            == (2, 15)
        assert drip.json()["order"]["charge"]["amount"] == "0.18"  # 100 x 2 runs
        half = await native.post("/v1/smm/subscriptions", headers=auth, json={
            "service_id": followers, "link": "https://instagram.com/half", "quantity": 100, "interval": "daily",
            "dripfeed_runs": "two"})
        assert half.status_code == 400
        other = await native.get(f"/v1/smm/subscriptions/{sub['id']}", headers=world["admin"])
        assert other.status_code == 404 and other.json()["code"] == "SUBSCRIPTION_NOT_FOUND"
        assert (await native.get("/v1/smm/subscriptions")).status_code == 401
        gone = await native.delete(f"/v1/smm/subscriptions/{sub['id']}", headers=auth)
        assert gone.status_code == 200 and gone.json()["status"] == "canceled"


def test_the_rate_limiter_answers_this_dialects_paths_in_its_format(tmp_path: Path) -> None:
    env = {"VPNSMM_DEFAULT_CURRENCY": "USD", "VPNSMM_RATE_LIMITS": "anonymous=3/60,read=3/60"}
    with running_server(tmp_path / "limited", env=env) as url:
        answers = [httpx.get(f"{url}{BASE}/services", timeout=30) for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[0].headers["x-ratelimit-limit"] == "3" and answers[0].headers["x-ratelimit-remaining"] == "2"
        assert answers[3].json()["success"] is False and answers[3].json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(answers[3].headers["retry-after"]) >= 1 and answers[3].headers["x-ratelimit-reset"].isdigit()
        for _ in range(3):
            native = httpx.get(f"{url}/v1/smm/services", timeout=30)
        assert native.status_code == 429 and native.json()["code"] == "RATE_LIMITED"  # the native format stays


def test_early_error_bodies_cover_only_the_dialects_own_paths() -> None:
    from vpnsmm.entrypoints.http.dialects import error_bodies, registered_dialects
    from vpnsmm.entrypoints.http.dialects.smm_rest.errors import early_error_body

    others_off = {name: "off" for name in registered_dialects() if name != "smm-rest"}

    def covered(configured: dict[str, str], path: str) -> bool:
        return any(p.match(path) and r is early_error_body for p, r in error_bodies(configured))

    assert covered(others_off, "/compat/smm-rest/api/v1/orders")
    assert covered(others_off, "/compat/smm-rest/api/v1/orders/order_12")
    assert not covered(others_off, "/api/v1/orders") and not covered(others_off, "/v1/smm/orders")
    assert covered({**others_off, "smm-rest": "/"}, "/api/v1/orders")
    assert not covered({**others_off, "smm-rest": "off"}, "/compat/smm-rest/api/v1/orders")
    body = early_error_body("/compat/smm-rest/api/v1/orders", 429, "slow down")
    assert body == {"success": False, "error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down"}}


def test_moved_dialect_paths_are_classed_like_the_documented_ones() -> None:
    from vpnsmm.adapters.ratelimit.policy import parse_rate_limits
    from vpnsmm.adapters.ratelimit.stores import InMemoryRateLimitStore
    from vpnsmm.entrypoints.http.ratelimit import RateLimitMiddleware

    limiter = RateLimitMiddleware(lambda *a: None, policy=parse_rate_limits("default"),
                                  store=InMemoryRateLimitStore())
    for prefix in ("", "/compat/smm-rest"):
        assert limiter.classify("POST", f"{prefix}/api/v1/orders", {}) == "orders"
        assert limiter.classify("POST", f"{prefix}/api/v1/orders/bulk", {}) == "orders"
        assert limiter.classify("POST", f"{prefix}/api/v1/subscriptions", {}) == "orders"
        assert limiter.classify("GET", f"{prefix}/api/v1/services", {}) == "read"
    # VPNSMM_DIALECTS may mount a dialect at any prefix, so the classes follow the path's tail wherever it is
    assert limiter.classify("POST", "/elsewhere/api/v1/orders", {}) == "orders"


def test_unexpected_errors_are_server_error_in_the_envelope() -> None:
    from litestar import Litestar, Router, get
    from litestar.testing import TestClient

    from vpnsmm.entrypoints.http.dialects.smm_rest import DIALECT

    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail that must not leak")

    @get("/typed/{n:int}")
    async def typed(n: int) -> dict[str, int]:
        return {"n": n}

    app = Litestar([Router("/x", route_handlers=[boom, typed], exception_handlers=dict(DIALECT.exception_handlers))])
    with TestClient(app) as client:
        response = client.get("/x/boom")
        assert response.status_code == 500
        assert response.json() == {"success": False, "error": {"code": "SERVER_ERROR",
                                                               "message": "Internal server error"}}
        assert "secret" not in response.text
