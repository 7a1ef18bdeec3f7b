"""Wire shapes for wallets, invoices and payments. Amounts travel as decimal strings in major units
(``"12.50"``) with their currency, plus the exact integer in minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta, Struct

from vpnsmm.application.billing import PaymentInstructions, WalletBalance
from vpnsmm.domain.billing import Invoice, Payment
from vpnsmm.domain.ledger import Entry
from vpnsmm.domain.money import Currency, Money
from vpnsmm.entrypoints.http.schemas import In

AmountText = Annotated[str, Meta(min_length=1, max_length=40, description="decimal in major units, e.g. 12.50")]
CurrencyCode = Annotated[str, Meta(min_length=3, max_length=5)]
IdemKey = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


class MoneyOut(Struct):
    amount: str
    currency: str
    amount_minor: int

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=money.format(), currency=money.currency.value, amount_minor=money.amount)


def parse_money(amount: str, currency: str) -> Money:
    return Money.parse(amount, Currency.parse(currency))


class BalanceOut(Struct):
    currency: str
    balance: MoneyOut
    available: MoneyOut

    @classmethod
    def of(cls, b: WalletBalance) -> BalanceOut:
        return cls(currency=b.currency.value, balance=MoneyOut.of(b.balance), available=MoneyOut.of(b.available))


class EntryOut(Struct):
    id: int
    transfer_id: str
    kind: str
    code: str
    reference: str | None
    amount: MoneyOut  # signed change of the balance
    balance_before: MoneyOut
    balance_after: MoneyOut
    at: datetime

    @classmethod
    def of(cls, e: Entry) -> EntryOut:
        def m(v: int) -> MoneyOut:
            return MoneyOut.of(Money(v, e.currency))
        return cls(id=e.id, transfer_id=e.transfer_id, kind=e.kind.value, code=e.code, reference=e.reference,
                   amount=m(e.delta), balance_before=m(e.balance_before), balance_after=m(e.balance_after),
                   at=e.timestamp)


class EntryPage(Struct):
    items: list[EntryOut]
    next_before_id: int | None


class TransferIn(In):
    to_user_id: Annotated[int, Meta(gt=0, le=2**62)]
    amount: AmountText
    currency: CurrencyCode
    idempotency_key: IdemKey
    memo: Annotated[str, Meta(max_length=500)] = ""


class InvoiceIn(In):
    amount: AmountText
    currency: CurrencyCode
    description: Annotated[str, Meta(max_length=255)] = "Wallet top-up"
    idempotency_key: IdemKey | None = None


class InvoiceOut(Struct):
    id: int
    purpose: str
    status: str
    amount: MoneyOut
    description: str
    item: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    fulfilled_at: datetime | None
    last_error: str

    @classmethod
    def of(cls, i: Invoice) -> InvoiceOut:
        return cls(id=i.id, purpose=i.purpose.value, status=i.status.value, amount=MoneyOut.of(i.amount),
                   description=i.description, item=i.item, created_at=i.created_at, expires_at=i.expires_at,
                   paid_at=i.paid_at, fulfilled_at=i.fulfilled_at, last_error=i.last_error)


class PaymentOut(Struct):
    id: int
    invoice_id: int
    gateway: str
    status: str
    amount: MoneyOut
    external_id: str | None
    redirect_url: str | None
    provider_ref: str | None
    created_at: datetime
    paid_at: datetime | None
    claim: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        claim = None if p.claim is None else {"transaction_id": p.claim.transaction_id,
                                              "card_last4": p.claim.card_last4, "receipt_ref": p.claim.receipt_ref}
        decision = None if p.decision is None else {"status": p.decision.status.value, "text": p.decision.text,
                                                    "decided_at": p.decision.decided_at.isoformat()}
        return cls(id=p.id, invoice_id=p.invoice_id, gateway=p.gateway.value, status=p.status.value,
                   amount=MoneyOut.of(p.amount), external_id=p.external_id, redirect_url=p.redirect_url,
                   provider_ref=p.provider_ref, created_at=p.created_at, paid_at=p.paid_at, claim=claim,
                   decision=decision)


class InvoiceDetailOut(Struct):
    invoice: InvoiceOut
    payments: list[PaymentOut]


class PayIn(In):
    gateway: Annotated[str, Meta(max_length=16)]
    email: Annotated[str, Meta(max_length=254)] | None = None


class CardOut(Struct):
    card_number: str
    holder: str
    bank: str
    amount: MoneyOut
    instructions: str


class PayOut(Struct):
    payment: PaymentOut
    invoice: InvoiceOut
    redirect_url: str | None
    card: CardOut | None

    @classmethod
    def of(cls, i: PaymentInstructions) -> PayOut:
        card = None
        if i.card is not None:
            card = CardOut(card_number=i.card.account.grouped, holder=i.card.account.holder, bank=i.card.account.bank,
                           amount=MoneyOut.of(i.card.amount), instructions=i.card.render())
        return cls(payment=PaymentOut.of(i.payment), invoice=InvoiceOut.of(i.invoice), redirect_url=i.redirect_url,
                   card=card)


class ReceiptIn(In):
    transaction_id: Annotated[str, Meta(min_length=1, max_length=40)]
    card_last4: Annotated[str, Meta(min_length=4, max_length=4)]
    receipt_ref: Annotated[str, Meta(max_length=255)] | None = None


class DecisionIn(In):
    note: Annotated[str, Meta(max_length=500)] = ""


class RejectIn(In):
    reason: Annotated[str, Meta(min_length=1, max_length=500)]


class AdjustIn(In):
    amount: AmountText  # negative debits the wallet
    currency: CurrencyCode
    reason: Annotated[str, Meta(min_length=1, max_length=500)]
    idempotency_key: IdemKey
