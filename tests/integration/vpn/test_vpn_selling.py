"""VPN selling use cases on memory, SQLite and PostgreSQL: buying pays through billing and provisions on a panel,
renewals and add-ons apply once, failed provisioning refunds, usage sync folds counter resets, limits are pushed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.conftest import FrozenClock
from tests.integration.vpn.harness import IRR, VpnWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.vpn import BuyPlanCommand, ServerDraft
from vpnsmm.domain.billing import Gateway, InvoiceStatus
from vpnsmm.domain.errors import (
    ConflictError,
    InsufficientFundsError,
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.vpn_sales import GIB, AccountStatus, AddOnKind, ServerKind, UsageEventKind


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    w = VpnWorld(uow_factory, clock)
    yield w
    await w.close()


async def test_buying_with_the_wallet_provisions_an_account_on_the_panel(world: VpnWorld) -> None:
    alice = await world.user("alice")
    plan = await world.plan()
    server = await world.fake_server()
    purchase = await world.buy_with_wallet(alice, plan)
    assert purchase.invoice.status is InvoiceStatus.FULFILLED
    assert await world.balance(alice) == 10_000_000 - 1_000_000
    account = await world.account_of(purchase)
    assert account.status is AccountStatus.ACTIVE and account.server_id == server.id
    assert account.expires_at == world.clock.now() + timedelta(days=30)
    assert account.links and account.links[0].startswith("vless://")
    panel = await world.fake_panel(server)
    client = await panel.get_client(f"acc-{account.id}")
    assert client.enabled and client.limits.traffic_limit_bytes == 10 * GIB
    assert client.limits.expires_at == account.expires_at
    # running the fulfiller again (a retry) neither duplicates the account nor the client
    again = await world.fulfiller.fulfil(purchase.invoice)
    assert again is not None and again["account_id"] == account.id and len(panel.clients) == 1
    # ownership: another user sees nothing
    bob = await world.user("bob", funds=0)
    with pytest.raises(NotFoundError):
        await world.accounts.get(bob.id, account.id)
    assert [a.id for a in await world.accounts.list(alice.id)] == [account.id]


async def test_a_short_wallet_buys_nothing(world: VpnWorld) -> None:
    poor = await world.user("poor", funds=10)
    plan = await world.plan()
    await world.fake_server()
    with pytest.raises(InsufficientFundsError):
        await world.buy_with_wallet(poor, plan)
    assert await world.accounts.list(poor.id) == []


async def test_failed_provision_is_refunded_and_the_account_revoked(world: VpnWorld) -> None:
    carol = await world.user("carol")
    plan = await world.plan()
    server = await world.fake_server()
    panel = await world.fake_panel(server)
    panel.fail_next("ensure_client", UpstreamRejectedError("inbound is full"))
    purchase = await world.buy_with_wallet(carol, plan)
    assert purchase.invoice.status is InvoiceStatus.REFUNDED
    assert await world.balance(carol) == 10_000_000
    (account,) = await world.accounts.list(carol.id)
    assert account.status is AccountStatus.REVOKED and panel.clients == {}


async def test_a_retryable_failure_keeps_the_account_pending_and_a_retry_delivers(world: VpnWorld) -> None:
    dave = await world.user("dave")
    plan = await world.plan()
    server = await world.fake_server()
    panel = await world.fake_panel(server)
    panel.fail_next("ensure_client", UpstreamUnavailableError("timeout"))
    purchase = await world.buy_with_wallet(dave, plan)
    assert purchase.invoice.status is InvoiceStatus.PAID and purchase.invoice.fulfilment_attempts == 1
    (pending,) = await world.accounts.list(dave.id)
    assert pending.status is AccountStatus.PENDING
    delivered = await world.fulfil(purchase.invoice.id)
    assert delivered.status is InvoiceStatus.FULFILLED
    (account,) = await world.accounts.list(dave.id)
    assert account.id == pending.id and account.status is AccountStatus.ACTIVE and len(panel.clients) == 1


async def test_server_choice_follows_group_capacity_weight_and_health(world: VpnWorld) -> None:
    user = await world.user("erin", funds=100_000_000)
    plan = await world.plan(group="eu")
    small = await world.fake_server("eu-small", capacity=1, group="eu")
    heavy = await world.fake_server("eu-heavy", capacity=100, weight=3, group="eu")
    down = await world.fake_server("eu-down", capacity=100, weight=100, group="eu")
    await world.fake_server("us-1", capacity=100, weight=100, group="us")
    (await world.fake_panel(down)).online = False
    servers = [(await world.account_of(await world.buy_with_wallet(user, plan))).server_id for _ in range(5)]
    assert down.id not in servers and servers.count(small.id) == 1 and servers.count(heavy.id) == 4
    # eu is now full except the weighted server; a group without servers is charged then refunded
    nowhere = await world.buy_with_wallet(user, await world.plan("Elsewhere", group="nowhere"))
    assert nowhere.invoice.status is InvoiceStatus.REFUNDED and "NO_SERVER_AVAILABLE" in nowhere.invoice.last_error
    assert await world.balance(user) == 100_000_000 - 5 * 1_000_000


async def test_renewal_and_add_ons_apply_once_and_reach_the_panel(world: VpnWorld) -> None:
    frank = await world.user("frank")
    plan = await world.plan()
    server = await world.fake_server()
    account = await world.account_of(await world.buy_with_wallet(frank, plan))
    panel = await world.fake_panel(server)
    key = f"acc-{account.id}"
    panel.add_traffic(key, 2 * GIB, 3 * GIB)
    await world.sync(server.id)
    world.clock.advance(days=10)

    renewal = await world.renew(frank.id, account.id, IRR, Gateway.WALLET)
    assert renewal.invoice.status is InvoiceStatus.FULFILLED
    renewed = await world.accounts.get(frank.id, account.id)
    assert renewed.expires_at == account.expires_at + timedelta(days=30)  # from the later of now and expiry
    assert renewed.period_used_bytes == 0 and renewed.used_bytes == 5 * GIB and not renewed.pending_reset
    assert panel.clients[key].upload == 0  # counters reset on the panel for the new period
    await world.fulfiller.fulfil(renewal.invoice)  # replayed: applied once only
    assert (await world.accounts.get(frank.id, account.id)).expires_at == renewed.expires_at

    traffic = await world.addon(frank.id, account.id, AddOnKind.TRAFFIC, 5, IRR, Gateway.WALLET)
    assert traffic.invoice.amount.amount == 50_000
    days = await world.addon(frank.id, account.id, AddOnKind.DAYS, 7, IRR, Gateway.WALLET)
    assert days.invoice.status is InvoiceStatus.FULFILLED
    topped = await world.accounts.get(frank.id, account.id)
    assert topped.traffic_limit_bytes == 15 * GIB
    assert topped.expires_at == renewed.expires_at + timedelta(days=7)
    client = await panel.get_client(key)
    assert client.limits.traffic_limit_bytes == 15 * GIB and client.limits.expires_at == topped.expires_at
    assert await world.balance(frank) == 10_000_000 - 2 * 1_000_000 - 50_000 - 35_000


async def test_sync_usage_is_monotonic_across_counter_resets_and_raises_threshold_events(world: VpnWorld) -> None:
    gina = await world.user("gina")
    plan = await world.plan(traffic=10 * GIB)
    server = await world.fake_server()
    account = await world.account_of(await world.buy_with_wallet(gina, plan))
    panel = await world.fake_panel(server)
    key = f"acc-{account.id}"
    panel.add_traffic(key, 1 * GIB, 7 * GIB)
    report = await world.sync(server.id)
    assert report.seen == 1 and report.updated == 1
    assert [(e.kind, e.threshold) for e in report.events] == [(UsageEventKind.TRAFFIC, 80)]
    panel.clients[key].upload = panel.clients[key].download = 0  # panel-side reset
    panel.add_traffic(key, 0, 1 * GIB)
    report = await world.sync(server.id)
    synced = await world.accounts.get(gina.id, account.id)
    assert synced.used_bytes == 9 * GIB  # 8 before the reset + 1 after, never less
    assert report.events == []
    panel.add_traffic(key, 0, 1 * GIB)
    report = await world.sync(server.id)
    assert [(e.kind, e.threshold) for e in report.events] == [(UsageEventKind.TRAFFIC, 100)]
    assert report.status_changes == [account.id]
    limited = await world.accounts.get(gina.id, account.id)
    assert limited.status is AccountStatus.LIMITED and limited.userinfo()["total"] == 10 * GIB
    # days-left events fire once when the threshold is crossed
    world.clock.advance(days=27, hours=1)
    report = await world.sync(server.id)
    assert [(e.kind, e.threshold) for e in report.events] == [(UsageEventKind.DAYS_LEFT, 3)]
    assert (await world.sync(server.id)).events == []


async def test_on_hold_accounts_start_their_clock_at_first_use(world: VpnWorld) -> None:
    hank = await world.user("hank")
    plan = await world.plan("Hold", on_hold=True, traffic=None)
    server = await world.fake_server()
    account = await world.account_of(await world.buy_with_wallet(hank, plan))
    assert account.status is AccountStatus.ON_HOLD and account.expires_at is None
    world.clock.advance(days=5)
    (await world.fake_panel(server)).add_traffic(f"acc-{account.id}", 10, 10)
    await world.sync(server.id)
    started = await world.accounts.get(hank.id, account.id)
    assert started.status is AccountStatus.ACTIVE
    assert started.expires_at == world.clock.now() + timedelta(days=30)


async def test_enforce_limits_expires_accounts_and_disables_them_on_the_panel(world: VpnWorld) -> None:
    ivan = await world.user("ivan")
    plan = await world.plan(days=1)
    server = await world.fake_server()
    account = await world.account_of(await world.buy_with_wallet(ivan, plan))
    panel = await world.fake_panel(server)
    world.clock.advance(days=2)
    panel.fail_next("ensure_client", UpstreamUnavailableError("down"))
    first = await world.enforce()
    assert first.failed and (await world.accounts.get(None, account.id)).status is AccountStatus.EXPIRED
    second = await world.enforce()  # the push is retried until it lands
    assert second.changed == [account.id]
    assert not panel.clients[f"acc-{account.id}"].enabled
    assert (await world.enforce()).changed == []


async def test_revoke_rotates_credentials_and_admin_can_disable_and_enable(world: VpnWorld) -> None:
    june = await world.user("june")
    plan = await world.plan()
    server = await world.fake_server()
    account = await world.account_of(await world.buy_with_wallet(june, plan))
    panel = await world.fake_panel(server)
    key = f"acc-{account.id}"
    disabled = await world.admin.set_enabled(1, account.id, False)
    assert disabled.status is AccountStatus.DISABLED and not panel.clients[key].enabled
    enabled = await world.admin.set_enabled(1, account.id, True)
    assert enabled.status is AccountStatus.ACTIVE and panel.clients[key].enabled
    old_uuid = panel.clients[key].uuid
    stranger = await world.user("stranger", funds=0)
    with pytest.raises(NotFoundError):
        await world.revoke(stranger.id, account.id)
    revoked = await world.revoke(june.id, account.id)
    assert revoked.status is AccountStatus.REVOKED
    assert panel.clients[key].uuid != old_uuid and not panel.clients[key].enabled
    with pytest.raises(NotFoundError):
        await world.accounts.subscription(account.subscription_token)
    with pytest.raises(ValidationError):
        await world.renew(june.id, account.id, IRR, Gateway.WALLET)


async def test_wireguard_accounts_get_a_config_whose_key_the_server_lists(world: VpnWorld) -> None:
    kate = await world.user("kate")
    plan = await world.plan()
    server = await world.wg_server()
    account = await world.account_of(await world.buy_with_wallet(kate, plan))
    config = await world.accounts.config(kate.id, account.id)
    assert config.config is not None and "PrivateKey = " in config.config
    assert config.subscription_url == f"https://shop.test/sub/{account.subscription_token}"
    server_conf = await world.servers.server_config(server.id)
    assert f"PublicKey = {account.remote_id}" in server_conf
    feed = await world.accounts.subscription(account.subscription_token)
    assert feed.config == config.config


async def test_servers_and_plans_admin(world: VpnWorld) -> None:
    server = await world.fake_server("one")
    with pytest.raises(ConflictError):
        await world.fake_server("one")
    updated = await world.servers.update(server.id, {"capacity": 5, "location": "NL"})
    assert updated.capacity == 5 and updated.location == "NL"
    status = await world.servers.status(server.id)
    assert status.online and (await world.servers.get(server.id)).server.online is True
    xui = await world.servers.add(ServerDraft(
        kind=ServerKind.XUI, name="xui-1", address="https://panel.test:2053",
        credentials={"username": "admin", "password": "s3cret"},
        settings={"inbound_id": 1}))
    assert "s3cret" not in xui.credentials and world.box.open(xui.credentials)["password"] == "s3cret"
    with pytest.raises(ValidationError):
        await world.servers.update(xui.id, {"settings": {"inbound_id": "x"}})
    plan = await world.plan()
    changed = await world.plans.update(plan.id, {"active": False})
    assert not changed.active and await world.plans.list() == []
    user = await world.user("lee")
    with pytest.raises(NotFoundError):
        await world.buy(BuyPlanCommand(user_id=user.id, plan_id=plan.id, currency=IRR))
    await world.servers.remove(xui.id)
    with pytest.raises(NotFoundError):
        await world.servers.get(xui.id)
