"""Bring your own VPN panel: write a VpnPanel adapter, check it with vpnsmm's packaged contract suite, plug it in
through ``overrides`` and sell a plan on it -- without touching vpnsmm's code.

    python examples/custom_panel_adapter.py

"Acme" stands for whatever control plane you run; here its API is a dict in memory (``AcmeBackend``) so the
script runs anywhere. A real adapter would make HTTP calls where this one touches ``backend.users``. Run by the
test suite so it never rots.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import vpnsmm
from vpnsmm.application import (
    BuyPlanCommand,
    PanelCapabilities,
    PlanDraft,
    ProvisionedClient,
    RegisterUserCommand,
    ServerDraft,
)
from vpnsmm.domain import (
    ClientLimits,
    ClientSpec,
    ClientStatus,
    Currency,
    Gateway,
    Money,
    NotFoundError,
    Server,
    ServerKind,
    ServerStatus,
    UsageSnapshot,
    ValidationError,
)
from vpnsmm.testing.contracts import PanelHarness, check_vpn_panel


class AcmeBackend:
    """The panel's side: users keyed by name, with a clock (a real one would be the remote server)."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.clock = datetime.now(UTC)

    def now(self) -> datetime:
        return self.clock

    def advance(self, delta: timedelta) -> None:
        self.clock += delta

    def add_traffic(self, name: str, up: int, down: int) -> None:
        self.users[name]["up"] += up
        self.users[name]["down"] += down


class AcmePanel:
    """A VpnPanel (a ``typing.Protocol``: no base class needed). Every call is idempotent per client key."""

    def __init__(self, backend: AcmeBackend, host: str = "acme.example.net") -> None:
        self.backend, self.host = backend, host

    @property
    def capabilities(self) -> PanelCapabilities:
        return PanelCapabilities(kind="acme", enforces_traffic_limit=True, enforces_expiry=True,
                                 stores_device_limit=True, has_subscription_url=False)

    def _user(self, key: str) -> dict[str, Any]:
        if not isinstance(key, str) or not key.islower() or " " in key or "!" in key:
            raise ValidationError(f"invalid client key {key!r}", field="key")
        user = self.backend.users.get(key)
        if user is None:
            raise NotFoundError(f"acme: no client {key!r}")
        return user

    def _view(self, key: str, u: dict[str, Any]) -> ProvisionedClient:
        limits: ClientLimits = u["limits"]
        used = u["up"] + u["down"]
        status = (ClientStatus.DISABLED if not u["enabled"] else ClientStatus.EXPIRED
                  if limits.is_expired(self.backend.now()) else ClientStatus.LIMITED
                  if limits.is_exhausted(used) else ClientStatus.ACTIVE)
        link = f"vless://{u['uuid']}@{self.host}:443?security=tls&type=tcp#{key}"
        return ProvisionedClient(key=key, remote_id=u["uuid"], status=status, limits=limits, enabled=u["enabled"],
                                 used_bytes=used, links=(link,))

    async def ensure_client(self, spec: ClientSpec) -> ProvisionedClient:
        user = self.backend.users.setdefault(spec.key, {"uuid": str(uuid.uuid4()), "up": 0, "down": 0})
        user.update(limits=spec.limits, enabled=spec.enabled, note=spec.note)  # keeps the uuid on a retry
        return self._view(spec.key, user)

    async def get_client(self, key: str) -> ProvisionedClient:
        return self._view(key, self._user(key))

    async def update_limits(self, key: str, *, traffic_limit_bytes: int | None, expires_at: datetime | None,
                            device_limit: int | None) -> ProvisionedClient:
        user = self._user(key)
        user["limits"] = ClientLimits(traffic_limit_bytes, expires_at, device_limit)
        return self._view(key, user)

    async def enable(self, key: str) -> ProvisionedClient:
        self._user(key)["enabled"] = True
        return self._view(key, self._user(key))

    async def disable(self, key: str) -> ProvisionedClient:
        self._user(key)["enabled"] = False
        return self._view(key, self._user(key))

    async def reset_traffic(self, key: str) -> ProvisionedClient:
        self._user(key).update(up=0, down=0)
        return self._view(key, self._user(key))

    async def rotate_credentials(self, key: str) -> ProvisionedClient:
        self._user(key)["uuid"] = str(uuid.uuid4())
        return self._view(key, self._user(key))

    async def remove_client(self, key: str) -> bool:
        return self.backend.users.pop(key, None) is not None

    async def usage(self, keys: Collection[str] | None = None, *, page_size: int = 500,
                    ) -> AsyncIterator[Sequence[UsageSnapshot]]:
        names = [k for k in (self.backend.users if keys is None else keys) if k in self.backend.users]
        for start in range(0, len(names), page_size):
            yield [UsageSnapshot(k, self.backend.users[k]["up"], self.backend.users[k]["down"], self.backend.now())
                   for k in names[start:start + page_size]]

    async def status(self) -> ServerStatus:
        views = [self._view(k, u) for k, u in self.backend.users.items()]
        return ServerStatus(online=True, total_clients=len(views),
                            active_clients=sum(v.status is ClientStatus.ACTIVE for v in views), version="acme 1")


