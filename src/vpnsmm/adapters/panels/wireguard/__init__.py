"""WireGuard driven directly: keys, address allocation, config rendering, ``wg`` commands, dump parsing."""

from vpnsmm.adapters.panels.wireguard.interface import (
    WireGuardInterface,
    render_client_config,
    render_server_config,
    render_syncconf,
)
from vpnsmm.adapters.panels.wireguard.panel import WireGuardPanel
from vpnsmm.adapters.panels.wireguard.runner import CommandResult, CommandRunner, SubprocessRunner, detect_runner
from vpnsmm.adapters.panels.wireguard.store import InMemoryPeerStore, WireGuardPeer, WireGuardPeerStore

__all__ = [
    "CommandResult",
    "CommandRunner",
    "InMemoryPeerStore",
    "SubprocessRunner",
    "WireGuardInterface",
    "WireGuardPanel",
    "WireGuardPeer",
    "WireGuardPeerStore",
    "detect_runner",
    "render_client_config",
    "render_server_config",
    "render_syncconf",
]
