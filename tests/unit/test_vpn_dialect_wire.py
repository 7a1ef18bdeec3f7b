"""The VPN dialects' link reading (protocol, transport, client UUID/password), public host and path ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vpnsmm.adapters.panels.links import Transport, trojan_link, vless_link, vmess_link
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.vpn_sales import Server, ServerKind, VpnAccount
from vpnsmm.entrypoints.http.dialects.vpn_wire import (
    client_secret_of,
    config_text,
    path_id,
    protocol_of,
    public_host,
    transport_of,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
UUID = "550e8400-e29b-41d4-a716-446655440000"
WS = Transport(host="edge.example.com", port=443, network="ws", security="tls", path="/ray")


def _account(links: list[str], config: str | None = None, remote_id: str = "remote-1") -> VpnAccount:
    return VpnAccount(user_id=1, plan_id=1, server_id=1, created_at=NOW, subscription_token="t", duration_days=30,
                      links=links, config=config, remote_id=remote_id, id=7)


@pytest.mark.parametrize(("link", "protocol", "transport", "secret"), [
    (vless_link(UUID, WS, "acc-7"), "vless", "ws", UUID),
    (vmess_link(UUID, Transport(host="h.example", port=8443, network="grpc", path="svc"), "acc-7"), "vmess", "grpc",
     UUID),
    (trojan_link("s3cret-pass", Transport(host="h.example", port=443, security="tls"), "acc-7"), "trojan", "tcp",
     "s3cret-pass"),
])
def test_links_are_read_for_protocol_transport_and_secret(link: str, protocol: str, transport: str,
                                                          secret: str) -> None:
    account = _account([link])
    assert (protocol_of(account), transport_of(account), client_secret_of(account)) == (protocol, transport, secret)
    assert config_text(account) == link


def test_wireguard_and_unprovisioned_accounts() -> None:
    wg = _account([], config="[Interface]\nPrivateKey = x\n", remote_id="pubkey=")
    assert (protocol_of(wg), transport_of(wg), client_secret_of(wg), config_text(wg)) == (
        "wireguard", "udp", "pubkey=", "[Interface]\nPrivateKey = x\n")
    pending = _account([], remote_id="")
    assert (protocol_of(pending), config_text(pending)) == ("unknown", None)
    broken = _account(["vmess://!!!not-base64"])
    assert transport_of(broken) == "tcp" and client_secret_of(broken) == "remote-1"


def test_public_host_never_shows_the_panel_port_or_path() -> None:
    def server(address: str, **settings: object) -> Server:
        return Server(kind=ServerKind.XUI, name="n1", address=address, credentials="sealed", created_at=NOW,
                      settings=dict(settings))
    assert public_host(server("https://panel.example.com:2053/secret")) == "panel.example.com"
    assert public_host(server("panel.example.com:2053")) == "panel.example.com"
    assert public_host(server("https://panel.example.com", public_host="vpn.example.com")) == "vpn.example.com"


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", "١٢", "9" * 30, ""])
def test_bad_path_ids_are_not_found(raw: str) -> None:
    with pytest.raises(NotFoundError):
        path_id(raw)


def test_good_path_ids() -> None:
    assert path_id("42") == 42 and path_id(" 7 ") == 7
