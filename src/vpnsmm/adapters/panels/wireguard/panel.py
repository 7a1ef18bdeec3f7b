"""WireGuardPanel: the VpnPanel port on one WireGuard interface driven by the ``wg`` tool (or render-only).

* Keys are generated in Python (X25519 + preshared key per client); the panel keeps the client's private key
  in the peer store because it renders the client's config.
* Addresses come from the interface's IPv4 range (and the same host offset in its IPv6 range), next-fit
  from a cursor, and the store refuses duplicates, so two allocations never share an address.
* With a runner, changes are applied live: ``wg set <if> peer <pub> preshared-key /dev/stdin allowed-ips ..``
  to add, ``wg set <if> peer <pub> remove`` to remove, ``wg syncconf <if> /dev/stdin`` for :meth:`sync`.
  Without one (``runner=None``) nothing is applied; the store and the rendered configs are the output.
* A peer is live only while it is enabled AND within its limits: WireGuard has no quota or expiry of its
  own, so :meth:`usage` (with a runner) removes peers that crossed their quota or expiry from the interface.
* Counters are the kernel's; they drop on interface restart or peer re-add. ``usage`` compares each read with
  the previous one kept in the store and flags ``counters_reset``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime

from attrs import evolve

from vpnsmm.adapters.panels.wireguard.dump import InterfaceDump, detect_reset, parse_dump
from vpnsmm.adapters.panels.wireguard.interface import WireGuardInterface, render_client_config, render_syncconf
from vpnsmm.adapters.panels.wireguard.keys import generate_preshared_key, generate_private_key, public_key_of
from vpnsmm.adapters.panels.wireguard.runner import CommandRunner
from vpnsmm.adapters.panels.wireguard.store import WireGuardPeer, WireGuardPeerStore
from vpnsmm.application.ports.vpn_panel import PanelCapabilities, ProvisionedClient, VpnPanel
from vpnsmm.domain.errors import ConflictError, NotFoundError, UpstreamRejectedError, UpstreamUnavailableError
from vpnsmm.domain.vpn import (
    ClientLimits,
    ClientSpec,
    ClientStatus,
    ServerStatus,
    UsageSnapshot,
    validate_client_key,
)

PANEL = "wireguard"


class WireGuardPanel(VpnPanel):
    """One WireGuard interface as a VpnPanel. ``runner=None`` renders configs only (no ``wg`` calls)."""

    def __init__(self, interface: WireGuardInterface, store: WireGuardPeerStore, runner: CommandRunner | None = None,
                 *, now: Callable[[], datetime] | None = None) -> None:
        self._if = interface
        self._store = store
        self._runner = runner
        self._now = now or (lambda: datetime.now(UTC))
        self._cursor = 0  # index into interface.host_offsets where the next allocation starts looking

    @property
    def capabilities(self) -> PanelCapabilities:
        live = self._runner is not None
        return PanelCapabilities(kind=PANEL, enforces_traffic_limit=live, enforces_expiry=live,
                                 stores_device_limit=False, has_subscription_url=False)

    @property
    def interface(self) -> WireGuardInterface:
        return self._if

    # -- wg ---------------------------------------------------------------------------------------------------
    async def _wg(self, *args: str, stdin: bytes | None = None) -> str:
        assert self._runner is not None
        result = await self._runner.run(["wg", *args], stdin=stdin)
        if result.returncode != 0:
            raise UpstreamUnavailableError(f"wg {' '.join(args[:2])} failed: {result.stderr.strip()}",
                                           details={"panel": PANEL, "returncode": result.returncode})
        return result.stdout

    def _status(self, peer: WireGuardPeer) -> ClientStatus:
        if not peer.enabled:
            return ClientStatus.DISABLED
        if peer.limits.is_expired(self._now()):
            return ClientStatus.EXPIRED
        if peer.limits.is_exhausted(peer.rx_bytes + peer.tx_bytes):
            return ClientStatus.LIMITED
        return ClientStatus.ACTIVE

    async def _add_live(self, peer: WireGuardPeer) -> None:
        allowed = f"{peer.ipv4}/32" + (f",{peer.ipv6}/128" if peer.ipv6 is not None else "")
        await self._wg("set", self._if.name, "peer", peer.public_key, "preshared-key", "/dev/stdin",
                       "allowed-ips", allowed, stdin=peer.preshared_key.encode() + b"\n")

    async def _remove_live(self, public_key: str) -> None:
        await self._wg("set", self._if.name, "peer", public_key, "remove")  # removing an absent peer is a no-op

    async def _apply(self, peer: WireGuardPeer, *, old_public_key: str | None = None) -> None:
        if self._runner is None:
            return
        if old_public_key is not None and old_public_key != peer.public_key:
            await self._remove_live(old_public_key)
        if self._status(peer) is ClientStatus.ACTIVE:
            await self._add_live(peer)  # idempotent: `wg set` on an existing peer updates it in place
        else:
            await self._remove_live(peer.public_key)

    async def sync(self) -> None:
        """Make the interface match the store exactly (``wg syncconf``), e.g. after a reboot. No-op render-only."""
        if self._runner is None:
            return
        live: list[WireGuardPeer] = []
        after: str | None = None
        while batch := await self._store.page(after, 1000):
            live += [p for p in batch if self._status(p) is ClientStatus.ACTIVE]
            after = batch[-1].key
        await self._wg("syncconf", self._if.name, "/dev/stdin", stdin=render_syncconf(self._if, live).encode())

    # -- helpers ------------------------------------------------------------------------------------------------
    def _provisioned(self, peer: WireGuardPeer) -> ProvisionedClient:
        status = self._status(peer)
        return ProvisionedClient(key=peer.key, remote_id=peer.public_key, status=status,
                                 limits=evolve(peer.limits, device_limit=None), enabled=peer.enabled,
                                 used_bytes=peer.rx_bytes + peer.tx_bytes,
                                 config=render_client_config(self._if, peer))

    async def _get(self, key: str) -> WireGuardPeer:
        peer = await self._store.get(validate_client_key(key))
        if peer is None:
            raise NotFoundError(f"{PANEL}: no peer {key!r} on {self._if.name}")
        return peer

    async def _allocate_and_add(self, spec: ClientSpec) -> WireGuardPeer:
        offsets = self._if.host_offsets
        private = generate_private_key()
        for step in range(len(offsets)):
            index = (self._cursor + step) % len(offsets)
            v4, v6 = self._if.addresses_at(offsets[index])
            if await self._store.address_in_use(v4) or (v6 is not None and await self._store.address_in_use(v6)):
                continue
            peer = WireGuardPeer(key=spec.key, private_key=private, public_key=public_key_of(private),
                                 preshared_key=generate_preshared_key(), ipv4=v4, ipv6=v6, enabled=spec.enabled,
                                 limits=spec.limits, note=spec.note)
            try:
                await self._store.add(peer)
            except ConflictError:
                existing = await self._store.get(spec.key)
                if existing is not None:  # a concurrent ensure for the same key won: use its peer
                    return existing
                continue  # somebody took the address between the check and the insert
            self._cursor = (index + 1) % len(offsets)
            return peer
        raise UpstreamRejectedError(f"{PANEL}: {self._if.name}: Maximum number of clients reached",
                                    details={"panel": PANEL})

    async def _replace(self, peer: WireGuardPeer, *, old_public_key: str | None = None) -> ProvisionedClient:
        await self._store.replace(peer)
        await self._apply(peer, old_public_key=old_public_key)
        return self._provisioned(peer)

    # -- the port -----------------------------------------------------------------------------------------------
    async def ensure_client(self, spec: ClientSpec) -> ProvisionedClient:
        existing = await self._store.get(spec.key)
        if existing is None:
            peer = await self._allocate_and_add(spec)
            if peer.limits == spec.limits and peer.enabled == spec.enabled and peer.note == spec.note:
                await self._apply(peer)
                return self._provisioned(peer)
            existing = peer
        return await self._replace(evolve(existing, enabled=spec.enabled, limits=spec.limits, note=spec.note))

    async def get_client(self, key: str) -> ProvisionedClient:
        return self._provisioned(await self._get(key))

    async def update_limits(self, key: str, *, traffic_limit_bytes: int | None, expires_at: datetime | None,
                            device_limit: int | None) -> ProvisionedClient:
        peer = await self._get(key)
        limits = ClientLimits(traffic_limit_bytes, expires_at, device_limit)
        return await self._replace(evolve(peer, limits=limits))

    async def enable(self, key: str) -> ProvisionedClient:
        return await self._replace(evolve(await self._get(key), enabled=True))

    async def disable(self, key: str) -> ProvisionedClient:
        return await self._replace(evolve(await self._get(key), enabled=False))

    async def reset_traffic(self, key: str) -> ProvisionedClient:
        peer = await self._get(key)
        if self._runner is not None:
            # The kernel cannot zero one peer's counters; removing and re-adding the peer does.
            await self._remove_live(peer.public_key)
        return await self._replace(evolve(peer, rx_bytes=0, tx_bytes=0))

    async def rotate_credentials(self, key: str) -> ProvisionedClient:
        peer = await self._get(key)
        private = generate_private_key()
        rotated = evolve(peer, private_key=private, public_key=public_key_of(private),
                         preshared_key=generate_preshared_key(), rx_bytes=0, tx_bytes=0)
        return await self._replace(rotated, old_public_key=peer.public_key)

    async def remove_client(self, key: str) -> bool:
        peer = await self._store.get(validate_client_key(key))
        if peer is None:
            return False
        if self._runner is not None:
            await self._remove_live(peer.public_key)
        return await self._store.remove(key)

    async def _dump(self) -> InterfaceDump | None:
        if self._runner is None:
            return None
        return parse_dump(await self._wg("show", self._if.name, "dump"))

    async def usage(self, keys: Collection[str] | None = None, *, page_size: int = 500,
                    ) -> AsyncIterator[Sequence[UsageSnapshot]]:
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        dump = await self._dump()
        observed = self._now()
        wanted = None if keys is None else sorted(set(keys))
        after: str | None = None
        start = 0
        while True:
            if wanted is None:
                peers = await self._store.page(after, page_size)
            else:
                peers = await self._store.get_many(wanted[start:start + page_size])
                start += page_size
            if not peers and (wanted is None or start >= len(wanted)):
                return
            snaps: list[UsageSnapshot] = []
            seen: dict[str, tuple[int, int]] = {}
            for peer in peers:
                counters = dump.peers.get(peer.public_key) if dump is not None else None
                if counters is None:
                    # Not on the interface (render-only, disabled, or over its limits): last known counters.
                    snaps.append(UsageSnapshot(peer.key, peer.rx_bytes, peer.tx_bytes, observed))
                    continue
                rx, tx = counters.transfer_rx, counters.transfer_tx
                snaps.append(UsageSnapshot(peer.key, rx, tx, observed,
                                           counters_reset=detect_reset(peer.rx_bytes, peer.tx_bytes, rx, tx)))
                seen[peer.key] = (rx, tx)
                after_read = evolve(peer, rx_bytes=rx, tx_bytes=tx)
                if self._status(after_read) is not ClientStatus.ACTIVE:
                    await self._remove_live(peer.public_key)  # quota or expiry crossed: enforce it here
            if seen:
                await self._store.record_counters(seen)
            if snaps:
                yield snaps
            if wanted is None:
                if len(peers) < page_size:
                    return
                after = peers[-1].key

    async def status(self) -> ServerStatus:
        total, enabled = await self._store.counts()
        if self._runner is None:
            return ServerStatus(online=True, total_clients=total, active_clients=enabled,
                                detail="render-only: no interface is driven")
        try:
            dump = await self._dump()
        except UpstreamUnavailableError as exc:
            return ServerStatus(online=False, total_clients=total, active_clients=enabled, detail=exc.message)
        live = len(dump.peers) if dump is not None else 0
        return ServerStatus(online=True, total_clients=total, active_clients=live,
                            detail=f"{self._if.name} listening on {dump.listen_port if dump else '?'}")
