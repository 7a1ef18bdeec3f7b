"""VPN selling end to end over a real socket (the real ``vpnsmm serve``): register, fund the wallet by an admin
adjustment, buy a plan on a render-only WireGuard server, fetch the config and check with the real ``wg pubkey``
that its PrivateKey belongs to the peer the server config lists; the subscription feed in every format."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("vpn")
    env: dict[str, str] = {}
    if request.param == "postgres":
        with temporary_postgres_database() as db_url:
            env["VPNSMM_DATABASE_URL"] = db_url
            yield from _run(data_dir, env)
    else:
        yield from _run(data_dir, env)


def _run(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    full.update({"VPNSMM_DATA_DIR": str(data_dir), **env})
    created = subprocess.run([sys.executable, "-m", "vpnsmm", "users", "create", "boss", "--role", "admin",
                              "--password-stdin"], input="boss password\n", text=True, capture_output=True,
                             env=full, check=False, timeout=60)
    assert created.returncode == 0, created.stderr
    with running_server(data_dir, env=env) as url:
        yield url


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        yield client


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of the QR code of ``text`` with our settings (border 2), computed independently of the API."""
    import qrcode

    code = qrcode.QRCode(border=2)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_modules(png_bytes: bytes, box: int = 8) -> list[list[bool]]:
    """Decode a PNG (pypng) and sample one pixel per ``box`` x ``box`` module: dark = True."""
    import png

    width, height, rows, info = png.Reader(bytes=png_bytes).read()
    pixels = [list(r) for r in rows]
    channels, white = len(pixels[0]) // width, 2 ** info["bitdepth"] - 1
    assert width == height and width % box == 0
    return [[pixels[y * box + box // 2][(x * box + box // 2) * channels] * 2 < white for x in range(width // box)]
            for y in range(height // box)]


async def _login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _customer(http: httpx.AsyncClient, admin: dict[str, str], name: str) -> dict[str, str]:
    response = await http.post("/v1/auth/register", json={"username": name, "password": "customer password"})
    assert response.status_code == 201, response.text
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = (await http.get("/v1/me", headers=auth)).json()
    funded = await http.post(f"/v1/admin/wallets/{me['id']}/adjust", headers=admin, json={
        "amount": "5000000", "currency": "IRR", "reason": "e2e funds", "idempotency_key": f"fund-{name}"})
    assert funded.status_code == 201, funded.text
    return auth


async def _setup(http: httpx.AsyncClient, admin: dict[str, str], kind: str, name: str,
                 settings: dict[str, object], group: str) -> tuple[int, int]:
    server = await http.post("/v1/admin/vpn/servers", headers=admin, json={
        "kind": kind, "name": name, "address": f"{name}.e2e.test:51820", "settings": settings, "group": group,
        "location": "Test"})
    assert server.status_code == 201, server.text
    assert "credentials" not in server.json()
    plan = await http.post("/v1/admin/vpn/plans", headers=admin, json={
        "name": f"{name} monthly", "prices": {"IRR": "1500000"}, "duration_days": 30, "traffic_gb": 20,
        "server_group": group, "extra_gb_prices": {"IRR": "40000"}})
    assert plan.status_code == 201, plan.text
    return int(server.json()["id"]), int(plan.json()["id"])


@pytest.mark.skipif(shutil.which("wg") is None, reason="wireguard-tools not installed")
async def test_buy_a_wireguard_plan_and_verify_the_keys_with_wg(http: httpx.AsyncClient) -> None:
    admin = await _login(http, "boss", "boss password")
    server_id, plan_id = await _setup(http, admin, "wireguard", "wg-e2e",
                                      {"render_only": True, "ipv4_network": "10.77.0.0/24"}, "wg")
    auth = await _customer(http, admin, "wg-buyer")
    assert any(p["id"] == plan_id for p in (await http.get("/v1/plans")).json())
    assert any(s["name"] == "wg-e2e" for s in (await http.get("/v1/servers")).json())

    bought = await http.post("/v1/vpn/purchase", headers=auth, json={"plan_id": plan_id, "currency": "IRR"})
    assert bought.status_code == 201, bought.text
    body = bought.json()
    assert body["invoice"]["status"] == "fulfilled" and body["account_id"], body
    account_id = body["account_id"]
    wallet = (await http.get("/v1/wallet", headers=auth)).json()
    assert wallet[0]["balance"]["amount_minor"] == 3_500_000

    config = await http.get(f"/v1/vpn/accounts/{account_id}/config", headers=auth)
    assert config.status_code == 200, config.text
    conf = config.json()["wireguard_config"]
    private_key = next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.startswith("PrivateKey"))
    public = subprocess.run(["wg", "pubkey"], input=private_key + "\n", capture_output=True, text=True, check=True,
                            timeout=10).stdout.strip()
    server_conf = await http.get(f"/v1/admin/vpn/servers/{server_id}/wireguard-config", headers=admin)
    assert server_conf.status_code == 200, server_conf.text
    assert f"# Client: acc-{account_id}\nPublicKey = {public}\n" in server_conf.text
    # the client config also names the interface's public key, which wg derives from the server's private key
    server_private = next(line.split("=", 1)[1].strip() for line in server_conf.text.splitlines()
                          if line.startswith("PrivateKey"))
    server_public = subprocess.run(["wg", "pubkey"], input=server_private + "\n", capture_output=True, text=True,
                                   check=True, timeout=10).stdout.strip()
    assert f"PublicKey = {server_public}" in conf

    feed = await http.get(httpx.URL(config.json()["subscription_url"]).path)
    assert feed.status_code == 200 and feed.text == conf
    assert feed.headers["subscription-userinfo"].startswith("upload=0; download=0; total=21474836480; expire=")
    qr = await http.get(f"/v1/vpn/accounts/{account_id}/qr", headers=auth)
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml") and "<svg" in qr.text

    # another customer cannot see it; revoking stops the feed
    other = await _customer(http, admin, "wg-other")
    assert (await http.get(f"/v1/vpn/accounts/{account_id}", headers=other)).status_code == 404
    revoked = await http.post(f"/v1/vpn/accounts/{account_id}/revoke", headers=auth)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert (await http.get(httpx.URL(config.json()["subscription_url"]).path)).status_code == 404


async def test_fake_panel_accounts_feed_every_format_and_top_ups(http: httpx.AsyncClient) -> None:
    admin = await _login(http, "boss", "boss password")
    server_id, plan_id = await _setup(http, admin, "fake", "fake-e2e", {}, "fake")
    auth = await _customer(http, admin, "feed-buyer")
    bought = (await http.post("/v1/vpn/purchase", headers=auth, json={"plan_id": plan_id, "currency": "IRR"})).json()
    account_id = bought["account_id"]
    config = (await http.get(f"/v1/vpn/accounts/{account_id}/config", headers=auth)).json()
    path = httpx.URL(config["subscription_url"]).path
    plain = await http.get(path)
    assert base64.b64decode(plain.text).decode().strip() == config["links"][0]
    clash = await http.get(path, headers={"User-Agent": "ClashMeta/1.18"})
    assert clash.text.startswith("mixed-port") and '"type": "vless"' in clash.text
    singbox = json.loads((await http.get(path, params={"format": "singbox"})).text)
    assert singbox["outbounds"][1]["type"] == "vless"

    # QR codes: SVG (default) and PNG, of the subscription URL or of one share link; the PNG's modules are exactly
    # the QR matrix of the text it should carry
    qr_url = f"/v1/vpn/accounts/{account_id}/qr"
    png = await http.get(qr_url, params={"format": "png"}, headers=auth)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png", png.text
    assert qr_modules(png.content) == qr_matrix(config["subscription_url"])
    link_png = await http.get(qr_url, params={"format": "png", "link": 0}, headers=auth)
    assert qr_modules(link_png.content) == qr_matrix(config["links"][0])
    svg = await http.get(qr_url, params={"link": 0}, headers=auth)
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    assert (await http.get(qr_url, params={"format": "gif"}, headers=auth)).status_code == 400
    assert (await http.get(qr_url, params={"link": 5}, headers=auth)).status_code == 404
    assert (await http.get(qr_url, params={"link": -1}, headers=auth)).status_code == 400

    topped = await http.post(f"/v1/vpn/accounts/{account_id}/add-traffic", headers=auth,
                             json={"gb": 5, "currency": "IRR"})
    assert topped.status_code == 201, topped.text
    account = (await http.get(f"/v1/vpn/accounts/{account_id}", headers=auth)).json()
    assert account["traffic_limit_bytes"] == 25 * 1024**3
    renewed = await http.post(f"/v1/vpn/accounts/{account_id}/renew", headers=auth, json={"currency": "IRR"})
    assert renewed.status_code == 201 and renewed.json()["invoice"]["status"] == "fulfilled"
    again = await http.post(f"/v1/vpn/accounts/{account_id}/renew", headers=auth, json={"currency": "IRR"})
    assert again.status_code == 201  # 5,000,000 - 1,500,000 - 200,000 - 2 x 1,500,000 = 300,000 left
    short = await http.post(f"/v1/vpn/accounts/{account_id}/renew", headers=auth, json={"currency": "IRR"})
    assert short.status_code == 402, short.text
    status = await http.get(f"/v1/admin/vpn/servers/{server_id}/status", headers=admin)
    assert status.status_code == 200 and status.json()["online"] is True
    sync = await http.post(f"/v1/admin/vpn/servers/{server_id}/sync", headers=admin)
    assert sync.status_code == 200 and sync.json()["seen"] == 1
    disabled = await http.post(f"/v1/admin/vpn/accounts/{account_id}/disable", headers=admin)
    assert disabled.json()["status"] == "disabled"
    assert (await http.post(f"/v1/admin/vpn/accounts/{account_id}/disable", headers=auth)).status_code == 403


async def test_a_resellers_price_list_over_http(http: httpx.AsyncClient) -> None:
    admin = await _login(http, "boss", "boss password")
    server = await http.post("/v1/admin/vpn/servers", headers=admin, json={
        "kind": "fake", "name": "fake-prices", "address": "fake-prices.e2e.test", "group": "prices"})
    assert server.status_code == 201, server.text
    plan = await http.post("/v1/admin/vpn/plans", headers=admin, json={
        "name": "priced weekly", "prices": {"IRR": "1000000"}, "duration_days": 30, "traffic_gb": 5,
        "server_group": "prices", "extra_gb_prices": {"IRR": "40000"}, "traffic_reset": "week"})
    assert plan.status_code == 201, plan.text
    assert plan.json()["traffic_reset"] == "week"
    plan_id = plan.json()["id"]
    bad_reset = await http.post("/v1/admin/vpn/plans", headers=admin, json={
        "name": "bad", "prices": {"IRR": "1"}, "duration_days": 30, "traffic_reset": "hourly"})
    assert bad_reset.status_code == 400 and "traffic_reset" in bad_reset.text
    reseller = await _customer(http, admin, "price-reseller")
    me = (await http.get("/v1/me", headers=reseller)).json()
    url = f"/v1/admin/vpn/price-lists/{me['id']}"
    for body in ({"plan_id": plan_id, "discount_percent": "101"}, {"discount_percent": "abc"},
                 {"prices": {"IRR": "5"}}, {"plan_id": plan_id, "prices": {"XYZ": "5"}}):
        refused = await http.put(url, headers=admin, json=body)
        assert refused.status_code == 400, (body, refused.text)
    assert (await http.put(url, headers=reseller, json={"discount_percent": "50"})).status_code == 403
    entry = await http.put(url, headers=admin, json={"plan_id": plan_id, "discount_percent": "12.5",
                                                     "prices": {"IRR": "800000"}})
    assert entry.status_code == 200, entry.text
    assert entry.json()["discount_percent"] == "12.5"
    quote = (await http.get(f"/v1/vpn/plans/{plan_id}/price", params={"currency": "IRR"}, headers=reseller)).json()
    assert quote["price"]["amount_minor"] == 800000 and quote["public_price"]["amount_minor"] == 1000000
    assert quote["extra_gb_price"]["amount_minor"] == 35000  # 40,000 less 12.5 %
    bought = await http.post("/v1/vpn/purchase", headers=reseller, json={"plan_id": plan_id, "currency": "IRR"})
    assert bought.status_code == 201, bought.text
    assert bought.json()["invoice"]["amount"]["amount_minor"] == 800000
    account_id = bought.json()["account_id"]
    renewed = await http.post(f"/v1/vpn/accounts/{account_id}/renew", headers=reseller, json={"currency": "IRR"})
    assert renewed.json()["invoice"]["amount"]["amount_minor"] == 800000
    topped = await http.post(f"/v1/vpn/accounts/{account_id}/add-traffic", headers=reseller,
                             json={"gb": 2, "currency": "IRR"})
    assert topped.json()["invoice"]["amount"]["amount_minor"] == 70000
    assert [e["plan_id"] for e in (await http.get(url, headers=admin)).json()] == [plan_id]
    assert (await http.delete(url, headers=admin, params={"plan_id": plan_id})).status_code == 204
    assert (await http.delete(url, headers=admin, params={"plan_id": plan_id})).status_code == 404
    walk_in = (await http.get(f"/v1/vpn/plans/{plan_id}/price", params={"currency": "IRR"}, headers=reseller))
    assert walk_in.json()["price"]["amount_minor"] == 1000000
