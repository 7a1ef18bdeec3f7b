"""The ledger's rules as pure functions. Every implementation (in-memory, SQL) calls these.

An implementation executes one request like this, inside one transaction:

1. ``existing = transfer(request.id)``. If it exists, return :func:`check_replay` and stop. An identical
   body gives back the stored transfer, a different body raises ConflictError. This happens before any
   other check, so a retry succeeds even when the state has changed since the first attempt.
2. For post/void, load the hold: ``pending = transfer(request.pending_id)``.
3. ``debit_id, credit_id = involved_account_ids(request, pending)``. Lock the two accounts in ascending id
   order and load them (NotFoundError if either is missing).
4. ``outcome = plan_transfer(...)``. It raises a domain error, or returns the new account snapshots, the
   transfer, the two account changes and the hold it resolves.
5. Store ``outcome.transfer``, the accounts, ``outcome.entries(first_id)`` and the hold's new status.

The rules follow TigerBeetle's: a transfer may not push an account past its bound, a hold resolves at most
once, and a partial post releases the rest of the hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from attrs import frozen

from vpnsmm.domain.errors import (
    ConflictError,
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from vpnsmm.domain.ledger.accounts import AccountPurpose, LedgerAccount, Side
from vpnsmm.domain.ledger.transfers import (
    AccountChange,
    Entry,
    PendingStatus,
    Transfer,
    TransferKind,
    TransferRequest,
)
from vpnsmm.domain.money import Currency, ExchangeRate

#: The most transfers one linked (all-or-nothing) batch may hold.
MAX_LINKED = 100

_BODY_FIELDS = ("kind", "debit_account_id", "credit_account_id", "amount", "pending_id", "code", "reference",
                "memo", "rate")


@frozen(kw_only=True)
class TransferBody:
    """The fields that make two submissions "the same request", with post/void gaps filled from the hold."""

    kind: TransferKind
    debit_account_id: int | None
    credit_account_id: int | None
    amount: int | None
    pending_id: str | None
    code: str
    reference: str | None
    memo: str
    rate: ExchangeRate | None

    @classmethod
    def of_transfer(cls, transfer: Transfer) -> TransferBody:
        return cls(**{name: getattr(transfer, name) for name in _BODY_FIELDS})


@frozen(kw_only=True)
class PendingResolution:
    """A post or void moved hold ``pending_id`` to ``status``."""

    pending_id: str
    status: PendingStatus


@frozen(kw_only=True)
class TransferOutcome:
    """Everything a successful transfer changes. Nothing is stored until the caller stores it."""

    transfer: Transfer
    debit_account: LedgerAccount  # after the transfer
    credit_account: LedgerAccount  # after the transfer
    debit_change: AccountChange
    credit_change: AccountChange
    resolution: PendingResolution | None

    def entries(self, first_entry_id: int) -> tuple[Entry, Entry]:
        """The two entries, numbered ``first_entry_id`` (debit) and ``first_entry_id + 1`` (credit)."""
        return (Entry.record(first_entry_id, self.transfer, self.debit_change),
                Entry.record(first_entry_id + 1, self.transfer, self.credit_change))


@frozen(kw_only=True)
class LedgerTotals:
    """Sums of every account's counters in one currency. In a sound ledger debits equal credits."""

    currency: Currency
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def balanced(self) -> bool:
        return self.debits_posted == self.credits_posted and self.debits_pending == self.credits_pending


def totals_of(accounts: Iterable[LedgerAccount]) -> dict[Currency, LedgerTotals]:
    """Per-currency sums of the accounts' counters (only currencies that have an account appear)."""
    sums: dict[Currency, list[int]] = {}
    for acc in accounts:
        row = sums.setdefault(acc.currency, [0, 0, 0, 0])
        row[0] += acc.debits_posted
        row[1] += acc.credits_posted
        row[2] += acc.debits_pending
        row[3] += acc.credits_pending
    return {cur: LedgerTotals(currency=cur, debits_posted=r[0], credits_posted=r[1], debits_pending=r[2],
                              credits_pending=r[3])
            for cur, r in sorted(sums.items())}


