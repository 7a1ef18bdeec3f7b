"""Usage-event thresholds are configurable (VPNSMM_VPN_TRAFFIC_THRESHOLDS / VPNSMM_VPN_DAYS_LEFT_THRESHOLDS)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import vpnsmm
from tests.conftest import FrozenClock
from tests.integration.vpn.harness import VpnWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.vpn import SyncUsage
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.vpn_sales import GIB, UsageEventKind, UsageThresholds


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    w = VpnWorld(uow_factory, clock)
    yield w
    await w.close()


async def test_sync_raises_events_at_the_configured_thresholds(world: VpnWorld) -> None:
    world.sync = SyncUsage(world.uow, world.clock, world.panels, UsageThresholds(traffic_percent=(50, 90),
                                                                                  days_left=(10,)))
    user = await world.user("thresholds")
    plan = await world.plan(traffic=10 * GIB)
    server = await world.fake_server()
    account = await world.account_of(await world.buy_with_wallet(user, plan))
    panel = await world.fake_panel(server)
    panel.add_traffic(f"acc-{account.id}", 0, 6 * GIB)
    assert [(e.kind, e.threshold) for e in (await world.sync(server.id)).events] == [(UsageEventKind.TRAFFIC, 50)]
    panel.add_traffic(f"acc-{account.id}", 0, 3 * GIB)
    assert [(e.kind, e.threshold) for e in (await world.sync(server.id)).events] == [(UsageEventKind.TRAFFIC, 90)]
    world.clock.advance(days=21)
    assert [(e.kind, e.threshold) for e in (await world.sync(server.id)).events] == [(UsageEventKind.DAYS_LEFT, 10)]


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_thresholds_are_validated_in_the_domain_and_in_settings(backend: str) -> None:
    for bad in ({"traffic_percent": ()}, {"traffic_percent": (0,)}, {"traffic_percent": (101,)},
                {"days_left": (-1,)}):
        with pytest.raises(ValidationError):
            UsageThresholds(**bad)  # type: ignore[arg-type]
    assert UsageThresholds(traffic_percent=(100, 50, 50)).traffic_percent == (50, 100)
    settings = vpnsmm.load_settings({"VPNSMM_VPN_TRAFFIC_THRESHOLDS": "70, 95", "VPNSMM_VPN_DAYS_LEFT_THRESHOLDS": "7",
                                     "VPNSMM_SECRET_KEY": "x" * 40}, persist_secret=False)
    assert (settings.vpn_traffic_thresholds, settings.vpn_days_left_thresholds) == ((70, 95), (7,))
    for bad_env in ({"VPNSMM_VPN_TRAFFIC_THRESHOLDS": "eighty"}, {"VPNSMM_VPN_TRAFFIC_THRESHOLDS": "150"},
                    {"VPNSMM_VPN_DAYS_LEFT_THRESHOLDS": ""}):
        with pytest.raises(vpnsmm.ConfigError):
            vpnsmm.load_settings({**bad_env, "VPNSMM_SECRET_KEY": "x" * 40}, persist_secret=False)
