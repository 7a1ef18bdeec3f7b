"""One VpnPanel per server row (3x-UI, Marzban, WireGuard or the in-process fake), and the sealing of panel
credentials at rest (Fernet, keyed by HKDF-SHA256 of the installation's secret key).

Panels are cached per server and rebuilt when the row changes (``updated_at``, address or credentials).
3x-UI and Marzban panels get their own pooled httpx client (base URL = ``server.address``); ``close()``
closes them. WireGuard peers live in the store ``peer_store_for(server_id)`` returns (SQL in production,
memory by default); a WireGuard server is render-only unless ``settings.render_only`` is false and the
``wg`` tool can drive its interface. A server of kind ``custom`` is built by the factory registered under its
``settings.adapter`` name (``custom={"acme": factory}``; ``factory(server, credentials)`` returns a VpnPanel),
which is how a library user plugs in a panel vpnsmm does not ship.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vpnsmm.adapters.panels.fake import FakeVpnPanel
from vpnsmm.adapters.panels.marzban import MarzbanPanel
from vpnsmm.adapters.panels.wireguard import (
    InMemoryPeerStore,
    WireGuardInterface,
    WireGuardPanel,
    WireGuardPeerStore,
    detect_runner,
    render_server_config,
)
from vpnsmm.adapters.panels.wireguard.keys import check_key, generate_private_key
from vpnsmm.adapters.panels.xui import XuiPanel
from vpnsmm.application.ports.vpn_panel import VpnPanel
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.vpn_sales import Server, ServerKind


class FernetSecretBox:
    """SecretBox with Fernet (AES-128-CBC + HMAC-SHA256). The key is derived from ``secret_key`` with HKDF, so
    rotating the installation secret makes stored credentials unreadable (re-enter them)."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to seal panel credentials")
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"vpnsmm", info=b"vpnsmm panel credentials v1"
                   ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def seal(self, plaintext: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(dict(plaintext), sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise ValidationError("stored panel credentials cannot be read with this secret key",
                                  field="credentials", code="CREDENTIALS_UNREADABLE") from exc
        if not isinstance(data, dict):
            raise ValidationError("stored panel credentials are malformed", field="credentials",
                                  code="CREDENTIALS_UNREADABLE")
        return data


def _str(options: Mapping[str, Any], name: str, *, required: bool = False, default: str = "") -> str:
    value = options.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(f"{name} is required" if required else f"{name} must be a string", field=name)
    return value.strip()


def _wg_interface(server_name: str, endpoint: str, settings: Mapping[str, Any], private_key: str) -> WireGuardInterface:
    try:
        dns = settings.get("dns")
        allowed = settings.get("client_allowed_ips")
        return WireGuardInterface(
            name=str(settings.get("interface") or "wg0"), private_key=private_key, endpoint=endpoint,
            ipv4_network=str(settings.get("ipv4_network") or "10.8.0.0/24"),
            ipv6_network=settings.get("ipv6_network") or None, listen_port=int(settings.get("listen_port") or 51820),
            mtu=int(settings.get("mtu") or 1420),
            dns=tuple(dns) if isinstance(dns, list | tuple) else ("1.1.1.1", "2606:4700:4700::1111"),
            client_allowed_ips=tuple(allowed) if isinstance(allowed, list | tuple) else ("0.0.0.0/0", "::/0"),
            persistent_keepalive=int(settings.get("persistent_keepalive") or 0))
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"WireGuard settings of {server_name}: {exc}", field="settings") from exc


#: Builds a custom VpnPanel for one server from the row and its opened (plaintext) credentials.
CustomPanelFactory = Callable[[Server, Mapping[str, Any]], VpnPanel]


class PanelRegistry:
    """The PanelDirectory: builds and caches the VpnPanel of each server."""

    def __init__(self, box: FernetSecretBox, *, peer_store_for: Callable[[int], WireGuardPeerStore] | None = None,
                 now: Callable[[], datetime] | None = None, timeout: float = 15.0,
                 transport_for: Callable[[Server], httpx.AsyncBaseTransport | None] | None = None,
                 custom: Mapping[str, CustomPanelFactory] | None = None) -> None:
        self._box = box
        self._custom = dict(custom or {})
        self._memory_peers: dict[int, InMemoryPeerStore] = {}
        self._peer_store_for = peer_store_for or self._memory_store
        self._now = now or (lambda: datetime.now(UTC))
        self._timeout = timeout
        self._transport_for = transport_for
        self._panels: dict[int, tuple[tuple[Any, ...], VpnPanel, httpx.AsyncClient | None]] = {}
        self.fakes: dict[int, FakeVpnPanel] = {}  # kind "fake": kept for the life of the process
        self._closing: list[httpx.AsyncClient] = []

    def _memory_store(self, server_id: int) -> InMemoryPeerStore:
        return self._memory_peers.setdefault(server_id, InMemoryPeerStore())

    # -- PanelDirectory ------------------------------------------------------------------------------------
    def prepare(self, kind: ServerKind, settings: Mapping[str, Any],
                credentials: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        settings, credentials = dict(settings), dict(credentials)
        if kind is ServerKind.CUSTOM:
            adapter = _str(settings, "adapter", required=True)
            if adapter not in self._custom:
                known = ", ".join(sorted(self._custom)) or "none registered"
                raise ValidationError(f"no custom panel adapter named {adapter!r} ({known})", field="adapter",
                                      code="UNKNOWN_PANEL_ADAPTER")
        elif kind in (ServerKind.XUI, ServerKind.MARZBAN):
            if not credentials.get("api_token"):
                _str(credentials, "username", required=True)
                _str(credentials, "password", required=True)
            if kind is ServerKind.XUI:
                inbound = settings.get("inbound_id")
                if type(inbound) is not int or inbound <= 0:
                    raise ValidationError("3x-ui servers need settings.inbound_id (a positive integer)",
                                          field="inbound_id")
                for name in ("base_path", "public_host", "subscription_base_url", "flow"):
                    _str(settings, name)
            else:
                _str(settings, "subscription_base_url")
                for name in ("proxies", "inbounds"):
                    if settings.get(name) is not None and not isinstance(settings[name], dict):
                        raise ValidationError(f"{name} must be an object", field=name)
        elif kind is ServerKind.WIREGUARD:
            key = credentials.get("private_key") or generate_private_key()
            check_key(str(key), "private_key")
            credentials = {"private_key": key}
            settings.setdefault("interface", "wg0")
            settings.setdefault("ipv4_network", "10.8.0.0/24")
            settings.setdefault("render_only", True)
            _wg_interface("new server", "example.invalid:51820", settings, str(key))
        return settings, credentials

    async def panel_for(self, server: Server) -> VpnPanel:
        version = (server.updated_at, server.address, server.credentials, server.kind)
        cached = self._panels.get(server.id)
        if cached is not None and cached[0] == version:
            return cached[1]
        if cached is not None and cached[2] is not None:
            await cached[2].aclose()
        panel, client = await self._build(server)
        self._panels[server.id] = (version, panel, client)
        return panel

    async def _build(self, server: Server) -> tuple[VpnPanel, httpx.AsyncClient | None]:
        if server.kind is ServerKind.FAKE:
            host = urlsplit("//" + server.address.split("://")[-1]).hostname or server.address
            fake = self.fakes.setdefault(server.id, FakeVpnPanel(host=host, now=self._now))
            return fake, None
        creds = self._box.open(server.credentials)
        s = server.settings
        if server.kind is ServerKind.CUSTOM:
            factory = self._custom.get(str(s.get("adapter", "")))
            if factory is None:
                raise ValidationError(f"server {server.name}: no custom panel adapter named {s.get('adapter')!r} "
                                      "is registered in this process", field="adapter", code="UNKNOWN_PANEL_ADAPTER")
            return factory(server, creds), None
        if server.kind is ServerKind.WIREGUARD:
            interface = _wg_interface(server.name, server.address, s, str(creds["private_key"]))
            runner = None if s.get("render_only", True) else await detect_runner(interface.name)
            return WireGuardPanel(interface, self._peer_store_for(server.id), runner, now=self._now), None
        transport = self._transport_for(server) if self._transport_for else None
        client = httpx.AsyncClient(base_url=server.address, timeout=httpx.Timeout(self._timeout, connect=5.0),
                                   transport=transport)
        if server.kind is ServerKind.XUI:
            return XuiPanel(client, str(creds.get("username", "")), str(creds.get("password", "")),
                            inbound_id=int(s["inbound_id"]), base_path=str(s.get("base_path") or ""),
                            api_token=creds.get("api_token") or None, public_host=s.get("public_host") or None,
                            subscription_base_url=s.get("subscription_base_url") or None,
                            flow=str(s.get("flow") or ""), now=self._now), client
        return MarzbanPanel(client, str(creds.get("username", "")), str(creds.get("password", "")),
                            proxies=s.get("proxies") or None, inbounds=s.get("inbounds") or None,
                            subscription_base_url=str(s.get("subscription_base_url") or ""), now=self._now), client

    async def server_config(self, server: Server) -> str | None:
        if server.kind is not ServerKind.WIREGUARD:
            return None
        panel = await self.panel_for(server)
        assert isinstance(panel, WireGuardPanel)
        store = self._peer_store_for(server.id)
        peers, after = [], None
        while batch := await store.page(after, 1000):
            peers += [p for p in batch if p.enabled]
            after = batch[-1].key
        return render_server_config(panel.interface, peers)

    def forget(self, server_id: int) -> None:
        cached = self._panels.pop(server_id, None)
        if cached is not None and cached[2] is not None:
            self._closing.append(cached[2])

    async def close(self) -> None:
        clients = [c for _, _, c in self._panels.values() if c is not None] + self._closing
        self._panels.clear()
        self._closing = []
        for client in clients:
            await client.aclose()
