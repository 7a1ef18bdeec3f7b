"""Our Perfect Panel API v2 over a real socket, driven by a small client written from smm.md §1 alone.

The real ``vpnsmm serve`` runs (SQLite and PostgreSQL) with a ``simulated`` provider added and synced
through the admin API. The client below knows nothing of vpnsmm: it form-POSTs ``key``/``action`` to
``/api/v2`` and reads JSON, checking for ``error`` whatever the HTTP status, as smm.md says clients must.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server

ADMIN_PASSWORD = "boss password"


class PerfectPanelClient:
    """A reseller's client: POST application/x-www-form-urlencoded, JSON back (smm.md §1.1)."""

    def __init__(self, http: httpx.AsyncClient, url: str, key: str) -> None:
        self.http, self.url, self.key = http, url, key
        self.last_status = 0

    async def call(self, action: str, **params: Any) -> Any:
        form = {"key": self.key, "action": action, **{k: str(v) for k, v in params.items()}}
        response = await self.http.post(self.url, data=form)
        self.last_status = response.status_code
        return response.json()

    async def services(self) -> Any:
        return await self.call("services")

    async def add(self, **params: Any) -> Any:
        return await self.call("add", **params)

    async def status(self, order: int) -> Any:
        return await self.call("status", order=order)

    async def statuses(self, orders: list[Any]) -> Any:
        return await self.call("status", orders=",".join(str(o) for o in orders))

    async def balance(self) -> Any:
        return await self.call("balance")


class Stack:
    def __init__(self, url: str) -> None:
        self.url = url


def _env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    full.update({"VPNSMM_DATA_DIR": str(data_dir), **extra})
    return full


def smm_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, *,
              rate_limits: str = "off") -> Iterator[Stack]:
    """A real server with an admin ``boss``; shop currency USD; rate limits off unless given."""
    data_dir: Path = tmp_path_factory.mktemp("smm")
    env = {"VPNSMM_DEFAULT_CURRENCY": "USD", "VPNSMM_RATE_LIMITS": rate_limits}

    def run() -> Iterator[Stack]:
        created = subprocess.run([sys.executable, "-m", "vpnsmm", "users", "create", "boss", "--role", "admin",
                                  "--password-stdin"], input=ADMIN_PASSWORD + "\n", text=True, capture_output=True,
                                 env=_env(data_dir, env), check=False, timeout=60)
        assert created.returncode == 0, created.stderr
        with running_server(data_dir, env=env) as url:
            yield Stack(url)

    if request.param == "postgres":
        with temporary_postgres_database() as db_url:
            env["VPNSMM_DATABASE_URL"] = db_url
            yield from run()
    else:
        yield from run()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from smm_stack(request, tmp_path_factory)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=60.0) as client:
        yield client


