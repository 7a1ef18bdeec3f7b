"""Parse ``wg show <interface> dump``.

First line: ``private_key public_key listen_port fwmark``. Each further line, tab-separated:
``public_key preshared_key endpoint allowed_ips latest_handshake transfer_rx transfer_tx persistent_keepalive``.
``transfer_rx`` is what the server received from the peer (the client's **upload**), ``transfer_tx`` what it
sent (the client's **download**). Counters are kernel counters and drop to 0 on interface restart or peer
re-add; :func:`detect_reset` is the rule for noticing that.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from vpnsmm.domain.errors import UpstreamUnavailableError


@frozen
class PeerCounters:
    public_key: str
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    latest_handshake: datetime | None
    transfer_rx: int  # client upload
    transfer_tx: int  # client download
    persistent_keepalive: int | None


@frozen
class InterfaceDump:
    public_key: str
    listen_port: int
    peers: dict[str, PeerCounters]


def parse_dump(text: str) -> InterfaceDump:
    """Parse the dump of ONE interface. Raises UpstreamUnavailableError on malformed output."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise UpstreamUnavailableError("wg dump is empty", details={"panel": "wireguard"})
    head = lines[0].split("\t")
    if len(head) != 4:
        raise UpstreamUnavailableError(f"wg dump: bad interface line ({len(head)} fields)",
                                       details={"panel": "wireguard"})
    peers: dict[str, PeerCounters] = {}
    try:
        for number, line in enumerate(lines[1:], start=2):
            cols = line.split("\t")
            if len(cols) != 8:
                raise ValueError(f"line {number}: expected 8 fields, got {len(cols)}")
            pub, _psk, endpoint, allowed, handshake, rx, tx, keepalive = cols
            ts = int(handshake)
            peers[pub] = PeerCounters(
                public_key=pub, endpoint=None if endpoint == "(none)" else endpoint,
                allowed_ips=() if allowed == "(none)" else tuple(allowed.split(",")),
                latest_handshake=datetime.fromtimestamp(ts, UTC) if ts else None,
                transfer_rx=int(rx), transfer_tx=int(tx),
                persistent_keepalive=None if keepalive == "off" else int(keepalive))
        return InterfaceDump(public_key=head[1], listen_port=int(head[2]), peers=peers)
    except ValueError as exc:
        raise UpstreamUnavailableError(f"wg dump: {exc}", details={"panel": "wireguard"}) from exc


def detect_reset(last_rx: int, last_tx: int, rx: int, tx: int) -> bool:
    """True when either counter went backwards: the kernel counters were reset since the last read."""
    return rx < last_rx or tx < last_tx
