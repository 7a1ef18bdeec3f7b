"""Our /api/v2 driven by three Perfect Panel API v2 client libraries from PyPI, none written by us.

``safesmm`` (urllib, raises SafeSMMError on ``{"error": ...}``), ``smmpy`` (requests, raises Exception) and
``babismm`` (module ``smm``: requests.Session, raises SMMAPIError) each run the whole reseller flow against the real
``vpnsmm serve`` over a socket, on SQLite and PostgreSQL: services, balance, add (plain and drip-feed), status
single and multiple (another user's id and a junk id answer per id), cancel, refill, refill_status, and the
errors a bot shows its user (bad key, unknown service, quantity limits, not enough funds). The clients are
synchronous, so they run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import safesmm
import smm as babismm
import smmpy

from tests.e2e.test_perfect_panel_api import ADMIN_PASSWORD, Stack, bearer, customer, ensure_provider, smm_stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from smm_stack(request, tmp_path_factory)


class Client:
    """One library behind the calls this test makes; ``error`` is the library's own exception type."""

    def __init__(self, name: str, url: str, key: str) -> None:
        self.name = name
        if name == "safesmm":
            self.lib: Any = safesmm.SafeSMM(key, api_url=url, timeout=60)
            self.error: type[Exception] = safesmm.SafeSMMError
        elif name == "smmpy":
            self.lib = smmpy.smm(url, key)
            self.error = Exception
        else:
            self.lib = babismm.SMM(url, key, timeout=60)
            self.error = babismm.SMMAPIError

    def services(self) -> Any:
        return self.lib.services() if self.name == "safesmm" else self.lib.get_services()

    def balance(self) -> Any:
        return self.lib.balance() if self.name == "safesmm" else self.lib.get_balance()

    def add(self, service: int, link: str, quantity: int, **extra: Any) -> Any:
        if self.name == "safesmm":
            return self.lib.add_order(service, link, quantity, **extra)
        if self.name == "smmpy":
            return self.lib.add_order(service, link, quantity, runs=extra.get("runs"), interval=extra.get("interval"))
        return self.lib.add_order(service, link, quantity, **extra)

    def status(self, order: int) -> Any:
        return self.lib.status(order) if self.name == "safesmm" else self.lib.get_status(order)

    def statuses(self, orders: list[Any]) -> Any:
        return self.lib.multi_status(orders) if self.name == "safesmm" else self.lib.get_multi_status(orders)

    def cancel(self, orders: list[int]) -> Any:
        return self.lib.cancel(orders) if self.name == "safesmm" else self.lib.cancel_orders(orders)

    def refill(self, order: int) -> Any:
        return self.lib.refill(order) if self.name == "safesmm" else self.lib.create_refill(order)

    def refill_status(self, refill: int) -> Any:
        if self.name == "safesmm":
            return self.lib._request("refill_status", refill=refill)  # safesmm has no helper for it
        return self.lib.get_refill_status(refill)


def raises(client: Client, call: Callable[[], Any]) -> str:
    """The error text the library raised for ``call`` (which must raise the library's error type)."""
    with pytest.raises(client.error) as caught:
        call()
    return str(caught.value)


def reseller_flow(client: Client, other_order: int) -> None:
    services = client.services()
    followers = next(s for s in services if s["name"] == "Instagram Followers")
    views = next(s for s in services if s["name"] == "YouTube Views")
    assert followers["type"] == "Default" and followers["rate"] == "0.90" and followers["min"] == "50"

    before = client.balance()
    assert before["currency"] == "USD" and Decimal(before["balance"]) == Decimal("10.00")

    placed = client.add(followers["service"], "https://instagram.com/p/é-ü", 1000)
    assert set(placed) == {"order"} and isinstance(placed["order"], int)
    order = placed["order"]
    drip = client.add(followers["service"], "https://instagram.com/p/drip", 100, runs=3, interval=15)
    assert isinstance(drip["order"], int)
    after = client.balance()
    assert Decimal(before["balance"]) - Decimal(after["balance"]) == Decimal("0.90") + Decimal("0.27")

    one = client.status(order)
    assert one["status"] in ("Pending", "In progress") and one["currency"] == "USD"
    assert Decimal(one["charge"]) == Decimal("0.90") and one["remains"] == "1000"
    many = client.statuses([order, other_order, 99_999_999])
    assert many[str(order)]["charge"] == one["charge"]
    assert many[str(other_order)] == {"error": "Incorrect order ID"}  # another user's order is not ours
    assert many["99999999"] == {"error": "Incorrect order ID"}

    assert "Incorrect order ID" in raises(client, lambda: client.status(other_order))
    assert "Incorrect service ID" in raises(client, lambda: client.add(999_999, "https://instagram.com/x", 100))
    assert "Quantity less than minimal 50" in raises(
        client, lambda: client.add(followers["service"], "https://instagram.com/x", 10))
    assert "Not enough funds on balance" in raises(
        client, lambda: client.add(views["service"], "https://youtube.com/watch?v=x", 1_000_000))
    assert Decimal(client.balance()["balance"]) == Decimal(after["balance"])  # refusals charged nothing

    canceled = client.cancel([order, other_order])
    by_order = {row["order"]: row["cancel"] for row in canceled}
    assert by_order[other_order] == {"error": "Incorrect order ID"}
    assert by_order[order] == 1  # the service allows cancels: asked of the provider
    # not delivered yet, so nothing to refill: the panels' wording
    assert raises(client, lambda: client.refill(drip["order"])) == "Order not eligible for refill."
    assert "Refill not found" in raises(client, lambda: client.refill_status(123_456))


@pytest.mark.parametrize("library", ["safesmm", "smmpy", "babismm"])
async def test_an_independent_client_library_runs_the_reseller_flow(stack: Stack, library: str) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as http:
        admin = await bearer(http, "boss", ADMIN_PASSWORD)
        await ensure_provider(http, admin)
        _, key, _ = await customer(http, admin, f"lib-{library}", "10.00")
        _, other_key, _ = await customer(http, admin, f"other-{library}", "5.00")
        services = (await http.post("/api/v2", data={"key": other_key, "action": "services"})).json()
        followers = next(s["service"] for s in services if s["name"] == "Instagram Followers")
        other = (await http.post("/api/v2", data={"key": other_key, "action": "add", "service": followers,
                                                  "link": "https://instagram.com/p/other", "quantity": 100})).json()
    client = Client(library, f"{stack.url}/api/v2", key)
    await asyncio.to_thread(reseller_flow, client, int(other["order"]))


@pytest.mark.parametrize("library", ["safesmm", "smmpy", "babismm"])
async def test_a_wrong_key_is_the_libraries_error(stack: Stack, library: str) -> None:
    client = Client(library, f"{stack.url}/api/v2", "vps_nope_nope")
    message = await asyncio.to_thread(raises, client, client.balance)
    assert "Invalid API key" in message
