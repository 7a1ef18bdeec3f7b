"""Ledger accounts, modelled on TigerBeetle: four monotonic counters and an optional balance bound.

An account never stores a balance. It keeps ``debits_posted``, ``credits_posted``, ``debits_pending`` and
``credits_pending``; each only grows, except that a pending counter shrinks when its hold is posted or voided.
The balance and the spendable amount are derived from them on the account's *normal* side.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from attrs import evolve, field, frozen

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.money import Currency, Money

#: Counters are stored as signed 64-bit integers (BIGINT); a transfer that would push one past this fails.
MAX_COUNTER = 2**63 - 1


class Side(StrEnum):
    """The side of a double entry."""

    DEBIT = "debit"
    CREDIT = "credit"


class AccountFlags(StrEnum):
    """The balance bound an account enforces (TigerBeetle's account flags).

    * ``debits_must_not_exceed_credits``: the account can never be overdrawn. Pending and posted debits
      together may not exceed posted credits. Wallets use this bound.
    * ``credits_must_not_exceed_debits``: the mirror image, for debit-normal accounts that must not go negative.
    * ``none``: unbounded. The world account that outside money comes from uses this, as do clearing accounts.
    """

    DEBITS_MUST_NOT_EXCEED_CREDITS = "debits_must_not_exceed_credits"
    CREDITS_MUST_NOT_EXCEED_DEBITS = "credits_must_not_exceed_debits"
    NONE = "none"


class AccountPurpose(StrEnum):
    """What an account is for. This fixes the account's normal side and its default bound.

    Credit-normal accounts hold money we owe or earned. Their balance is credits minus debits.
    Debit-normal accounts hold money we have or spent. Their balance is debits minus credits.
    """

    WALLET = "wallet"  # a customer's prepaid balance: a liability, never negative
    REVENUE = "revenue"  # earned from orders
    GATEWAY_CLEARING = "gateway_clearing"  # paid at a gateway, not settled to us yet: an asset
    PROVIDER_PAYABLE = "provider_payable"  # owed to an upstream panel/SMM provider
    REFUNDS = "refunds"  # contra-revenue: refunds given back to wallets
    CONVERSION = "conversion"  # one per currency; the only bridge between currencies
    WORLD = "world"  # where outside money enters and leaves; may go negative
    EQUITY = "equity"  # the owner's capital and manual adjustments
    FEES = "fees"  # fees we pay (gateway, network): an expense

    @property
    def normal_side(self) -> Side:
        return _NORMAL_SIDE[self]

    @property
    def default_flags(self) -> AccountFlags:
        if self is AccountPurpose.WALLET:
            return AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        return AccountFlags.NONE

    @property
    def requires_owner(self) -> bool:
        return self is AccountPurpose.WALLET

    @classmethod
    def parse(cls, raw: object, *, field_name: str = "purpose") -> AccountPurpose:
        """The purpose named by ``raw`` (case-insensitive). Raises ValidationError otherwise."""
        if isinstance(raw, AccountPurpose):
            return raw
        if isinstance(raw, str):
            try:
                return cls(raw.strip().lower())
            except ValueError:
                pass
        known = ", ".join(p.value for p in cls)
        raise ValidationError(f"unknown account purpose {raw!r}; expected one of {known}", field=field_name)


_NORMAL_SIDE: dict[AccountPurpose, Side] = {
    AccountPurpose.WALLET: Side.CREDIT,
    AccountPurpose.REVENUE: Side.CREDIT,
    AccountPurpose.GATEWAY_CLEARING: Side.DEBIT,
    AccountPurpose.PROVIDER_PAYABLE: Side.CREDIT,
    AccountPurpose.REFUNDS: Side.DEBIT,
    AccountPurpose.CONVERSION: Side.CREDIT,
    AccountPurpose.WORLD: Side.DEBIT,
    AccountPurpose.EQUITY: Side.CREDIT,
    AccountPurpose.FEES: Side.DEBIT,
}


def _counter(_: object, attribute: Any, value: Any) -> None:
    name = getattr(attribute, "name", "counter")
    if type(value) is not int or not 0 <= value <= MAX_COUNTER:
        raise ValidationError(f"{name} must be an integer in 0..{MAX_COUNTER}, got {value!r}", field=name)


def _owner(_: object, attribute: Any, value: Any) -> None:
    if value is not None and (type(value) is not int or value <= 0):
        raise ValidationError(f"owner_id must be a positive integer or None, got {value!r}", field="owner_id")


@frozen
class LedgerAccount:
    """A snapshot of one account. The ledger stores a new snapshot after each transfer.

    Accounts are keyed by ``(owner_id, currency, purpose)``; system accounts have ``owner_id=None``.
    Only transfers change the counters (see :mod:`vpnsmm.domain.ledger.rules`).
    """

    id: int
    owner_id: int | None = field(validator=_owner)
    currency: Currency
    purpose: AccountPurpose
    flags: AccountFlags
    debits_posted: int = field(default=0, validator=_counter)
    credits_posted: int = field(default=0, validator=_counter)
    debits_pending: int = field(default=0, validator=_counter)
    credits_pending: int = field(default=0, validator=_counter)

    @classmethod
    def open(cls, account_id: int, owner_id: int | None, currency: Currency, purpose: AccountPurpose) -> LedgerAccount:
        """A new, empty account with the purpose's default bound.

        Raises ValidationError for a non-positive id, a wallet without an owner, or an unknown
        currency or purpose.
        """
        if type(account_id) is not int or account_id <= 0:
            raise ValidationError(f"account id must be a positive integer, got {account_id!r}", field="id")
        cur = Currency.parse(currency)
        kind = AccountPurpose.parse(purpose)
        if kind.requires_owner and owner_id is None:
            raise ValidationError(f"a {kind.value} account needs an owner", field="owner_id")
        return cls(id=account_id, owner_id=owner_id, currency=cur, purpose=kind, flags=kind.default_flags)

    @property
    def normal_side(self) -> Side:
        return self.purpose.normal_side

    @property
    def balance(self) -> int:
        """Posted balance on the normal side: credits - debits (credit-normal) or debits - credits."""
        if self.normal_side is Side.CREDIT:
            return self.credits_posted - self.debits_posted
        return self.debits_posted - self.credits_posted

    @property
    def available(self) -> int:
        """What can still leave the account: the balance less outgoing holds (TigerBeetle semantics).

        Incoming holds are not counted; pending money "cannot be spent until the pending transfer resolves".
        """
        if self.normal_side is Side.CREDIT:
            return self.credits_posted - self.debits_posted - self.debits_pending
        return self.debits_posted - self.credits_posted - self.credits_pending

    @property
    def balance_money(self) -> Money:
        return Money(self.balance, self.currency)

    @property
    def available_money(self) -> Money:
        return Money(self.available, self.currency)

    @property
    def within_bound(self) -> bool:
        """True when the account satisfies its bound (always true for ``AccountFlags.NONE``)."""
        if self.flags is AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
            return self.debits_posted + self.debits_pending <= self.credits_posted
        if self.flags is AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
            return self.credits_posted + self.credits_pending <= self.debits_posted
        return True

    def headroom(self, side: Side) -> int | None:
        """How much more may be debited (``Side.DEBIT``) or credited before the bound is crossed.

        None means there is no limit on that side.
        """
        if side is Side.DEBIT and self.flags is AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
            return self.credits_posted - self.debits_posted - self.debits_pending
        if side is Side.CREDIT and self.flags is AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
            return self.debits_posted - self.credits_posted - self.credits_pending
        return None

    def moved(self, side: Side, *, posted: int, pending: int) -> LedgerAccount:
        """The account after adding ``posted`` and ``pending`` (either may be negative) to one side's counters.

        This only does arithmetic and checks the range. Bounds are for the rules to check. Raises
        ValidationError (code ``LEDGER_OVERFLOW``) if a counter would leave 0..MAX_COUNTER.
        """
        if side is Side.DEBIT:
            new_posted, new_pending = self.debits_posted + posted, self.debits_pending + pending
        else:
            new_posted, new_pending = self.credits_posted + posted, self.credits_pending + pending
        for value in (new_posted, new_pending):
            if not 0 <= value <= MAX_COUNTER:
                raise ValidationError(f"account {self.id} {side.value} counters would overflow",
                                      field="amount", code="LEDGER_OVERFLOW",
                                      details={"account_id": self.id})
        if side is Side.DEBIT:
            return evolve(self, debits_posted=new_posted, debits_pending=new_pending)
        return evolve(self, credits_posted=new_posted, credits_pending=new_pending)
