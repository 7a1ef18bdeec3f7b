"""3x-UI specifics: generation probing, re-login after session expiry, HTTP-200 business errors, wire units."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.panels.harness import GIB_PER, World, xui_world
from vpnsmm.adapters.panels.fake_xui import FakeInbound, XuiGeneration
from vpnsmm.adapters.panels.xui import XuiApi, XuiPanel
from vpnsmm.domain.errors import AuthenticationError, ConflictError, NotFoundError, UpstreamRejectedError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus

SPEC = ClientSpec("acc-7", ClientLimits(traffic_limit_bytes=30 * GIB_PER, device_limit=2), note="order 7")


@pytest.fixture(params=list(XuiGeneration))
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    w = xui_world(request.param)
    yield w
    await w.closers[0].aclose()


async def test_probing_detects_each_generation(world: World) -> None:
    assert isinstance(world.panel, XuiPanel)
    expected = {XuiGeneration.LEGACY: XuiApi.LEGACY, XuiGeneration.V2: XuiApi.V2, XuiGeneration.V3: XuiApi.V3}
    assert await world.panel.api_generation() is expected[world.state.generation]


async def test_relogs_in_transparently_after_the_session_expires(world: World) -> None:
    await world.panel.ensure_client(SPEC)
    logins = world.state.logins
    world.state.expire_sessions()
    got = await world.panel.get_client("acc-7")
    assert got.status is ClientStatus.ACTIVE
    assert world.state.logins == logins + 1


async def test_wire_units_are_bytes_and_milliseconds(world: World) -> None:
    from datetime import UTC, datetime

    expires = datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)
    await world.panel.ensure_client(ClientSpec("acc-7", ClientLimits(1234567890, expires, 3)))
    stored = world.state.inbounds[1].clients["acc-7"]
    assert stored["totalGB"] == 1234567890
    assert stored["expiryTime"] == int(expires.timestamp()) * 1000
    assert stored["limitIp"] == 3
    assert stored["reset"] == 0  # auto-renew stays off
    assert stored["flow"] == "xtls-rprx-vision"
    await world.panel.update_limits("acc-7", traffic_limit_bytes=None, expires_at=None, device_limit=None)
    stored = world.state.inbounds[1].clients["acc-7"]
    assert (stored["totalGB"], stored["expiryTime"], stored["limitIp"]) == (0, 0, 0)  # 0 = unlimited


async def test_links_and_subscription_url(world: World) -> None:
    client = await world.panel.ensure_client(SPEC)
    [link] = client.links
    assert link.startswith(f"vless://{client.remote_id}@vpn.example.com:443?")
    for part in ("security=reality", "pbk=E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM", "sid=6ba85179e30d4fc2",
                 "sni=www.example.org", "flow=xtls-rprx-vision", "fp=chrome"):
        assert part in link
    sub_id = world.state.inbounds[1].clients["acc-7"]["subId"]
    assert client.subscription_url == f"https://sub.example.com:2096/sub/{sub_id}"


async def test_key_taken_on_another_inbound_is_a_conflict_not_a_takeover(world: World) -> None:
    # 3x-UI emails are unique panel-wide; a client on another inbound is not ours to rewrite.
    other = world.state.add_inbound(FakeInbound(id=2, protocol="vless", port=8443))
    world.state.put_client(other, {"id": "11111111-1111-1111-1111-111111111111", "email": "acc-7"})
    with pytest.raises(ConflictError):
        await world.panel.ensure_client(SPEC)
    with pytest.raises(NotFoundError):
        await world.panel.get_client("acc-7")
    assert other.clients["acc-7"]["id"] == "11111111-1111-1111-1111-111111111111"
    assert not world.state.inbounds[1].clients


async def test_business_error_with_http_200_becomes_upstream_rejected(world: World) -> None:
    missing = XuiPanel(world.closers[0], "admin", "admin", inbound_id=99, base_path="/AbCdEf")
    with pytest.raises(UpstreamRejectedError, match="record not found"):
        await missing.ensure_client(SPEC)


async def test_fake_answers_duplicate_email_with_http_200() -> None:
    w = xui_world(XuiGeneration.V2, base_path="")
    http: httpx.AsyncClient = w.closers[0]
    await http.post("/login", data={"username": "admin", "password": "admin"})
    client = {"id": "9f0c0000-0000-0000-0000-000000000000", "email": "u1", "totalGB": 1, "expiryTime": 0}
    body = {"id": 1, "settings": json.dumps({"clients": [client]})}
    first = await http.post("/panel/api/inbounds/addClient", json=body, headers={"X-Requested-With": "XMLHttpRequest"})
    again = await http.post("/panel/api/inbounds/addClient", json=body, headers={"X-Requested-With": "XMLHttpRequest"})
    assert first.json()["success"] is True
    assert again.status_code == 200
    assert again.json() == {"success": False, "msg": "Something went wrong (Duplicate email: u1)", "obj": None}
    bad = {"id": 1, "settings": json.dumps({"clients": [{"email": "u2"}]})}
    empty = await http.post("/panel/api/inbounds/addClient", json=bad)
    assert empty.json()["msg"].endswith("(empty client ID)")
    await w.closers[0].aclose()


async def test_unauthenticated_shapes_per_generation() -> None:
    shapes = {XuiGeneration.LEGACY: (307, 401), XuiGeneration.V2: (404, 404), XuiGeneration.V3: (404, 401)}
    for gen, (plain, xhr) in shapes.items():
        w = xui_world(gen, base_path="")
        http: httpx.AsyncClient = w.closers[0]
        assert (await http.get("/panel/api/inbounds/list")).status_code == plain
        got = await http.get("/panel/api/inbounds/list", headers={"X-Requested-With": "XMLHttpRequest"})
        assert got.status_code == xhr
        await http.aclose()


async def test_v3_login_needs_csrf_and_bearer_token_skips_it() -> None:
    w = xui_world(XuiGeneration.V3, base_path="")
    http: httpx.AsyncClient = w.closers[0]
    refused = await http.post("/login", json={"username": "admin", "password": "admin"})
    assert refused.status_code == 403
    await w.panel.ensure_client(SPEC)  # the adapter fetches /csrf-token and retries
    assert w.state.logins >= 1
    await http.aclose()

    token_world = xui_world(XuiGeneration.V3, api_token="tok-123")
    await token_world.panel.ensure_client(SPEC)
    assert token_world.state.logins == 0
    await token_world.closers[0].aclose()


async def test_wrong_credentials_and_wrong_token_raise_authentication_error() -> None:
    w = xui_world(XuiGeneration.V2)
    bad = XuiPanel(w.closers[0], "admin", "nope", inbound_id=1, base_path="/AbCdEf")
    with pytest.raises(AuthenticationError):
        await bad.get_client("acc-7")
    t = xui_world(XuiGeneration.V3, api_token="tok-123")
    wrong = XuiPanel(t.closers[0], "admin", "admin", inbound_id=1, base_path="/AbCdEf", api_token="other")
    with pytest.raises(AuthenticationError):
        await wrong.get_client("acc-7")
    await w.closers[0].aclose()
    await t.closers[0].aclose()


async def test_ensure_after_a_lost_answer_does_not_duplicate(world: World) -> None:
    """The first add reached the panel but its answer was lost: the retry finds and updates the client."""
    await world.panel.ensure_client(SPEC)
    fresh = XuiPanel(world.closers[0], "admin", "admin", inbound_id=1, base_path="/AbCdEf")
    again = await fresh.ensure_client(SPEC)
    assert world.count() == 1
    assert again.remote_id == world.state.inbounds[1].clients["acc-7"]["id"]


async def test_trojan_inbound_uses_password_as_primary_key() -> None:
    w = xui_world(XuiGeneration.V2)
    w.state.inbounds[1] = FakeInbound(id=1, protocol="trojan", port=443)
    client = await w.panel.ensure_client(SPEC)
    assert client.links[0].startswith("trojan://")
    rotated = await w.panel.rotate_credentials("acc-7")
    assert rotated.remote_id != client.remote_id
    assert w.state.inbounds[1].clients["acc-7"]["password"] == rotated.remote_id
    await w.closers[0].aclose()
