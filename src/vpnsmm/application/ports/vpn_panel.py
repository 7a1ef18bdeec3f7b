"""The VpnPanel port: one VPN control plane (a 3x-UI inbound, a Marzban server, a WireGuard interface).

Every operation is keyed by OUR stable client key (``ClientSpec.key``, e.g. ``"acc-42"``), never by a panel
id, so a retry after a timeout can always find what the first attempt did. Units at this port: bytes and
timezone-aware datetimes (second precision); each adapter converts to its panel's units.

Errors (from :mod:`vpnsmm.domain.errors`):

* ``UpstreamUnavailableError`` -- timeout, connection refused, 5xx, or an answer we cannot parse: retry later.
* ``UpstreamRejectedError``    -- the panel answered and refused (3x-UI ``success:false``, Marzban 400/422).
* ``AuthenticationError``      -- our credentials were refused even after a fresh login.
* ``PermissionDeniedError``    -- the panel admin may not touch this client (Marzban 403).
* ``NotFoundError``            -- the key has no client on this panel (for operations that need one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from attrs import field, frozen

from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus, ServerStatus, UsageSnapshot

__all__ = [
    "PanelCapabilities",
    "ProvisionedClient",
    "VpnPanel",
]


@frozen
class PanelCapabilities:
    """What a panel enforces by itself. What it does not enforce, the back office must (e.g. WireGuard quotas)."""

    kind: str  # "3x-ui" | "marzban" | "wireguard" | "fake"
    enforces_traffic_limit: bool
    enforces_expiry: bool
    stores_device_limit: bool  # False: device_limit is dropped and read back as None
    has_subscription_url: bool


def _tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@frozen
class ProvisionedClient:
    """A client as it stands on the panel after an operation.

    ``remote_id`` is the panel's identity for the client: the UUID/password (3x-UI), the username (Marzban),
    the public key (WireGuard). ``links`` are share links (``vless://``, ``vmess://``, ``trojan://``);
    ``subscription_url`` is the panel's own subscription URL when it has one; ``config`` is a complete
    client configuration file when the protocol has one (WireGuard).
    """

    key: str
    remote_id: str
    status: ClientStatus
    limits: ClientLimits
    enabled: bool
    used_bytes: int = 0
    links: tuple[str, ...] = field(default=(), converter=_tuple)
    subscription_url: str | None = None
    config: str | None = None


@runtime_checkable
class VpnPanel(Protocol):
    """A VPN control plane. Every mutating call is idempotent per client key.

    Implementations must never create two clients for one key, whatever sequence of retries, timeouts
    and concurrent-looking repeats the caller produces.
    """

    @property
    def capabilities(self) -> PanelCapabilities: ...

    async def ensure_client(self, spec: ClientSpec) -> ProvisionedClient:
        """Create the client, or bring the existing client with ``spec.key`` to ``spec``.

        Idempotent: an existing client keeps its credentials (UUID, keys, addresses) and is updated to the
        spec's limits, enabled flag and note; it is never duplicated. Returns the client as the panel
        now has it, including config material.
        """
        ...

    async def get_client(self, key: str) -> ProvisionedClient:
        """The client with ``key`` as the panel has it now. Raises NotFoundError if there is none."""
        ...

    async def update_limits(self, key: str, *, traffic_limit_bytes: int | None, expires_at: datetime | None,
                            device_limit: int | None) -> ProvisionedClient:
        """Replace the client's limits (``None`` = unlimited / never). Idempotent.

        Does not change the enabled flag the back office set; the panel may still report LIMITED/EXPIRED
        when the new limits are already exceeded. Raises NotFoundError, ValidationError.
        """
        ...

    async def enable(self, key: str) -> ProvisionedClient:
        """Let the client connect again (subject to its limits). Idempotent. Raises NotFoundError."""
        ...

    async def disable(self, key: str) -> ProvisionedClient:
        """Stop the client from connecting; credentials and counters are kept. Idempotent. Raises NotFoundError."""
        ...

    async def reset_traffic(self, key: str) -> ProvisionedClient:
        """Zero the panel's traffic counters for the client. The enabled/disabled choice is preserved.

        Idempotent in effect (a second reset leaves zero at zero). Raises NotFoundError.
        """
        ...

    async def rotate_credentials(self, key: str) -> ProvisionedClient:
        """Issue new credentials (new UUID/password, new keypair, revoked subscription); old ones stop working.

        NOT idempotent by nature: each call rotates again. The returned client carries the new material.
        Raises NotFoundError.
        """
        ...

    async def remove_client(self, key: str) -> bool:
        """Delete the client. Idempotent: returns True if it existed, False if there was nothing to delete."""
        ...

    def usage(self, keys: Collection[str] | None = None, *, page_size: int = 500,
              ) -> AsyncIterator[Sequence[UsageSnapshot]]:
        """Counters for ``keys`` (or every client when None), yielded in pages of at most ``page_size``.

        Keys with no client on the panel are skipped silently. Each page is read from the panel when it is
        requested, so memory stays bounded on large panels. See UsageSnapshot for reset semantics.
        """
        ...

    async def status(self) -> ServerStatus:
        """Health and client counts. An unreachable panel gives ``online=False`` instead of raising;
        refused credentials still raise AuthenticationError (that needs an operator, not a retry)."""
        ...
