"""An in-memory implementation of the ``Ledger`` port, for tests, the demo and the in-memory unit of work.

All decisions come from :mod:`vpnsmm.domain.ledger.rules`; this module only stores. State lives in a
plain :class:`LedgerState`, so a fake unit of work can take a ``snapshot()`` and ``restore()`` it on rollback.
The state holds only immutable values (accounts, transfers and entries are frozen), so a shallow copy of
its containers is a full snapshot. When the ledger lives in an ``InMemoryStore`` (see :meth:`InMemoryLedger.in_store`),
the store's own deep-copy snapshot covers it as well.

No method awaits between reading and writing, so on one event loop every call is atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from attrs import Factory, define

from vpnsmm.application.ports.ledger import MAX_ENTRIES_PAGE
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.ledger import (
    AccountPurpose,
    Entry,
    LedgerAccount,
    LedgerTotals,
    PendingStatus,
    Transfer,
    TransferKind,
    TransferRequest,
    account_not_found,
    check_linked_batch,
    check_replay,
    involved_account_ids,
    partial_replay_error,
    plan_transfer,
    totals_of,
)
from vpnsmm.domain.money import Currency

if TYPE_CHECKING:
    from vpnsmm.adapters.memory import InMemoryStore

AccountKey = tuple[int | None, Currency, AccountPurpose]


@define
class LedgerState:
    """Everything the in-memory ledger knows. The containers are mutable, and every value in them is frozen."""

    accounts: dict[int, LedgerAccount] = Factory(dict)
    account_keys: dict[AccountKey, int] = Factory(dict)
    transfers: dict[str, Transfer] = Factory(dict)
    pending: dict[str, PendingStatus] = Factory(dict)  # status of every hold, by hold id
    entries: dict[int, list[Entry]] = Factory(dict)  # per account, oldest first
    last_entry_id: int = 0

    def copy(self) -> LedgerState:
        """An independent snapshot: later changes to either copy do not show in the other."""
        return LedgerState(accounts=dict(self.accounts), account_keys=dict(self.account_keys),
                           transfers=dict(self.transfers), pending=dict(self.pending),
                           entries={k: list(v) for k, v in self.entries.items()},
                           last_entry_id=self.last_entry_id)

    def replace_with(self, other: LedgerState) -> None:
        """Make this object hold ``other``'s contents (in place, so every holder of it sees the change)."""
        fresh = other.copy()
        self.accounts, self.account_keys = fresh.accounts, fresh.account_keys
        self.transfers, self.pending = fresh.transfers, fresh.pending
        self.entries, self.last_entry_id = fresh.entries, fresh.last_entry_id


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InMemoryLedger:
    """The ``Ledger`` port over a :class:`LedgerState`.

    ``InMemoryLedger()`` owns a fresh state. ``InMemoryLedger(state)`` shares one. ``InMemoryLedger.in_store(store)``
    keeps the state in ``store.extensions["ledger"]``, so the in-memory unit of work's snapshot and rollback
    cover it. ``now`` supplies transfer timestamps (timezone-aware UTC).
    """

    def __init__(self, state: LedgerState | None = None, *, now: Callable[[], datetime] = _utcnow) -> None:
        own = state if state is not None else LedgerState()
        self._state: Callable[[], LedgerState] = lambda: own
        self._now = now

    @classmethod
    def in_store(cls, store: InMemoryStore, *, now: Callable[[], datetime] = _utcnow,
                 key: str = "ledger") -> InMemoryLedger:
        """A ledger whose state lives in ``store.extensions[key]``.

        The store swaps its contents on rollback, so the state is looked up on every call rather than kept.
        """
        ledger = cls(now=now)

        def state() -> LedgerState:
            found = store.extensions.get(key)
            if not isinstance(found, LedgerState):
                found = store.extensions[key] = LedgerState()
            return found

        ledger._state = state
        return ledger

    # -- transactions (for a fake unit of work) ---------------------------------------------------
    def snapshot(self) -> LedgerState:
        """A copy of the current state, to hand back to :meth:`restore` on rollback."""
        return self._state().copy()

    def restore(self, snapshot: LedgerState) -> None:
        """Put the state back to ``snapshot``. Everything done since it was taken disappears."""
        self._state().replace_with(snapshot)

    # -- accounts ------------------------------------------------------------------------------------
    async def open_account(self, owner_id: int | None, currency: Currency, purpose: AccountPurpose) -> LedgerAccount:
        state = self._state()
        cur, kind = Currency.parse(currency), AccountPurpose.parse(purpose)
        found = state.account_keys.get((owner_id, cur, kind))
        if found is not None:
            return state.accounts[found]
        account = LedgerAccount.open(len(state.accounts) + 1, owner_id, cur, kind)
        state.accounts[account.id] = account
        state.account_keys[(owner_id, cur, kind)] = account.id
        state.entries[account.id] = []
        return account

    async def get_account(self, account_id: int) -> LedgerAccount | None:
        return self._state().accounts.get(account_id)

    async def find_account(self, owner_id: int | None, currency: Currency,
                           purpose: AccountPurpose) -> LedgerAccount | None:
        state = self._state()
        found = state.account_keys.get((owner_id, Currency.parse(currency), AccountPurpose.parse(purpose)))
        return None if found is None else state.accounts[found]

    async def find_accounts(self, owner_ids: Sequence[int | None], currency: Currency,
                            purpose: AccountPurpose) -> Mapping[int | None, LedgerAccount]:
        found = {}
        for owner_id in owner_ids:
            account = await self.find_account(owner_id, currency, purpose)
            if account is not None:
                found[owner_id] = account
        return found

    async def open_accounts(self, keys: Sequence[tuple[int | None, Currency, AccountPurpose]]
                            ) -> Sequence[LedgerAccount]:
        return [await self.open_account(owner_id, currency, purpose) for owner_id, currency, purpose in keys]

    async def accounts_of(self, owner_id: int | None) -> Sequence[LedgerAccount]:
        return [a for _, a in sorted(self._state().accounts.items()) if a.owner_id == owner_id]

    # -- transfers -----------------------------------------------------------------------------------
    async def execute(self, request: TransferRequest) -> Transfer:
        if not isinstance(request, TransferRequest):
            raise ValidationError("execute takes a TransferRequest", field="request")
        return _apply(self._state(), request, self._now())

    async def execute_linked(self, requests: Sequence[TransferRequest]) -> Sequence[Transfer]:
        batch = check_linked_batch(requests)
        state = self._state()
        existing = [state.transfers.get(r.id) for r in batch]
        if any(t is not None for t in existing):
            replayed = [check_replay(t, r, _hold_of(state, t)) for r, t in zip(batch, existing, strict=True)
                        if t is not None]
            if len(replayed) == len(batch):
                return replayed
            raise partial_replay_error([r.id for r, t in zip(batch, existing, strict=True) if t is not None],
                                       [r.id for r, t in zip(batch, existing, strict=True) if t is None])
        work = state.copy()  # apply to a scratch copy; publish only if every transfer succeeds
        timestamp = self._now()
        done = [_apply(work, r, timestamp) for r in batch]
        state.replace_with(work)
        return done

    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        return self._state().transfers.get(transfer_id)

    async def pending_status(self, pending_id: str) -> PendingStatus | None:
        return self._state().pending.get(pending_id)

    async def entries(self, account_id: int, *, before_id: int | None = None, limit: int = 50) -> Sequence[Entry]:
        if type(limit) is not int or not 1 <= limit <= MAX_ENTRIES_PAGE:
            raise ValidationError(f"limit must be in 1..{MAX_ENTRIES_PAGE}", field="limit")
        if before_id is not None and type(before_id) is not int:
            raise ValidationError("before_id must be an integer", field="before_id")
        found = self._state().entries.get(account_id)
        if found is None:
            raise account_not_found(account_id)
        page: list[Entry] = []
        for entry in reversed(found):
            if before_id is not None and entry.id >= before_id:
                continue
            page.append(entry)
            if len(page) == limit:
                break
        return page

    async def transfer_entries(self, transfer_id: str) -> Sequence[Entry]:
        transfer = self._state().transfers.get(transfer_id)
        if transfer is None:
            return []
        found = [e for account_id in (transfer.debit_account_id, transfer.credit_account_id)
                 for e in self._state().entries.get(account_id, []) if e.transfer_id == transfer_id]
        return sorted(found, key=lambda e: e.id)

    async def totals(self) -> Mapping[Currency, LedgerTotals]:
        return totals_of(self._state().accounts.values())


