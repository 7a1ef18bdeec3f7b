"""FakeVpnPanel: an in-memory VpnPanel for fast use-case tests and ``adapters_mode="fake"`` demos.

It passes the same contract suite as the real adapters. Extra test hooks: :meth:`add_traffic` (simulate use),
:meth:`fail_next` (make the next call to an operation raise), and ``calls`` (operation names, in order).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime

from attrs import define, field

from vpnsmm.adapters.panels.links import Transport, vless_link
from vpnsmm.application.ports.vpn_panel import PanelCapabilities, ProvisionedClient, VpnPanel
from vpnsmm.domain.errors import NotFoundError, VpnsmmError
from vpnsmm.domain.vpn import (
    ClientLimits,
    ClientSpec,
    ClientStatus,
    ServerStatus,
    UsageSnapshot,
    validate_client_key,
)


@define(eq=False)
class _Client:
    key: str
    uuid: str
    limits: ClientLimits
    enabled: bool
    note: str
    upload: int = 0
    download: int = 0

@define(eq=False)
class FakeVpnPanel(VpnPanel):
    """Behaves like a panel that enforces limits (LIMITED/EXPIRED computed from counters and the clock)."""

    host: str = "fake.vpn.example"
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    online: bool = True
    clients: dict[str, _Client] = field(factory=dict)
    calls: list[str] = field(factory=list)
    _failures: dict[str, VpnsmmError] = field(factory=dict)

    @property
    def capabilities(self) -> PanelCapabilities:
        return PanelCapabilities(kind="fake", enforces_traffic_limit=True, enforces_expiry=True,
                                 stores_device_limit=True, has_subscription_url=True)

    # -- test hooks ------------------------------------------------------------------------------------------
    def add_traffic(self, key: str, upload: int, download: int) -> None:
        client = self.clients[key]
        client.upload += upload
        client.download += download

    def fail_next(self, operation: str, error: VpnsmmError) -> None:
        """The next call to ``operation`` (e.g. ``"ensure_client"``) raises ``error`` without side effects."""
        self._failures[operation] = error

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        error = self._failures.pop(operation, None)
        if error is not None:
            raise error

    # -- mapping ---------------------------------------------------------------------------------------------
    def _provisioned(self, c: _Client) -> ProvisionedClient:
        if not c.enabled:
            status = ClientStatus.DISABLED
        elif c.limits.is_expired(self.now()):
            status = ClientStatus.EXPIRED
        elif c.limits.is_exhausted(c.upload + c.download):
            status = ClientStatus.LIMITED
        else:
            status = ClientStatus.ACTIVE
        link = vless_link(c.uuid, Transport(host=self.host, port=443, security="tls", sni=self.host), c.key)
        return ProvisionedClient(key=c.key, remote_id=c.uuid, status=status, limits=c.limits, enabled=c.enabled,
                                 used_bytes=c.upload + c.download, links=(link,),
                                 subscription_url=f"https://{self.host}/sub/{c.uuid}")

    def _get(self, key: str) -> _Client:
        client = self.clients.get(validate_client_key(key))
        if client is None:
            raise NotFoundError(f"fake panel: no client {key!r}")
        return client

    # -- the port -------------------------------------------------------------------------------------------
    async def ensure_client(self, spec: ClientSpec) -> ProvisionedClient:
        self._enter("ensure_client")
        client = self.clients.get(spec.key)
        if client is None:
            client = _Client(spec.key, str(uuidlib.uuid4()), spec.limits, spec.enabled, spec.note)
            self.clients[spec.key] = client
        else:
            client.limits, client.enabled, client.note = spec.limits, spec.enabled, spec.note
        return self._provisioned(client)

    async def get_client(self, key: str) -> ProvisionedClient:
        self._enter("get_client")
        return self._provisioned(self._get(key))

    async def update_limits(self, key: str, *, traffic_limit_bytes: int | None, expires_at: datetime | None,
                            device_limit: int | None) -> ProvisionedClient:
        self._enter("update_limits")
        client = self._get(key)
        client.limits = ClientLimits(traffic_limit_bytes, expires_at, device_limit)
        return self._provisioned(client)

    async def enable(self, key: str) -> ProvisionedClient:
        self._enter("enable")
        client = self._get(key)
        client.enabled = True
        return self._provisioned(client)

    async def disable(self, key: str) -> ProvisionedClient:
        self._enter("disable")
        client = self._get(key)
        client.enabled = False
        return self._provisioned(client)

    async def reset_traffic(self, key: str) -> ProvisionedClient:
        self._enter("reset_traffic")
        client = self._get(key)
        client.upload = client.download = 0
        return self._provisioned(client)

    async def rotate_credentials(self, key: str) -> ProvisionedClient:
        self._enter("rotate_credentials")
        client = self._get(key)
        client.uuid = str(uuidlib.uuid4())
        return self._provisioned(client)

    async def remove_client(self, key: str) -> bool:
        self._enter("remove_client")
        return self.clients.pop(validate_client_key(key), None) is not None

    async def usage(self, keys: Collection[str] | None = None, *, page_size: int = 500,
                    ) -> AsyncIterator[Sequence[UsageSnapshot]]:
        self._enter("usage")
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        chosen = list(self.clients) if keys is None else [k for k in keys if k in self.clients]
        observed = self.now()
        for start in range(0, len(chosen), page_size):
            yield [UsageSnapshot(k, self.clients[k].upload, self.clients[k].download, observed)
                   for k in chosen[start:start + page_size]]

    async def status(self) -> ServerStatus:
        self._enter("status")
        if not self.online:
            return ServerStatus(online=False, detail="fake panel switched off")
        active = sum(1 for c in self.clients.values() if self._provisioned(c).status is ClientStatus.ACTIVE)
        return ServerStatus(online=True, total_clients=len(self.clients), active_clients=active,
                            uptime_seconds=3600, cpu_percent=1.0, version="fake")
