"""Admin order actions over HTTP: stop (hold), resume, refill, bulk-actions, with per-order results and 4xx errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_perfect_panel_api import ADMIN_PASSWORD, Stack, bearer, customer, ensure_provider, smm_stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from smm_stack(request, tmp_path_factory)


async def test_admin_stop_refill_and_bulk_actions(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as http:
        admin = await bearer(http, "boss", ADMIN_PASSWORD)
        await ensure_provider(http, admin)
        auth, _, _ = await customer(http, admin, "acts", "10.00")
        services = (await http.get("/v1/smm/services", headers=auth)).json()
        followers = next(s for s in services if s["name"] == "Instagram Followers")["id"]
        ids = []
        for n in range(2):
            placed = await http.post("/v1/smm/orders", headers=auth, json={
                "service": followers, "link": f"https://instagram.com/p/acts{n}", "quantity": 100})
            assert placed.status_code == 201, placed.text
            ids.append(placed.json()["id"])

        at_provider = await http.post(f"/v1/admin/smm/orders/{ids[0]}/stop", headers=admin, json={"reason": "x"})
        assert at_provider.status_code == 409 and at_provider.json()["code"] == "ORDER_AT_PROVIDER"
        assert (await http.post(f"/v1/admin/smm/orders/{ids[0]}/stop", headers=auth)).status_code == 403
        missing = await http.post("/v1/admin/smm/orders/987654321/stop", headers=admin)
        assert missing.status_code == 404

        not_yet = await http.post(f"/v1/admin/smm/orders/{ids[0]}/refill", headers=admin)
        assert not_yet.status_code == 409 and not_yet.json()["code"] == "REFILL_NOT_ALLOWED"

        bulk = await http.post("/v1/admin/smm/orders/bulk-actions", headers=admin, json={
            "action": "update_start_count", "order_ids": [*ids, 987654321], "start_count": 42})
        assert bulk.status_code == 200, bulk.text
        body = bulk.json()
        assert body["processed"] == 3 and body["succeeded"] == 2
        assert [r["ok"] for r in body["results"]] == [True, True, False]
        assert body["results"][0]["order"]["start_count"] == 42
        assert body["results"][2]["code"] == "ORDER_NOT_FOUND"
        canceled = (await http.post("/v1/admin/smm/orders/bulk-actions", headers=admin, json={
            "action": "cancel", "order_ids": [ids[1]], "reason": "bulk"})).json()
        assert canceled["results"][0]["order"]["status"] == "Canceled"

        for bad in ({"action": "explode", "order_ids": [ids[0]]}, {"action": "cancel", "order_ids": []},
                    {"action": "cancel", "order_ids": ["one"]}, {"action": "cancel"},
                    {"action": "cancel", "order_ids": list(range(1, 102))}):
            refused = await http.post("/v1/admin/smm/orders/bulk-actions", headers=admin, json=bad)
            assert refused.status_code == 400, (bad, refused.text)
        assert (await http.post("/v1/admin/smm/orders/bulk-actions", headers=auth, json={
            "action": "cancel", "order_ids": [ids[0]]})).status_code == 403