async def bearer(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def ensure_provider(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    listed = await http.get("/v1/admin/smm/providers", headers=admin)
    assert listed.status_code == 200, listed.text
    if listed.json():
        return
    added = await http.post("/v1/admin/smm/providers", headers=admin, json={
        "name": "simulated", "kind": "simulated", "api_url": "http://simulated.invalid/api/v2",
        "api_key": "sim-key", "currency": "USD"})
    assert added.status_code == 201, added.text
    assert "sim-key" not in added.text
    synced = await http.post(f"/v1/admin/smm/providers/{added.json()['id']}/sync", headers=admin,
                             json={"markup": "0"})
    assert synced.status_code == 200 and synced.json()["created"] == 11, synced.text


async def customer(http: httpx.AsyncClient, admin: dict[str, str], name: str, funds: str) -> tuple[dict[str, str],
                                                                                                    str, int]:
    """A registered user with ``funds`` USD: (bearer headers, API key, user id)."""
    registered = await http.post("/v1/auth/register", json={"username": name, "password": "customer password"})
    assert registered.status_code == 201, registered.text
    auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    me = (await http.get("/v1/me", headers=auth)).json()
    key = (await http.post("/v1/api-keys", headers=auth, json={"name": "bot"})).json()["key"]
    if funds != "0":
        funded = await http.post(f"/v1/admin/wallets/{me['id']}/adjust", headers=admin, json={
            "amount": funds, "currency": "USD", "reason": "e2e", "idempotency_key": f"e2e-{name}"})
        assert funded.status_code == 201, funded.text
    return auth, key, int(me["id"])


async def test_perfect_panel_v2_end_to_end(http: httpx.AsyncClient, stack: Stack) -> None:
    admin = await bearer(http, "boss", ADMIN_PASSWORD)
    await ensure_provider(http, admin)
    _, alice_key, _ = await customer(http, admin, "alice", "10.00")
    _, bob_key, _ = await customer(http, admin, "bob", "1.00")
    alice = PerfectPanelClient(http, f"{stack.url}/api/v2", alice_key)
    bob = PerfectPanelClient(http, f"{stack.url}/api/v2", bob_key)

    # services: an array, numbers as strings, flags as booleans (smm.md §1.2)
    services = await alice.services()
    by_name = {s["name"]: s for s in services}
    followers = by_name["Instagram Followers"]
    assert isinstance(followers["service"], int)
    assert followers["type"] == "Default" and followers["category"] == "Instagram"
    assert followers["rate"] == "0.90" and followers["min"] == "50" and followers["max"] == "10000"
    assert followers["refill"] is True and followers["cancel"] is True and followers["dripfeed"] is True
    assert "Website Traffic" not in by_name  # a type we cannot sell is not offered
    assert by_name["Instagram Custom Comments"]["type"] == "Custom Comments"

    assert await alice.balance() == {"balance": "10.00", "currency": "USD"}

    # add (several types) -> {"order": N}
    added = await alice.add(service=followers["service"], link="https://instagram.com/p/e2e", quantity=1000)
    assert set(added) == {"order"} and isinstance(added["order"], int)
    order_id = added["order"]
    comments = await alice.add(service=by_name["Instagram Custom Comments"]["service"],
                               link="https://instagram.com/p/e2e", comments="great\nnice\n" * 5)
    assert isinstance(comments["order"], int)
    package = await alice.add(service=by_name["Instagram Likes Package"]["service"], link="https://instagram.com/p/p")
    assert isinstance(package["order"], int)
    drip = await alice.add(service=followers["service"], link="https://instagram.com/p/drip", quantity=100,
                           runs=3, interval=30)
    assert isinstance(drip["order"], int)
    assert await alice.balance() == {"balance": "6.25", "currency": "USD"}  # 10 - 0.90 - 0.08 - 2.50 - 0.27

    status = await alice.status(order_id)
    assert status == {"charge": "0.90", "start_count": "0", "status": "Pending", "remains": "1000",
                      "currency": "USD"}

    # multiple status keyed by id string; another user's id and garbage answer "Incorrect order ID"
    bobs = await bob.add(service=followers["service"], link="https://instagram.com/p/bob", quantity=100)
    many = await alice.statuses([order_id, bobs["order"], 999999, "abc"])
    assert set(many) == {str(order_id), str(bobs["order"]), "999999", "abc"}
    assert many[str(order_id)]["status"] == "Pending"
    assert many[str(bobs["order"])] == {"error": "Incorrect order ID"}
    assert many["999999"] == {"error": "Incorrect order ID"}
    assert await alice.status(bobs["order"]) == {"error": "Incorrect order ID"}
    assert alice.last_status == 200

    # error strings (always HTTP 200)
    assert await alice.add(service=99999, link="https://x.example/a", quantity=100) == {"error": "Incorrect service ID"}
    assert await alice.add(service=followers["service"], link="https://instagram.com/p/x", quantity=10) == {
        "error": "Quantity less than minimal 50"}
    assert await alice.add(service=followers["service"], link="https://instagram.com/p/x", quantity=20000) == {
        "error": "Quantity more than maximum 10000"}
    assert await alice.add(service=followers["service"], link="not a link", quantity=100) == {
        "error": "Incorrect link"}
    assert await bob.add(service=followers["service"], link="https://instagram.com/p/big", quantity=10000) == {
        "error": "Not enough funds on balance"}
    assert await alice.call("nonsense") == {"error": "Incorrect request"}
    wrong = PerfectPanelClient(http, f"{stack.url}/api/v2", "vpn_000000000000_" + "x" * 40)
    assert await wrong.services() == {"error": "Invalid API key"}
    assert wrong.last_status == 200
    no_action = await http.post("/api/v2", data={"key": alice_key})
    assert no_action.status_code == 200 and no_action.json() == {"error": "Incorrect request"}

    # GET: read actions only
    listed = await http.get("/api/v2", params={"key": alice_key, "action": "balance"})
    assert listed.json()["currency"] == "USD"
    refused = await http.get("/api/v2", params={"key": alice_key, "action": "add", "service": "1",
                                                "link": "https://x.example/a", "quantity": "100"})
    assert refused.json() == {"error": "Incorrect request"}

    # refill / refill_status / cancel shapes (smm.md §1.6)
    assert await alice.call("refill", order=order_id) == {"error": "Order not eligible for refill."}
    assert await alice.call("refill", order=bobs["order"]) == {"error": "Incorrect order ID"}
    assert await alice.call("refill", orders=f"{order_id},{bobs['order']}") == [
        {"order": order_id, "refill": {"error": "Order not eligible for refill."}},
        {"order": bobs["order"], "refill": {"error": "Incorrect order ID"}}]
    assert await alice.call("refill_status", refill=12345) == {"error": "Refill not found"}
    assert await alice.call("refill_status", refills="12345,7") == [
        {"refill": 12345, "status": {"error": "Refill not found"}},
        {"refill": 7, "status": {"error": "Refill not found"}}]
    canceled = await alice.call("cancel", orders=f"{order_id},{bobs['order']},{package['order']}")
    assert canceled == [{"order": order_id, "cancel": 1},
                        {"order": bobs["order"], "cancel": {"error": "Incorrect order ID"}},
                        {"order": package["order"], "cancel": {"error": "Order cannot be canceled"}}]
    assert await bob.status(bobs["order"]) != {"error": "Incorrect order ID"}


async def test_subscriptions_are_prepaid_per_post_over_api_v2(http: httpx.AsyncClient, stack: Stack) -> None:
    admin = await bearer(http, "boss", ADMIN_PASSWORD)
    await ensure_provider(http, admin)
    _, key, _ = await customer(http, admin, "carol", "1.00")
    carol = PerfectPanelClient(http, f"{stack.url}/api/v2", key)
    subs = next(s for s in await carol.services() if s["type"] == "Subscriptions")
    assert (subs["rate"], subs["min"], subs["max"]) == ("0.60", "50", "5000")

    # unlimited (no posts) cannot be prepaid: refused with a message saying so, nothing charged
    refused = await carol.add(service=subs["service"], username="shop", min=50, max=100, delay=30)
    assert set(refused) == {"error"} and "posts" in refused["error"]
    assert await carol.add(service=subs["service"], username="shop", min=50, max=100, delay=7, posts=2) == {
        "error": "Incorrect request"}
    assert await carol.add(service=subs["service"], username="shop", min=50, max=6000, delay=0, posts=2) == {
        "error": "Quantity more than maximum 5000"}
    assert await carol.balance() == {"balance": "1.00", "currency": "USD"}

    added = await carol.add(service=subs["service"], username="shop", min=50, max=100, delay=30, posts=5,
                            old_posts=2, expiry="31/12/2099")
    assert set(added) == {"order"} and isinstance(added["order"], int)
    assert await carol.balance() == {"balance": "0.58", "currency": "USD"}  # 7 posts x price_for(0.60, 100)
    status = await carol.status(added["order"])
    assert status == {"status": "Active", "expiry": "31/12/2099", "posts": "0", "orders": []}  # smm.md §1.4
    many = await carol.statuses([added["order"]])
    assert many == {str(added["order"]): status}

    native = await http.get(f"/v1/smm/orders/{added['order']}", headers=await bearer(http, "carol",
                                                                                     "customer password"))
    assert native.status_code == 200, native.text
    assert native.json()["parent_order_id"] is None and native.json()["child_order_ids"] == []
    assert native.json()["fields"]["posts"] == 5
