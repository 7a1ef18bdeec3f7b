"""Money end to end over real sockets: the real server, the gateway fakes served by uvicorn, every gateway.

Zarinpal: pay -> StartPay page -> browser callback -> wallet credited once (callback replayed).
Cryptomus: pay -> invoice paid -> 20 concurrent identical webhooks -> one credit; a forged one -> 401.
Card-to-card: pay -> card details -> receipt -> admin approves (twice) -> one credit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.asgi_server import serve_in_thread
from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal

ZP_MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
CARD = "6037997412345671"


class Stack:
    def __init__(self, url: str, zarinpal: FakeZarinpal, cryptomus: FakeCryptomus, admin_password: str) -> None:
        self.url, self.zarinpal, self.cryptomus, self.admin_password = url, zarinpal, cryptomus, admin_password


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    zarinpal, cryptomus = FakeZarinpal([ZP_MERCHANT]), FakeCryptomus("merchant-uuid", "pay-key")
    data_dir: Path = tmp_path_factory.mktemp("money")
    with serve_in_thread(zarinpal.app) as zp_url, serve_in_thread(cryptomus.app) as cm_url:
        env = {"VPNSMM_ZARINPAL_MERCHANT_ID": ZP_MERCHANT, "VPNSMM_ZARINPAL_API_BASE": zp_url,
               "VPNSMM_ZARINPAL_STARTPAY_BASE": zp_url, "VPNSMM_CRYPTOMUS_MERCHANT": "merchant-uuid",
               "VPNSMM_CRYPTOMUS_API_KEY": "pay-key", "VPNSMM_CRYPTOMUS_BASE_URL": cm_url,
               "VPNSMM_CARD_NUMBER": CARD, "VPNSMM_CARD_HOLDER": "Shop Owner", "VPNSMM_RATE_LIMITS": "off"}
        if request.param == "postgres":
            with temporary_postgres_database() as db_url:
                env["VPNSMM_DATABASE_URL"] = db_url
                yield from _run(data_dir, env, zarinpal, cryptomus)
        else:
            yield from _run(data_dir, env, zarinpal, cryptomus)


def _run(data_dir: Path, env: dict[str, str], zarinpal: FakeZarinpal, cryptomus: FakeCryptomus) -> Iterator[Stack]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    full.update({"VPNSMM_DATA_DIR": str(data_dir), **env})
    created = subprocess.run([sys.executable, "-m", "vpnsmm", "users", "create", "boss", "--role", "admin",
                              "--password-stdin"], input="boss password\n", text=True, capture_output=True,
                             env=full, check=False, timeout=60)
    assert created.returncode == 0, created.stderr
    with running_server(data_dir, env=env) as url:
        yield Stack(url, zarinpal, cryptomus, "boss password")


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30.0) as client:
        yield client


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def customer(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await http.post("/v1/auth/register", json={"username": name, "password": "customer password"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def balance(http: httpx.AsyncClient, auth: dict[str, str], currency: str) -> int:
    wallets = (await http.get("/v1/wallet", headers=auth)).json()
    return next((w["balance"]["amount_minor"] for w in wallets if w["currency"] == currency), 0)


async def invoice(http: httpx.AsyncClient, auth: dict[str, str], amount: str, currency: str) -> dict[str, Any]:
    response = await http.post("/v1/invoices", headers=auth, json={"amount": amount, "currency": currency})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_zarinpal_purchase_through_the_startpay_page(http: httpx.AsyncClient, stack: Stack) -> None:
    auth = await customer(http, "zp-buyer")
    inv = await invoice(http, auth, "250000", "IRR")
    paid = await http.post(f"/v1/invoices/{inv['id']}/pay", headers=auth, json={"gateway": "zarinpal"})
    assert paid.status_code == 201, paid.text
    redirect = paid.json()["redirect_url"]
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await browser.get(f"{redirect}/pay")  # the customer pays on the gateway's page
    assert back.status_code == 302
    callback = httpx.URL(back.headers["location"])
    assert callback.path == "/v1/payments/zarinpal/callback"
    for _ in range(3):  # the browser comes back (and reloads the page twice)
        result = await http.get(callback.path, params=dict(callback.params))
        assert result.status_code == 200 and result.json()["status"] == "paid"
    assert await balance(http, auth, "IRR") == 250_000
    detail = (await http.get(f"/v1/invoices/{inv['id']}", headers=auth)).json()
    assert detail["invoice"]["status"] == "fulfilled" and detail["payments"][0]["provider_ref"]
    history = (await http.get("/v1/wallet/transactions", headers=auth, params={"currency": "IRR"})).json()
    assert [(e["balance_before"]["amount_minor"], e["balance_after"]["amount_minor"]) for e in history["items"]] == [
        (0, 250_000)]


async def test_cryptomus_webhooks_credit_once_and_forgeries_are_refused(http: httpx.AsyncClient, stack: Stack) -> None:
    auth = await customer(http, "crypto-buyer")
    inv = await invoice(http, auth, "12.50", "USD")
    paid = await http.post(f"/v1/invoices/{inv['id']}/pay", headers=auth, json={"gateway": "cryptomus"})
    assert paid.status_code == 201, paid.text
    uuid = paid.json()["payment"]["external_id"]
    stack.cryptomus.complete(uuid, "paid")
    forged_body, forged_headers = stack.cryptomus.webhook(uuid, api_key="wrong-key")
    forged = await http.post("/v1/payments/cryptomus/webhook", content=forged_body,
                             headers={**forged_headers, "content-type": "application/json"})
    assert forged.status_code == 401 and await balance(http, auth, "USD") == 0
    body, headers = stack.cryptomus.webhook(uuid)
    responses = await asyncio.gather(*(http.post("/v1/payments/cryptomus/webhook", content=body,
                                                 headers={**headers, "content-type": "application/json"})
                                       for _ in range(20)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert await balance(http, auth, "USD") == 1250


async def test_card_to_card_with_admin_approval(http: httpx.AsyncClient, stack: Stack) -> None:
    auth = await customer(http, "card-buyer")
    admin = await login(http, "boss", stack.admin_password)
    inv = await invoice(http, auth, "400000", "IRR")
    paid = await http.post(f"/v1/invoices/{inv['id']}/pay", headers=auth, json={"gateway": "card"})
    assert paid.status_code == 201, paid.text
    card = paid.json()["card"]
    assert card["card_number"].replace(" ", "") == CARD and card["amount"]["amount"] == "400000"
    payment_id = paid.json()["payment"]["id"]
    bad = await http.post(f"/v1/payments/{payment_id}/receipt", headers=auth,
                          json={"transaction_id": "12345678", "card_last4": "12a4"})
    assert bad.status_code == 400
    receipt = await http.post(f"/v1/payments/{payment_id}/receipt", headers=auth,
                              json={"transaction_id": "12345678", "card_last4": "1234"})
    assert receipt.status_code == 200 and receipt.json()["status"] == "submitted"
    forbidden = await http.post(f"/v1/admin/payments/{payment_id}/approve", headers=auth, json={})
    assert forbidden.status_code == 403
    queue = (await http.get("/v1/admin/payments", headers=admin, params={"status": "submitted"})).json()
    assert payment_id in [p["id"] for p in queue]
    for _ in range(2):
        approved = await http.post(f"/v1/admin/payments/{payment_id}/approve", headers=admin, json={"note": "seen"})
        assert approved.status_code == 200 and approved.json()["status"] == "paid"
    assert await balance(http, auth, "IRR") == 400_000
    reject = await http.post(f"/v1/admin/payments/{payment_id}/reject", headers=admin, json={"reason": "late"})
    assert reject.status_code == 409


async def test_wallet_transfer_and_overdraft_is_402(http: httpx.AsyncClient, stack: Stack) -> None:
    admin = await login(http, "boss", stack.admin_password)
    alice = await customer(http, "alice-money")
    bob_reg = await http.post("/v1/auth/register", json={"username": "bob-money", "password": "customer password"})
    bob_id = bob_reg.json()["user"]["id"]
    me = (await http.get("/v1/me", headers=alice)).json()
    funded = await http.post(f"/v1/admin/wallets/{me['id']}/adjust", headers=admin,
                             json={"amount": "1000", "currency": "IRR", "reason": "promo", "idempotency_key": "p-1"})
    assert funded.status_code == 201, funded.text
    sent = await http.post("/v1/wallet/transfer", headers=alice, json={
        "to_user_id": bob_id, "amount": "600", "currency": "IRR", "idempotency_key": "gift-1"})
    assert sent.status_code == 201 and sent.json()["balance_after"]["amount_minor"] == 400
    short = await http.post("/v1/wallet/transfer", headers=alice, json={
        "to_user_id": bob_id, "amount": "600", "currency": "IRR", "idempotency_key": "gift-2"})
    assert short.status_code == 402 and short.json()["code"] == "INSUFFICIENT_BALANCE"
    for body in ({"to_user_id": bob_id, "amount": "1.5", "currency": "IRR", "idempotency_key": "x"},
                 {"to_user_id": bob_id, "amount": "abc", "currency": "IRR", "idempotency_key": "x"},
                 {"to_user_id": bob_id, "amount": "5", "currency": "XXX", "idempotency_key": "x"},
                 {"to_user_id": bob_id, "amount": "1" * 30, "currency": "IRR", "idempotency_key": "x"}):
        assert (await http.post("/v1/wallet/transfer", headers=alice, json=body)).status_code == 400, body
    stranger = await http.get("/v1/invoices/999999", headers=alice)
    assert stranger.status_code == 404
