"""The server side of one WireGuard interface, and config rendering (client, wg-quick server, ``wg syncconf``)."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from attrs import field, frozen

from vpnsmm.adapters.panels.wireguard.keys import check_key, public_key_of
from vpnsmm.adapters.panels.wireguard.store import WireGuardPeer
from vpnsmm.domain.errors import ValidationError


def _private_key(_: object, __: object, value: str) -> None:
    check_key(value, "private_key")


def _optional_v6(value: str | IPv6Network | None) -> IPv6Network | None:
    return None if value is None else IPv6Network(value)


@frozen
class WireGuardInterface:
    """One server interface. The server takes the first host of each range (``.1``); clients get ``.2`` and up
    (wg-easy's layout). When ``ipv6_network`` is set, a client's IPv6 address uses the same host offset as its
    IPv4 one, so the IPv6 range must be at least as large as the IPv4 range."""

    name: str
    private_key: str = field(validator=_private_key)
    endpoint: str  # host:port clients dial, e.g. "vpn.example.com:51820"
    ipv4_network: IPv4Network = field(converter=IPv4Network)
    ipv6_network: IPv6Network | None = field(default=None, converter=_optional_v6)
    listen_port: int = 51820
    mtu: int = 1420
    dns: tuple[str, ...] = ("1.1.1.1", "2606:4700:4700::1111")
    client_allowed_ips: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    persistent_keepalive: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.name or len(self.name) > 15 or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValidationError(f"bad interface name {self.name!r}", field="name")
        if self.ipv4_network.num_addresses < 4:
            raise ValidationError("the IPv4 network needs room for a server and a client", field="ipv4_network")
        if self.ipv6_network is not None and self.ipv6_network.num_addresses < self.ipv4_network.num_addresses:
            raise ValidationError("the IPv6 network must be at least as large as the IPv4 network",
                                  field="ipv6_network")

    @property
    def public_key(self) -> str:
        return public_key_of(self.private_key)

    @property
    def server_ipv4(self) -> IPv4Address:
        return self.ipv4_network[1]

    @property
    def server_ipv6(self) -> IPv6Address | None:
        return None if self.ipv6_network is None else self.ipv6_network[1]

    @property
    def host_offsets(self) -> range:
        """Client host offsets inside the networks: from 2 to the last address before broadcast."""
        return range(2, self.ipv4_network.num_addresses - 1)

    def addresses_at(self, offset: int) -> tuple[IPv4Address, IPv6Address | None]:
        v6 = None if self.ipv6_network is None else self.ipv6_network[offset]
        return self.ipv4_network[offset], v6


def _allowed_ips(peer: WireGuardPeer) -> str:
    ips = [f"{peer.ipv4}/32"]
    if peer.ipv6 is not None:
        ips.append(f"{peer.ipv6}/128")
    return ", ".join(ips)


def render_client_config(interface: WireGuardInterface, peer: WireGuardPeer) -> str:
    """The ``.conf`` a client imports (wg-quick format, as wg-easy's ``generateClientConfig``)."""
    lines = [
        "[Interface]",
        f"PrivateKey = {peer.private_key}",
        f"Address = {_allowed_ips(peer)}",
        f"MTU = {interface.mtu}",
    ]
    if interface.dns:
        lines.append(f"DNS = {', '.join(interface.dns)}")
    lines += [
        "",
        "[Peer]",
        f"PublicKey = {interface.public_key}",
        f"PresharedKey = {peer.preshared_key}",
        f"AllowedIPs = {', '.join(interface.client_allowed_ips)}",
        f"PersistentKeepalive = {interface.persistent_keepalive}",
        f"Endpoint = {interface.endpoint}",
    ]
    return "\n".join(lines) + "\n"


def _peer_blocks(peers: Iterable[WireGuardPeer]) -> list[str]:
    lines: list[str] = []
    for peer in peers:
        lines += ["", "[Peer]", f"# Client: {peer.key}", f"PublicKey = {peer.public_key}",
                  f"PresharedKey = {peer.preshared_key}", f"AllowedIPs = {_allowed_ips(peer)}"]
    return lines


def render_server_config(interface: WireGuardInterface, peers: Iterable[WireGuardPeer]) -> str:
    """``/etc/wireguard/<if>.conf`` for wg-quick. Pass only the peers that should be live."""
    address = f"{interface.server_ipv4}/{interface.ipv4_network.prefixlen}"
    if interface.ipv6_network is not None:
        address += f", {interface.server_ipv6}/{interface.ipv6_network.prefixlen}"
    lines = ["[Interface]", f"PrivateKey = {interface.private_key}", f"Address = {address}",
             f"ListenPort = {interface.listen_port}", f"MTU = {interface.mtu}"]
    return "\n".join(lines + _peer_blocks(peers)) + "\n"


def render_syncconf(interface: WireGuardInterface, peers: Iterable[WireGuardPeer]) -> str:
    """The same without wg-quick-only keys (Address, MTU, DNS): what ``wg syncconf`` accepts
    (equivalent to ``wg-quick strip``)."""
    lines = ["[Interface]", f"PrivateKey = {interface.private_key}", f"ListenPort = {interface.listen_port}"]
    return "\n".join(lines + _peer_blocks(peers)) + "\n"
