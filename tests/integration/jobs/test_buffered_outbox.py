"""The PostgreSQL unit of work buffers plain job inserts and lets the next ledger write carry them.

Whatever path a job takes (riding the optimistic ledger write as a data-modifying CTE, or the commit's own
INSERT), it must exist exactly once if and only if its transaction commits -- also when the ledger write's
snapshot check fails and the write is re-planned and sent again.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.ledger import AccountPurpose, TransferRequest
from vpnsmm.domain.money import Currency

USD = Currency.USD
BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


async def _jobs(db_url: str, task: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT payload FROM jobs WHERE task = :t ORDER BY id"), {"t": task})
            return [r.payload for r in rows]
    finally:
        await engine.dispose()


async def _funded(uow_factory: UnitOfWorkFactory) -> tuple[int, int]:
    async with uow_factory() as uow:
        world = await uow.ledger.open_account(None, USD, AccountPurpose.WORLD)
        wallet = await uow.ledger.open_account(1, USD, AccountPurpose.WALLET)
        await uow.ledger.execute(TransferRequest(id="fund", code="topup", debit_account_id=world.id,
                                                 credit_account_id=wallet.id, amount=1000))
        await uow.commit()
    return world.id, wallet.id


@BOTH
async def test_jobs_exist_once_if_and_only_if_their_transaction_commits(uow_factory: UnitOfWorkFactory,
                                                                        db_url: str) -> None:
    world, wallet = await _funded(uow_factory)
    async with uow_factory() as uow:  # rides the ledger write
        await uow.jobs.enqueue("t.ride", {"n": 1, "text": "ünï"})
        await uow.jobs.enqueue("t.ride", {"n": 2})
        await uow.ledger.execute(TransferRequest(id="spend-1", code="x", debit_account_id=wallet,
                                                 credit_account_id=world, amount=10))
        await uow.jobs.enqueue("t.ride", {"n": 3})  # after the write: the commit inserts it
        await uow.commit()
    async with uow_factory() as uow:  # no ledger write at all: the commit inserts them
        await uow.jobs.enqueue("t.plain", {"n": 1})
        await uow.commit()
    async with uow_factory() as uow:  # rolled back (no commit): nothing
        await uow.jobs.enqueue("t.gone", {"n": 1})
        await uow.ledger.execute(TransferRequest(id="spend-2", code="x", debit_account_id=wallet,
                                                 credit_account_id=world, amount=10))
    assert [json.loads(p) for p in await _jobs(db_url, "t.ride")] == [{"n": 1, "text": "ünï"}, {"n": 2}, {"n": 3}]
    assert await _jobs(db_url, "t.plain") == ['{"n":1}']
    assert await _jobs(db_url, "t.gone") == []
    async with uow_factory(read_only=True) as uow:
        assert await uow.ledger.get_transfer("spend-2") is None  # and its write rolled back with it


@BOTH
async def test_many_buffered_jobs_wait_for_the_commit(uow_factory: UnitOfWorkFactory, db_url: str) -> None:
    world, wallet = await _funded(uow_factory)
    async with uow_factory() as uow:
        for n in range(1205):  # over the riding limit and over one flushing INSERT
            await uow.jobs.enqueue("t.many", {"n": n})
        await uow.ledger.execute(TransferRequest(id="spend-3", code="x", debit_account_id=wallet,
                                                 credit_account_id=world, amount=10))
        await uow.commit()
    assert len(await _jobs(db_url, "t.many")) == 1205


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_job_riding_a_re_planned_write_is_inserted_once(uow_factory: UnitOfWorkFactory,
                                                                db_url: str) -> None:
    world, wallet = await _funded(uow_factory)
    async with uow_factory() as slow:
        await slow.ledger.find_account(1, USD, AccountPurpose.WALLET)  # snapshot: 1000
        await slow.ledger.find_account(None, USD, AccountPurpose.WORLD)
        async with uow_factory() as fast:  # moves the wallet meanwhile: slow's snapshot check will fail
            await fast.ledger.execute(TransferRequest(id="fast", code="x", debit_account_id=wallet,
                                                      credit_account_id=world, amount=100))
            await fast.commit()
        await slow.jobs.enqueue("t.replan", {"n": 1})
        done = await slow.ledger.execute(TransferRequest(id="slow", code="x", debit_account_id=wallet,
                                                         credit_account_id=world, amount=100))
        assert done.amount == 100
        await slow.commit()
    assert await _jobs(db_url, "t.replan") == ['{"n":1}']
    async with uow_factory(read_only=True) as uow:
        account = await uow.ledger.get_account(wallet)
    assert account is not None and account.balance == 800
