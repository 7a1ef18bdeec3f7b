"""Where WireGuard peers live: a small Protocol (a SQL implementation can sit beside the others) and an
in-memory implementation. The store is the uniqueness authority: it refuses a second peer with the same key,
public key, IPv4 or IPv6 address, so concurrent allocations cannot hand out one address twice."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol

from attrs import evolve, field, frozen

from vpnsmm.domain.errors import ConflictError, NotFoundError
from vpnsmm.domain.vpn import ClientLimits


@frozen
class WireGuardPeer:
    """One client of an interface. ``rx_bytes``/``tx_bytes`` are the last kernel counters we read (client upload /
    download), kept to detect counter resets."""

    key: str
    private_key: str
    public_key: str
    preshared_key: str
    ipv4: IPv4Address
    ipv6: IPv6Address | None
    enabled: bool = True
    limits: ClientLimits = field(factory=ClientLimits)
    note: str = ""
    rx_bytes: int = 0
    tx_bytes: int = 0


class WireGuardPeerStore(Protocol):
    async def get(self, key: str) -> WireGuardPeer | None: ...

    async def get_many(self, keys: Collection[str]) -> Sequence[WireGuardPeer]:
        """The peers that exist among ``keys``, ordered by key."""
        ...

    async def add(self, peer: WireGuardPeer) -> None:
        """Insert. Raises ConflictError if the key, public key, IPv4 or IPv6 address is already taken."""
        ...

    async def replace(self, peer: WireGuardPeer) -> None:
        """Overwrite the peer with ``peer.key``. NotFoundError if absent; ConflictError on a clash with another."""
        ...

    async def remove(self, key: str) -> bool: ...

    async def address_in_use(self, address: IPv4Address | IPv6Address) -> bool: ...

    async def page(self, after_key: str | None, limit: int) -> Sequence[WireGuardPeer]:
        """Up to ``limit`` peers with key > ``after_key`` (all when None), ordered by key (keyset paging)."""
        ...

    async def record_counters(self, counters: Mapping[str, tuple[int, int]]) -> None:
        """Store the last observed (rx, tx) per key; unknown keys are ignored."""
        ...

    async def counts(self) -> tuple[int, int]:
        """(total peers, enabled peers)."""
        ...


class InMemoryPeerStore(WireGuardPeerStore):
    """Dict-backed store with unique indexes and a sorted key list for keyset paging."""

    def __init__(self) -> None:
        self._peers: dict[str, WireGuardPeer] = {}
        self._keys: list[str] = []
        self._owner: dict[object, str] = {}  # public key / address -> peer key

    @staticmethod
    def _unique(peer: WireGuardPeer) -> list[object]:
        out: list[object] = [("pub", peer.public_key), peer.ipv4]
        if peer.ipv6 is not None:
            out.append(peer.ipv6)
        return out

    def _check(self, peer: WireGuardPeer) -> None:
        for value in self._unique(peer):
            owner = self._owner.get(value)
            if owner is not None and owner != peer.key:
                raise ConflictError(f"{value} is already used by peer {owner!r}", details={"peer": owner})

    def _index(self, peer: WireGuardPeer) -> None:
        for value in self._unique(peer):
            self._owner[value] = peer.key

    def _unindex(self, peer: WireGuardPeer) -> None:
        for value in self._unique(peer):
            self._owner.pop(value, None)

    async def get(self, key: str) -> WireGuardPeer | None:
        return self._peers.get(key)

    async def get_many(self, keys: Collection[str]) -> Sequence[WireGuardPeer]:
        return [self._peers[k] for k in sorted(set(keys)) if k in self._peers]

    async def add(self, peer: WireGuardPeer) -> None:
        if peer.key in self._peers:
            raise ConflictError(f"peer {peer.key!r} already exists")
        self._check(peer)
        self._peers[peer.key] = peer
        bisect.insort(self._keys, peer.key)
        self._index(peer)

    async def replace(self, peer: WireGuardPeer) -> None:
        old = self._peers.get(peer.key)
        if old is None:
            raise NotFoundError(f"no peer {peer.key!r}")
        self._check(peer)
        self._unindex(old)
        self._peers[peer.key] = peer
        self._index(peer)

    async def remove(self, key: str) -> bool:
        peer = self._peers.pop(key, None)
        if peer is None:
            return False
        self._unindex(peer)
        del self._keys[bisect.bisect_left(self._keys, key)]
        return True

    async def address_in_use(self, address: IPv4Address | IPv6Address) -> bool:
        return address in self._owner

    async def page(self, after_key: str | None, limit: int) -> Sequence[WireGuardPeer]:
        start = 0 if after_key is None else bisect.bisect_right(self._keys, after_key)
        return [self._peers[k] for k in self._keys[start:start + limit]]

    async def record_counters(self, counters: Mapping[str, tuple[int, int]]) -> None:
        for key, (rx, tx) in counters.items():
            peer = self._peers.get(key)
            if peer is not None:
                self._peers[key] = evolve(peer, rx_bytes=rx, tx_bytes=tx)

    async def counts(self) -> tuple[int, int]:
        return len(self._peers), sum(1 for p in self._peers.values() if p.enabled)
