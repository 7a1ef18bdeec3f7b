"""The WireGuard client config cached on a VPN account (it holds the private and preshared keys) is sealed at rest
like panel credentials, readable only with the installation's secret key; rows written before sealing still read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from tests.conftest import FrozenClock
from tests.integration.vpn.harness import VpnWorld
from vpnsmm.adapters.panels.registry import FernetSecretBox
from vpnsmm.adapters.sqlalchemy.repositories.vpn import SEALED_PREFIX
from vpnsmm.adapters.sqlalchemy.tables import vpn_accounts
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.errors import ValidationError

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[VpnWorld]:
    assert isinstance(uow_factory, SqlUnitOfWorkFactory)
    sealed = SqlUnitOfWorkFactory(uow_factory.engine, secret_box=FernetSecretBox("test secret key"))
    w = VpnWorld(sealed, clock)
    yield w
    await w.close()


async def raw_config(world: VpnWorld, account_id: int) -> str | None:
    assert isinstance(world.uow, SqlUnitOfWorkFactory)
    async with world.uow.engine.connect() as conn:
        return (await conn.execute(sa.select(vpn_accounts.c.config).where(vpn_accounts.c.id == account_id))).scalar()


async def test_the_wireguard_config_is_sealed_at_rest_and_opened_for_its_owner(world: VpnWorld) -> None:
    alice = await world.user("alice")
    plan = await world.plan()
    await world.wg_server()
    account = await world.account_of(await world.buy_with_wallet(alice, plan))
    config = (await world.accounts.config(alice.id, account.id)).config
    assert config is not None and "PrivateKey = " in config and "PresharedKey = " in config
    stored = await raw_config(world, account.id)
    assert stored is not None and stored.startswith(SEALED_PREFIX)
    private_key = next(line.split("=", 1)[1].strip() for line in config.splitlines() if line.startswith("PrivateKey"))
    assert private_key not in stored and "PrivateKey" not in stored
    # the feed serves the opened config
    feed = await world.accounts.subscription(account.subscription_token)
    assert feed.config == config
    # a renewal pushes to the panel and writes the config again: still sealed, same keys
    await world.admin.renew(None, account.id)
    assert (await raw_config(world, account.id) or "").startswith(SEALED_PREFIX)
    assert (await world.accounts.config(alice.id, account.id)).config == config


async def test_a_config_written_before_sealing_still_reads_and_a_wrong_key_is_refused(world: VpnWorld) -> None:
    alice = await world.user("alice")
    plan = await world.plan()
    await world.wg_server()
    account = await world.account_of(await world.buy_with_wallet(alice, plan))
    assert isinstance(world.uow, SqlUnitOfWorkFactory)
    async with world.uow.engine.begin() as conn:  # an account row from before this release
        await conn.execute(vpn_accounts.update().where(vpn_accounts.c.id == account.id).values(config="[Interface]\n"))
    assert (await world.accounts.config(alice.id, account.id)).config == "[Interface]\n"
    await world.admin.renew(None, account.id)  # the next write seals it
    assert (await raw_config(world, account.id) or "").startswith(SEALED_PREFIX)
    other_key = VpnWorld(SqlUnitOfWorkFactory(world.uow.engine, secret_box=FernetSecretBox("another key")),
                         world.clock)
    with pytest.raises(ValidationError) as refused:
        await other_key.accounts.config(alice.id, account.id)
    assert refused.value.code == "CREDENTIALS_UNREADABLE"
    await other_key.close()
