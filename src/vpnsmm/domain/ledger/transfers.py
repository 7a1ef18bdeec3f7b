"""Transfer requests, stored transfers and the entries they leave on accounts.

A transfer moves ``amount`` minor units from one account (debited) to another (credited) in one currency,
so every transfer is balanced by construction. Stored transfers and entries are immutable. Mistakes are
corrected with new transfers, never by editing.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from attrs import field, frozen

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.ledger.accounts import Side
from vpnsmm.domain.money import MAX_AMOUNT, Currency, ExchangeRate

TRANSFER_ID_MAX = 128
REFERENCE_MAX = 128
MEMO_MAX = 500

_TRANSFER_ID = re.compile(rf"^[!-~]{{1,{TRANSFER_ID_MAX}}}$")  # printable ASCII, no spaces
_CODE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")


class TransferKind(StrEnum):
    """The four TigerBeetle transfer shapes."""

    PLAIN = "plain"  # posted at once
    PENDING = "pending"  # a hold: reserves the amount in the pending counters
    POST_PENDING = "post_pending"  # settle a hold, fully or partly (the rest is released)
    VOID_PENDING = "void_pending"  # release a hold entirely

    @property
    def resolves_pending(self) -> bool:
        return self in (TransferKind.POST_PENDING, TransferKind.VOID_PENDING)


class PendingStatus(StrEnum):
    """Where a pending transfer is in its life. A hold resolves at most once."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


def _check_id(value: object, field_name: str) -> None:
    if not isinstance(value, str) or not _TRANSFER_ID.match(value):
        raise ValidationError(
            f"{field_name} must be 1..{TRANSFER_ID_MAX} printable ASCII characters without spaces, got {value!r}",
            field=field_name, code="INVALID_TRANSFER_ID")


def _check_account_id(value: object, field_name: str) -> None:
    if value is not None and (type(value) is not int or value <= 0):
        raise ValidationError(f"{field_name} must be a positive integer, got {value!r}", field=field_name)


def _check_amount(value: object) -> None:
    if value is None:
        return
    if type(value) is not int:  # rejects bool and float on purpose
        raise ValidationError(f"amount must be an integer number of minor units, got {value!r}", field="amount")
    if not 0 < value <= MAX_AMOUNT:
        raise ValidationError(f"amount must be in 1..{MAX_AMOUNT} minor units, got {value}", field="amount",
                              code="AMOUNT_OUT_OF_RANGE")


