"""The VpnPanel contract: what every panel adapter guarantees, as checks you can run against your own adapter.

Write a harness factory that builds a fresh panel (with an empty client list) and the hooks the checks need to
play "the panel side", then run the suite::

    from contextlib import asynccontextmanager
    from vpnsmm.testing.contracts import PanelHarness, check_vpn_panel

    @asynccontextmanager
    async def my_panel():
        backend = MyTestBackend()                      # whatever your panel talks to, empty
        yield PanelHarness(panel=MyPanel(backend), add_traffic=backend.add_traffic,
                           now=backend.clock.now, advance=backend.clock.advance)

    report = await check_vpn_panel(my_panel)
    report.raise_for_failures()

Or one pytest test per check: ``@pytest.mark.parametrize("check", VPN_PANEL_CHECKS.values(),
ids=list(VPN_PANEL_CHECKS))``, then ``async with my_panel() as h: await check(h)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from attrs import define

from vpnsmm.application.ports.vpn_panel import ProvisionedClient, VpnPanel
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus, UsageSnapshot
from vpnsmm.testing.contracts._base import (
    Check,
    ContractReport,
    HarnessFactory,
    expect,
    expect_equal,
    expect_raises,
    maybe_await,
    run_contract,
)

GIB = 2**30


@define
class PanelHarness:
    """A fresh, empty panel under test plus the panel-side hooks the checks use.

    * ``add_traffic(key, upload, download)`` -- make the panel count that much more traffic for the client
      (plain or async function). A panel that only counts totals may add ``upload + download``.
    * ``now()`` -- the panel's clock (timezone-aware); ``advance(timedelta)`` moves it forward.
    * ``count()`` -- how many clients the panel itself holds; None = ask ``panel.status().total_clients``.
    """

    panel: VpnPanel
    add_traffic: Callable[[str, int, int], object]
    now: Callable[[], datetime]
    advance: Callable[[timedelta], object]
    count: Callable[[], int] | None = None

    async def clients(self) -> int:
        if self.count is not None:
            return self.count()
        status = await self.panel.status()
        expect(status.total_clients is not None, "status().total_clients must be reported when count is None")
        return int(status.total_clients or 0)

    async def traffic(self, key: str, upload: int, download: int) -> None:
        await maybe_await(self.add_traffic(key, upload, download))

    def expiry(self, days: float) -> datetime:
        return (self.now() + timedelta(days=days)).replace(microsecond=0)


def _spec(h: PanelHarness, key: str = "acc-42", *, limits: ClientLimits | None = None, enabled: bool = True,
          note: str = "") -> ClientSpec:
    if limits is None:
        limits = ClientLimits(traffic_limit_bytes=30 * GIB, expires_at=h.expiry(31.5), device_limit=2)
    return ClientSpec(key=key, limits=limits, enabled=enabled, note=note)


async def _usage(panel: VpnPanel, keys: list[str] | None = None, page_size: int = 500) -> list[list[UsageSnapshot]]:
    return [list(page) async for page in panel.usage(keys, page_size=page_size)]


def _fingerprint(c: ProvisionedClient) -> tuple[object, ...]:
    return (c.remote_id, c.links, c.config)


async def is_a_vpn_panel(h: PanelHarness) -> None:
    expect(isinstance(h.panel, VpnPanel), "the adapter must implement every VpnPanel method")
    caps = h.panel.capabilities
    expect(isinstance(caps.kind, str) and caps.kind, "capabilities.kind must name the panel")


async def ensure_twice_creates_one_client_and_round_trips_limits(h: PanelHarness) -> None:
    first = await h.panel.ensure_client(_spec(h, note="order 1234"))
    second = await h.panel.ensure_client(_spec(h, note="order 1234"))
    expect_equal(await h.clients(), 1, "clients after ensuring one key twice")
    expect_equal(second.remote_id, first.remote_id, "remote_id after re-ensure (credentials must be kept)")
    expect_equal(second.key, "acc-42", "key")
    expect(second.status is ClientStatus.ACTIVE and second.enabled, f"new client must be active, is {second.status}")
    expect_equal(second.limits.traffic_limit_bytes, 30 * GIB, "traffic limit in bytes")
    expect_equal(second.limits.expires_at, _spec(h).limits.expires_at, "expiry (UTC, whole seconds)")
    devices = 2 if h.panel.capabilities.stores_device_limit else None
    expect_equal(second.limits.device_limit, devices, "device limit (None when the panel does not store it)")
    expect(second.links or second.config, "a client must come with links or a config a customer can import")
    fetched = await h.panel.get_client("acc-42")
    expect_equal(fetched.limits, second.limits, "limits read back")
    expect_equal(fetched.remote_id, second.remote_id, "remote_id read back")


async def ensure_updates_an_existing_client_to_the_new_spec(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h))
    changed = await h.panel.ensure_client(_spec(h, limits=ClientLimits(traffic_limit_bytes=5 * GIB), enabled=False))
    expect_equal(await h.clients(), 1, "clients after re-ensure with a new spec")
    expect_equal(changed.limits.traffic_limit_bytes, 5 * GIB, "new traffic limit")
    expect_equal(changed.limits.expires_at, None, "expiry cleared to never")
    expect(changed.status is ClientStatus.DISABLED and not changed.enabled, "re-ensured disabled client")


async def ensure_can_create_a_disabled_client(h: PanelHarness) -> None:
    created = await h.panel.ensure_client(_spec(h, enabled=False))
    expect_equal(created.status, ClientStatus.DISABLED, "status of a client created disabled")
    expect_equal((await h.panel.get_client("acc-42")).status, ClientStatus.DISABLED, "status read back")


async def update_limits_round_trips_units_and_unlimited(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h))
    later = h.expiry(545.25)
    got = await h.panel.update_limits("acc-42", traffic_limit_bytes=123_456_789_012, expires_at=later,
                                      device_limit=3)
    expect_equal(got.limits.traffic_limit_bytes, 123_456_789_012, "traffic limit (bytes, not GB)")
    expect_equal(got.limits.expires_at, later, "expiry (seconds precision, UTC)")
    unlimited = await h.panel.update_limits("acc-42", traffic_limit_bytes=None, expires_at=None, device_limit=None)
    expect_equal(unlimited.limits, ClientLimits(), "limits after setting everything unlimited")
    expect_equal((await h.panel.get_client("acc-42")).limits, ClientLimits(), "unlimited limits read back")


async def disable_and_enable_are_idempotent(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h))
    for _ in range(2):
        off = await h.panel.disable("acc-42")
        expect(off.status is ClientStatus.DISABLED and not off.enabled, f"disable gave {off.status}")
    for _ in range(2):
        on = await h.panel.enable("acc-42")
        expect(on.status is ClientStatus.ACTIVE and on.enabled, f"enable gave {on.status}")
    expect_equal(await h.clients(), 1, "clients after disable/enable")


async def quota_exhaustion_is_reported_limited_and_reset_restores(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h, limits=ClientLimits(traffic_limit_bytes=1000)))
    await h.traffic("acc-42", 600, 500)
    limited = await h.panel.get_client("acc-42")
    expect_equal(limited.status, ClientStatus.LIMITED, "status past the quota")
    expect_equal(limited.used_bytes, 1100, "used bytes")
    reset = await h.panel.reset_traffic("acc-42")
    expect_equal(reset.used_bytes, 0, "used bytes after reset")
    expect_equal(reset.status, ClientStatus.ACTIVE, "status after reset")


async def reset_keeps_a_disabled_client_disabled(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h))
    await h.traffic("acc-42", 10, 20)
    await h.panel.disable("acc-42")
    after = await h.panel.reset_traffic("acc-42")
    expect_equal(after.status, ClientStatus.DISABLED, "status returned by reset of a disabled client")
    expect_equal((await h.panel.get_client("acc-42")).status, ClientStatus.DISABLED, "status read back")
    pages = await _usage(h.panel, ["acc-42"])
    snaps = [s for p in pages for s in p]
    expect(len(snaps) == 1 and snaps[0].total_bytes == 0, f"usage after reset should be one zero snapshot: {snaps}")


async def expiry_in_the_past_is_reported_expired(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h))
    await maybe_await(h.advance(timedelta(days=40)))  # past the 31.5-day expiry
    expect_equal((await h.panel.get_client("acc-42")).status, ClientStatus.EXPIRED, "status past expiry")
    renewed = await h.panel.update_limits("acc-42", traffic_limit_bytes=30 * GIB, expires_at=h.expiry(33),
                                          device_limit=None)
    expect_equal(renewed.status, ClientStatus.ACTIVE, "status after a later expiry is set")


async def rotate_credentials_issues_new_material_on_the_same_client(h: PanelHarness) -> None:
    before = await h.panel.ensure_client(_spec(h))
    rotated = await h.panel.rotate_credentials("acc-42")
    expect(_fingerprint(rotated) != _fingerprint(before), "rotation must change the remote id, links or config")
    expect_equal(rotated.limits, before.limits, "limits kept by rotation")
    expect_equal(await h.clients(), 1, "clients after rotation")
    expect_equal(_fingerprint(await h.panel.get_client("acc-42")), _fingerprint(rotated), "rotated material read back")


async def remove_is_idempotent(h: PanelHarness) -> None:
    await h.panel.ensure_client(_spec(h))
    expect_equal(await h.panel.remove_client("acc-42"), True, "first remove")
    expect_equal(await h.panel.remove_client("acc-42"), False, "second remove")
    expect_equal(await h.clients(), 0, "clients after remove")
    await expect_raises(NotFoundError, h.panel.get_client("acc-42"), "get_client of a removed key")
    again = await h.panel.ensure_client(_spec(h))
    expect_equal(again.status, ClientStatus.ACTIVE, "status of a re-created client")
    expect_equal(await h.clients(), 1, "clients after re-creating")


async def operations_on_unknown_or_invalid_keys(h: PanelHarness) -> None:
    for op in (h.panel.get_client, h.panel.enable, h.panel.disable, h.panel.reset_traffic,
               h.panel.rotate_credentials):
        await expect_raises(NotFoundError, op("acc-404"), f"{op.__name__} of an unknown key")
    await expect_raises(NotFoundError, h.panel.update_limits("acc-404", traffic_limit_bytes=None, expires_at=None,
                                                             device_limit=None), "update_limits of an unknown key")
    await expect_raises(ValidationError, h.panel.get_client("Bad Key!"), "get_client of an invalid key")


async def usage_pages_all_and_selected_clients(h: PanelHarness) -> None:
    keys = [f"acc-{i}" for i in range(5)]
    for i, key in enumerate(keys):
        await h.panel.ensure_client(_spec(h, key))
        await h.traffic(key, 100 * i, 1000 * i)
    pages = await _usage(h.panel, page_size=2)
    expect(all(1 <= len(p) <= 2 for p in pages), f"pages must hold 1..page_size snapshots: {[len(p) for p in pages]}")
    totals = {s.key: s.total_bytes for p in pages for s in p}
    expect_equal(totals, {k: 1100 * i for i, k in enumerate(keys)}, "usage totals per key")
    expect(all(s.observed_at.tzinfo is not None for p in pages for s in p), "observed_at must be timezone-aware")
    selected = await _usage(h.panel, ["acc-1", "acc-3", "acc-missing"])
    expect_equal({s.key: s.total_bytes for p in selected for s in p}, {"acc-1": 1100, "acc-3": 3300},
                 "usage of selected keys (unknown keys skipped)")


async def usage_on_an_empty_panel_yields_nothing(h: PanelHarness) -> None:
    expect_equal(await _usage(h.panel), [], "usage of an empty panel")


async def status_counts_clients(h: PanelHarness) -> None:
    for key in ("acc-1", "acc-2", "acc-3"):
        await h.panel.ensure_client(_spec(h, key))
    await h.panel.disable("acc-3")
    status = await h.panel.status()
    expect(status.online, f"status must be online: {status.detail}")
    expect_equal(status.total_clients, 3, "total clients")
    expect_equal(status.active_clients, 2, "active clients")


VPN_PANEL_CHECKS: dict[str, Check[PanelHarness]] = {
    fn.__name__: fn for fn in (
        is_a_vpn_panel,
        ensure_twice_creates_one_client_and_round_trips_limits,
        ensure_updates_an_existing_client_to_the_new_spec,
        ensure_can_create_a_disabled_client,
        update_limits_round_trips_units_and_unlimited,
        disable_and_enable_are_idempotent,
        quota_exhaustion_is_reported_limited_and_reset_restores,
        reset_keeps_a_disabled_client_disabled,
        expiry_in_the_past_is_reported_expired,
        rotate_credentials_issues_new_material_on_the_same_client,
        remove_is_idempotent,
        operations_on_unknown_or_invalid_keys,
        usage_pages_all_and_selected_clients,
        usage_on_an_empty_panel_yields_nothing,
        status_counts_clients,
    )
}


async def check_vpn_panel(make: HarnessFactory[PanelHarness], *,
                          only: list[str] | None = None) -> ContractReport:
    """Run every VpnPanel check (or ``only`` those) against fresh harnesses from ``make()``."""
    return await run_contract("VpnPanel", VPN_PANEL_CHECKS, make, only=only)


__all__ = ["VPN_PANEL_CHECKS", "PanelHarness", "check_vpn_panel"]
