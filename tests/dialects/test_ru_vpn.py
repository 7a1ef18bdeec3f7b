"""The ``ru-vpn`` dialect (ru-vpn-frontend-spec.md) walked end to end over a real socket against ``vpnsmm serve``,
on SQLite and PostgreSQL: auth (``expires_in`` in seconds, rotation, logout), tariffs in kopecks with durations in
seconds, nodes, profile/keys/usage, clients create/revoke, config, renew and top-up through Cryptomus (the signed
webhook credits once, forgeries write nothing), payments/:id, billing state and history, errors, other users'
ids, and users shared with the native API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.dialects.vpn_stack import Stack, stack_for

DOCUMENTED = [
    ("POST", "/auth/login"),
    ("POST", "/auth/register"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/tariffs"),
    ("GET", "/nodes"),
    ("GET", "/profile"),
    ("GET", "/profile/keys"),
    ("GET", "/profile/usage"),
    ("GET", "/me/clients"),
    ("POST", "/me/clients"),
    ("POST", "/me/clients/{client}/revoke"),
    ("GET", "/vpn/config/{client}"),
    ("POST", "/vpn/renew"),
    ("POST", "/vpn/topup"),
    ("POST", "/payments/create"),
    ("GET", "/payments/{invoice}"),
    ("POST", "/payments/webhook"),
    ("GET", "/billing/state/{client}"),
    ("GET", "/billing/history"),
]
PRICE = 29_900  # 299.00 RUB in kopecks


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_for(request.param, tmp_path_factory.mktemp("ru-vpn"))


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("error"), str) and body["error"] and isinstance(body.get("code"), str), body
    return body


def _register(stack: Stack, email: str, password: str = "customer password") -> dict[str, Any]:
    response = stack.http.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _customer(stack: Stack, email: str, *, rub: str | None = None) -> dict[str, str]:
    body = _register(stack, email)
    if rub:
        stack.fund(int(body["user"]["id"]), rub, "RUB", f"fund-{body['user']['id']}-{stack.backend}")
    return stack.bearer(body["access_token"])


def _new_client(stack: Stack, auth: dict[str, str]) -> dict[str, Any]:
    created = stack.http.post("/me/clients", headers=auth, json={"tariff_id": str(stack.plan_id)})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _signed_webhook(stack: Stack, external_id: str, *, api_key: str | None = None) -> httpx.Response:
    body, headers = stack.cryptomus.webhook(external_id, api_key=api_key)
    return stack.http.post("/payments/webhook", content=body, headers={**headers, "content-type": "application/json"})


def test_auth_register_login_refresh_logout(stack: Stack) -> None:
    body = _register(stack, "Ivan@Example.ru")
    assert {"access_token", "refresh_token", "expires_in", "refresh_expires_at", "user", "roles"} <= set(body)
    assert type(body["expires_in"]) is int and 60 <= body["expires_in"] <= 86_400
    assert body["refresh_expires_at"].endswith("Z") and body["roles"] == ["user"]
    assert body["user"]["email"] == "Ivan@example.ru" and body["user"]["id"].isdigit()
    _error(stack.http.post("/auth/register", json={"email": "Ivan@Example.ru", "password": "another password"}),
           409)
    _error(stack.http.post("/auth/register", json={"email": "short@example.ru", "password": "x"}), 400)
    _error(stack.http.post("/auth/register", json={"password": "customer password"}), 400)
    _error(stack.http.post("/auth/register", json={"email": 5, "password": "customer password"}), 400)
    _error(stack.http.post("/auth/register", json={"email": "bad", "password": "customer password",
                                                   "telegram_id": "not a number"}), 400)

    login = stack.http.post("/auth/login", json={"email": "ivan@example.ru", "password": "customer password"})
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert tokens["user"]["id"] == body["user"]["id"] and type(tokens["expires_in"]) is int
    _error(stack.http.post("/auth/login", json={"email": "ivan@example.ru", "password": "wrong password"}), 401)
    _error(stack.http.post("/auth/login", json={"email": "nobody@example.ru", "password": "customer password"}), 401)
    _error(stack.http.post("/auth/login", json={"password": "customer password"}), 400)
    _error(stack.http.post("/auth/login", content=b"[]", headers={"content-type": "application/json"}), 400)

    refreshed = stack.http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"] and refreshed.json()["expires_in"] > 0
    _error(stack.http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)  # reuse
    _error(stack.http.post("/auth/refresh", json={}), 400)

    auth = stack.bearer(body["access_token"])
    assert stack.http.get("/profile", headers=auth).status_code == 200
    out = stack.http.post("/auth/logout", headers=auth)
    assert out.status_code == 200 and out.json() == {"success": True}
    _error(stack.http.get("/profile", headers=auth), 401)  # the session ended at once
    _error(stack.http.post("/auth/logout"), 401)
    _error(stack.http.get("/profile", headers={"Authorization": "Bearer garbage"}), 401)


def test_users_are_shared_with_the_native_api(stack: Stack) -> None:
    _register(stack, "olga@example.ru")
    native = stack.http.post("/v1/auth/login", json={"username": "olga@example.ru", "password": "customer password"})
    assert native.status_code == 200, native.text
    stack.native_register("petr", email="petr@example.ru")
    here = stack.http.post("/auth/login", json={"email": "petr@example.ru", "password": "customer password"})
    assert here.status_code == 200 and here.json()["user"]["username"] == "petr"
    by_name = stack.http.post("/auth/login", json={"username": "petr", "password": "customer password"})
    assert by_name.status_code == 200
    me = stack.http.get("/v1/me", headers=stack.bearer(here.json()["access_token"]))
    assert me.status_code == 200 and me.json()["username"] == "petr"
    v2ray = stack.http.post("/api/v1/auth/token/", json={"username": "olga@example.ru",
                                                          "password": "customer password"})
    assert v2ray.status_code == 200  # and in the other VPN dialect
    profile = stack.http.get("/api/v1/users/me/", headers=stack.bearer(v2ray.json()["access"])).json()
    assert profile["email"] == "olga@example.ru"


def test_tariffs_and_nodes_are_public(stack: Stack) -> None:
    tariffs = stack.http.get("/tariffs")
    assert tariffs.status_code == 200
    tariff = next(t for t in tariffs.json() if t["id"] == str(stack.plan_id))
    assert tariff["price"] == PRICE and tariff["currency"] == "RUB"
    assert tariff["duration"] == 30 * 86_400 and tariff["traffic_limit"] == 50 * 1024**3
    nodes = stack.http.get("/nodes")
    assert nodes.status_code == 200
    node = next(n for n in nodes.json() if n["id"] == str(stack.server_id))
    assert node["name"] == "dialect-node" and node["location"] == "Frankfurt"
    assert node["status"] in ("online", "offline", "unknown")


def test_clients_profile_usage_config_and_revoke(stack: Stack) -> None:
    auth = _customer(stack, "anna@example.ru", rub="1000")
    assert stack.http.get("/profile/usage", headers=auth).json()["client_id"] is None
    created = _new_client(stack, auth)
    assert created["client_id"] and created["uuid"] and created["status"] == "paid"
    client_id = created["client_id"]
    assert stack.balance(auth, "RUB") == 100_000 - PRICE

    keys = stack.http.get("/profile/keys", headers=auth)
    assert keys.status_code == 200 and len(keys.json()) == 1
    key = keys.json()[0]
    assert {"id", "user_id", "marzban_client_id", "protocol", "transport", "created_at", "expires_at", "active",
            "subscription_url", "config_text"} <= set(key)
    assert key["id"] == client_id and key["protocol"] == "vless" and key["transport"] == "tcp"
    assert key["active"] is True and key["config_text"].startswith("vless://") and created["uuid"] in key[
        "config_text"]
    assert key["expires_at"].endswith("Z") and key["created_at"].endswith("Z")
    assert stack.http.get("/me/clients", headers=auth).json() == keys.json()

    profile = stack.http.get("/profile", headers=auth).json()
    assert profile["user"]["email"] == "anna@example.ru" and profile["user"]["roles"] == ["user"]
    assert "telegram_id" in profile["user"] and profile["user"]["marzban_username"]
    assert profile["stats"]["clients_total"] == 1 and profile["stats"]["balance"] == 100_000 - PRICE
    assert [c["id"] for c in profile["clients"]] == [client_id]

    usage = stack.http.get("/profile/usage", headers=auth, params={"client_id": client_id})
    assert usage.status_code == 200
    assert usage.json() | {"expires": None} == {"client_id": client_id, "up": 0, "down": 0, "total": 0,
                                                "limit": 50 * 1024**3, "expires": None}
    config = stack.http.get(f"/vpn/config/{client_id}", headers=auth)
    assert config.status_code == 200
    assert config.json()["config"] == key["config_text"] and "/sub/" in config.json()["subscription_url"]

    other = _customer(stack, "stranger@example.ru")
    for method, path in (("GET", f"/vpn/config/{client_id}"), ("GET", f"/billing/state/{client_id}"),
                         ("POST", f"/me/clients/{client_id}/revoke")):
        _error(stack.http.request(method, path, headers=other), 404)
    _error(stack.http.get("/profile/usage", headers=other, params={"client_id": client_id}), 404)
    _error(stack.http.post("/vpn/renew", headers=other, json={"client_id": client_id}), 404)
    _error(stack.http.get("/vpn/config/abc", headers=auth), 404)
    _error(stack.http.post("/me/clients", headers=other, json={"tariff_id": str(stack.plan_id),
                                                              "provider": "wallet"}), 402)  # no money
    offered = stack.http.post("/me/clients", headers=other, json={"tariff_id": str(stack.plan_id)})
    assert offered.status_code == 201, offered.text  # short wallet: the same invoice through the gateway
    assert offered.json()["client_id"] is None and offered.json()["provider"] == "cryptomus"
    assert offered.json()["payment_url"] and offered.json()["amount"] == PRICE
    history = stack.http.get("/billing/history", headers=other).json()
    # the refused wallet call left its pending invoice (as BuyPlan does natively); the fallback added no second one
    assert [i["status"] for i in history["items"]] == ["pending", "pending"]
    _error(stack.http.post("/me/clients", headers=auth, json={"tariff_id": "999999"}), 404)
    _error(stack.http.post("/me/clients", headers=auth, json={"tariff_id": ["x"]}), 400)
    _error(stack.http.post("/me/clients", headers=auth, json={"tariff_id": 1, "provider": "paypal"}), 400)
    _error(stack.http.get("/me/clients"), 401)

    revoked = stack.http.post(f"/me/clients/{client_id}/revoke", headers=auth)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["active"] is False
    assert stack.http.post(f"/me/clients/{client_id}/revoke", headers=auth).status_code == 200  # idempotent
    _error(stack.http.get(f"/vpn/config/{client_id}", headers=auth), 400)


def test_renew_topup_payments_and_the_cryptomus_webhook(stack: Stack) -> None:
    auth = _customer(stack, "boris@example.ru", rub="600")
    client_id = _new_client(stack, auth)["client_id"]

    renewed = stack.http.post("/vpn/renew", headers=auth, json={"client_id": client_id, "provider": "wallet"})
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["status"] == "paid" and renewed.json()["amount"] == PRICE
    assert stack.balance(auth, "RUB") == 60_000 - 2 * PRICE

    by_gateway = stack.http.post("/vpn/renew", headers=auth, json={"client_id": int(client_id)})
    assert by_gateway.status_code == 201, by_gateway.text
    started = by_gateway.json()
    assert {"invoice_id", "payment_id", "provider_payment_id", "payment_url", "status"} <= set(started)
    assert started["provider"] == "cryptomus" and started["status"] == "pending" and started["payment_url"]

    topup = stack.http.post("/vpn/topup", headers=auth, json={"amount": 50_000})
    assert topup.status_code == 201, topup.text
    top = topup.json()
    assert top["amount"] == 50_000 and top["currency"] == "RUB" and top["provider_payment_id"]
    _error(stack.http.post("/vpn/topup", headers=auth, json={"amount": 0}), 400)
    _error(stack.http.post("/vpn/topup", headers=auth, json={"amount": 10**20}), 400)
    _error(stack.http.post("/vpn/topup", headers=auth, json={"amount": "lots"}), 400)
    _error(stack.http.post("/vpn/topup", headers=auth, json={"amount": 100, "provider": "wallet"}), 400)

    detail = stack.http.get(f"/payments/{top['invoice_id']}", headers=auth)
    assert detail.status_code == 200
    assert detail.json()["invoice"]["status"] == "pending" and detail.json()["invoice"]["amount"] == 50_000
    assert [p["id"] for p in detail.json()["payments"]] == [top["payment_id"]]
    _error(stack.http.get(f"/payments/{top['invoice_id']}", headers=_customer(stack, "nosy@example.ru")), 404)

    before = stack.balance(auth, "RUB")
    stack.cryptomus.complete(top["provider_payment_id"], "paid")
    _error(_signed_webhook(stack, top["provider_payment_id"], api_key="wrong-key"), 401)
    assert stack.balance(auth, "RUB") == before  # a forged notice credits nothing
    for _ in range(3):
        delivered = _signed_webhook(stack, top["provider_payment_id"])
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["status"] == "paid"
    assert stack.balance(auth, "RUB") == before + 50_000  # once
    assert stack.http.get(f"/payments/{top['invoice_id']}", headers=auth).json()["invoice"]["status"] == "fulfilled"
    unsigned = stack.http.post("/payments/webhook", content=b"{}", headers={"content-type": "application/json"})
    _error(unsigned, 401)
    assert "X-RateLimit-Limit" not in unsigned.headers  # gateway callbacks are never throttled
    assert stack.http.get("/tariffs").headers["X-RateLimit-Limit"].isdigit()  # everything else is

    for body in ({"tariff_id": str(stack.plan_id)}, {"client_id": client_id}, {"amount": 12_345}):
        created = stack.http.post("/payments/create", headers=auth, json=body)
        assert created.status_code == 201, (body, created.text)
        assert created.json()["payment_url"] and created.json()["invoice_id"]
    _error(stack.http.post("/payments/create", headers=auth, json={}), 400)
    _error(stack.http.post("/payments/create", headers=auth, json={"amount": 100, "provider": "zarinpal"}), 400)

    state = stack.http.get(f"/billing/state/{client_id}", headers=auth)
    assert state.status_code == 200, state.text
    assert state.json()["state"]["client_id"] == client_id and state.json()["state"]["seconds_left"] > 59 * 86_400
    assert state.json()["state"]["renewal_price"] == PRICE
    kinds = [e["type"] for e in state.json()["events"]]
    assert kinds.count("renewal") == 3 and kinds[-1] == "purchase"

    history = stack.http.get("/billing/history", headers=auth, params={"page": 1, "limit": 2})
    assert history.status_code == 200
    page = history.json()
    assert (page["page"], page["limit"], len(page["items"])) == (1, 2, 2) and page["total"] >= 7
    second = stack.http.get("/billing/history", headers=auth, params={"page": 2, "limit": 2}).json()
    assert not {i["id"] for i in page["items"]} & {i["id"] for i in second["items"]}
    _error(stack.http.get("/billing/history", headers=auth, params={"page": 0}), 400)
    _error(stack.http.get("/billing/history", headers=auth, params={"limit": "many"}), 400)


def test_every_documented_endpoint_answers(stack: Stack) -> None:
    auth = _customer(stack, "every@example.ru", rub="600")
    client = _new_client(stack, auth)["client_id"]
    invoice = stack.http.post("/vpn/topup", headers=auth, json={"amount": 1000}).json()["invoice_id"]
    ids = {"client": client, "invoice": invoice}
    for method, template in sorted(DOCUMENTED, key=lambda e: e[1] == "/auth/logout"):  # logout last
        path = template.format(**ids)
        for variant in (path, path + "/"):
            response = stack.http.request(method, variant, headers=auth, json={})
            assert response.status_code not in (404, 405), (method, variant, response.text)
            assert response.status_code < 500, (method, variant, response.text)
