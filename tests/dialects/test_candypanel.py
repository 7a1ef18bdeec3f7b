"""The candypanel dialect over a real socket: CandyPanel's document walked end to end against `vpnsmm serve`.

One server per backend (SQLite, PostgreSQL) for the whole module; the tests run in file order and build on each
other (install first, then clients, interfaces, settings, tokens, the bot's card-to-card purchase and review).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server

ADMIN_TG = 987654321
USER_TG = 123456789
OTHER_TG = 123456790
PASSWORD = "candy-admin-pass"
GIB = 1024**3

#: Every (method, path) the document lists.
DOCUMENTED = [
    ("GET", "/check"), ("POST", "/api/auth"), ("POST", "/api/manage"), ("GET", "/api/data"),
    ("POST", "/bot_api/user/register"), ("POST", "/bot_api/user/buy_traffic_request"),
    ("POST", "/bot_api/user/get_license"), ("POST", "/bot_api/user/account_status"),
    ("POST", "/bot_api/user/call_support"),
    ("POST", "/bot_api/admin/check_admin"), ("POST", "/bot_api/admin/get_all_users"),
    ("POST", "/bot_api/admin/get_transactions"), ("POST", "/bot_api/admin/approve_transaction"),
    ("POST", "/bot_api/admin/reject_transaction"), ("POST", "/bot_api/admin/manage_user"),
    ("POST", "/bot_api/admin/send_message_to_all"), ("POST", "/bot_api/admin/server_control"),
]

needs_wg = pytest.mark.skipif(shutil.which("wg") is None and os.environ.get("CI") != "true",
                              reason="wireguard-tools not installed")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("candypanel")
    env = {"VPNSMM_TELEGRAM_ADMIN_ID": str(ADMIN_TG)}
    if request.param == "sqlite":
        with running_server(data_dir, env=env) as url:
            yield url
    else:
        with temporary_postgres_database() as db_url, running_server(
                data_dir, env={**env, "VPNSMM_DATABASE_URL": db_url}) as url:
            yield url


@pytest.fixture
async def http(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, timeout=30.0) as client:
        yield client


async def _token(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/api/auth", json={"action": "login", "username": "candy", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}


def _ok(r: httpx.Response, message: str | None = None) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and isinstance(body["message"], str) and "data" in body, body
    if message is not None:
        assert body["message"] == message, body
    data: dict[str, Any] = body["data"]
    return data


def _err(r: httpx.Response, status: int, fragment: str = "") -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and set(body) == {"message", "success"}, body
    assert fragment.lower() in body["message"].lower(), body
    message: str = body["message"]
    return message


def _wg_pubkey(private_key: str) -> str:
    return subprocess.run(["wg", "pubkey"], input=private_key + "\n", capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()


def _conf_value(config: str, key: str) -> str:
    return next(line.split("=", 1)[1].strip() for line in config.splitlines() if line.startswith(f"{key} ="))


async def _manage(http: httpx.AsyncClient, auth: dict[str, str], resource: str, action: str,
                  data: dict[str, Any] | None = None) -> httpx.Response:
    return await http.post("/api/manage", headers=auth, json={"resource": resource, "action": action,
                                                              "data": data or {}})


async def _bot(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(f"/bot_api/{path}", json=body)


# ------------------------------------------------------------------------------------------ install / login
async def test_install_works_exactly_once_and_login_issues_a_bearer_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/check")).json() == {"installed": False}
    # bad input is refused in the document's format and installs nothing
    _err(await http.post("/api/auth", json={"action": "install", "wg_port": "51820"}), 400, "server_ip")
    _err(await http.post("/api/auth", json={"action": "install", "server_ip": "203.0.113.7", "wg_port": "ninety",
                                            "admin_user": "candy", "admin_password": PASSWORD}), 400, "wg_port")
    _err(await http.post("/api/auth", json={"action": "install", "server_ip": "203.0.113.7", "wg_port": "51820",
                                            "admin_user": "candy", "admin_password": ["x"]}), 400, "password")
    _err(await http.post("/api/auth", json={"action": "install", "server_ip": "203.0.113.7", "wg_port": "51820",
                                            "wg_address_range": "not-a-range", "admin_user": "candy",
                                            "admin_password": PASSWORD}), 400, "wg_address_range")
    _err(await http.post("/api/auth", content=b"{not json", headers={"content-type": "application/json"}), 400)
    _err(await http.post("/api/auth", json={"action": "explode"}), 400, "action")
    assert (await http.get("/check")).json() == {"installed": False}

    install = {"action": "install", "server_ip": "203.0.113.7", "wg_port": "51820", "wg_address_range": "10.0.0.1/24",
               "wg_dns": "8.8.8.8", "admin_user": "candy", "admin_password": PASSWORD}
    r = await http.post("/api/auth", json=install)
    assert r.status_code == 200 and r.json()["success"] is True and r.json()["message"] == "Installed successfully!"
    assert (await http.get("/check")).json() == {"installed": True}
    _err(await http.post("/api/auth", json=install), 400, "already installed")
    _err(await http.post("/api/auth", json={**install, "admin_user": "someone-else"}), 400, "already installed")

    _err(await http.post("/api/auth", json={"action": "login", "username": "candy", "password": "wrong-password"}),
         401, "Invalid authentication credentials")
    _err(await http.post("/api/auth", json={"action": "login", "username": "nobody", "password": PASSWORD}), 401)
    _err(await http.post("/api/auth", json={"action": "login", "username": 5, "password": []}), 400)
    r = await http.post("/api/auth", json={"action": "login", "username": "candy", "password": PASSWORD})
    data = _ok(r, "Login successful!")
    assert data["token_type"] == "bearer" and data["access_token"]
    # the same token works on the native API (one identity across dialects)
    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert me.status_code == 200 and me.json()["role"] == "admin"


# ------------------------------------------------------------------------------------------ clients
@needs_wg
async def test_client_lifecycle_and_the_config_keys_pass_wg_pubkey(http: httpx.AsyncClient) -> None:
    auth = await _token(http)
    # auth is required, in the document's format
    _err(await _manage(http, {}, "client", "get_config", {"name": "x"}), 401)
    _err(await _manage(http, {"Authorization": "Bearer not-a-token"}, "client", "get_config", {"name": "x"}), 401)
    _err(await _manage(http, {"Authorization": "Basic abc"}, "client", "get_config", {"name": "x"}), 401)
    r = await http.post("/v1/auth/register", json={"username": "plain-user", "password": "plain password"})
    plain = {"Authorization": f"Bearer {r.json()['access_token']}"}
    _err(await _manage(http, plain, "client", "get_config", {"name": "x"}), 403)

    new = {"name": "alice", "expires": "2099-12-31T23:59:59", "traffic": str(10 * GIB), "wg_id": 0,
           "note": "first client ✓"}
    data = _ok(await _manage(http, auth, "client", "create", new), "Client created successfully!")
    config = data["client_config"]
    assert config.startswith("[Interface]") and "Endpoint = 203.0.113.7:51820" in config
    private = _conf_value(config, "PrivateKey")
    public = _wg_pubkey(private)
    server_public = _conf_value(config.split("[Peer]", 1)[1], "PublicKey")

    _err(await _manage(http, auth, "client", "create", new), 400, "already exists")
    _err(await _manage(http, auth, "client", "create", {**new, "name": "bob", "expires": "yesterday"}), 400,
         "expires")
    _err(await _manage(http, auth, "client", "create", {**new, "name": "bob", "expires": "1999-01-01T00:00:00"}),
         400, "expires")
    # a date that has passed (the document's own example) makes a client that is expired from the start
    expired = _ok(await _manage(http, auth, "client", "create", {**new, "name": "old-timer",
                                                                 "expires": "2025-12-31T23:59:59"}))
    assert expired["client_config"].startswith("[Interface]")
    _err(await _manage(http, auth, "client", "create", {**new, "name": "bob", "traffic": "lots"}), 400, "traffic")
    _err(await _manage(http, auth, "client", "create", {**new, "name": "bob", "wg_id": 7}), 404, "wg7")
    _err(await _manage(http, auth, "client", "create", {**new, "name": "b" * 200}), 400, "name")
    _err(await _manage(http, auth, "client", "create", {**new, "name": "bob", "traffic": str(10**30)}), 400)
    _err(await _manage(http, auth, "client", "explode", {}), 400, "unknown")
    _err(await http.post("/api/manage", headers=auth, json={"resource": "client", "action": "create",
                                                            "data": "nope"}), 400, "data")

    got = _ok(await _manage(http, auth, "client", "get_config", {"name": "alice"}),
              "Client config retrieved successfully.")
    assert got["config"] == config
    _err(await _manage(http, auth, "client", "get_config", {"name": "nobody"}), 404, "not found")

    _ok(await _manage(http, auth, "client", "update", {"name": "alice", "traffic": str(20 * GIB), "status": False,
                                                       "note": "paused", "expires": "2098-01-01T00:00:00"}),
        "Client 'alice' edited successfully.")
    _err(await _manage(http, auth, "client", "update", {"name": "alice", "status": "maybe"}), 400, "status")
    _err(await _manage(http, auth, "client", "update", {"name": "ghost", "note": "x"}), 404)

    everything = _ok(await http.get("/api/data", headers=auth), "All data retrieved successfully.")
    alice = next(c for c in everything["clients"] if c["name"] == "alice")
    assert alice["status"] is False and alice["note"] == "paused" and alice["traffic"] == str(20 * GIB)
    assert alice["expires"] == "2098-01-01T00:00:00" and alice["wg"] == 0
    assert alice["public_key"] == public and alice["private_key"] == private and alice["address"].startswith("10.0.0.")
    old_timer = next(c for c in everything["clients"] if c["name"] == "old-timer")
    assert old_timer["status"] is False and old_timer["expires"] == "2025-12-31T23:59:59"
    assert set(alice["used_trafic"]) == {"download", "upload"} and alice["connected_now"] is False
    (wg0,) = [i for i in everything["interfaces"] if i["wg"] == 0]
    assert wg0["port"] == 51820 and wg0["address_range"] == "10.0.0.0/24" and wg0["status"] is True
    assert _wg_pubkey(wg0["private_key"]) == wg0["public_key"] == server_public
    dashboard = everything["dashboard"]
    assert {"cpu", "mem", "clients_count", "status", "alert", "bandwidth", "uptime", "net"} <= set(dashboard)
    settings = everything["settings"]
    assert settings["server_ip"] == "203.0.113.7" and settings["install"] == "1"
    assert settings["telegram_bot_admin_id"] == str(ADMIN_TG) and PASSWORD not in str(everything)

    _ok(await _manage(http, auth, "client", "update", {"name": "alice", "status": True}))
    _ok(await _manage(http, auth, "client", "delete", {"name": "alice"}), "Client 'alice' deleted successfully.")
    _err(await _manage(http, auth, "client", "get_config", {"name": "alice"}), 404)
    _err(await _manage(http, auth, "client", "delete", {"name": "alice"}), 404)
    # the name is free again
    _ok(await _manage(http, auth, "client", "create", {**new, "traffic": "0"}))
    assert (await http.get("/api/data")).status_code == 401


# ------------------------------------------------------------------------------------------ interfaces
async def test_interfaces_create_update_delete(http: httpx.AsyncClient) -> None:
    auth = await _token(http)
    _ok(await _manage(http, auth, "interface", "create", {"address_range": "10.0.1.1/24", "port": 51821}),
        "New Interface Created!")
    _err(await _manage(http, auth, "interface", "create", {"address_range": "10.0.2.1/24", "port": 51821}), 400,
         "already used")
    _err(await _manage(http, auth, "interface", "create", {"address_range": "10.0.2.1/24", "port": 70000}), 400)
    _ok(await _manage(http, auth, "interface", "update", {"name": "wg1", "port": 51822, "status": False}),
        "Interface 'wg1' edited successfully.")
    _err(await _manage(http, auth, "interface", "update", {"name": "wg9", "port": 51823}), 404)
    _err(await _manage(http, auth, "interface", "update", {"name": "eth0"}), 400, "name")
    interfaces = _ok(await http.get("/api/data", headers=auth))["interfaces"]
    wg1 = next(i for i in interfaces if i["wg"] == 1)
    assert wg1["port"] == 51822 and wg1["status"] is False and wg1["address_range"] == "10.0.1.0/24"
    # a stopped interface takes no clients; a started one does, and deleting it takes its clients along
    _err(await _manage(http, auth, "client", "create", {"name": "on-wg1", "expires": "2099-01-01T00:00:00",
                                                        "traffic": "1000", "wg_id": 1}), 400, "stopped")
    _ok(await _manage(http, auth, "interface", "update", {"name": "wg1", "status": True}))
    _ok(await _manage(http, auth, "client", "create", {"name": "on-wg1", "expires": "2099-01-01T00:00:00",
                                                       "traffic": "1000", "wg_id": 1}))
    _ok(await _manage(http, auth, "interface", "delete", {"wg_id": 1}),
        "Interface wg1 and all associated clients deleted successfully.")
    _err(await _manage(http, auth, "client", "get_config", {"name": "on-wg1"}), 404)
    _err(await _manage(http, auth, "interface", "delete", {"wg_id": 1}), 404)
    _err(await _manage(http, auth, "interface", "delete", {"wg_id": "one"}), 400)
    assert all(i["wg"] != 1 for i in _ok(await http.get("/api/data", headers=auth))["interfaces"])


# ------------------------------------------------------------------------------------------ settings, tokens, sync
async def test_settings_api_tokens_and_sync(http: httpx.AsyncClient) -> None:
    auth = await _token(http)
    _ok(await _manage(http, auth, "setting", "update", {"key": "prices", "value": '{"1GB": 5000, "1Month": 80000}'}),
        "Changed!")
    _ok(await _manage(http, auth, "setting", "update", {"key": "admin_card_number", "value": "6037-9974-0000-1234"}))
    _ok(await _manage(http, auth, "setting", "update", {"key": "dns", "value": "1.1.1.1,9.9.9.9"}))
    _err(await _manage(http, auth, "setting", "update", {"key": "prices", "value": "{\"1GB\": -1}"}), 400, "prices")
    _err(await _manage(http, auth, "setting", "update", {"key": "install", "value": "0"}), 400, "cannot be changed")
    _err(await _manage(http, auth, "setting", "update", {"key": "mtu", "value": "huge"}), 400, "mtu")
    _err(await _manage(http, auth, "setting", "update", {"key": "dns"}), 400, "value")
    settings = _ok(await http.get("/api/data", headers=auth))["settings"]
    assert settings["prices"] == '{"1GB": 5000, "1Month": 80000}' and settings["dns"] == "1.1.1.1,9.9.9.9"
    assert settings["admin_card_number"] == "6037-9974-0000-1234"
    config = _ok(await _manage(http, auth, "client", "create", {"name": "dns-check", "expires": "2099-01-01T00:00:00",
                                                                "traffic": "1000"}))["client_config"]
    assert "DNS = 1.1.1.1, 9.9.9.9" in config

    # the bot admin is the telegram_bot_admin_id setting once set (VPNSMM_TELEGRAM_ADMIN_ID until then)
    _ok(await _manage(http, auth, "setting", "update", {"key": "telegram_bot_admin_id", "value": "555000111"}))
    assert _ok(await _bot(http, "admin/check_admin", {"telegram_id": 555000111}))["is_admin"] is True
    assert _ok(await _bot(http, "admin/check_admin", {"telegram_id": ADMIN_TG}))["is_admin"] is False
    _err(await _manage(http, auth, "setting", "update", {"key": "telegram_bot_admin_id", "value": "@boss"}), 400)
    _ok(await _manage(http, auth, "setting", "update", {"key": "telegram_bot_admin_id", "value": ADMIN_TG}))
    assert _ok(await _bot(http, "admin/check_admin", {"telegram_id": str(ADMIN_TG)}))["is_admin"] is True

    token = "a_long_random_string_for_api_access"
    _ok(await _manage(http, auth, "api_token", "create_or_update", {"name": "my_app_token", "token": token}),
        "API token 'my_app_token' added/updated successfully.")
    _err(await _manage(http, auth, "api_token", "create_or_update", {"name": "short", "token": "abc"}), 400, "token")
    by_token = {"Authorization": f"Bearer {token}"}
    assert "my_app_token" in _ok(await http.get("/api/data", headers=by_token))["settings"]["api_tokens"]
    assert token not in (await http.get("/api/data", headers=by_token)).text
    _ok(await _manage(http, by_token, "sync", "trigger"), "Synchronization process initiated successfully.")
    _ok(await _manage(http, auth, "api_token", "delete", {"name": "my_app_token"}),
        "API token 'my_app_token' deleted successfully.")
    _err(await http.get("/api/data", headers=by_token), 401)
    _err(await _manage(http, auth, "api_token", "delete", {"name": "my_app_token"}), 404)


# ------------------------------------------------------------------------------------------ the bot
@needs_wg
async def test_card_to_card_purchase_approved_once_creates_one_wireguard_client(http: httpx.AsyncClient) -> None:
    auth = await _token(http)
    assert _ok(await _bot(http, "user/register", {"telegram_id": USER_TG}), "User registered successfully.") == {
        "registered": True}
    assert _ok(await _bot(http, "user/register", {"telegram_id": USER_TG}))["registered"] is True
    _err(await _bot(http, "user/register", {"telegram_id": "abc"}), 400, "telegram_id")
    _err(await _bot(http, "user/register", {}), 400, "telegram_id")
    _err(await _bot(http, "user/register", {"telegram_id": 2**70}), 400, "telegram_id")
    _err(await _bot(http, "user/register", {"telegram_id": True}), 400, "telegram_id")
    _err(await http.post("/bot_api/user/register", content=b"[1, 2]",
                         headers={"content-type": "application/json"}), 400, "object")
    _err(await _bot(http, "user/get_license", {"telegram_id": 555}), 404, "not registered")
    _err(await _bot(http, "user/get_license", {"telegram_id": USER_TG}), 404, "license")

    quote = _ok(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "gb",
                                                             "quantity": 10}))
    assert quote["calculated_amount"] == 50000.0 and quote["prices"] == {"1GB": 5000, "1Month": 80000}
    assert quote["admin_card_number"] == "6037-9974-0000-1234" and quote["admin_telegram_id"] == str(ADMIN_TG)
    _err(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "tb",
                                                      "quantity": 1}), 400, "purchase_type")
    _err(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "gb",
                                                      "quantity": -3}), 400, "quantity")
    _err(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "gb",
                                                      "quantity": 10**20}), 400, "quantity")
    _err(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "gb", "quantity": 1,
                                                      "order_id": "bad id with spaces", "card_number_sent": "x"}),
         400, "order_id")
    order = {"telegram_id": USER_TG, "purchase_type": "gb", "quantity": 10, "order_id": "ORDER123",
             "card_number_sent": "User confirmed payment"}
    submitted = _ok(await _bot(http, "user/buy_traffic_request", order),
                    "Purchase request submitted. Admin will review.")
    assert submitted["calculated_amount"] == 50000.0
    _ok(await _bot(http, "user/buy_traffic_request", order))  # the same submission again: same order
    _err(await _bot(http, "user/buy_traffic_request", {**order, "quantity": 11}), 400, "order_id")

    # only the configured Telegram admin may review
    _err(await _bot(http, "admin/get_transactions", {"telegram_id": USER_TG}), 403)
    _err(await _bot(http, "admin/approve_transaction", {"telegram_id": USER_TG, "order_id": "ORDER123"}), 403)
    check = _ok(await _bot(http, "admin/check_admin", {"telegram_id": USER_TG}), "Admin status checked.")
    assert check == {"is_admin": False, "admin_telegram_id": str(ADMIN_TG)}
    assert _ok(await _bot(http, "admin/check_admin", {"telegram_id": ADMIN_TG}))["is_admin"] is True

    pending = _ok(await _bot(http, "admin/get_transactions", {"telegram_id": ADMIN_TG, "status_filter": "pending"}))
    (tx,) = [t for t in pending["transactions"] if t["order_id"] == "ORDER123"]
    assert tx == {"order_id": "ORDER123", "telegram_id": USER_TG, "amount": 50000.0,
                  "card_number_sent": "User confirmed payment", "status": "pending",
                  "requested_at": tx["requested_at"], "approved_at": None, "admin_note": None,
                  "purchase_type": "gb", "quantity": 10.0}
    _err(await _bot(http, "admin/get_transactions", {"telegram_id": ADMIN_TG, "status_filter": "weird"}), 400)
    _err(await _bot(http, "admin/approve_transaction", {"telegram_id": ADMIN_TG, "order_id": "NOPE"}), 404)

    approved = _ok(await _bot(http, "admin/approve_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER123",
                                                                  "admin_note": "Payment confirmed"}))
    name = approved["client_name"]
    assert name.startswith(f"user_{USER_TG}_") and approved["telegram_id"] == USER_TG
    config = approved["client_config"]
    assert config.startswith("[Interface]")
    public = _wg_pubkey(_conf_value(config, "PrivateKey"))
    again = _ok(await _bot(http, "admin/approve_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER123"}))
    assert again["client_name"] == name and again["client_config"] == config
    _err(await _bot(http, "admin/reject_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER123"}), 400,
         "approved")

    license_ = _ok(await _bot(http, "user/get_license", {"telegram_id": USER_TG}), "Your WireGuard configuration:")
    assert license_["config"] == config
    status = _ok(await _bot(http, "user/account_status", {"telegram_id": USER_TG}), "Your account status:")
    assert status["status"] == "active" and status["traffic_bought_gb"] == 10.0
    assert status["traffic_limit_bytes"] == 10 * GIB and status["candy_client_name"] == name
    assert 364 <= status["time_bought_days"] <= 366
    clients = _ok(await http.get("/api/data", headers=auth))["clients"]
    assert [c["public_key"] for c in clients if c["name"] == name] == [public]

    # exactly one credit and one charge: the wallet nets to zero, one account, one paid payment
    users = (await http.get("/v1/admin/users", headers=auth, params={"search": f"tg_{USER_TG}"})).json()["items"]
    user_id = users[0]["id"]
    wallets = (await http.get(f"/v1/admin/wallets/{user_id}", headers=auth)).json()
    assert [w["balance"]["amount_minor"] for w in wallets] == [0]
    accounts = (await http.get("/v1/admin/vpn/accounts", headers=auth, params={"user_id": user_id})).json()
    assert len(accounts) == 1

    # a second purchase (a month) extends the same client instead of creating another
    _ok(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "month",
                                                      "quantity": 1, "order_id": "ORDER124",
                                                      "card_number_sent": "paid from 6037 **** 4321"}))
    second = _ok(await _bot(http, "admin/approve_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER124"}))
    assert second["client_name"] == name
    later = _ok(await _bot(http, "user/account_status", {"telegram_id": USER_TG}))
    assert later["expires"] > status["expires"]
    assert len((await http.get("/v1/admin/vpn/accounts", headers=auth, params={"user_id": user_id})).json()) == 1

    # a rejection is final
    _ok(await _bot(http, "user/buy_traffic_request", {"telegram_id": USER_TG, "purchase_type": "gb", "quantity": 1,
                                                      "order_id": "ORDER125", "card_number_sent": "sent"}))
    rejected = _ok(await _bot(http, "admin/reject_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER125",
                                                                 "admin_note": "Insufficient funds."}),
                   "Transaction ORDER125 rejected.")
    assert rejected == {"telegram_id": USER_TG}
    _ok(await _bot(http, "admin/reject_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER125"}))
    _err(await _bot(http, "admin/approve_transaction", {"telegram_id": ADMIN_TG, "order_id": "ORDER125"}), 400,
         "rejected")
    every = _ok(await _bot(http, "admin/get_transactions", {"telegram_id": ADMIN_TG}))["transactions"]
    by_id = {t["order_id"]: t for t in every}
    assert by_id["ORDER123"]["status"] == "approved" and by_id["ORDER123"]["admin_note"] == "Payment confirmed"
    assert by_id["ORDER123"]["approved_at"] is not None
    assert by_id["ORDER125"]["status"] == "rejected" and by_id["ORDER125"]["admin_note"] == "Insufficient funds."
    approved_only = _ok(await _bot(http, "admin/get_transactions", {"telegram_id": ADMIN_TG,
                                                                    "status_filter": "approved"}))["transactions"]
    assert {t["order_id"] for t in approved_only} == {"ORDER123", "ORDER124"}
    assert (await http.get(f"/v1/admin/wallets/{user_id}", headers=auth)).json()[0]["balance"]["amount_minor"] == 0


async def test_admin_management_broadcast_support_and_server_control(http: httpx.AsyncClient) -> None:
    _ok(await _bot(http, "user/register", {"telegram_id": OTHER_TG}))
    users = _ok(await _bot(http, "admin/get_all_users", {"telegram_id": ADMIN_TG}), "All bot users retrieved.")
    by_tg = {u["telegram_id"]: u for u in users["users"]}
    assert by_tg[OTHER_TG]["candy_client_name"] is None and by_tg[OTHER_TG]["status"] == "active"
    assert set(by_tg[OTHER_TG]) == {"telegram_id", "candy_client_name", "traffic_bought_gb", "time_bought_days",
                                    "status", "is_admin", "created_at"}
    _err(await _bot(http, "admin/get_all_users", {"telegram_id": OTHER_TG}), 403)

    manage = {"admin_telegram_id": ADMIN_TG, "target_telegram_id": USER_TG}
    if by_tg.get(USER_TG, {}).get("candy_client_name"):  # the purchase test ran (wireguard-tools present)
        _ok(await _bot(http, "admin/manage_user", {**manage, "action": "update_traffic", "value": 50}))
        status = _ok(await _bot(http, "user/account_status", {"telegram_id": USER_TG}))
        assert status["traffic_limit_bytes"] == 50 * GIB
        _ok(await _bot(http, "admin/manage_user", {**manage, "action": "update_time", "value": 30}))
    _err(await _bot(http, "admin/manage_user", {**manage, "target_telegram_id": OTHER_TG, "action": "update_time",
                                                "value": 30}), 404, "no client")
    _err(await _bot(http, "admin/manage_user", {**manage, "action": "update_time", "value": "x"}), 400)
    _err(await _bot(http, "admin/manage_user", {**manage, "action": "explode"}), 400, "action")
    _err(await _bot(http, "admin/manage_user", {**manage, "admin_telegram_id": OTHER_TG, "action": "ban"}), 403)
    _ok(await _bot(http, "admin/manage_user", {**manage, "target_telegram_id": OTHER_TG, "action": "ban"}),
        f"User {OTHER_TG} has been banned.")
    _err(await _bot(http, "user/account_status", {"telegram_id": OTHER_TG}), 403, "banned")
    broadcast = _ok(await _bot(http, "admin/send_message_to_all", {"telegram_id": ADMIN_TG,
                                                                   "message": "Maintenance at 2 AM UTC."}),
                    "Broadcast message prepared.")
    assert USER_TG in broadcast["target_user_ids"] and OTHER_TG not in broadcast["target_user_ids"]
    assert broadcast["message"] == "Maintenance at 2 AM UTC."
    _ok(await _bot(http, "admin/manage_user", {**manage, "target_telegram_id": OTHER_TG, "action": "unban"}),
        f"User {OTHER_TG} has been unbanned.")
    _err(await _bot(http, "admin/send_message_to_all", {"telegram_id": ADMIN_TG, "message": ""}), 400, "message")

    support = _ok(await _bot(http, "user/call_support", {"telegram_id": OTHER_TG,
                                                         "message": "My internet is very slow."}),
                  "Your message has been sent to support.")
    assert support == {"admin_telegram_id": str(ADMIN_TG), "support_message":
                       f"Support request from User {OTHER_TG} (ID: {OTHER_TG}):\n\nMy internet is very slow."}
    _err(await _bot(http, "user/call_support", {"telegram_id": OTHER_TG, "message": "x" * 5000}), 400)

    control = {"admin_telegram_id": ADMIN_TG, "resource": "client", "action": "create",
               "data": {"name": "new_client", "expires": "2099-01-01T00:00:00", "traffic": "10737418240"}}
    created = await _bot(http, "admin/server_control", control)
    assert _ok(created, "CandyPanel: Client created successfully!")["client_config"].startswith("[Interface]")
    message = _err(await _bot(http, "admin/server_control", control), 400)
    assert message.startswith("CandyPanel Error:") and "already exists" in message
    _err(await _bot(http, "admin/server_control", {**control, "resource": "reactor", "action": "meltdown"}), 400,
         "CandyPanel Error")
    _err(await _bot(http, "admin/server_control", {**control, "admin_telegram_id": OTHER_TG}), 403)
    _ok(await _bot(http, "admin/server_control", {"admin_telegram_id": ADMIN_TG, "resource": "sync",
                                                  "action": "trigger"}), "CandyPanel: Synchronization process "
                                                                         "initiated successfully.")


async def test_every_documented_endpoint_answers(http: httpx.AsyncClient) -> None:
    for method, path in DOCUMENTED:
        r = await http.request(method, path, json={} if method == "POST" else None)
        assert r.status_code not in (404, 405) or r.json().get("success") is False, (method, path, r.status_code)
        assert r.status_code != 405 and r.status_code < 500, (method, path, r.text)
        if path != "/check":
            assert isinstance(r.json().get("success"), bool), (method, path, r.text)


async def test_native_api_keeps_working(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).status_code == 200
    assert (await http.get("/v1/plans")).status_code == 200
    schema = await http.get("/schema/openapi.json")
    assert schema.status_code == 200 and "/bot_api/admin/approve_transaction" in schema.json()["paths"]
    problem = await http.get("/v1/me")
    assert problem.status_code == 401 and problem.headers["content-type"].startswith("application/problem+json")
