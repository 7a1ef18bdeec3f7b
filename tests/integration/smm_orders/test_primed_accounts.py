"""The wallet and revenue rows read along with an SMM service (one query) serve the charge's account lookup.

They are only snapshots: a charge committed by another transaction between that read and this charge must not
let the wallet go below zero nor put wrong balances in the entries (the optimistic write re-checks under lock).
Two open write transactions need PostgreSQL (SQLite's database lock forbids the interleaving).
"""

from __future__ import annotations

import pytest

from tests.integration.smm_orders.harness import USD, SmmWorld
from vpnsmm.adapters.sqlalchemy.repositories.ledger import SqlLedger
from vpnsmm.application.billing import wallet_and_revenue
from vpnsmm.domain.errors import InsufficientFundsError
from vpnsmm.domain.ledger import AccountPurpose, TransferRequest
from vpnsmm.domain.money import Money


def _charge(wallet: int, revenue: int, amount: int, tid: str) -> TransferRequest:
    return TransferRequest(id=tid, code="smm_charge", debit_account_id=wallet, credit_account_id=revenue,
                           amount=amount)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_the_accounts_read_with_the_service_answer_the_next_lookup(world: SmmWorld,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    buyer = await world.user("primed")
    await world.fund(buyer, "2.00")
    await world.place(await world.order(buyer, quantity=100))  # the revenue account exists from here on
    service = await world.service("1")
    async with world.uow() as uow:
        found = await uow.smm_catalogue.service_for_user(service.id, buyer.id)
        assert found is not None

        async def no_query(*args: object, **kwargs: object) -> None:
            raise AssertionError("the primed accounts should have answered")

        monkeypatch.setattr(SqlLedger, "_reader", no_query)
        wallet, revenue = await wallet_and_revenue(uow, buyer.id, USD)
        monkeypatch.undo()
        assert wallet.owner_id == buyer.id and wallet.purpose is AccountPurpose.WALLET
        assert revenue.owner_id is None and revenue.purpose is AccountPurpose.REVENUE
        assert wallet.balance == 200 - 9  # as read with the service: 2.00 minus the first order's 0.09
        await uow.ledger.execute(_charge(wallet.id, revenue.id, 10, "primed-1"))
        again, _ = await wallet_and_revenue(uow, buyer.id, USD)  # a transfer dropped the primed rows: read anew
        assert again.balance == 200 - 9 - 10
        await uow.commit()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_stale_primed_wallet_never_overdraws(world: SmmWorld) -> None:
    buyer = await world.user("stale")
    await world.fund(buyer, "1.00")
    await world.place(await world.order(buyer, quantity=100))  # 0.09: 0.91 left
    service = await world.service("1")
    async with world.uow() as slow:
        assert await slow.smm_catalogue.service_for_user(service.id, buyer.id) is not None  # sees 0.91
        async with world.uow() as fast:  # meanwhile another charge takes 0.90 and commits
            wallet, revenue = await wallet_and_revenue(fast, buyer.id, USD)
            await fast.ledger.execute(_charge(wallet.id, revenue.id, 90, "fast"))
            await fast.commit()
        wallet, revenue = await wallet_and_revenue(slow, buyer.id, USD)
        assert wallet.balance == 91  # the primed snapshot is stale ...
        with pytest.raises(InsufficientFundsError):  # ... but the write re-checks under lock: 0.01 < 0.50
            await slow.ledger.execute(_charge(wallet.id, revenue.id, 50, "slow"))
    assert await world.balance(buyer) == Money.parse("0.01", USD)
    async with world.uow(read_only=True) as uow:
        account = await uow.ledger.find_account(buyer.id, USD, AccountPurpose.WALLET)
        assert account is not None
        entries = await uow.ledger.entries(account.id, limit=10)
    assert [e.balance_after for e in entries][:1] == [1] and all(e.balance_after >= 0 for e in entries)
    await world.books_balance()
