"""Batch account lookup and per-transfer entries, on the in-memory, SQLite and PostgreSQL ledgers."""

from __future__ import annotations

from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.ledger import AccountPurpose, TransferRequest
from vpnsmm.domain.money import Currency


async def test_find_accounts_returns_existing_ones_by_owner_and_creates_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        a = await uow.ledger.open_account(1, Currency.USD, AccountPurpose.WALLET)
        b = await uow.ledger.open_account(2, Currency.USD, AccountPurpose.WALLET)
        await uow.ledger.open_account(3, Currency.IRR, AccountPurpose.WALLET)
        world = await uow.ledger.open_account(None, Currency.USD, AccountPurpose.WORLD)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        found = await uow.ledger.find_accounts([1, 2, 3, 4], Currency.USD, AccountPurpose.WALLET)
        system = await uow.ledger.find_accounts([None], Currency.USD, AccountPurpose.WORLD)
        assert await uow.ledger.find_account(4, Currency.USD, AccountPurpose.WALLET) is None
    assert {k: v.id for k, v in found.items()} == {1: a.id, 2: b.id}
    assert {k: v.id for k, v in system.items()} == {None: world.id}


async def test_transfer_entries_are_the_debit_then_the_credit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        world = await uow.ledger.open_account(None, Currency.USD, AccountPurpose.WORLD)
        wallet = await uow.ledger.open_account(7, Currency.USD, AccountPurpose.WALLET)
        await uow.ledger.execute(TransferRequest(id="t1", code="topup", debit_account_id=world.id,
                                                 credit_account_id=wallet.id, amount=500))
        fresh = await uow.ledger.transfer_entries("t1")  # served right after the write, same transaction
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        stored = await uow.ledger.transfer_entries("t1")
        assert await uow.ledger.transfer_entries("nope") == []
    # the world account is debit-normal: the debit raises its balance, as the credit raises the wallet's
    assert [(e.account_id, e.delta, e.balance_after) for e in fresh] == [(world.id, 500, 500), (wallet.id, 500, 500)]
    assert [(e.id, e.account_id, e.delta) for e in stored] == [(e.id, e.account_id, e.delta) for e in fresh]


async def test_open_accounts_answers_in_order_and_opens_the_missing_ones(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        wallet = await uow.ledger.open_account(5, Currency.USD, AccountPurpose.WALLET)
        await uow.commit()
    async with uow_factory() as uow:
        revenue, again, fresh = await uow.ledger.open_accounts([
            (None, Currency.USD, AccountPurpose.REVENUE), (5, Currency.USD, AccountPurpose.WALLET),
            (6, Currency.EUR, AccountPurpose.WALLET)])
        await uow.commit()
    assert again.id == wallet.id and again.owner_id == 5
    assert revenue.owner_id is None and revenue.purpose is AccountPurpose.REVENUE and revenue.id != wallet.id
    assert fresh.owner_id == 6 and fresh.currency is Currency.EUR and fresh.id not in (wallet.id, revenue.id)
    async with uow_factory(read_only=True) as uow:  # the missing one was created, once
        assert (await uow.ledger.find_account(6, Currency.EUR, AccountPurpose.WALLET)).id == fresh.id  # type: ignore[union-attr]
        both = await uow.ledger.open_accounts([(5, Currency.USD, AccountPurpose.WALLET),
                                               (5, Currency.USD, AccountPurpose.WALLET)])
    assert [a.id for a in both] == [wallet.id, wallet.id]
