"""One contract for every VpnPanel: the real adapters against their faithful fakes, WireGuard render-only,
and the in-memory FakeVpnPanel. The checks are the packaged suite ``vpnsmm.testing.contracts`` (what third-party
adapters run too), so the contract cannot drift from what vpnsmm's own adapters pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.integration.panels.harness import BUILDERS, World
from vpnsmm.testing.contracts import VPN_PANEL_CHECKS, Check, PanelHarness, check_vpn_panel


def harness_of(w: World) -> PanelHarness:
    return PanelHarness(panel=w.panel, add_traffic=w.add_traffic, now=w.clock,
                        advance=lambda delta: w.clock.advance(seconds=delta.total_seconds()), count=w.count)


def factory(builder: str):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def make() -> AsyncIterator[PanelHarness]:
        w = BUILDERS[builder]()
        try:
            yield harness_of(w)
        finally:
            for closer in w.closers:
                await closer.aclose()
    return make


@pytest.mark.parametrize("check", list(VPN_PANEL_CHECKS.values()), ids=list(VPN_PANEL_CHECKS))
@pytest.mark.parametrize("builder", sorted(BUILDERS))
async def test_vpn_panel_contract(builder: str, check: Check[PanelHarness]) -> None:
    async with factory(builder)() as h:
        await check(h)


async def test_the_runner_reports_every_check_for_an_adapter() -> None:
    report = await check_vpn_panel(factory("fake"))
    assert report.ok, report.failures
    assert [r.name for r in report.results] == list(VPN_PANEL_CHECKS)


async def test_the_runner_catches_a_broken_adapter() -> None:
    """A panel that duplicates clients on re-ensure (the classic retry bug) fails the idempotency check."""
    from vpnsmm.adapters.panels.fake import FakeVpnPanel
    from vpnsmm.testing.contracts.vpn_panel import ensure_twice_creates_one_client_and_round_trips_limits

    class Duplicating(FakeVpnPanel):
        async def ensure_client(self, spec):  # type: ignore[no-untyped-def]
            made = await super().ensure_client(spec)
            self.clients[spec.key].uuid = f"new-{len(self.calls)}"  # a retry issues new credentials
            return made

    @asynccontextmanager
    async def broken() -> AsyncIterator[PanelHarness]:
        w = BUILDERS["fake"]()
        panel = Duplicating(now=w.clock)
        yield PanelHarness(panel=panel, add_traffic=panel.add_traffic, now=w.clock,
                           advance=lambda d: w.clock.advance(seconds=d.total_seconds()))

    report = await check_vpn_panel(broken, only=[ensure_twice_creates_one_client_and_round_trips_limits.__name__])
    assert not report.ok
    assert "remote_id after re-ensure" in str(report.failures[0].error)
    with pytest.raises(AssertionError, match="1 of 1 checks failed"):
        report.raise_for_failures()