def _hold_of(state: LedgerState, transfer: Transfer | None) -> Transfer | None:
    if transfer is None or transfer.pending_id is None:
        return None
    return state.transfers.get(transfer.pending_id)


def _apply(state: LedgerState, request: TransferRequest, timestamp: datetime) -> Transfer:
    """Decide ``request`` with the domain rules and, only if it succeeds, store the outcome in ``state``."""
    existing = state.transfers.get(request.id)
    if existing is not None:
        return check_replay(existing, request, _hold_of(state, existing))
    hold = state.transfers.get(request.pending_id) if request.pending_id is not None else None
    debit_id, credit_id = involved_account_ids(request, hold)
    debit = state.accounts.get(debit_id)
    if debit is None:
        raise account_not_found(debit_id)
    credit = state.accounts.get(credit_id)
    if credit is None:
        raise account_not_found(credit_id)
    outcome = plan_transfer(request, debit=debit, credit=credit, pending=hold,
                            pending_status=state.pending.get(hold.id) if hold is not None else None,
                            timestamp=timestamp)
    transfer = outcome.transfer
    state.transfers[transfer.id] = transfer
    state.accounts[debit_id] = outcome.debit_account
    state.accounts[credit_id] = outcome.credit_account
    debit_entry, credit_entry = outcome.entries(state.last_entry_id + 1)
    state.entries[debit_id].append(debit_entry)
    state.entries[credit_id].append(credit_entry)
    state.last_entry_id = credit_entry.id
    if transfer.kind is TransferKind.PENDING:
        state.pending[transfer.id] = PendingStatus.PENDING
    if outcome.resolution is not None:
        state.pending[outcome.resolution.pending_id] = outcome.resolution.status
    return transfer


if TYPE_CHECKING:  # mypy proves the class satisfies the port
    from vpnsmm.application.ports.ledger import Ledger

    _conforms: Ledger = InMemoryLedger()
