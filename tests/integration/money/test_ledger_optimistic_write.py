"""The optimistic one-round-trip write of the SQL ledger (PostgreSQL) against every way its snapshot can be stale.

A transfer between accounts already read in the transaction is planned on that (unlocked) snapshot and written
by one statement that re-checks the counters under the row locks. These tests move money in a second, committed
transaction between the read and the write and check that the result is exactly what the locking path gives:
no overdraft, the entries' balances are the real ones, replays and conflicting reuses of an id are still caught.
The interleavings need two open write transactions, which SQLite's database lock forbids, so they run on
PostgreSQL; the first test runs everywhere as a plain behaviour check.
"""

from __future__ import annotations

import pytest

from vpnsmm.adapters.sqlalchemy.repositories.ledger import SqlLedger
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.errors import ConflictError, InsufficientFundsError
from vpnsmm.domain.ledger import AccountPurpose, LedgerAccount, TransferRequest
from vpnsmm.domain.money import Currency

USD = Currency.USD


async def _setup(uow_factory: UnitOfWorkFactory, funds: int) -> tuple[int, int, int]:
    """World, payer wallet (holding ``funds``), payee wallet: their ids."""
    async with uow_factory() as uow:
        world = await uow.ledger.open_account(None, USD, AccountPurpose.WORLD)
        payer = await uow.ledger.open_account(1, USD, AccountPurpose.WALLET)
        payee = await uow.ledger.open_account(2, USD, AccountPurpose.WALLET)
        if funds:
            await uow.ledger.execute(TransferRequest(id="fund", code="topup", debit_account_id=world.id,
                                                     credit_account_id=payer.id, amount=funds))
        await uow.commit()
    return world.id, payer.id, payee.id


async def _account(uow_factory: UnitOfWorkFactory, account_id: int) -> LedgerAccount:
    async with uow_factory(read_only=True) as uow:
        account = await uow.ledger.get_account(account_id)
    assert account is not None
    return account


