"""vpnsmm.testing.ledger_operations drives the in-memory ledger: whatever mix of transfers, holds, posts, voids
and replays it gets, the books stay balanced, replays change nothing, and refused requests write nothing."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings

from vpnsmm.domain import Currency, TransferRequest, VpnsmmError
from vpnsmm.domain.ledger import AccountPurpose
from vpnsmm.testing import InMemoryLedger, ledger_operations


async def _run(ops: list[TransferRequest]) -> None:
    ledger = InMemoryLedger()
    world = await ledger.open_account(None, Currency.USD, AccountPurpose.WORLD)  # may go negative: the source
    wallets = [await ledger.open_account(n, Currency.USD, AccountPurpose.WALLET) for n in (1, 2, 3)]
    ids = {1: world.id, 2: wallets[0].id, 3: wallets[1].id, 4: wallets[2].id}
    done: dict[str, object] = {}
    for op in ops:
        request = TransferRequest(
            id=op.id, code=op.code, kind=op.kind, pending_id=op.pending_id, amount=op.amount,
            debit_account_id=ids[op.debit_account_id] if op.debit_account_id else None,
            credit_account_id=ids[op.credit_account_id] if op.credit_account_id else None)
        before = await ledger.totals()
        try:
            transfer = await ledger.execute(request)
        except VpnsmmError:
            assert await ledger.totals() == before, "a refused request must write nothing"
            continue
        if op.id in done:
            assert transfer == done[op.id] and await ledger.totals() == before, "a replay changes nothing"
        done[op.id] = transfer
        totals = await ledger.totals()
        assert all(t.balanced for t in totals.values())
    for wallet in wallets:
        account = await ledger.get_account(wallet.id)
        assert account is not None and account.available >= 0, "wallets never overdraw"


@settings(max_examples=60, deadline=None)
@given(ledger_operations())
def test_any_sequence_of_operations_keeps_the_books_balanced(ops: list[TransferRequest]) -> None:
    asyncio.run(_run(ops))
