"""The fakes served by uvicorn on 127.0.0.1 and driven over a real socket (what e2e tests and demos do)."""

from __future__ import annotations

import httpx

from tests.integration.panels.harness import Clock, xui_state
from tests.support.asgi_server import serve
from vpnsmm.adapters.panels.fake_marzban import FakeMarzbanState, create_fake_marzban_app
from vpnsmm.adapters.panels.fake_xui import XuiGeneration, create_fake_xui_app
from vpnsmm.adapters.panels.marzban import MarzbanPanel
from vpnsmm.adapters.panels.xui import XuiApi, XuiPanel
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus


async def test_xui_and_marzban_over_a_real_socket() -> None:
    clock = Clock()
    xui = xui_state(XuiGeneration.V2, clock, base_path="/panel-path")
    marzban = FakeMarzbanState(now=clock)
    async with serve(create_fake_xui_app(xui)) as xui_url, serve(create_fake_marzban_app(marzban)) as mz_url, \
            httpx.AsyncClient(base_url=xui_url, timeout=5) as xui_http, \
            httpx.AsyncClient(base_url=mz_url, timeout=5) as mz_http:
        xp = XuiPanel(xui_http, "admin", "admin", inbound_id=1, base_path="/panel-path", now=clock)
        mp = MarzbanPanel(mz_http, "admin", "secret", now=clock)
        spec = ClientSpec("acc-1", ClientLimits(traffic_limit_bytes=2**30))
        for panel in (xp, mp):
            got = await panel.ensure_client(spec)
            assert got.status is ClientStatus.ACTIVE
            assert (await panel.ensure_client(spec)).remote_id == got.remote_id
            assert (await panel.status()).total_clients == 1
        assert await xp.api_generation() is XuiApi.V2
        xui.expire_sessions()  # cookie re-login across a real socket, with the cookie path = base path
        assert (await xp.disable("acc-1")).status is ClientStatus.DISABLED
        assert len(xui.email_inbound) == 1 and len(marzban.users) == 1
