"""CandyPanel use cases under concurrency, on SQLite and PostgreSQL: install once, approve once, one client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.databases import truncate_all
from vpnsmm.application.candypanel import InstallCommand
from vpnsmm.application.ports.candypanel import CardOrder
from vpnsmm.application.ports.persistence import PaymentFilter, UserFilter
from vpnsmm.config import load_settings
from vpnsmm.container import Container, opened
from vpnsmm.domain.errors import ConflictError
from vpnsmm.domain.money import Currency

ADMIN_TG = 4242


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The SQL backends (the container runs on SQL; the in-memory fake is covered by the unit of work tests)."""
    return str(request.param)


@pytest.fixture
async def container(db_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    env = {"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_TELEGRAM_ADMIN_ID": str(ADMIN_TG), "VPNSMM_DATABASE_URL": db_url}
    if db_url.startswith("postgresql"):
        await truncate_all(db_url)
    async with opened(load_settings(env, persist_secret=False)) as c:
        yield c


def _install(name: str) -> InstallCommand:
    return InstallCommand(server_ip="198.51.100.1", wg_port="51820", admin_user=name, admin_password="long password")


async def test_concurrent_installs_exactly_one_wins_and_nothing_of_the_losers_remains(container: Container) -> None:
    setup = container.candypanel_setup()
    results = await asyncio.gather(*(setup.install(_install(f"admin{i}")) for i in range(4)),
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and all(isinstance(e, ConflictError) and e.code == "ALREADY_INSTALLED" for e in losers)
    assert await setup.installed()
    names = {u.username for u in (await container.list_users()(UserFilter()))[0]}
    assert names == {winners[0].username}  # the losers' admins were rolled back with their claim
    assert len(await container.candypanel_interfaces().list()) == 1


async def test_install_with_the_documented_defaults_logs_in_as_admin_admin(container: Container) -> None:
    """CandyPanel's document: admin_user and admin_password default to ``admin``; its clients rely on that."""
    admin = await container.candypanel_setup().install(InstallCommand(server_ip="198.51.100.1", wg_port="51820"))
    assert admin.username == "admin"
    tokens = await container.login()("admin", "admin")
    assert tokens.user.id == admin.id and tokens.access.token


async def test_concurrent_approvals_credit_once_and_create_one_client(container: Container) -> None:
    await container.candypanel_setup().install(_install("boss"))
    bot = container.candypanel_bot()
    user, created = await bot.register(777)
    again, created_again = await bot.register(777)
    assert created and not created_again and again.id == user.id
    await bot.quote(777, "gb", 3, order_id="RACE-1", card_number_sent="card ending 9876")
    approvals = await asyncio.gather(*(bot.approve(ADMIN_TG, "RACE-1") for _ in range(5)), return_exceptions=True)
    assert all(not isinstance(a, BaseException) for a in approvals), approvals
    names = {a.client.name.name for a in approvals if not isinstance(a, BaseException)}
    assert len(names) == 1
    accounts = await container.vpn_accounts().list(user.id)
    assert len(accounts) == 1 and accounts[0].traffic_limit_bytes == 3 * 1024**3
    wallet = await container.wallets().balance(user.id, Currency.IRT)
    assert wallet.balance.amount == 0  # one credit of 12000 toman, one charge of 12000
    history = await container.wallets().history(user.id, Currency.IRT)
    assert sorted(e.code for e in history) == ["invoice_charge", "payment"]
    with pytest.raises(Exception, match="already approved"):
        await bot.reject(ADMIN_TG, "RACE-1", "too late")


async def test_concurrent_submissions_of_one_order_make_one_payment_and_a_claim_resumes(
        container: Container) -> None:
    await container.candypanel_setup().install(_install("boss"))
    bot = container.candypanel_bot()
    user, _ = await bot.register(888)
    results = await asyncio.gather(*(bot.quote(888, "month", 2, order_id="SAME", card_number_sent="sent")
                                     for _ in range(4)), return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    assert done and all(r.order is not None and r.order.payment_id == done[0].order.payment_id for r in done
                        if r.order is not None)
    assert all(isinstance(r, ConflictError) and r.code == "ORDER_IN_PROGRESS" for r in results
               if isinstance(r, BaseException))
    payments = await container.list_payments()(PaymentFilter(user_id=user.id))
    assert len(payments) == 1 and payments[0].amount.amount == 2 * 75000
    # a claim left behind by a crash before its payment existed is completed by the next submission
    async with container.uow()() as uow:
        await uow.candypanel.add_order(CardOrder(
            order_id="CRASHED", user_id=user.id, telegram_id=888, invoice_id=None, payment_id=None,
            purchase_type="gb", quantity=1, amount=75000, card_number_sent="sent",
            requested_at=datetime.now(UTC) - timedelta(minutes=5)))
        await uow.commit()
    with pytest.raises(ConflictError, match="still being submitted"):
        await bot.approve(ADMIN_TG, "CRASHED")
    resumed = await bot.quote(888, "gb", 1, order_id="CRASHED", card_number_sent="sent")
    assert resumed.order is not None and resumed.order.payment_id is not None
    assert {o.order.order_id for o in await bot.orders("pending")} == {"CRASHED", "SAME"}
    approved = await bot.approve(ADMIN_TG, "SAME")
    assert approved.client.account.expires_at is not None
