"""The ``v2ray`` dialect (v2ray-account-api.md) walked end to end over a real socket against ``vpnsmm serve``, on
SQLite and PostgreSQL: JWT token/refresh, users/me, plans, payments (wallet, Zarinpal's StartPay round trip,
card-to-card verified by an admin), accounts with panel and inbound, admin-only panels, the ``{"error",
"detail"}`` errors, trailing slashes both ways, and the rate-limit headers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.dialects.vpn_stack import CARD, Stack, stack_for

#: Every (method, path) the document lists, with ``{id}`` filled in by the test.
DOCUMENTED = [
    ("POST", "/api/v1/auth/token/"),
    ("POST", "/api/v1/auth/token/refresh/"),
    ("GET", "/api/v1/users/me/"),
    ("PATCH", "/api/v1/users/me/"),
    ("GET", "/api/v1/v2ray/accounts/"),
    ("GET", "/api/v1/v2ray/accounts/{account}/"),
    ("GET", "/api/v1/plans/"),
    ("POST", "/api/v1/payments/"),
    ("POST", "/api/v1/payments/verify-card-payment/"),
    ("GET", "/api/v1/panels/"),
    ("GET", "/api/v1/panels/{panel}/status/"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_for(request.param, tmp_path_factory.mktemp("v2ray"))


def _token(stack: Stack, username: str, password: str = "customer password") -> dict[str, str]:
    response = stack.http.post("/api/v1/auth/token/", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access", "refresh"}
    return stack.bearer(response.json()["access"])


def _customer(stack: Stack, name: str, *, irr: str | None = None) -> dict[str, str]:
    user = stack.native_register(name)
    if irr:
        stack.fund(user["user"]["id"], irr, "IRR", f"fund-{name}-{stack.backend}")
    return _token(stack, name)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "detail"} and body["error"] and body["detail"], body
    return body


def _buy_from_wallet(stack: Stack, auth: dict[str, str]) -> dict[str, Any]:
    bought = stack.http.post("/api/v1/payments/", headers=auth, json={
        "amount": 1_500_000, "method": "wallet", "plan_id": stack.plan_id})
    assert bought.status_code == 201, bought.text
    body: dict[str, Any] = bought.json()
    return body


def test_token_refresh_rotates_and_users_me(stack: Stack) -> None:
    stack.native_register("v2-alice", email="alice@v2.test")  # a user made by the native API ...
    auth = _token(stack, "v2-alice")  # ... logs in here
    assert stack.http.post("/api/v1/auth/token", json={"username": "v2-alice", "password": "customer password"}
                           ).status_code == 200  # without the trailing slash too
    pair = stack.http.post("/api/v1/auth/token/", json={"username": "v2-alice", "password": "customer password"}
                           ).json()
    refreshed = stack.http.post("/api/v1/auth/token/refresh/", json={"refresh": pair["refresh"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access"] and refreshed.json()["refresh"] != pair["refresh"]
    again = stack.http.post("/api/v1/auth/token/refresh", json={"refresh": refreshed.json()["refresh"]})
    assert again.status_code == 200
    _error(stack.http.post("/api/v1/auth/token/refresh/", json={"refresh": pair["refresh"]}), 401)  # reused
    _error(stack.http.post("/api/v1/auth/token/", json={"username": "v2-alice", "password": "wrong password"}), 401)
    missing = _error(stack.http.post("/api/v1/auth/token/", json={"password": "x"}), 400)
    assert missing == {"error": "Invalid input", "detail": "Field 'username' is required"}
    _error(stack.http.post("/api/v1/auth/token/", json={"username": 5, "password": "x"}), 400)
    _error(stack.http.post("/api/v1/auth/token/", content=b"{not json", headers={"content-type": "application/json"}),
           400)

    me = stack.http.get("/api/v1/users/me/", headers=auth)
    assert me.status_code == 200
    body = me.json()
    assert set(body) == {"id", "username", "email", "first_name", "last_name", "telegram_id", "is_active",
                         "date_joined"}
    assert body["username"] == "v2-alice" and body["email"] == "alice@v2.test" and body["is_active"] is True
    assert body["telegram_id"] is None and body["date_joined"].endswith("Z")
    jwt_scheme = {"Authorization": auth["Authorization"].replace("Bearer", "JWT")}
    assert stack.http.get("/api/v1/users/me", headers=jwt_scheme).json()["id"] == body["id"]

    patched = stack.http.patch("/api/v1/users/me/", headers=auth, json={
        "first_name": "Алиса", "last_name": "Smith", "email": "new_alice@v2.test", "telegram_id": "123456789"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["first_name"], patched.json()["telegram_id"]) == ("Алиса", "123456789")
    assert stack.http.get("/api/v1/users/me/", headers=auth).json()["email"] == "new_alice@v2.test"
    cleared = stack.http.patch("/api/v1/users/me", headers=auth, json={"email": ""})
    assert cleared.status_code == 200 and cleared.json()["email"] == ""
    assert stack.http.patch("/api/v1/users/me/", headers=auth, json={"email": "new_alice@v2.test", "id": 999,
                                                                      "username": "hijack"}).json()["id"] == body["id"]
    assert stack.http.get("/api/v1/users/me/", headers=auth).json()["username"] == "v2-alice"  # read-only fields
    stack.native_register("v2-bob", email="bob@v2.test")
    _error(stack.http.patch("/api/v1/users/me/", headers=auth, json={"email": "bob@v2.test"}), 400)  # taken
    _error(stack.http.patch("/api/v1/users/me/", headers=auth, json={"email": "not-an-email"}), 400)
    _error(stack.http.patch("/api/v1/users/me/", headers=auth, json={"first_name": ["x"]}), 400)
    _error(stack.http.patch("/api/v1/users/me/", headers=auth, json={"telegram_id": "abc"}), 400)
    _error(stack.http.patch("/api/v1/users/me/", headers=auth, json={"first_name": "x" * 500}), 400)

    _error(stack.http.get("/api/v1/users/me/"), 401)
    _error(stack.http.get("/api/v1/users/me/", headers={"Authorization": "Bearer not-a-token"}), 401)
    _error(stack.http.get("/api/v1/users/me/", headers={"Authorization": "Basic abc"}), 401)


def test_plans_wallet_purchase_and_account_detail(stack: Stack) -> None:
    plans = stack.http.get("/api/v1/plans/")
    assert plans.status_code == 200
    plan = next(p for p in plans.json() if p["id"] == stack.plan_id)
    assert plan == {"id": stack.plan_id, "name": "Dialect monthly", "description": "30 days, 50 GiB",
                    "price": 1_500_000, "duration_days": 30, "traffic_limit": 50 * 1024**3, "is_active": True}
    assert stack.http.get("/api/v1/plans").status_code == 200

    auth = _customer(stack, "v2-wallet", irr="2000000")
    payment = _buy_from_wallet(stack, auth)
    assert payment["status"] == "paid" and payment["method"] == "wallet" and payment["amount"] == 1_500_000
    assert payment["payment_url"] is None and payment["created_at"].endswith("Z") and payment["account_id"]
    assert stack.balance(auth, "IRR") == 500_000
    short = _error(stack.http.post("/api/v1/payments/", headers=auth, json={
        "amount": 1_500_000, "method": "wallet", "plan_id": stack.plan_id}), 400)
    assert short["error"] == "Insufficient funds"

    accounts = stack.http.get("/api/v1/v2ray/accounts/", headers=auth)
    assert accounts.status_code == 200 and len(accounts.json()) == 1
    listed = accounts.json()[0]
    assert set(listed) == {"id", "name", "status", "created_at", "expires_at", "traffic_limit", "traffic_used",
                           "config"}
    assert listed["id"] == payment["account_id"] and listed["status"] == "active"
    assert listed["traffic_limit"] == 50 * 1024**3 and listed["traffic_used"] == 0
    assert listed["config"].startswith("vless://")
    detail = stack.http.get(f"/api/v1/v2ray/accounts/{listed['id']}/", headers=auth)
    assert detail.status_code == 200
    body = detail.json()
    assert body["panel"] == {"id": stack.server_id, "name": "dialect-node", "url": "https://node1.dialect.test"}
    assert body["inbound"]["protocol"] == "vless" and body["inbound"]["id"] == 1 and body["inbound"]["tag"]
    assert body["config"] == listed["config"] and "/sub/" in body["subscription_url"]
    assert stack.http.get(f"/api/v1/v2ray/accounts/{listed['id']}", headers=auth).status_code == 200

    other = _customer(stack, "v2-other")
    _error(stack.http.get(f"/api/v1/v2ray/accounts/{listed['id']}/", headers=other), 404)  # not theirs
    assert stack.http.get("/api/v1/v2ray/accounts/", headers=other).json() == []
    _error(stack.http.get("/api/v1/v2ray/accounts/abc/", headers=auth), 404)
    _error(stack.http.get("/api/v1/v2ray/accounts/99999999999999999999/", headers=auth), 404)
    _error(stack.http.get("/api/v1/v2ray/accounts/"), 401)


def test_payment_input_errors(stack: Stack) -> None:
    auth = _customer(stack, "v2-errors")
    for body in ({"amount": 1, "method": "zarinpal", "plan_id": stack.plan_id},  # not the plan's price
                 {"amount": 1_500_000, "method": "bitcoin", "plan_id": stack.plan_id},
                 {"amount": "lots", "method": "zarinpal", "plan_id": stack.plan_id},
                 {"amount": 1_500_000, "method": "zarinpal"},
                 {"plan_id": 10**30},
                 {"plan_id": -1}):
        _error(stack.http.post("/api/v1/payments/", headers=auth, json=body), 400)
    _error(stack.http.post("/api/v1/payments/", headers=auth, json={"plan_id": 999999}), 404)
    _error(stack.http.post("/api/v1/payments/", json={"plan_id": stack.plan_id}), 401)


def test_zarinpal_payment_url_round_trip_provisions_the_account(stack: Stack) -> None:
    auth = _customer(stack, "v2-zarinpal")
    created = stack.http.post("/api/v1/payments/", headers=auth, json={
        "amount": 1_500_000, "method": "zarinpal", "plan_id": stack.plan_id})
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "pending" and payment["method"] == "zarinpal"
    assert "/pg/StartPay/" in payment["payment_url"]
    assert stack.http.get("/api/v1/v2ray/accounts/", headers=auth).json() == []
    with httpx.Client(timeout=10) as browser:
        back = browser.get(f"{payment['payment_url']}/pay")  # the customer pays on the gateway's page
    assert back.status_code == 302
    callback = httpx.URL(back.headers["location"])
    assert stack.http.get(callback.path, params=dict(callback.params)).json()["status"] == "paid"
    accounts = stack.http.get("/api/v1/v2ray/accounts/", headers=auth).json()
    assert len(accounts) == 1 and accounts[0]["status"] == "active"


def test_card_payment_is_verified_only_by_an_admin(stack: Stack) -> None:
    auth = _customer(stack, "v2-card")
    created = stack.http.post("/api/v1/payments/", headers=auth, json={
        "amount": 1_500_000, "method": "card", "plan_id": stack.plan_id})
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "pending" and payment["payment_url"] is None
    assert payment["card"]["card_number"].replace(" ", "") == CARD and payment["card"]["amount"] == 1_500_000
    claim = {"payment_id": payment["id"], "transaction_id": "123456789", "card_number": "6104********1234",
             "amount": 1_500_000}

    _error(stack.http.post("/api/v1/payments/verify-card-payment/", headers=auth,
                           json={**claim, "amount": 999}), 400)
    _error(stack.http.post("/api/v1/payments/verify-card-payment/", headers=auth,
                           json={**claim, "card_number": "6104********12ab"}), 400)
    _error(stack.http.post("/api/v1/payments/verify-card-payment/", headers=auth, json={"payment_id": "x"}), 400)
    stranger = _customer(stack, "v2-card-stranger")
    _error(stack.http.post("/api/v1/payments/verify-card-payment/", headers=stranger, json=claim), 404)
    for _ in range(2):  # the owner's claim is recorded, never approved by itself (repeat: same answer)
        pending = stack.http.post("/api/v1/payments/verify-card-payment/", headers=auth, json=claim)
        assert pending.status_code == 202, pending.text
        assert pending.json()["success"] is False and pending.json()["account"] is None
        assert pending.json()["status"] == "submitted"
    assert stack.http.get("/api/v1/v2ray/accounts/", headers=auth).json() == []

    _error(stack.http.post("/api/v1/payments/verify-card-payment/", headers=stack.admin,
                           json={**claim, "transaction_id": "999999999"}), 400)  # not what the customer sent
    verified = stack.http.post("/api/v1/payments/verify-card-payment/", headers=stack.admin, json=claim)
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["success"] is True and body["message"] == "Payment verified successfully"
    assert set(body["account"]) == {"id", "name", "config"} and body["account"]["config"].startswith("vless://")
    again = stack.http.post("/api/v1/payments/verify-card-payment", headers=auth, json=claim)
    assert again.status_code == 200 and again.json()["account"]["id"] == body["account"]["id"]
    assert [a["id"] for a in stack.http.get("/api/v1/v2ray/accounts/", headers=auth).json()] == [
        body["account"]["id"]]  # one account, however often it was verified


def test_concurrent_admin_verifications_provision_once(stack: Stack) -> None:
    auth = _customer(stack, "v2-card-race")
    payment = stack.http.post("/api/v1/payments/", headers=auth, json={
        "amount": 1_500_000, "method": "card", "plan_id": stack.plan_id}).json()
    claim = {"payment_id": payment["id"], "transaction_id": "۱۲۳۴۵۶۷۸", "card_number": "6037 9974 1234 5678"}
    assert stack.http.post("/api/v1/payments/verify-card-payment/", headers=auth, json=claim).status_code == 202

    def verify(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.url, timeout=30.0) as client:
            return client.post("/api/v1/payments/verify-card-payment/", headers=stack.admin,
                               json={**claim, "transaction_id": "12345678"})  # Persian digits normalised

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(verify, range(6)))
    assert all(a.status_code == 200 and a.json()["success"] is True for a in answers), [a.text for a in answers]
    # the calls that lose the race answer before the winner has provisioned: success, account still coming
    accounts = {a.json()["account"]["id"] for a in answers if a.json()["account"] is not None}
    assert len(accounts) == 1
    assert len(stack.http.get("/api/v1/v2ray/accounts/", headers=auth).json()) == 1
    assert stack.balance(auth, "IRR") == 0  # credited once, charged once


def test_panels_are_admin_only(stack: Stack) -> None:
    auth = _customer(stack, "v2-panels")
    _error(stack.http.get("/api/v1/panels/", headers=auth), 403)
    _error(stack.http.get(f"/api/v1/panels/{stack.server_id}/status/", headers=auth), 403)
    _error(stack.http.get("/api/v1/panels/"), 401)
    panels = stack.http.get("/api/v1/panels/", headers=stack.admin)
    assert panels.status_code == 200
    panel = next(p for p in panels.json() if p["id"] == stack.server_id)
    assert {k: panel[k] for k in ("name", "url", "is_active", "inbounds_count")} == {
        "name": "dialect-node", "url": "https://node1.dialect.test:2053/secret-path", "is_active": True,
        "inbounds_count": 1}
    assert isinstance(panel["clients_count"], int)
    status = stack.http.get(f"/api/v1/panels/{stack.server_id}/status/", headers=stack.admin)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["id"] == stack.server_id and body["status"] == "online"
    assert {"uptime", "cpu_usage", "memory_usage", "disk_usage", "total_clients", "active_clients"} <= set(body)
    assert stack.http.get(f"/api/v1/panels/{stack.server_id}/status", headers=stack.admin).status_code == 200
    _error(stack.http.get("/api/v1/panels/424242/status/", headers=stack.admin), 404)
    _error(stack.http.get("/api/v1/panels/zz/status/", headers=stack.admin), 404)


def test_rate_limit_headers_on_the_dialect_routes(stack: Stack) -> None:
    auth = _customer(stack, "v2-limits")
    for method, path, headers in (("GET", "/api/v1/plans/", {}), ("GET", "/api/v1/users/me/", auth),
                                  ("GET", "/api/v1/v2ray/accounts/", auth), ("GET", "/api/v1/users/me/", {})):
        response = stack.http.request(method, path, headers=headers)
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert response.headers.get(name, "").isdigit(), (path, dict(response.headers))


def test_every_documented_endpoint_answers(stack: Stack) -> None:
    auth = _customer(stack, "v2-every", irr="1500000")
    account = _buy_from_wallet(stack, auth)["account_id"]
    ids = {"account": account, "panel": stack.server_id}
    for method, template in DOCUMENTED:
        path = template.format(**ids)
        headers = stack.admin if "/panels/" in path else auth
        for variant in (path, path.rstrip("/")):
            response = stack.http.request(method, variant, headers=headers, json={})
            assert response.status_code not in (404, 405), (method, variant, response.text)
            assert response.status_code < 500, (method, variant, response.text)
