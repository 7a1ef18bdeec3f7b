"""Invoices and payment attempts.

An invoice says what is bought and for how much; payments are attempts to collect it through a gateway.
The money itself never lives here: every movement is a ledger transfer whose id is derived from these
objects (:func:`payment_credit_id`, :func:`invoice_charge_id`, :func:`invoice_refund_id`), so replaying a
step can never move money twice.

Invoice status machine::

    pending --pay--> paid --fulfil--> fulfilled
       |               \\--refund--> refunded      (fulfilment failed for good: the charge goes back to the wallet)
       +--expire--> expired --late payment--> paid (money that arrives is never turned away)
       +--cancel--> canceled                      (a payment that still arrives is credited to the wallet only)

Payment status machine::

    created --start--> pending --> paid | failed | canceled
    card-to-card: pending --submit claim--> submitted --approve--> paid
                                                   \\--reject--> rejected (final; the customer opens a new payment)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from attrs import define, field

from vpnsmm.domain.errors import InvalidTransitionError, ValidationError
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import (
    CardAccount,
    CardPaymentReview,
    CardReviewStatus,
    CardTransferClaim,
    ReviewDecision,
)

INVOICE_TTL = timedelta(hours=2)
DESCRIPTION_MAX = 255


class InvoicePurpose(StrEnum):
    WALLET_TOPUP = "wallet_topup"
    VPN_PURCHASE = "vpn_purchase"
    VPN_RENEWAL = "vpn_renewal"
    VPN_ADDON = "vpn_addon"
    SMM_ORDER = "smm_order"

    @property
    def charges_wallet(self) -> bool:
        """A purchase is charged to the wallet when paid; a top-up only fills it."""
        return self is not InvoicePurpose.WALLET_TOPUP


class InvoiceStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    CANCELED = "canceled"
    REFUNDED = "refunded"

    @property
    def is_open(self) -> bool:
        """Money sent for this invoice now still pays for it."""
        return self in (InvoiceStatus.PENDING, InvoiceStatus.EXPIRED)


class Gateway(StrEnum):
    ZARINPAL = "zarinpal"
    CRYPTOMUS = "cryptomus"
    CARD = "card"  # manual card-to-card, approved by an admin
    WALLET = "wallet"  # paid from the customer's balance


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"  # opened at the gateway / waiting for the card transfer
    SUBMITTED = "submitted"  # card-to-card: customer sent the receipt, waiting for an admin
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"  # card-to-card: an admin said no

    @property
    def is_final(self) -> bool:
        return self in (PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELED, PaymentStatus.REJECTED)


def payment_credit_id(payment_id: int) -> str:
    """Ledger transfer id of the credit a paid payment makes to its wallet."""
    return f"payment:{payment_id}:credit"


def invoice_charge_id(invoice_id: int) -> str:
    return f"invoice:{invoice_id}:charge"


def invoice_refund_id(invoice_id: int) -> str:
    return f"invoice:{invoice_id}:refund"


@define(eq=False)
class Invoice:
    """What a user owes for one thing. ``item`` holds what the fulfilment needs (plan id, order spec, ...)."""

    user_id: int
    purpose: InvoicePurpose
    amount: Money
    description: str
    created_at: datetime
    expires_at: datetime
    item: dict[str, Any] = field(factory=dict)
    status: InvoiceStatus = InvoiceStatus.PENDING
    idempotency_key: str | None = None
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = None
    paid_by_payment_id: int | None = None
    fulfilment_attempts: int = 0
    last_error: str = ""
    id: int = 0

    @classmethod
    def open(cls, *, user_id: int, purpose: InvoicePurpose, amount: Money, description: str, now: datetime,
             item: dict[str, Any] | None = None, ttl: timedelta = INVOICE_TTL,
             idempotency_key: str | None = None) -> Invoice:
        """A new pending invoice. Raises ValidationError for a non-positive amount or an overlong description."""
        if not amount.is_positive:
            raise ValidationError("amount must be positive", field="amount")
        description = description.strip()
        if len(description) > DESCRIPTION_MAX:
            raise ValidationError(f"description must be at most {DESCRIPTION_MAX} characters", field="description")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 100:
            raise ValidationError("idempotency key must be 1 to 100 characters", field="idempotency_key")
        return cls(user_id=user_id, purpose=purpose, amount=amount, description=description or purpose.value,
                   created_at=now, expires_at=now + ttl, item=dict(item or {}), idempotency_key=idempotency_key)

    def is_expired_at(self, now: datetime) -> bool:
        return self.status is InvoiceStatus.PENDING and now >= self.expires_at

    def mark_paid(self, payment_id: int, now: datetime) -> None:
        """pending/expired -> paid. Raises InvalidTransitionError from any other status."""
        if not self.status.is_open:
            raise InvalidTransitionError(f"invoice {self.id} is {self.status.value}, it cannot be paid",
                                         code="INVOICE_NOT_PAYABLE")
        self.status, self.paid_at, self.paid_by_payment_id = InvoiceStatus.PAID, now, payment_id

    def mark_fulfilled(self, now: datetime) -> None:
        if self.status is InvoiceStatus.FULFILLED:
            return
        if self.status is not InvoiceStatus.PAID:
            raise InvalidTransitionError(f"invoice {self.id} is {self.status.value}, not paid", code="INVOICE_NOT_PAID")
        self.status, self.fulfilled_at, self.last_error = InvoiceStatus.FULFILLED, now, ""

    def record_failure(self, error: str) -> None:
        self.fulfilment_attempts += 1
        self.last_error = error[:500]

    def mark_refunded(self) -> None:
        if self.status is InvoiceStatus.REFUNDED:
            return
        if self.status not in (InvoiceStatus.PAID, InvoiceStatus.FULFILLED):
            raise InvalidTransitionError(f"invoice {self.id} is {self.status.value}, nothing to refund",
                                         code="INVOICE_NOT_REFUNDABLE")
        self.status = InvoiceStatus.REFUNDED

    def cancel(self) -> None:
        if self.status is InvoiceStatus.CANCELED:
            return
        if not self.status.is_open:
            raise InvalidTransitionError(f"invoice {self.id} is {self.status.value}, it cannot be canceled",
                                         code="INVOICE_NOT_CANCELABLE")
        self.status = InvoiceStatus.CANCELED

    def expire(self, now: datetime) -> bool:
        """pending -> expired once past ``expires_at``; True if it changed."""
        if self.is_expired_at(now):
            self.status = InvoiceStatus.EXPIRED
            return True
        return False


@define(eq=False)
class Payment:
    """One attempt to collect an invoice through one gateway. ``(gateway, external_id)`` is unique."""

    invoice_id: int
    user_id: int
    gateway: Gateway
    amount: Money
    created_at: datetime
    status: PaymentStatus = PaymentStatus.CREATED
    external_id: str | None = None  # Zarinpal authority, Cryptomus uuid, card transaction id
    redirect_url: str | None = None
    provider_ref: str | None = None  # Zarinpal ref_id, Cryptomus txid
    card_pan: str | None = None
    raw_status: str = ""
    claim: CardTransferClaim | None = None  # card-to-card: what the customer says they sent
    decision: ReviewDecision | None = None  # card-to-card: the admin's approval or rejection
    paid_at: datetime | None = None
    updated_at: datetime | None = None
    id: int = 0

    def started(self, external_id: str | None, redirect_url: str | None, now: datetime) -> None:
        if self.status is not PaymentStatus.CREATED:
            raise InvalidTransitionError("payment already started", code="PAYMENT_ALREADY_STARTED")
        self.status, self.external_id, self.redirect_url, self.updated_at = (
            PaymentStatus.PENDING, external_id, redirect_url, now)

    def card_review(self, account: CardAccount) -> CardPaymentReview:
        """The card-to-card review state of this payment, to decide on (see :class:`CardPaymentReview`)."""
        if self.gateway is not Gateway.CARD:
            raise InvalidTransitionError("only card-to-card payments are reviewed", code="NOT_A_CARD_PAYMENT")
        status = {PaymentStatus.PENDING: CardReviewStatus.AWAITING_RECEIPT,
                  PaymentStatus.SUBMITTED: CardReviewStatus.SUBMITTED,
                  PaymentStatus.PAID: CardReviewStatus.APPROVED,
                  PaymentStatus.REJECTED: CardReviewStatus.REJECTED}.get(self.status)
        if status is None:
            raise InvalidTransitionError(f"payment is {self.status.value}", code="PAYMENT_NOT_REVIEWABLE")
        return CardPaymentReview(payment_id=str(self.id), account=account, amount=self.amount, status=status,
                                 claim=self.claim, decision=self.decision)

    def take_review(self, review: CardPaymentReview, now: datetime) -> None:
        """Copy a review's claim and decision back (approval itself is settled by the paid compare-and-set)."""
        self.claim, self.decision, self.updated_at = review.claim, review.decision, now
        if review.status is CardReviewStatus.SUBMITTED:
            self.status = PaymentStatus.SUBMITTED
        elif review.status is CardReviewStatus.REJECTED:
            self.status = PaymentStatus.REJECTED

    def settle(self, status: PaymentStatus, now: datetime, *, raw_status: str = "", provider_ref: str | None = None,
               card_pan: str | None = None) -> None:
        """Record a final outcome other than paid (paid goes through the repository's compare-and-set)."""
        if self.status.is_final:
            return
        self.status, self.raw_status, self.updated_at = status, raw_status or self.raw_status, now
        self.provider_ref = provider_ref or self.provider_ref
        self.card_pan = card_pan or self.card_pan


def mask_card(digits: str) -> str:
    """Show only the first 6 and last 4 digits of a card number."""
    clean = "".join(ch for ch in digits if ch.isdigit())
    return clean if len(clean) < 10 else f"{clean[:6]}{'*' * (len(clean) - 10)}{clean[-4:]}"