def _no_locking_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the locking SELECT is used: a stale optimistic write hands back the rows it locked."""
    async def no_lock(self: SqlLedger, ids: object) -> None:
        raise AssertionError("the optimistic write should not need the locking SELECT")

    monkeypatch.setattr(SqlLedger, "_lock", no_lock)


def _pay(payer: int, payee: int, amount: int, id: str = "pay") -> TransferRequest:
    return TransferRequest(id=id, code="p2p", debit_account_id=payer, credit_account_id=payee, amount=amount)


async def _books_balance(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory(read_only=True) as uow:
        assert all(t.balanced for t in (await uow.ledger.totals()).values())


async def test_a_transfer_after_a_lookup_needs_no_locking_read(uow_factory: UnitOfWorkFactory, backend: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _, payer, payee = await _setup(uow_factory, 100)
    if backend == "postgres":
        _no_locking_read(monkeypatch)
    async with uow_factory() as uow:
        found = await uow.ledger.find_accounts([1, 2], USD, AccountPurpose.WALLET)
        assert {found[1].id, found[2].id} == {payer, payee}
        await uow.ledger.execute(_pay(payer, payee, 60))
        entries = await uow.ledger.transfer_entries("pay")
        await uow.commit()
    assert [(e.account_id, e.balance_before, e.balance_after) for e in entries] == [(payer, 100, 40), (payee, 0, 60)]
    async with uow_factory(read_only=True) as uow:
        stored = await uow.ledger.transfer_entries("pay")
    assert [(e.id, e.balance_after) for e in stored] == [(e.id, e.balance_after) for e in entries]
    assert (await _account(uow_factory, payer)).balance == 40


@pytest.mark.parametrize("backend", ["postgres"])
async def test_money_spent_since_the_snapshot_is_not_spent_twice(uow_factory: UnitOfWorkFactory,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, payer, payee = await _setup(uow_factory, 100)
    _no_locking_read(monkeypatch)  # re-planned on the counters the write locked, then refused
    async with uow_factory() as slow:
        snapshot = await slow.ledger.find_account(1, USD, AccountPurpose.WALLET)
        assert snapshot is not None and snapshot.balance == 100
        async with uow_factory() as fast:  # spends 80 and commits while the slow one holds its snapshot
            await fast.ledger.find_accounts([1, 2], USD, AccountPurpose.WALLET)
            await fast.ledger.execute(_pay(payer, payee, 80, id="first"))
            await fast.commit()
        await slow.ledger.find_account(2, USD, AccountPurpose.WALLET)
        with pytest.raises(InsufficientFundsError):
            await slow.ledger.execute(_pay(payer, payee, 50, id="second"))
        assert await slow.ledger.get_transfer("second") is None
    assert (await _account(uow_factory, payer)).balance == 20
    assert (await _account(uow_factory, payee)).balance == 80
    await _books_balance(uow_factory)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_stale_snapshot_still_records_the_real_balances(uow_factory: UnitOfWorkFactory,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _, payer, payee = await _setup(uow_factory, 100)
    _no_locking_read(monkeypatch)
    async with uow_factory() as slow:
        await slow.ledger.find_accounts([1, 2], USD, AccountPurpose.WALLET)
        async with uow_factory() as fast:
            await fast.ledger.find_accounts([1, 2], USD, AccountPurpose.WALLET)
            await fast.ledger.execute(_pay(payer, payee, 30, id="first"))
            await fast.commit()
        await slow.ledger.execute(_pay(payer, payee, 50, id="second"))
        entries = await slow.ledger.transfer_entries("second")
        await slow.commit()
    # planned on the snapshot (100 -> 50) but written from the current counters (70 -> 20)
    assert [(e.account_id, e.balance_before, e.balance_after) for e in entries] == [(payer, 70, 20), (payee, 30, 80)]
    async with uow_factory(read_only=True) as uow:
        history = await uow.ledger.entries(payer)
    assert [(e.balance_before, e.balance_after) for e in history] == [(70, 20), (100, 70), (0, 100)]
    assert (await _account(uow_factory, payer)).balance == 20
    await _books_balance(uow_factory)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_refusal_on_the_snapshot_is_rechecked_on_the_current_counters(uow_factory: UnitOfWorkFactory) -> None:
    world, payer, payee = await _setup(uow_factory, 10)
    async with uow_factory() as slow:
        await slow.ledger.find_accounts([1, 2], USD, AccountPurpose.WALLET)  # sees 10
        async with uow_factory() as fast:  # a top-up lands meanwhile
            await fast.ledger.execute(TransferRequest(id="topup", code="topup", debit_account_id=world,
                                                      credit_account_id=payer, amount=100))
            await fast.commit()
        await slow.ledger.execute(_pay(payer, payee, 50))
        await slow.commit()
    assert (await _account(uow_factory, payer)).balance == 60
    await _books_balance(uow_factory)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_an_id_committed_since_the_snapshot_replays_or_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    _, payer, payee = await _setup(uow_factory, 100)
    async with uow_factory() as first:
        await first.ledger.execute(_pay(payer, payee, 40))
        await first.commit()
    for amount in (40, 41):
        async with uow_factory() as late:
            await late.ledger.find_accounts([1, 2], USD, AccountPurpose.WALLET)
            if amount == 40:  # same id, same body: the stored transfer, nothing written again
                replayed = await late.ledger.execute(_pay(payer, payee, amount))
                assert replayed.amount == 40
            else:
                with pytest.raises(ConflictError) as caught:
                    await late.ledger.execute(_pay(payer, payee, amount))
                assert caught.value.code == "TRANSFER_EXISTS_WITH_DIFFERENT_BODY"
            await late.commit()
    assert (await _account(uow_factory, payer)).balance == 60
    async with uow_factory(read_only=True) as uow:
        assert len(await uow.ledger.entries(payer)) == 2
    await _books_balance(uow_factory)
