"""Marzban specifics: re-login on 401, the reset quirk, error bodies (404/409/422), units, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.integration.panels.harness import World, marzban_world
from vpnsmm.adapters.panels.marzban import MarzbanPanel
from vpnsmm.domain.errors import AuthenticationError, UpstreamRejectedError, ValidationError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus

EXPIRES = datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)
SPEC = ClientSpec("acc-9", ClientLimits(traffic_limit_bytes=10**9, expires_at=EXPIRES))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = marzban_world()
    yield w
    await w.closers[0].aclose()


def http_of(w: World) -> httpx.AsyncClient:
    client: httpx.AsyncClient = w.closers[0]
    return client


async def token(w: World) -> dict[str, str]:
    got = await http_of(w).post("/api/admin/token", data={"username": "admin", "password": "secret"})
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


async def test_relogs_in_once_on_401(world: World) -> None:
    await world.panel.ensure_client(SPEC)
    world.state.expire_tokens()
    assert (await world.panel.get_client("acc-9")).status is ClientStatus.ACTIVE
    assert world.state.logins == 2


async def test_wrong_password_is_authentication_error(world: World) -> None:
    bad = MarzbanPanel(http_of(world), "admin", "wrong")
    with pytest.raises(AuthenticationError, match="Incorrect username or password"):
        await bad.status()


async def test_wire_units_are_unix_seconds_and_bytes(world: World) -> None:
    await world.panel.ensure_client(SPEC)
    stored = world.state.users["acc-9"]
    assert stored["expire"] == int(EXPIRES.timestamp())
    assert stored["data_limit"] == 10**9
    assert stored["proxies"]["vless"]["flow"] == "xtls-rprx-vision"
    await world.panel.update_limits("acc-9", traffic_limit_bytes=None, expires_at=None, device_limit=5)
    assert (stored["expire"], stored["data_limit"]) == (None, None)  # 0 on the wire = never / unlimited


async def test_fake_reproduces_the_reset_quirk_and_the_adapter_undoes_it(world: World) -> None:
    headers = await token(world)
    http = http_of(world)
    await http.post("/api/user", json={"username": "raw_user", "proxies": {"vless": {}}}, headers=headers)
    await http.put("/api/user/raw_user", json={"status": "disabled"}, headers=headers)
    raw = await http.post("/api/user/raw_user/reset", headers=headers)
    assert raw.json()["status"] == "active"  # upstream bug, reproduced on purpose

    await world.panel.ensure_client(SPEC)
    await world.panel.disable("acc-9")
    world.state.request_log.clear()
    after = await world.panel.reset_traffic("acc-9")
    assert after.status is ClientStatus.DISABLED
    assert ("PUT", "/api/user/acc-9") in world.state.request_log  # re-disabled right after the reset


async def test_error_bodies(world: World) -> None:
    headers = await token(world)
    http = http_of(world)
    missing = await http.get("/api/user/nobody", headers=headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "User not found"})
    body = {"username": "dupe", "proxies": {"vless": {}}}
    await http.post("/api/user", json=body, headers=headers)
    clash = await http.post("/api/user", json={**body, "username": "DUPE"}, headers=headers)
    assert (clash.status_code, clash.json()) == (409, {"detail": "User already exists"})
    invalid = await http.post("/api/user", json={"username": "x", "proxies": {}}, headers=headers)
    assert invalid.status_code == 422
    assert set(invalid.json()["detail"]) == {"username", "proxies"}
    unauth = await http.get("/api/users")
    assert (unauth.status_code, unauth.json()) == (401, {"detail": "Not authenticated"})


async def test_409_on_create_is_absorbed_and_422_400_are_mapped(world: World) -> None:
    headers = await token(world)
    # Created behind the adapter's back between its GET and its POST: simulated by a stale lookup.
    await http_of(world).post("/api/user", json={"username": "acc-9", "proxies": {"vless": {}}}, headers=headers)
    got = await world.panel.ensure_client(SPEC)
    assert got.limits.traffic_limit_bytes == 10**9 and len(world.state.users) == 1

    bad_tag = MarzbanPanel(http_of(world), "admin", "secret", inbounds={"vless": ["NOPE"]})
    with pytest.raises(ValidationError) as info:
        await bad_tag.ensure_client(ClientSpec("acc-10"))
    assert info.value.field == "inbounds"
    disabled_proto = MarzbanPanel(http_of(world), "admin", "secret", proxies={"shadowsocks": {}})
    with pytest.raises(UpstreamRejectedError, match="disabled on your server"):
        await disabled_proto.ensure_client(ClientSpec("acc-11"))


async def test_subscription_url_is_made_absolute_and_rotates(world: World) -> None:
    first = await world.panel.ensure_client(SPEC)
    assert first.subscription_url is not None
    assert first.subscription_url.startswith("https://marzban.example.com/sub/")
    rotated = await world.panel.rotate_credentials("acc-9")
    assert rotated.links != first.links


async def test_usage_pages_with_offset_and_limit(world: World) -> None:
    for i in range(7):
        await world.panel.ensure_client(ClientSpec(f"acc-{i}"))
        world.state.add_traffic(f"acc-{i}", i)
    world.state.request_log.clear()
    pages = [list(p) async for p in world.panel.usage(page_size=3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert {s.key: (s.upload_bytes, s.download_bytes) for p in pages for s in p} == {
        f"acc-{i}": (0, i) for i in range(7)}
    assert [path for _, path in world.state.request_log] == ["/api/users"] * 3