# -- step 1: idempotent replay -------------------------------------------------------------------------
def resolve_body(request: TransferRequest, pending: Transfer | None) -> TransferBody:
    """The request's body with the gaps a post/void may leave filled from its hold.

    For plain and pending requests ``pending`` is ignored. For post/void, ``pending`` must be the hold
    named by ``request.pending_id``. This only fills gaps and checks nothing (see :func:`plan_transfer`).
    """
    if not request.kind.resolves_pending or pending is None:
        return TransferBody(**{name: getattr(request, name) for name in _BODY_FIELDS})
    return TransferBody(
        kind=request.kind,
        debit_account_id=request.debit_account_id if request.debit_account_id is not None
        else pending.debit_account_id,
        credit_account_id=request.credit_account_id if request.credit_account_id is not None
        else pending.credit_account_id,
        amount=request.amount if request.amount is not None else pending.amount,
        pending_id=request.pending_id,
        code=request.code,
        reference=request.reference if request.reference is not None else pending.reference,
        memo=request.memo,
        rate=request.rate if request.rate is not None else pending.rate,
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly form for conflict details."""
    if isinstance(value, ExchangeRate):
        return f"{value.source.value}/{value.target.value}={value.format()}"
    if isinstance(value, TransferKind):
        return value.value
    return value


def conflicting_fields(existing: Transfer, request: TransferRequest,
                       pending: Transfer | None) -> dict[str, dict[str, Any]]:
    """Field-by-field differences between a stored transfer and a new submission with the same id.

    ``pending`` is the hold ``existing`` resolved (None unless ``existing`` is a post/void). A post/void
    that left a field None matches a stored transfer that filled it from the same hold. Returns
    ``{field: {"existing": ..., "requested": ...}}``. It is empty when the bodies are the same.
    """
    same_hold = request.kind is existing.kind and request.pending_id == existing.pending_id
    requested = resolve_body(request, pending if same_hold else None)
    stored = TransferBody.of_transfer(existing)
    diffs: dict[str, dict[str, Any]] = {}
    for name in _BODY_FIELDS:
        old, new = getattr(stored, name), getattr(requested, name)
        if old != new:
            diffs[name] = {"existing": _plain(old), "requested": _plain(new)}
    return diffs


def check_replay(existing: Transfer, request: TransferRequest, pending: Transfer | None) -> Transfer:
    """Return ``existing`` unchanged if ``request`` has the same body; otherwise raise ConflictError.

    The ConflictError has code ``TRANSFER_EXISTS_WITH_DIFFERENT_BODY`` and
    ``details = {"transfer_id": ..., "fields": conflicting_fields(...)}``, following TigerBeetle's
    ``exists_with_different_*`` results. Idempotent: it never changes anything.
    """
    diffs = conflicting_fields(existing, request, pending)
    if diffs:
        raise ConflictError(
            f"transfer {existing.id!r} already exists with a different {', '.join(diffs)}",
            code="TRANSFER_EXISTS_WITH_DIFFERENT_BODY",
            details={"transfer_id": existing.id, "fields": diffs})
    return existing


# -- steps 2 and 3: what to load -----------------------------------------------------------------------
def require_pending(request: TransferRequest, pending: Transfer | None) -> Transfer:
    """The hold a post/void names. Raises NotFoundError if it does not exist, InvalidTransitionError if the
    transfer is not a hold."""
    if pending is None or pending.id != request.pending_id:
        raise NotFoundError(f"pending transfer {request.pending_id!r} does not exist",
                            code="PENDING_TRANSFER_NOT_FOUND", details={"pending_id": request.pending_id})
    if pending.kind is not TransferKind.PENDING:
        raise InvalidTransitionError(f"transfer {pending.id!r} is {pending.kind.value}, not pending",
                                     code="NOT_A_PENDING_TRANSFER", details={"pending_id": pending.id})
    return pending


def involved_account_ids(request: TransferRequest, pending: Transfer | None) -> tuple[int, int]:
    """``(debit_account_id, credit_account_id)`` a request will touch. A post/void takes them from its hold.

    Lock them in ascending id order. Raises like :func:`require_pending` for a post/void.
    """
    if request.kind.resolves_pending:
        hold = require_pending(request, pending)
        return hold.debit_account_id, hold.credit_account_id
    if request.debit_account_id is None or request.credit_account_id is None:  # shape-checked already
        raise ValueError("a plain or pending request names both accounts")
    return request.debit_account_id, request.credit_account_id


def account_not_found(account_id: int) -> NotFoundError:
    return NotFoundError(f"ledger account {account_id} does not exist", code="ACCOUNT_NOT_FOUND",
                         details={"account_id": account_id})


# -- step 4: the decision ------------------------------------------------------------------------------
def _check_rate(request: TransferRequest, debit: LedgerAccount, credit: LedgerAccount) -> None:
    touches_conversion = AccountPurpose.CONVERSION in (debit.purpose, credit.purpose)
    if not touches_conversion:
        if request.rate is not None:
            raise ValidationError("a rate is only recorded on transfers through a conversion account",
                                  field="rate", code="RATE_NOT_ALLOWED")
        return
    if request.rate is None:
        raise ValidationError("a transfer through a conversion account must record its exchange rate",
                              field="rate", code="RATE_REQUIRED")
    if debit.currency not in (request.rate.source, request.rate.target):
        raise CurrencyMismatchError(
            f"rate {request.rate.source.value}->{request.rate.target.value} does not involve "
            f"{debit.currency.value}", field="rate")


def _hold_terms(request: TransferRequest, hold: Transfer, status: PendingStatus | None,
                debit: LedgerAccount, credit: LedgerAccount) -> int:
    """Check a post/void against its hold. Returns the amount to post (0 for a void)."""
    if status is PendingStatus.POSTED or status is PendingStatus.VOIDED:
        raise InvalidTransitionError(f"pending transfer {hold.id!r} was already {status.value}",
                                     code=f"PENDING_TRANSFER_ALREADY_{status.name}",
                                     details={"pending_id": hold.id, "status": status.value})
    if status is not PendingStatus.PENDING:
        raise ValueError(f"status of hold {hold.id!r} must be given")
    if (debit.id, credit.id) != (hold.debit_account_id, hold.credit_account_id):
        raise ValueError("accounts passed do not belong to the hold")  # a caller bug, not user input
    for name, given, held in (("debit_account_id", request.debit_account_id, hold.debit_account_id),
                              ("credit_account_id", request.credit_account_id, hold.credit_account_id)):
        if given is not None and given != held:
            raise ValidationError(f"{name} {given} does not match the hold's {held}", field=name,
                                  code="PENDING_ACCOUNT_MISMATCH")
    if request.rate is not None and request.rate != hold.rate:
        raise ValidationError("rate does not match the hold's", field="rate", code="PENDING_RATE_MISMATCH")
    if request.kind is TransferKind.VOID_PENDING:
        if request.amount is not None and request.amount != hold.amount:
            raise ValidationError(f"a void releases the whole hold of {hold.amount}; got amount {request.amount}",
                                  field="amount", code="VOID_AMOUNT_MISMATCH")
        return 0
    amount = hold.amount if request.amount is None else request.amount
    if amount > hold.amount:
        raise InvalidTransitionError(
            f"cannot post {amount}: pending transfer {hold.id!r} holds only {hold.amount}",
            code="EXCEEDS_PENDING_TRANSFER_AMOUNT",
            details={"pending_id": hold.id, "held": hold.amount, "requested": amount})
    return amount


def _change(before: LedgerAccount, after: LedgerAccount, side: Side, pending_delta: int) -> AccountChange:
    return AccountChange(account_id=before.id, side=side, delta=after.balance - before.balance,
                         pending_delta=pending_delta, balance_before=before.balance, balance_after=after.balance,
                         available_before=before.available, available_after=after.available)


def _insufficient(account: LedgerAccount, side: Side, amount: int) -> InsufficientFundsError:
    headroom = account.headroom(side)
    return InsufficientFundsError(
        f"account {account.id} ({account.purpose.value}, {account.currency.value}) cannot take a "
        f"{side.value} of {amount}: only {headroom} available",
        details={"account_id": account.id, "side": side.value, "available": headroom, "requested": amount,
                 "currency": account.currency.value})


def plan_transfer(request: TransferRequest, *, debit: LedgerAccount, credit: LedgerAccount,
                  pending: Transfer | None = None, pending_status: PendingStatus | None = None,
                  timestamp: datetime) -> TransferOutcome:
    """Decide a new (not replayed) request against the current account snapshots. Pure and deterministic.

    ``debit``/``credit`` are the accounts from :func:`involved_account_ids`. For post/void, ``pending`` and
    ``pending_status`` describe the hold.

    Raises:
      * NotFoundError: the hold does not exist (code ``PENDING_TRANSFER_NOT_FOUND``).
      * InvalidTransitionError: the hold was already posted or voided
        (``PENDING_TRANSFER_ALREADY_POSTED`` / ``_VOIDED``), the target is not a hold
        (``NOT_A_PENDING_TRANSFER``), or a post is above the held amount (``EXCEEDS_PENDING_TRANSFER_AMOUNT``).
      * CurrencyMismatchError: the two accounts are in different currencies, or the rate does not involve
        the transfer's currency.
      * ValidationError: rate missing or not allowed, a post/void names other accounts or another rate than
        its hold, a void amount that is not the hold's, or a counter would overflow.
      * InsufficientFundsError: a bound would be crossed (details: account_id, side, available, requested).
    """
    if request.kind.resolves_pending:
        hold = require_pending(request, pending)
        posted = _hold_terms(request, hold, pending_status, debit, credit)
        pending_delta = -hold.amount
        amount = posted if request.kind is TransferKind.POST_PENDING else hold.amount
        rate, reference = hold.rate, (request.reference if request.reference is not None else hold.reference)
    else:
        if (debit.id, credit.id) != (request.debit_account_id, request.credit_account_id):
            raise ValueError("accounts passed are not the ones the request names")  # a caller bug
        if debit.currency is not credit.currency:
            raise CurrencyMismatchError(
                f"account {debit.id} is in {debit.currency.value} but account {credit.id} is in "
                f"{credit.currency.value}; convert through conversion accounts",
                field="credit_account_id",
                details={"debit_currency": debit.currency.value, "credit_currency": credit.currency.value})
        _check_rate(request, debit, credit)
        if request.amount is None:  # shape-checked already
            raise ValueError("a plain or pending request has an amount")
        amount = request.amount
        posted, pending_delta = (amount, 0) if request.kind is TransferKind.PLAIN else (0, amount)
        rate, reference = request.rate, request.reference

    new_debit = debit.moved(Side.DEBIT, posted=posted, pending=pending_delta)
    new_credit = credit.moved(Side.CREDIT, posted=posted, pending=pending_delta)
    # A post or void only shrinks "posted + pending", so only new debits and credits can cross a bound.
    if not new_debit.within_bound:
        raise _insufficient(debit, Side.DEBIT, amount)
    if not new_credit.within_bound:
        raise _insufficient(credit, Side.CREDIT, amount)

    transfer = Transfer(
        id=request.id, kind=request.kind, debit_account_id=debit.id, credit_account_id=credit.id, amount=amount,
        currency=debit.currency, code=request.code, pending_id=request.pending_id, reference=reference,
        memo=request.memo, rate=rate, timestamp=timestamp)
    resolution = None
    if request.pending_id is not None:  # set exactly for post/void
        resolution = PendingResolution(
            pending_id=request.pending_id,
            status=PendingStatus.POSTED if request.kind is TransferKind.POST_PENDING else PendingStatus.VOIDED)
    return TransferOutcome(
        transfer=transfer, debit_account=new_debit, credit_account=new_credit,
        debit_change=_change(debit, new_debit, Side.DEBIT, pending_delta),
        credit_change=_change(credit, new_credit, Side.CREDIT, pending_delta),
        resolution=resolution)


# -- linked batches ------------------------------------------------------------------------------------
def check_linked_batch(requests: Sequence[TransferRequest]) -> tuple[TransferRequest, ...]:
    """Shape rules for an all-or-nothing batch: 1..MAX_LINKED requests with distinct ids.

    Raises ValidationError (field ``requests``) otherwise.
    """
    batch = tuple(requests)
    if not 1 <= len(batch) <= MAX_LINKED:
        raise ValidationError(f"a linked batch holds 1..{MAX_LINKED} transfers, got {len(batch)}",
                              field="requests")
    if not all(isinstance(r, TransferRequest) for r in batch):
        raise ValidationError("a linked batch holds TransferRequest objects only", field="requests")
    seen: set[str] = set()
    for r in batch:
        if r.id in seen:
            raise ValidationError(f"transfer id {r.id!r} appears twice in one batch", field="requests",
                                  code="DUPLICATE_TRANSFER_ID")
        seen.add(r.id)
    return batch


def partial_replay_error(existing_ids: Sequence[str], missing_ids: Sequence[str]) -> ConflictError:
    """The error for a linked batch some of whose ids exist and some not: it is not the batch stored earlier."""
    return ConflictError(
        "some transfers of this linked batch already exist and some do not; a linked batch is replayed whole",
        code="LINKED_BATCH_PARTIALLY_EXISTS",
        details={"existing_ids": list(existing_ids), "missing_ids": list(missing_ids)})
