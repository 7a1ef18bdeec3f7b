"""500 concurrent /api/v2 adds over a real socket against a wallet that covers exactly 100 orders.

Exactly 100 answer ``{"order": id}``, the other 400 ``{"error": "Not enough funds on balance"}``, the balance ends
at 0.00, and every accepted order reaches the provider exactly once (adds are forwarded after the answer, in
batches, docs/smm.md), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_perfect_panel_api import ADMIN_PASSWORD, Stack, bearer, customer, ensure_provider, smm_stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from smm_stack(request, tmp_path_factory)


async def test_500_concurrent_adds_exactly_100_orders_and_balance_zero(stack: Stack) -> None:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=stack.url, timeout=120.0, limits=limits) as http:
        admin = await bearer(http, "boss", ADMIN_PASSWORD)
        await ensure_provider(http, admin)
        _, key, user_id = await customer(http, admin, "racer500", "5.00")  # 50 followers = 0.05: 100 orders
        services = (await http.post("/api/v2", data={"key": key, "action": "services"})).json()
        followers = next(s["service"] for s in services if s["name"] == "Instagram Followers")

        async def add(i: int) -> dict[str, object]:
            response = await http.post("/api/v2", data={"key": key, "action": "add", "service": followers,
                                                        "link": f"https://instagram.com/p/race{i}", "quantity": 50})
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body

        answers = await asyncio.gather(*(add(i) for i in range(500)))
        orders = [a["order"] for a in answers if "order" in a]
        refused = [a for a in answers if "error" in a]
        assert len(orders) == 100 and len(set(orders)) == 100
        assert len(refused) == 400 and {a["error"] for a in refused} == {"Not enough funds on balance"}
        balance = (await http.post("/api/v2", data={"key": key, "action": "balance"})).json()
        assert balance == {"balance": "0.00", "currency": "USD"}

        deadline = time.monotonic() + 60
        while True:  # forwarded after the answers: wait until the provider has every order
            sent = (await http.get("/v1/admin/smm/orders", headers=admin, params={
                "user_id": user_id, "submit_state": "sent", "limit": 1})).json()["total"]
            if sent == 100 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert sent == 100
        listed = (await http.get("/v1/admin/smm/orders", headers=admin, params={
            "user_id": user_id, "limit": 100})).json()
        assert listed["total"] == 100
        provider_ids = [o["provider_order_id"] for o in listed["items"]]
        assert None not in provider_ids and len(set(provider_ids)) == 100  # each forwarded once
