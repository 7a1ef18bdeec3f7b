"""WireGuard specifics: real `wg` key check, config rendering, dump parsing, reset detection, live commands."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from tests.integration.panels.harness import wg_interface
from vpnsmm.adapters.panels.wireguard import (
    CommandResult,
    InMemoryPeerStore,
    WireGuardPanel,
    WireGuardPeer,
    render_server_config,
    render_syncconf,
)
from vpnsmm.adapters.panels.wireguard.dump import detect_reset, parse_dump
from vpnsmm.adapters.panels.wireguard.keys import generate_preshared_key, generate_private_key, public_key_of
from vpnsmm.domain.errors import ConflictError, UpstreamRejectedError, ValidationError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus

DATA = Path(__file__).parent / "data"
HAVE_WG = shutil.which("wg") is not None


@pytest.mark.skipif(not HAVE_WG and os.environ.get("CI") != "true", reason="wg tool not installed")
def test_wg_pubkey_agrees_with_our_keys() -> None:
    for _ in range(5):
        private = generate_private_key()
        out = subprocess.run(["wg", "pubkey"], input=private + "\n", capture_output=True, text=True, check=True)
        assert out.stdout.strip() == public_key_of(private)
    # and the other way: a key made by `wg genkey` gives the same public key in Python
    theirs = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=theirs + "\n", capture_output=True, text=True, check=True)
    assert public_key_of(theirs) == pub.stdout.strip()


def test_keys_are_32_byte_base64_and_malformed_keys_are_refused() -> None:
    import base64

    assert len(base64.b64decode(generate_private_key())) == 32
    assert len(base64.b64decode(generate_preshared_key())) == 32
    with pytest.raises(ValidationError):
        public_key_of("not-a-key")
    with pytest.raises(ValidationError):
        public_key_of(base64.b64encode(b"short").decode())


async def test_client_and_server_configs() -> None:
    iface = wg_interface()
    panel = WireGuardPanel(iface, InMemoryPeerStore())
    client = await panel.ensure_client(ClientSpec("acc-1"))
    assert client.config is not None
    lines = client.config.splitlines()
    assert lines[0] == "[Interface]"
    assert "Address = 10.8.0.2/32, fdcc:ad94:bacf:61a4::cafe:2/128" in lines
    assert f"PublicKey = {iface.public_key}" in lines
    assert "Endpoint = vpn.example.com:51820" in lines
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in lines
    assert "DNS = 1.1.1.1, 2606:4700:4700::1111" in lines
    priv = next(line.split(" = ", 1)[1] for line in lines if line.startswith("PrivateKey"))
    assert public_key_of(priv) == client.remote_id
    peer = await panel._store.get("acc-1")  # type: ignore[attr-defined]
    server = render_server_config(iface, [peer])
    assert "Address = 10.8.0.1/24, fdcc:ad94:bacf:61a4::cafe:1/112" in server
    assert f"PublicKey = {client.remote_id}" in server
    sync = render_syncconf(iface, [peer])
    assert "Address" not in sync and "MTU" not in sync and "ListenPort = 51820" in sync


@pytest.mark.skipif(not HAVE_WG, reason="wg tool not installed")
def test_syncconf_output_is_accepted_by_wg_parser(tmp_path: Path) -> None:
    """`wg-quick strip` style output must parse; `wg pubkey` style validation of the whole file is not
    possible without an interface, so we at least check every key line with `wg pubkey`."""
    iface = wg_interface()
    peer = WireGuardPeer("acc-1", generate_private_key(), "", generate_preshared_key(),
                         IPv4Address("10.8.0.2"), None)
    peer = WireGuardPeer(peer.key, peer.private_key, public_key_of(peer.private_key), peer.preshared_key,
                         peer.ipv4, None)
    text = render_syncconf(iface, [peer])
    for line in text.splitlines():
        if line.startswith("PrivateKey"):
            key = line.split(" = ", 1)[1]
            out = subprocess.run(["wg", "pubkey"], input=key + "\n", capture_output=True, text=True, check=True)
            assert out.stdout.strip() == iface.public_key


def test_parse_recorded_dump() -> None:
    dump = parse_dump((DATA / "wg_show_dump.txt").read_text())
    assert dump.listen_port == 51820
    assert len(dump.peers) == 3
    alice = dump.peers["xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="]
    assert (alice.transfer_rx, alice.transfer_tx) == (1_048_576, 52_428_800)
    assert alice.endpoint == "198.51.100.23:51234" and alice.persistent_keepalive == 25
    assert alice.latest_handshake is not None and alice.latest_handshake.year == 2025
    never = dump.peers["TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="]
    assert never.endpoint is None and never.latest_handshake is None and never.persistent_keepalive is None
    assert never.allowed_ips == ("10.8.0.4/32", "fdcc:ad94:bacf:61a4::cafe:4/128")


def test_bad_dump_is_upstream_unavailable() -> None:
    from vpnsmm.domain.errors import UpstreamUnavailableError

    with pytest.raises(UpstreamUnavailableError):
        parse_dump("only\tthree\tfields\n")
    with pytest.raises(UpstreamUnavailableError):
        parse_dump("a\tb\t51820\toff\npub\t(none)\t(none)\t10.0.0.2/32\t0\tNaN\t0\toff\n")


def test_detect_reset_rule() -> None:
    assert detect_reset(100, 100, 150, 100) is False
    assert detect_reset(100, 100, 5, 200) is True
    assert detect_reset(100, 100, 100, 0) is True


async def test_addresses_are_unique_and_pool_exhaustion_is_reported() -> None:
    iface = wg_interface(ipv4_network="10.9.0.0/29", ipv6_network="fd00::/125")  # hosts .2 .. .6
    store = InMemoryPeerStore()
    panel = WireGuardPanel(iface, store)
    got = [await panel.ensure_client(ClientSpec(f"acc-{i}")) for i in range(5)]
    addrs = [(await store.get(c.key)).ipv4 for c in got]  # type: ignore[union-attr]
    assert sorted(addrs) == [IPv4Address(f"10.9.0.{i}") for i in range(2, 7)]
    with pytest.raises(UpstreamRejectedError, match="Maximum number of clients"):
        await panel.ensure_client(ClientSpec("acc-99"))
    await panel.remove_client("acc-2")
    reused = await panel.ensure_client(ClientSpec("acc-99"))
    assert (await store.get(reused.key)).ipv4 == IPv4Address("10.9.0.4")  # type: ignore[union-attr]


async def test_store_refuses_duplicate_addresses_and_keys() -> None:
    store = InMemoryPeerStore()
    priv = generate_private_key()
    peer = WireGuardPeer("acc-1", priv, public_key_of(priv), generate_preshared_key(), IPv4Address("10.8.0.2"),
                         IPv6Address("fd00::2"))
    await store.add(peer)
    other = generate_private_key()
    for clash in (
        WireGuardPeer("acc-2", other, public_key_of(other), "x", IPv4Address("10.8.0.2"), None),
        WireGuardPeer("acc-2", other, public_key_of(other), "x", IPv4Address("10.8.0.3"), IPv6Address("fd00::2")),
        WireGuardPeer("acc-2", other, peer.public_key, "x", IPv4Address("10.8.0.3"), None),
        WireGuardPeer("acc-1", other, public_key_of(other), "x", IPv4Address("10.8.0.9"), None),
    ):
        with pytest.raises(ConflictError):
            await store.add(clash)


class RecordingRunner:
    """Stands in for `wg`: records commands, answers `wg show dump` from a mutable text."""

    def __init__(self) -> None:
        self.commands: list[tuple[list[str], bytes | None]] = []
        self.dump = ""

    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None) -> CommandResult:
        self.commands.append((list(argv), stdin))
        if list(argv[1:3]) == ["show", "wg0"]:
            return CommandResult(0, self.dump, "")
        return CommandResult(0, "", "")


def dump_text(iface_pub: str, rows: list[tuple[str, int, int]]) -> str:
    lines = [f"PRIV\t{iface_pub}\t51820\toff"]
    lines += [f"{pub}\tPSK\t(none)\t10.8.0.2/32\t0\t{rx}\t{tx}\toff" for pub, rx, tx in rows]
    return "\n".join(lines) + "\n"


async def test_live_mode_applies_with_wg_set_and_detects_counter_resets() -> None:
    iface = wg_interface()
    runner = RecordingRunner()
    panel = WireGuardPanel(iface, InMemoryPeerStore(), runner)
    client = await panel.ensure_client(ClientSpec("acc-1", ClientLimits(traffic_limit_bytes=10_000)))
    argv, stdin = runner.commands[-1]
    assert argv[:6] == ["wg", "set", "wg0", "peer", client.remote_id, "preshared-key"]
    assert argv[6] == "/dev/stdin" and argv[7:] == ["allowed-ips", "10.8.0.2/32,fdcc:ad94:bacf:61a4::cafe:2/128"]
    assert stdin is not None and len(stdin.strip()) == 44

    runner.dump = dump_text(iface.public_key, [(client.remote_id, 100, 2000)])
    [[first]] = [list(p) async for p in panel.usage()]
    assert (first.upload_bytes, first.download_bytes, first.counters_reset) == (100, 2000, False)
    runner.dump = dump_text(iface.public_key, [(client.remote_id, 10, 20)])  # interface restarted
    [[second]] = [list(p) async for p in panel.usage()]
    assert (second.upload_bytes, second.download_bytes, second.counters_reset) == (10, 20, True)

    runner.dump = dump_text(iface.public_key, [(client.remote_id, 5000, 6000)])  # over the 10 kB quota
    runner.commands.clear()
    [[third]] = [list(p) async for p in panel.usage()]
    assert third.total_bytes == 11_000
    assert ["wg", "set", "wg0", "peer", client.remote_id, "remove"] in [c for c, _ in runner.commands]
    assert (await panel.get_client("acc-1")).status is ClientStatus.LIMITED

    runner.commands.clear()
    await panel.disable("acc-1")
    assert runner.commands[-1][0][-1] == "remove"
    await panel.sync()
    sync_argv, sync_stdin = runner.commands[-1]
    assert sync_argv == ["wg", "syncconf", "wg0", "/dev/stdin"]
    assert sync_stdin is not None and b"[Peer]" not in sync_stdin  # disabled peer is not live


async def test_failed_wg_command_is_upstream_unavailable() -> None:
    from vpnsmm.domain.errors import UpstreamUnavailableError

    class Failing:
        async def run(self, argv: Sequence[str], *, stdin: bytes | None = None) -> CommandResult:
            return CommandResult(1, "", "Unable to access interface: No such device")

    panel = WireGuardPanel(wg_interface(), InMemoryPeerStore(), Failing())
    with pytest.raises(UpstreamUnavailableError, match="No such device"):
        await panel.ensure_client(ClientSpec("acc-1"))
    status = await panel.status()
    assert status.online is False and "No such device" in status.detail
