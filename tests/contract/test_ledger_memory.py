"""The Ledger contract on InMemoryLedger, plus what only the in-memory implementation has (snapshots)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from tests.contract.ledger_contract import Book, LedgerContract, LedgerFactory, balance, pay
from vpnsmm.adapters.memory import InMemoryStore
from vpnsmm.adapters.memory_ledger import InMemoryLedger, LedgerState
from vpnsmm.application.ports.ledger import Ledger
from vpnsmm.domain.errors import InsufficientFundsError
from vpnsmm.domain.ledger import AccountPurpose, PendingStatus, TransferRequest
from vpnsmm.domain.money import Currency


class TickingClock:
    """Moves one second per reading, so every transfer gets a distinct, known timestamp."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


class TestInMemoryLedger(LedgerContract):
    @pytest.fixture
    def ledger_factory(self) -> LedgerFactory:
        @asynccontextmanager
        async def fresh() -> AsyncIterator[Ledger]:
            yield InMemoryLedger(now=TickingClock())

        return fresh


async def test_timestamps_come_from_the_injected_clock() -> None:
    ledger = InMemoryLedger(now=TickingClock())
    book = await Book.open(ledger)
    first = await ledger.execute(pay("t1", book.world, book.alice, 5))
    second = await ledger.execute(pay("t2", book.world, book.alice, 5))
    assert first.timestamp == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert second.timestamp == first.timestamp + timedelta(seconds=1)
    assert (await ledger.execute(pay("t1", book.world, book.alice, 5))).timestamp == first.timestamp
    assert [e.timestamp for e in await ledger.entries(book.alice.id)] == [second.timestamp, first.timestamp]


async def test_restore_undoes_everything_since_the_snapshot() -> None:
    ledger = InMemoryLedger()
    book = await Book.open(ledger)
    await ledger.execute(pay("t1", book.world, book.alice, 100))
    snap = ledger.snapshot()
    carol = await ledger.open_account(3, Currency.USD, AccountPurpose.WALLET)
    await ledger.execute(pay("t2", book.alice, carol, 60))
    await ledger.execute(TransferRequest.hold("h1", debit_account_id=book.alice.id, credit_account_id=book.revenue.id,
                                              amount=40, code="order_charge"))
    ledger.restore(snap)
    assert await ledger.find_account(3, Currency.USD, AccountPurpose.WALLET) is None
    assert await ledger.get_transfer("t2") is None
    assert await ledger.pending_status("h1") is None
    assert await balance(ledger, book.alice) == (100, 100)
    assert [e.transfer_id for e in await ledger.entries(book.alice.id)] == ["t1"]
    # The snapshot is not aliased: using the ledger after a restore leaves the snapshot as it was.
    await ledger.execute(pay("t3", book.alice, book.bob, 100))
    ledger.restore(snap)
    assert await balance(ledger, book.alice) == (100, 100)
    again = await ledger.open_account(3, Currency.USD, AccountPurpose.WALLET)
    assert again.id == carol.id  # ids are handed out again after a rollback, like a rolled-back sequence


async def test_two_ledgers_on_one_state_see_each_other() -> None:
    state = LedgerState()
    writer, reader = InMemoryLedger(state), InMemoryLedger(state)
    book = await Book.open(writer)
    await writer.execute(pay("t1", book.world, book.alice, 7))
    assert await balance(reader, book.alice) == (7, 7)


async def test_a_ledger_in_a_store_rolls_back_with_the_store() -> None:
    store = InMemoryStore()
    ledger = InMemoryLedger.in_store(store)
    book = await Book.open(ledger)
    await ledger.execute(pay("t1", book.world, book.alice, 100))
    snap = store.snapshot()  # what InMemoryUnitOfWork takes when a transaction begins
    await ledger.execute(TransferRequest.hold("h1", debit_account_id=book.alice.id, credit_account_id=book.bob.id,
                                              amount=30, code="order_charge"))
    assert await balance(ledger, book.alice) == (100, 70)
    store.restore(snap)  # rollback
    assert await balance(ledger, book.alice) == (100, 100)
    assert await ledger.pending_status("h1") is None
    assert isinstance(store.extensions["ledger"], LedgerState)
    # Writes after the rollback land in the restored state, not in a stale copy.
    await ledger.execute(pay("t2", book.alice, book.bob, 100))
    assert await balance(InMemoryLedger.in_store(store), book.bob) == (100, 100)


async def test_a_failed_linked_batch_leaves_the_state_object_untouched() -> None:
    state = LedgerState()
    ledger = InMemoryLedger(state)
    book = await Book.open(ledger)
    await ledger.execute(pay("t1", book.world, book.alice, 10))
    before = state.copy()
    with pytest.raises(InsufficientFundsError):
        await ledger.execute_linked([pay("a", book.world, book.bob, 5), pay("b", book.alice, book.bob, 11)])
    assert state == before
    assert await ledger.pending_status("a") is None
    assert PendingStatus.PENDING not in state.pending.values()
