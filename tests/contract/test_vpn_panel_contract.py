"""One contract for every VpnPanel: the real adapters against their faithful fakes, WireGuard render-only,
and the in-memory FakeVpnPanel. Each test states a port guarantee and must pass for all of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.integration.panels.harness import BUILDERS, World
from vpnsmm.application.ports.vpn_panel import ProvisionedClient, VpnPanel
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus, UsageSnapshot

GIB = 2**30
EXPIRY = datetime(2025, 2, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=sorted(BUILDERS))
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    w = BUILDERS[request.param]()
    yield w
    for closer in w.closers:
        await closer.aclose()


def spec(key: str = "acc-42", **kw: object) -> ClientSpec:
    limits = ClientLimits(traffic_limit_bytes=30 * GIB, expires_at=EXPIRY, device_limit=2)
    return ClientSpec(key=key, limits=kw.pop("limits", limits), **kw)  # type: ignore[arg-type]


async def collect(panel: VpnPanel, keys: list[str] | None = None, page_size: int = 500) -> list[list[UsageSnapshot]]:
    return [list(page) async for page in panel.usage(keys, page_size=page_size)]


def fingerprint(c: ProvisionedClient) -> tuple[object, ...]:
    return (c.remote_id, c.links, c.config)


async def test_is_a_vpn_panel(world: World) -> None:
    assert isinstance(world.panel, VpnPanel)


async def test_ensure_twice_creates_one_client_and_round_trips_limits(world: World) -> None:
    first = await world.panel.ensure_client(spec(note="order 1234"))
    second = await world.panel.ensure_client(spec(note="order 1234"))
    assert world.count() == 1
    assert first.remote_id == second.remote_id  # credentials kept on re-ensure
    assert second.key == "acc-42"
    assert second.status is ClientStatus.ACTIVE and second.enabled
    assert second.limits.traffic_limit_bytes == 30 * GIB
    assert second.limits.expires_at == EXPIRY
    expected_devices = 2 if world.panel.capabilities.stores_device_limit else None
    assert second.limits.device_limit == expected_devices
    assert second.links or second.config  # something a customer can import
    fetched = await world.panel.get_client("acc-42")
    assert fetched.limits == second.limits and fetched.remote_id == second.remote_id


async def test_ensure_updates_an_existing_client_to_the_new_spec(world: World) -> None:
    await world.panel.ensure_client(spec())
    changed = await world.panel.ensure_client(
        spec(limits=ClientLimits(traffic_limit_bytes=5 * GIB), enabled=False))
    assert world.count() == 1
    assert changed.limits.traffic_limit_bytes == 5 * GIB and changed.limits.expires_at is None
    assert changed.status is ClientStatus.DISABLED and not changed.enabled


async def test_ensure_can_create_a_disabled_client(world: World) -> None:
    created = await world.panel.ensure_client(spec(enabled=False))
    assert created.status is ClientStatus.DISABLED
    assert (await world.panel.get_client("acc-42")).status is ClientStatus.DISABLED


async def test_update_limits_round_trips_units_and_unlimited(world: World) -> None:
    await world.panel.ensure_client(spec())
    later = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    got = await world.panel.update_limits("acc-42", traffic_limit_bytes=123_456_789_012, expires_at=later,
                                          device_limit=3)
    assert got.limits.traffic_limit_bytes == 123_456_789_012  # bytes, not GB
    assert got.limits.expires_at == later  # seconds precision, UTC
    unlimited = await world.panel.update_limits("acc-42", traffic_limit_bytes=None, expires_at=None,
                                                device_limit=None)
    assert unlimited.limits == ClientLimits()
    assert (await world.panel.get_client("acc-42")).limits == ClientLimits()


async def test_disable_and_enable_are_idempotent(world: World) -> None:
    await world.panel.ensure_client(spec())
    for _ in range(2):
        off = await world.panel.disable("acc-42")
        assert off.status is ClientStatus.DISABLED and not off.enabled
    for _ in range(2):
        on = await world.panel.enable("acc-42")
        assert on.status is ClientStatus.ACTIVE and on.enabled
    assert world.count() == 1


async def test_quota_exhaustion_is_reported_limited_and_reset_restores(world: World) -> None:
    await world.panel.ensure_client(spec(limits=ClientLimits(traffic_limit_bytes=1000)))
    await world.add_traffic("acc-42", 600, 500)
    limited = await world.panel.get_client("acc-42")
    assert limited.status is ClientStatus.LIMITED
    assert limited.used_bytes == 1100
    reset = await world.panel.reset_traffic("acc-42")
    assert reset.used_bytes == 0
    assert reset.status is ClientStatus.ACTIVE


async def test_reset_keeps_a_disabled_client_disabled(world: World) -> None:
    await world.panel.ensure_client(spec())
    await world.add_traffic("acc-42", 10, 20)
    await world.panel.disable("acc-42")
    after = await world.panel.reset_traffic("acc-42")
    assert after.status is ClientStatus.DISABLED
    assert (await world.panel.get_client("acc-42")).status is ClientStatus.DISABLED
    [[snap]] = await collect(world.panel, ["acc-42"])
    assert snap.total_bytes == 0


async def test_expiry_in_the_past_is_reported_expired(world: World) -> None:
    await world.panel.ensure_client(spec())
    world.clock.advance(days=40)  # past EXPIRY
    assert (await world.panel.get_client("acc-42")).status is ClientStatus.EXPIRED
    renewed = await world.panel.update_limits("acc-42", traffic_limit_bytes=30 * GIB,
                                              expires_at=datetime(2025, 3, 15, tzinfo=UTC), device_limit=None)
    assert renewed.status is ClientStatus.ACTIVE


async def test_rotate_credentials_issues_new_material_on_the_same_client(world: World) -> None:
    before = await world.panel.ensure_client(spec())
    rotated = await world.panel.rotate_credentials("acc-42")
    assert fingerprint(rotated) != fingerprint(before)
    assert rotated.limits == before.limits
    assert world.count() == 1
    assert fingerprint(await world.panel.get_client("acc-42")) == fingerprint(rotated)


async def test_remove_is_idempotent(world: World) -> None:
    await world.panel.ensure_client(spec())
    assert await world.panel.remove_client("acc-42") is True
    assert await world.panel.remove_client("acc-42") is False
    assert world.count() == 0
    with pytest.raises(NotFoundError):
        await world.panel.get_client("acc-42")
    again = await world.panel.ensure_client(spec())
    assert again.status is ClientStatus.ACTIVE and world.count() == 1


async def test_operations_on_unknown_or_invalid_keys(world: World) -> None:
    for op in (world.panel.get_client, world.panel.enable, world.panel.disable, world.panel.reset_traffic,
               world.panel.rotate_credentials):
        with pytest.raises(NotFoundError):
            await op("acc-404")
    with pytest.raises(ValidationError):
        await world.panel.get_client("Bad Key!")


async def test_usage_pages_all_and_selected_clients(world: World) -> None:
    keys = [f"acc-{i}" for i in range(5)]
    for i, key in enumerate(keys):
        await world.panel.ensure_client(spec(key))
        await world.add_traffic(key, 100 * i, 1000 * i)
    pages = await collect(world.panel, page_size=2)
    assert all(1 <= len(p) <= 2 for p in pages)
    totals = {s.key: s.total_bytes for p in pages for s in p}
    assert totals == {k: 1100 * i for i, k in enumerate(keys)}
    assert all(s.observed_at.tzinfo is not None for p in pages for s in p)
    selected = await collect(world.panel, ["acc-1", "acc-3", "acc-missing"])
    assert {s.key: s.total_bytes for p in selected for s in p} == {"acc-1": 1100, "acc-3": 3300}


async def test_usage_on_an_empty_panel_yields_nothing(world: World) -> None:
    assert await collect(world.panel) == []


async def test_status_counts_clients(world: World) -> None:
    for key in ("acc-1", "acc-2", "acc-3"):
        await world.panel.ensure_client(spec(key))
    await world.panel.disable("acc-3")
    status = await world.panel.status()
    assert status.online
    assert status.total_clients == 3
    assert status.active_clients == 2
