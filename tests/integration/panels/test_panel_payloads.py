"""What a panel sends is checked at the adapter's edge: every well-formed payload vpnsmm.testing generates is read
correctly, and every malformed one is an UpstreamUnavailableError ("an answer we cannot parse", retried later),
never a crash, a wrong value or a ValidationError blamed on our caller."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpnsmm.adapters.panels.marzban import MarzbanPanel
from vpnsmm.adapters.panels.xui import XuiPanel
from vpnsmm.application.ports.vpn_panel import ProvisionedClient
from vpnsmm.domain.errors import NotFoundError, UpstreamUnavailableError
from vpnsmm.domain.vpn import ClientStatus
from vpnsmm.testing import (
    invalid_marzban_user_payloads,
    invalid_xui_client_payloads,
    marzban_user_payloads,
    xui_client_payloads,
)

KEY = "acc-7"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _marzban(user: Any) -> MarzbanPanel:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/admin/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})
        assert request.url.path == f"/api/user/{KEY}"
        return httpx.Response(200, json=user)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://marzban.test")
    return MarzbanPanel(client, "admin", "secret", subscription_base_url="https://sub.example.com")


def _xui(client_obj: Any) -> XuiPanel:
    inbound = {"id": 1, "protocol": "vless", "port": 443, "remark": "r", "listen": "",
               "streamSettings": json.dumps({"network": "tcp", "security": "none"}),
               "settings": json.dumps({"clients": [client_obj]}), "clientStats": []}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/login":
            return httpx.Response(200, json={"success": True, "msg": "", "obj": None})
        if path in ("/panel/api/clients/list/paged", "/panel/api/server/status"):
            return httpx.Response(404, text="not found")  # a legacy (<= 2.6) panel
        assert path == "/panel/api/inbounds/get/1", path
        return httpx.Response(200, json={"success": True, "msg": "", "obj": inbound})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://xui.test")
    return XuiPanel(client, "admin", "admin", inbound_id=1, public_host="vpn.example.com")


async def _read(panel: MarzbanPanel | XuiPanel) -> ProvisionedClient:
    return await panel.get_client(KEY)


@FAST
@given(marzban_user_payloads(username=st.just(KEY)))
def test_every_valid_marzban_user_is_read_with_its_units(user: dict[str, Any]) -> None:
    got = asyncio.run(_read(_marzban(user)))
    assert got.key == KEY and got.used_bytes == user["used_traffic"]
    assert got.limits.traffic_limit_bytes == (user["data_limit"] or None)
    expected = datetime.fromtimestamp(user["expire"], UTC) if user["expire"] else None
    assert got.limits.expires_at == expected
    assert got.enabled is (user["status"] != "disabled")
    if user["subscription_url"].startswith("/"):
        assert got.subscription_url == "https://sub.example.com" + user["subscription_url"]


@FAST
@given(invalid_marzban_user_payloads())
def test_every_malformed_marzban_user_is_an_unreadable_answer(user: Any) -> None:
    try:
        asyncio.run(_read(_marzban(user)))
    except UpstreamUnavailableError:
        return
    raise AssertionError(f"accepted a malformed user: {user!r}")


@FAST
@given(xui_client_payloads(email=st.just(KEY)))
def test_every_valid_xui_client_is_read_with_its_units(obj: dict[str, Any]) -> None:
    got = asyncio.run(_read(_xui(obj)))
    assert got.key == KEY and got.remote_id == obj["id"]
    assert got.limits.traffic_limit_bytes == (obj["totalGB"] or None)
    expiry = obj["expiryTime"]
    assert got.limits.expires_at == (datetime.fromtimestamp(expiry // 1000, UTC) if expiry > 0 else None)
    assert got.limits.device_limit == (obj["limitIp"] or None)
    if not obj["enable"]:
        assert got.status is not ClientStatus.ACTIVE
    assert got.links and got.links[0].startswith("vless://" + obj["id"])


@FAST
@given(invalid_xui_client_payloads())
def test_every_malformed_xui_client_is_an_unreadable_answer(obj: Any) -> None:
    not_ours = isinstance(obj, dict) and obj.get("email") != KEY  # an entry without our email is not our client
    try:
        asyncio.run(_read(_xui(obj)))
    except UpstreamUnavailableError:
        return
    except NotFoundError:
        assert not_ours, f"NotFoundError for a client carrying our email: {obj!r}"
        return
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} on {obj!r}: {exc}") from exc
    raise AssertionError(f"accepted a malformed client: {obj!r}")