def _check_text(value: object, field_name: str, limit: int, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ValidationError(f"{field_name} must be a string", field=field_name)
    if optional and not value.strip():
        raise ValidationError(f"{field_name} must not be blank (use None)", field=field_name)
    if len(value) > limit:
        raise ValidationError(f"{field_name} must be at most {limit} characters", field=field_name)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise ValidationError(f"{field_name} must not contain control characters", field=field_name)


@frozen(kw_only=True)
class TransferRequest:
    """What a caller asks the ledger to do. Constructing it checks the request's own shape.

    * ``id`` is the caller's idempotency key. The caller generates it, persists it before submitting, and
      reuses it on every retry. Submitting it again with the same body returns the stored transfer. A
      different body raises ConflictError.
    * ``plain`` and ``pending`` need ``debit_account_id``, ``credit_account_id`` (different accounts) and
      ``amount`` > 0.
    * ``post_pending`` and ``void_pending`` need ``pending_id``. Their account ids may be left None, and are
      then taken from the hold. If given, they must match it. ``amount`` None posts the whole hold. A smaller
      amount posts that much and releases the rest. A void always releases the whole hold.
    * ``code`` is a reason such as ``"topup"``, ``"order_charge"`` or ``"refund"`` (lower-case,
      ``[a-z0-9_.:-]``). ``reference`` links to the business object (``"invoice:12"``). If it is left None
      on a post or void, it is copied from the hold.
    * ``rate`` must be given on a transfer that touches a conversion account, and only there.

    Raises ValidationError (with ``field``) for any shape error.
    """

    id: str
    code: str
    kind: TransferKind = TransferKind.PLAIN
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: int | None = None
    pending_id: str | None = None
    reference: str | None = None
    memo: str = ""
    rate: ExchangeRate | None = field(default=None)

    def __attrs_post_init__(self) -> None:
        _check_id(self.id, "id")
        if not isinstance(self.kind, TransferKind):
            raise ValidationError(f"unknown transfer kind {self.kind!r}", field="kind")
        if not isinstance(self.code, str) or not _CODE.match(self.code):
            raise ValidationError(f"code must match {_CODE.pattern}, got {self.code!r}", field="code")
        _check_account_id(self.debit_account_id, "debit_account_id")
        _check_account_id(self.credit_account_id, "credit_account_id")
        _check_amount(self.amount)
        _check_text(self.reference, "reference", REFERENCE_MAX, optional=True)
        _check_text(self.memo, "memo", MEMO_MAX, optional=False)
        if self.rate is not None and not isinstance(self.rate, ExchangeRate):
            raise ValidationError("rate must be an ExchangeRate", field="rate")
        if self.kind.resolves_pending:
            if self.pending_id is None:
                raise ValidationError(f"a {self.kind.value} transfer needs pending_id", field="pending_id")
            _check_id(self.pending_id, "pending_id")
            if self.pending_id == self.id:
                raise ValidationError("a transfer cannot resolve itself", field="pending_id")
        else:
            if self.pending_id is not None:
                raise ValidationError(f"a {self.kind.value} transfer takes no pending_id", field="pending_id")
            for name in ("debit_account_id", "credit_account_id", "amount"):
                if getattr(self, name) is None:
                    raise ValidationError(f"a {self.kind.value} transfer needs {name}", field=name)
        if self.debit_account_id is not None and self.debit_account_id == self.credit_account_id:
            raise ValidationError("debit and credit accounts must be different", field="credit_account_id",
                                  code="SAME_ACCOUNT")

    # -- convenience constructors ----------------------------------------------------------------
    @classmethod
    def plain(cls, id: str, *, debit_account_id: int, credit_account_id: int, amount: int, code: str,
              reference: str | None = None, memo: str = "", rate: ExchangeRate | None = None) -> TransferRequest:
        return cls(id=id, kind=TransferKind.PLAIN, debit_account_id=debit_account_id,
                   credit_account_id=credit_account_id, amount=amount, code=code, reference=reference,
                   memo=memo, rate=rate)

    @classmethod
    def hold(cls, id: str, *, debit_account_id: int, credit_account_id: int, amount: int, code: str,
             reference: str | None = None, memo: str = "", rate: ExchangeRate | None = None) -> TransferRequest:
        """A pending transfer: reserve ``amount`` until it is posted or voided."""
        return cls(id=id, kind=TransferKind.PENDING, debit_account_id=debit_account_id,
                   credit_account_id=credit_account_id, amount=amount, code=code, reference=reference,
                   memo=memo, rate=rate)

    @classmethod
    def post(cls, id: str, *, pending_id: str, code: str, amount: int | None = None,
             reference: str | None = None, memo: str = "") -> TransferRequest:
        """Settle hold ``pending_id``: all of it when ``amount`` is None, else ``amount`` and release the rest."""
        return cls(id=id, kind=TransferKind.POST_PENDING, pending_id=pending_id, amount=amount, code=code,
                   reference=reference, memo=memo)

    @classmethod
    def void(cls, id: str, *, pending_id: str, code: str, reference: str | None = None,
             memo: str = "") -> TransferRequest:
        """Release hold ``pending_id`` entirely."""
        return cls(id=id, kind=TransferKind.VOID_PENDING, pending_id=pending_id, code=code, reference=reference,
                   memo=memo)


@frozen(kw_only=True)
class Transfer:
    """A transfer as stored: immutable, with the accounts, amount and rate it resolved to.

    For ``post_pending``, ``amount`` is what was posted. For ``void_pending``, it is what was released (the
    whole hold). ``timestamp`` is when the ledger accepted it.
    """

    id: str
    kind: TransferKind
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: Currency
    code: str
    pending_id: str | None = None
    reference: str | None = None
    memo: str = ""
    rate: ExchangeRate | None = None
    timestamp: datetime


@frozen(kw_only=True)
class AccountChange:
    """What one transfer did to one account, as computed by the rules (before an entry id is assigned).

    ``delta`` is the change of ``balance`` (posted, on the account's normal side). ``pending_delta`` is
    the change of the pending counter on ``side``. The before/after pairs are the account's ``balance``
    and ``available`` around the transfer.
    """

    account_id: int
    side: Side
    delta: int
    pending_delta: int
    balance_before: int
    balance_after: int
    available_before: int
    available_after: int


@frozen(kw_only=True)
class Entry:
    """One line of an account's history. A transfer writes two: one for its debit and one for its credit.

    Entries are append-only. Per account, ``sum(delta) == balance``, and each entry's ``balance_before``
    equals the previous entry's ``balance_after``. ``id`` increases with time across the whole ledger.
    """

    id: int
    transfer_id: str
    account_id: int
    currency: Currency
    side: Side
    kind: TransferKind
    code: str
    reference: str | None
    delta: int
    pending_delta: int
    balance_before: int
    balance_after: int
    available_before: int
    available_after: int
    timestamp: datetime

    @classmethod
    def record(cls, entry_id: int, transfer: Transfer, change: AccountChange) -> Entry:
        return cls(id=entry_id, transfer_id=transfer.id, account_id=change.account_id, currency=transfer.currency,
                   side=change.side, kind=transfer.kind, code=transfer.code, reference=transfer.reference,
                   delta=change.delta, pending_delta=change.pending_delta, balance_before=change.balance_before,
                   balance_after=change.balance_after, available_before=change.available_before,
                   available_after=change.available_after, timestamp=transfer.timestamp)