@asynccontextmanager
async def acme_harness() -> AsyncIterator[PanelHarness]:
    """A fresh, empty Acme panel for each contract check, plus the panel-side hooks the checks use."""
    backend = AcmeBackend()
    yield PanelHarness(panel=AcmePanel(backend), add_traffic=backend.add_traffic, now=backend.now,
                       advance=backend.advance, count=lambda: len(backend.users))


async def main() -> None:
    # 1. The adapter keeps every VpnPanel promise (idempotent ensure, units, statuses, paging, ...).
    report = await check_vpn_panel(acme_harness)
    report.raise_for_failures()
    print(f"contract: {sum(r.passed for r in report.results)}/{len(report.results)} checks passed")

    # 2. Plug it in: servers of kind "custom" with settings.adapter == "acme" are built by our factory.
    backend = AcmeBackend()

    def build_acme(server: Server, credentials: Mapping[str, Any]) -> AcmePanel:
        return AcmePanel(backend, host=server.address)

    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": tempfile.mkdtemp(prefix="vpnsmm-example-")})
    async with vpnsmm.open(settings, overrides={"custom_panels": {"acme": build_acme}}) as app:
        await app.manage_servers.add(ServerDraft(kind=ServerKind.CUSTOM, name="acme-1", address="acme.example.net",
                                                 settings={"adapter": "acme"}, credentials={"token": "s3cret"}))
        usd = Currency.USD
        plan = await app.manage_plans.create(PlanDraft(name="Acme month", prices={usd: Money(500, usd)},
                                                       duration_days=30, traffic_bytes=50 * 1024**3))
        alice = await app.register_user(RegisterUserCommand(username="alice", password="a long password"))
        await app.wallets.adjust(actor_id=None, user_id=alice.id, amount=Money(2000, usd), reason="welcome",
                                 idempotency_key="welcome-alice")

        # 3. Sell on it: paid from the wallet, provisioned on the Acme panel by vpnsmm's own fulfiller.
        purchase = await app.buy_plan(BuyPlanCommand(user_id=alice.id, plan_id=plan.id, currency=usd,
                                                     gateway=Gateway.WALLET, idempotency_key="alice-first-plan"))
        [account] = await app.vpn_accounts.list(alice.id)
        config = await app.vpn_accounts.config(alice.id, account.id)
        print(f"invoice {purchase.invoice.status.value}; account {account.id} {account.status.value} on acme;"
              f" panel holds {sorted(backend.users)}")
        print(f"link: {config.links[0].split('?')[0]}")


if __name__ == "__main__":
    asyncio.run(main())
