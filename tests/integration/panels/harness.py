"""Builders shared by the panel contract suite and the adapter tests: each real adapter wired to its fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from attrs import define, evolve, field

from vpnsmm.adapters.panels.fake import FakeVpnPanel
from vpnsmm.adapters.panels.fake_marzban import FakeMarzbanState, create_fake_marzban_app
from vpnsmm.adapters.panels.fake_xui import FakeInbound, FakeXuiState, XuiGeneration, create_fake_xui_app
from vpnsmm.adapters.panels.marzban import MarzbanPanel
from vpnsmm.adapters.panels.wireguard import InMemoryPeerStore, WireGuardInterface, WireGuardPanel
from vpnsmm.adapters.panels.wireguard.keys import generate_private_key
from vpnsmm.adapters.panels.xui import XuiPanel
from vpnsmm.application.ports.vpn_panel import VpnPanel

GIB_PER = 2**30

REALITY = {
    "network": "tcp", "security": "reality",
    "realitySettings": {"serverNames": ["www.example.org"], "shortIds": ["6ba85179e30d4fc2"],
                        "settings": {"publicKey": "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM",
                                     "fingerprint": "chrome", "spiderX": "/"}},
}


@define
class Clock:
    current: datetime = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kw: float) -> None:
        self.current += timedelta(**kw)


@define
class World:
    """One implementation under test plus ways to look at / poke the 'panel side'."""

    name: str
    panel: VpnPanel
    clock: Clock
    count: Callable[[], int]  # clients on the panel itself
    add_traffic: Callable[[str, int, int], Any]
    state: Any = None
    closers: list[Any] = field(factory=list)


def xui_state(gen: XuiGeneration, clock: Clock, **kw: Any) -> FakeXuiState:
    state = FakeXuiState(generation=gen, now=clock, **kw)
    state.add_inbound(FakeInbound(id=1, protocol="vless", port=443, remark="reality", stream_settings=REALITY))
    return state


def xui_world(gen: XuiGeneration, *, api_token: str | None = None, base_path: str = "/AbCdEf") -> World:
    clock = Clock()
    state = xui_state(gen, clock, base_path=base_path, api_token=api_token)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_fake_xui_app(state)),
                             base_url="http://panel.test:2053")
    panel = XuiPanel(http, "admin", "admin", inbound_id=1, base_path=base_path, api_token=api_token,
                     public_host="vpn.example.com", subscription_base_url="https://sub.example.com:2096/sub/",
                     flow="xtls-rprx-vision", now=clock)

    async def add_traffic(key: str, up: int, down: int) -> None:
        state.add_traffic(key, up, down)

    return World(f"xui-{gen.value}", panel, clock, lambda: len(state.email_inbound), add_traffic, state, [http])


def marzban_world() -> World:
    clock = Clock()
    state = FakeMarzbanState(now=clock)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_fake_marzban_app(state)),
                             base_url="http://marzban.test:8000")
    panel = MarzbanPanel(http, "admin", "secret", proxies={"vless": {"flow": "xtls-rprx-vision"}},
                         subscription_base_url="https://marzban.example.com", now=clock)

    async def add_traffic(key: str, up: int, down: int) -> None:
        state.add_traffic(key, up + down)

    return World("marzban", panel, clock, lambda: len(state.users), add_traffic, state, [http])


def wg_interface(**kw: Any) -> WireGuardInterface:
    defaults: dict[str, Any] = {"name": "wg0", "private_key": generate_private_key(),
                                "endpoint": "vpn.example.com:51820", "ipv4_network": "10.8.0.0/24",
                                "ipv6_network": "fdcc:ad94:bacf:61a4::cafe:0/112"}
    defaults.update(kw)
    return WireGuardInterface(**defaults)


def wireguard_world() -> World:
    clock = Clock()
    store = InMemoryPeerStore()
    panel = WireGuardPanel(wg_interface(), store, None, now=clock)

    async def add_traffic(key: str, up: int, down: int) -> None:
        peer = await store.get(key)
        assert peer is not None
        # What a `wg show dump` read would have recorded: the kernel counters grew.
        await store.replace(evolve(peer, rx_bytes=peer.rx_bytes + up, tx_bytes=peer.tx_bytes + down))

    return World("wireguard", panel, clock, lambda: len(store._peers), add_traffic, store)


def fake_world() -> World:
    clock = Clock()
    panel = FakeVpnPanel(now=clock)

    async def add_traffic(key: str, up: int, down: int) -> None:
        panel.add_traffic(key, up, down)

    return World("fake", panel, clock, lambda: len(panel.clients), add_traffic, panel)


BUILDERS: dict[str, Callable[[], World]] = {
    "xui-legacy": lambda: xui_world(XuiGeneration.LEGACY),
    "xui-v2": lambda: xui_world(XuiGeneration.V2),
    "xui-v3": lambda: xui_world(XuiGeneration.V3),
    "xui-v3-token": lambda: xui_world(XuiGeneration.V3, api_token="tok-123"),
    "marzban": marzban_world,
    "wireguard": wireguard_world,
    "fake": fake_world,
}
