"""The simulated provider's raw HTTP surface: the exact Perfect Panel API v2 wire format (smm.md §1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from vpnsmm.adapters.smm import SimulatedPanel, create_app
from vpnsmm.domain.smm import OrderStatus


@pytest.fixture
def panel() -> SimulatedPanel:
    return SimulatedPanel(api_key="k", balance="100.84292")


@pytest.fixture
async def client(panel: SimulatedPanel) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(panel)),  # type: ignore[arg-type]
                                 base_url="http://sim") as c:
        yield c


async def call(client: httpx.AsyncClient, **form: str) -> object:
    response = await client.post("/api/v2", data=form)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_services_have_numbers_as_strings(client: httpx.AsyncClient) -> None:
    body = await call(client, key="k", action="services")
    assert isinstance(body, list)
    assert body[0] == {"service": 1, "name": "Instagram Followers", "type": "Default", "category": "Instagram",
                       "rate": "0.90", "min": "50", "max": "10000", "refill": True, "cancel": True,
                       "dripfeed": True}
    assert "dripfeed" not in body[1]


async def test_balance_and_add_and_status_bodies(client: httpx.AsyncClient, panel: SimulatedPanel) -> None:
    assert await call(client, key="k", action="balance") == {"balance": "100.84292", "currency": "USD"}
    assert await call(client, key="k", action="add", service="1", link="https://x.com/a",
                      quantity="1000") == {"order": 1001}
    panel.advance(1001, OrderStatus.PARTIAL, remains=157)

    single = await call(client, key="k", action="status", order="1001")

    assert single == {"charge": "0.75870", "start_count": str(panel.orders[1001].start_count),
                      "status": "Partial", "remains": "157", "currency": "USD"}
    multi = await call(client, key="k", action="status", orders="1001, 10")
    assert multi == {"1001": single, "10": {"error": "Incorrect order ID"}}
    assert await call(client, key="k", action="balance") == {"balance": "100.08422", "currency": "USD"}


@pytest.mark.parametrize(("form", "error"), [
    ({}, "Incorrect request"),
    ({"action": "balance"}, "Incorrect request"),
    ({"key": "k"}, "Incorrect request"),
    ({"key": "bad", "action": "balance"}, "Invalid API key"),
    ({"key": "k", "action": "teleport"}, "Incorrect request"),
    ({"key": "k", "action": "status", "order": "77"}, "Incorrect order ID"),
    ({"key": "k", "action": "status", "orders": ",".join(str(i) for i in range(101))}, "Incorrect request"),
    ({"key": "k", "action": "add", "service": "x"}, "Incorrect service ID"),
    ({"key": "k", "action": "add", "service": "1", "link": "https://x", "quantity": "many"}, "Incorrect request"),
    ({"key": "k", "action": "cancel", "order": "1"}, "Incorrect request"),  # PP documents only ``orders``
    ({"key": "k", "action": "refill_status", "refill": "5"}, "Refill not found"),
])
async def test_errors_are_http_200_error_objects(client: httpx.AsyncClient, form: dict[str, str], error: str) -> None:
    assert await call(client, **form) == {"error": error}


async def test_batch_refill_cancel_and_refill_status_shapes(client: httpx.AsyncClient, panel: SimulatedPanel) -> None:
    await call(client, key="k", action="add", service="1", link="https://x.com/a", quantity="100")
    await call(client, key="k", action="add", service="1", link="https://x.com/b", quantity="100")
    panel.advance(1001, OrderStatus.COMPLETED)

    assert await call(client, key="k", action="refill", order="1001") == {"refill": "1"}
    assert await call(client, key="k", action="refill", orders="1001,1002,9") == [
        {"order": 1001, "refill": 2},
        {"order": 1002, "refill": {"error": "Order not eligible for refill."}},
        {"order": 9, "refill": {"error": "Incorrect order ID"}}]
    assert await call(client, key="k", action="refill_status", refill="1") == {"status": "Pending"}
    assert await call(client, key="k", action="refill_status", refills="1,3") == [
        {"refill": 1, "status": "Pending"}, {"refill": 3, "status": {"error": "Refill not found"}}]
    assert await call(client, key="k", action="cancel", orders="1002,9,1001") == [
        {"order": 1002, "cancel": 1}, {"order": 9, "cancel": {"error": "Incorrect order ID"}},
        {"order": 1001, "cancel": {"error": "Order cannot be canceled"}}]


async def test_get_is_allowed_for_reads_only(client: httpx.AsyncClient) -> None:
    read = await client.get("/api/v2", params={"key": "k", "action": "balance"})
    assert read.json() == {"balance": "100.84292", "currency": "USD"}
    write = await client.get("/api/v2", params={"key": "k", "action": "add", "service": "1",
                                                 "link": "https://x.com/a", "quantity": "100"})
    assert write.json() == {"error": "Incorrect request"}


async def test_json_body_is_not_a_form(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v2", json={"key": "k", "action": "balance"})
    assert response.json() == {"error": "Incorrect request"}


async def test_multipart_form_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v2", data={"key": "k", "action": "balance"},
                                 files={"x": ("x.txt", b"ignored")})
    assert response.json() == {"balance": "100.84292", "currency": "USD"}


async def test_outage_is_a_503_html_page(client: httpx.AsyncClient, panel: SimulatedPanel) -> None:
    panel.outage = True
    response = await client.post("/api/v2", data={"key": "k", "action": "balance"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")


def test_advance_guards_misuse(panel: SimulatedPanel) -> None:
    panel.add({"service": "1", "link": "https://x.com/a", "quantity": "100"})
    with pytest.raises(ValueError, match="remains"):
        panel.advance(1001, OrderStatus.PARTIAL)
    panel.advance(1001, OrderStatus.COMPLETED)
    with pytest.raises(ValueError, match="already"):
        panel.advance(1001, OrderStatus.CANCELED)
    with pytest.raises(ValueError, match="no simulated order"):
        panel.advance(5, OrderStatus.COMPLETED)


def test_over_delivery_reports_negative_remains_and_refunds_nothing(panel: SimulatedPanel) -> None:
    panel.add({"service": "1", "link": "https://x.com/a", "quantity": "1000"})
    before = panel.balance
    order = panel.advance(1001, OrderStatus.PARTIAL, remains=-20)
    assert (order.remains, order.charge, panel.balance) == (-20, 90000, before)
