"""The native SMM API end to end over a real socket (SQLite and PostgreSQL): catalogue, orders, bulk,
cancel, ownership, error codes, admin order actions, provider balance, order sync and stats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.test_perfect_panel_api import ADMIN_PASSWORD, Stack, bearer, customer, ensure_provider, smm_stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from smm_stack(request, tmp_path_factory)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as client:
        yield client


async def test_native_smm_flow(http: httpx.AsyncClient) -> None:
    admin = await bearer(http, "boss", ADMIN_PASSWORD)
    await ensure_provider(http, admin)
    carol, _, carol_id = await customer(http, admin, "carol", "5.00")
    dave, _, _ = await customer(http, admin, "dave", "0")

    services = (await http.get("/v1/smm/services", headers=carol, params={"category": "YouTube"})).json()
    assert [s["name"] for s in services] == ["YouTube Views"]
    everything = (await http.get("/v1/smm/services", headers=carol)).json()
    followers = next(s for s in everything if s["name"] == "Instagram Followers")
    assert followers["rate"] == {"amount": "0.90", "currency": "USD", "amount_minor": 90}

    placed = await http.post("/v1/smm/orders", headers=carol, json={
        "service": followers["id"], "link": "https://instagram.com/p/native", "quantity": 1000})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["charge"]["amount"] == "0.90" and order["status"] == "Pending" and order["submit_state"] == "sent"

    # error codes as problem+json
    short = await http.post("/v1/smm/orders", headers=dave, json={
        "service": followers["id"], "link": "https://instagram.com/p/x", "quantity": 100})
    assert short.status_code == 402 and short.json()["code"] == "INSUFFICIENT_BALANCE"
    missing = await http.post("/v1/smm/orders", headers=carol, json={"service": 999999, "link": "https://a.b/c",
                                                                     "quantity": 100})
    assert missing.status_code == 404 and missing.json()["code"] == "SERVICE_NOT_FOUND"
    low = await http.post("/v1/smm/orders", headers=carol, json={
        "service": followers["id"], "link": "https://instagram.com/p/x", "quantity": 1})
    assert low.status_code == 400 and low.json()["code"] == "INVALID_QUANTITY" and low.json()["min"] == 50
    bad_link = await http.post("/v1/smm/orders", headers=carol, json={
        "service": followers["id"], "link": "nope", "quantity": 100})
    assert bad_link.status_code == 400 and bad_link.json()["code"] == "INVALID_LINK"
    foreign = await http.get(f"/v1/smm/orders/{order['id']}", headers=dave)
    assert foreign.status_code == 404 and foreign.json()["code"] == "ORDER_NOT_FOUND"
    assert (await http.post(f"/v1/smm/orders/{order['id']}/cancel", headers=dave)).status_code == 404

    bulk = await http.post("/v1/smm/orders/bulk", headers=carol, json={"orders": [
        {"service": followers["id"], "link": "https://instagram.com/p/b1", "quantity": 100},
        {"service": followers["id"], "link": "https://instagram.com/p/b2", "quantity": 1},
        {"service": followers["id"], "link": "https://instagram.com/p/b3", "quantity": 100}]})
    assert bulk.status_code == 200, bulk.text
    lines = bulk.json()
    assert [line["code"] for line in lines] == [None, "INVALID_QUANTITY", None]

    page = (await http.get("/v1/smm/orders", headers=carol, params={"limit": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["items"][0]["id"] > page["items"][1]["id"]

    cancel = await http.post(f"/v1/smm/orders/{order['id']}/cancel", headers=carol)
    assert cancel.status_code == 200 and cancel.json()["accepted"] is True
    refill = await http.post(f"/v1/smm/orders/{order['id']}/refill", headers=carol)
    assert refill.status_code == 409 and refill.json()["code"] == "REFILL_NOT_ALLOWED"

    # admin
    assert (await http.get("/v1/admin/smm/stats", headers=carol)).status_code == 403
    second = lines[0]["order"]["id"]
    done = await http.post(f"/v1/admin/smm/orders/{second}/complete", headers=admin)
    assert done.status_code == 200 and done.json()["status"] == "Completed"
    counted = await http.post(f"/v1/admin/smm/orders/{second}/start-count", headers=admin, json={"start_count": 77})
    assert counted.json()["start_count"] == 77
    third = lines[2]["order"]["id"]
    refunded = await http.post(f"/v1/admin/smm/orders/{third}/cancel", headers=admin, json={"reason": "test"})
    assert refunded.status_code == 200 and refunded.json()["refunded"]["amount"] == "0.09"
    again = await http.post(f"/v1/admin/smm/orders/{third}/cancel", headers=admin)
    assert again.status_code == 409
    synced = await http.post("/v1/admin/smm/orders/sync", headers=admin)
    assert synced.status_code == 200 and synced.json()["polled"] >= 1
    listed = (await http.get("/v1/admin/smm/orders", headers=admin, params={"user_id": carol_id})).json()
    assert listed["total"] == 3 and listed["items"][0]["provider_order_id"]
    providers = (await http.get("/v1/admin/smm/providers", headers=admin)).json()
    balance = await http.get(f"/v1/admin/smm/providers/{providers[0]['id']}/balance", headers=admin)
    assert balance.status_code == 200 and balance.json()["currency"] == "USD"
    stats = (await http.get("/v1/admin/smm/stats", headers=admin)).json()
    assert stats["orders"] >= 3 and stats["by_status"]["Completed"] >= 1
    edited = await http.patch(f"/v1/admin/smm/services/{followers['id']}", headers=admin, json={"rate": "1.00"})
    assert edited.status_code == 200 and edited.json()["rate"]["amount"] == "1.00"
    rate = await http.put("/v1/admin/smm/user-rates", headers=admin, json={"user_id": carol_id, "discount": "10"})
    assert rate.status_code == 200 and rate.json()["discount_bp"] == 1000
    priced = (await http.get("/v1/smm/services", headers=carol, params={"category": "Instagram"})).json()
    assert next(s for s in priced if s["id"] == followers["id"])["rate"]["amount"] == "0.90"
    wallet = (await http.get("/v1/wallet", headers=carol)).json()
    # 5 - 0.90 - 0.09 - 0.09 + 0.09 (admin cancel) + 0.90 (the cancel the provider accepted, settled by the sync)
    assert wallet[0]["balance"]["amount"] == "4.91"
    canceled = (await http.get(f"/v1/smm/orders/{order['id']}", headers=carol)).json()
    assert canceled["status"] == "Canceled" and canceled["refunded"]["amount"] == "0.90"
