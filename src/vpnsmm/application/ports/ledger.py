"""The ledger port: a repository-like view of the double-entry ledger inside one unit of work.

A ``Ledger`` never commits. Everything it writes becomes durable when the surrounding unit of work
commits, and disappears when it rolls back. Implementations decide with the pure rules in
:mod:`vpnsmm.domain.ledger.rules` and store the results. Under concurrent transactions they must lock the
accounts a transfer touches (in ascending id order) or use conditional updates, so the bounds hold.

Amounts are integer minor units of the account's currency throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from vpnsmm.domain.ledger import (
    AccountPurpose,
    Entry,
    LedgerAccount,
    LedgerTotals,
    PendingStatus,
    Transfer,
    TransferRequest,
)
from vpnsmm.domain.money import Currency

#: The most entries one ``entries`` call returns.
MAX_ENTRIES_PAGE = 500


class Ledger(Protocol):
    async def open_account(self, owner_id: int | None, currency: Currency, purpose: AccountPurpose) -> LedgerAccount:
        """The account for ``(owner_id, currency, purpose)``. It is created empty if it does not exist yet.

        Idempotent: the same triple always gives the same account (same id). Its counters are the current
        ones, not reset. System accounts (world, revenue, conversion, ...) use ``owner_id=None``.
        Raises ValidationError for a wallet without an owner or a non-positive ``owner_id``.
        """
        ...

    async def get_account(self, account_id: int) -> LedgerAccount | None:
        """The current snapshot of the account, or None if there is no such account."""
        ...

    async def find_account(self, owner_id: int | None, currency: Currency,
                           purpose: AccountPurpose) -> LedgerAccount | None:
        """The account for the triple, or None. Never creates one."""
        ...

    async def find_accounts(self, owner_ids: Sequence[int | None], currency: Currency,
                            purpose: AccountPurpose) -> Mapping[int | None, LedgerAccount]:
        """The existing accounts of several owners for one currency and purpose, by owner. Never creates one."""
        ...

    async def open_accounts(self, keys: Sequence[tuple[int | None, Currency, AccountPurpose]]
                            ) -> Sequence[LedgerAccount]:
        """:meth:`open_account` for each ``(owner_id, currency, purpose)`` of ``keys``, in the same order.

        Same guarantees and errors as ``open_account``; one round trip in SQL when every account exists already
        (the common case: a charge reads the buyer's wallet and the revenue account together).
        """
        ...

    async def accounts_of(self, owner_id: int | None) -> Sequence[LedgerAccount]:
        """Every account of an owner (``None``: the system accounts), ordered by id."""
        ...

    async def execute(self, request: TransferRequest) -> Transfer:
        """Apply one transfer and return it as stored. It is all or nothing.

        Idempotent by ``request.id``. If a transfer with that id exists and the body is the same (a post/void
        that left fields None matches one that filled them from the same hold), the stored Transfer is
        returned unchanged and nothing is written, even if the state has changed since. A different body
        raises ConflictError (code ``TRANSFER_EXISTS_WITH_DIFFERENT_BODY``; details list each field).

        Otherwise it raises the error :func:`vpnsmm.domain.ledger.rules.plan_transfer` raises, or
        NotFoundError (code ``ACCOUNT_NOT_FOUND``) for an unknown account. In both cases nothing is
        written.
        """
        ...

    async def execute_linked(self, requests: Sequence[TransferRequest]) -> Sequence[Transfer]:
        """Apply 1..MAX_LINKED transfers in order, all or nothing (conversions, multi-leg postings).

        A later transfer sees the effect of an earlier one (it may post a hold created earlier in the batch).
        If any transfer fails, nothing is written and its error is raised.
        Idempotent as a whole: if every id exists with the same body, the stored transfers are returned.
        If some exist and some do not, ConflictError (``LINKED_BATCH_PARTIALLY_EXISTS``) is raised. A
        different body raises as in ``execute``. Raises ValidationError for an empty or oversized batch or
        duplicate ids.
        """
        ...

    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        """The stored transfer with this id, or None (a failed request stores nothing)."""
        ...

    async def pending_status(self, pending_id: str) -> PendingStatus | None:
        """Where hold ``pending_id`` is (pending, posted or voided). None if no hold has that id."""
        ...

    async def entries(self, account_id: int, *, before_id: int | None = None, limit: int = 50) -> Sequence[Entry]:
        """The account's entries, newest first (by descending entry id), with ``id < before_id`` if given.

        To page, pass the last entry's id as ``before_id``. Raises NotFoundError for an unknown account,
        and ValidationError unless ``1 <= limit <= MAX_ENTRIES_PAGE``.
        """
        ...

    async def transfer_entries(self, transfer_id: str) -> Sequence[Entry]:
        """The entries a stored transfer wrote (debit first, then credit); empty if there is no such transfer."""
        ...

    async def totals(self) -> Mapping[Currency, LedgerTotals]:
        """Per-currency sums of all accounts' debits and credits, posted and pending.

        This is for invariant checks and reconciliation: in a sound ledger every value is ``balanced``.
        """
        ...
