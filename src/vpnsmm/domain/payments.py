"""Payment values shared by every gateway, and the manual card-to-card review.

Pure values and one small state machine: no I/O, no clocks (instants are passed in), no timers.

* :class:`PaymentOutcome` -- what a gateway says about one payment after *verification* (never after a
  redirect or an unverified notification). Only :attr:`PaymentOutcome.credits` outcomes may be credited.
* :class:`CardAccount`, :class:`CardTransferClaim`, :class:`CardPaymentReview` -- card-to-card: we show a card
  number and the exact amount, the customer claims a transfer, an admin approves or rejects it. There is
  deliberately no "auto-approve after N minutes": a timer approves forged receipts too.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from attrs import define, field, frozen

from vpnsmm.domain.errors import InvalidTransitionError, ValidationError
from vpnsmm.domain.money import Money

__all__ = [
    "CardAccount",
    "CardPaymentReview",
    "CardReviewStatus",
    "CardTransferClaim",
    "CardTransferInstructions",
    "PaymentOutcome",
    "ReviewDecision",
    "normalize_digits",
]


class PaymentOutcome(StrEnum):
    """The verified state of one gateway payment.

    ``paid``             -- verified now for the expected amount: credit.
    ``already_verified`` -- verified by an earlier call (Zarinpal code 101): credit if not yet credited.
    ``paid_over``        -- more than the invoice arrived (Cryptomus): credit the *invoice* amount.
    ``pending``          -- not settled yet (customer still at the bank, transaction confirming): ask again later.
    ``failed``           -- the payment errored or was refunded: never credit.
    ``canceled``         -- the customer abandoned it or it expired unpaid: never credit.
    ``wrong_amount``     -- the amount that arrived, or the amount the gateway holds for this payment, is not
                            the expected amount: never credit automatically; route to manual review.
    """

    PAID = "paid"
    ALREADY_VERIFIED = "already_verified"
    PAID_OVER = "paid_over"
    PENDING = "pending"
    FAILED = "failed"
    CANCELED = "canceled"
    WRONG_AMOUNT = "wrong_amount"

    @property
    def credits(self) -> bool:
        """True when the expected amount may be credited (the caller still credits at most once)."""
        return self in _CREDITING

    @property
    def is_final(self) -> bool:
        """False only for ``pending``: every other outcome will not change by asking again."""
        return self is not PaymentOutcome.PENDING


_CREDITING = frozenset({PaymentOutcome.PAID, PaymentOutcome.ALREADY_VERIFIED, PaymentOutcome.PAID_OVER})

# Customers type card digits on Persian or Arabic keyboards; the bank does not care which digits they used.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def normalize_digits(text: str) -> str:
    """``text`` with Persian/Arabic-Indic digits turned into ASCII digits and spaces/dashes removed."""
    return re.sub(r"[\s\-]", "", text.translate(_DIGITS))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_number(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("card number must be a string", field="card_number", code="INVALID_CARD_NUMBER")
    digits = normalize_digits(value)
    # Shetab (Iranian) cards are 16 digits and carry a Luhn check digit, like every ISO/IEC 7812 card.
    if not re.fullmatch(r"\d{16}", digits) or not _luhn_ok(digits):
        raise ValidationError("card number must be 16 digits with a valid check digit", field="card_number",
                              code="INVALID_CARD_NUMBER")
    return digits


def _non_blank(limit: int) -> Any:
    def check(_: object, attribute: Any, value: object) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise ValidationError(f"{attribute.name} must be 1-{limit} characters", field=attribute.name)

    return check


@frozen
class CardAccount:
    """The card a customer transfers to. ``card_number`` is stored as 16 ASCII digits (Luhn-checked)."""

    holder: str = field(validator=_non_blank(100))
    card_number: str = field(converter=_card_number, repr=lambda n: f"****{n[-4:]}")
    bank: str = field(validator=_non_blank(100))

    @property
    def grouped(self) -> str:
        """``6037 9974 1234 5678``: the form customers copy from."""
        n = self.card_number
        return " ".join(n[i : i + 4] for i in range(0, 16, 4))

    @property
    def masked(self) -> str:
        """``603799******5678``: first six (the bank BIN) and last four, the way Shaparak masks PANs."""
        return f"{self.card_number[:6]}******{self.card_number[-4:]}"


@frozen
class CardTransferInstructions:
    """What the customer is shown: where to transfer and exactly how much."""

    account: CardAccount
    amount: Money

    def render(self) -> str:
        a = self.account
        return (f"Transfer exactly {self.amount} to card {a.grouped} ({a.holder}, {a.bank}), "
                "then send the transaction id and the last 4 digits of your card.")


def _transaction_id(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("transaction id must be a string", field="transaction_id")
    text = normalize_digits(value)
    if not re.fullmatch(r"[A-Za-z0-9]{4,40}", text):
        raise ValidationError("transaction id must be 4-40 letters or digits", field="transaction_id",
                              code="INVALID_TRANSACTION_ID")
    return text


def _card_last4(value: object) -> str:
    text = normalize_digits(value) if isinstance(value, str) else ""
    if not re.fullmatch(r"\d{4}", text):
        raise ValidationError("card_last4 must be exactly 4 digits", field="card_last4", code="INVALID_CARD_TAIL")
    return text


def _receipt_ref(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise ValidationError("receipt reference must be 1-255 characters", field="receipt_ref")
    return value.strip()


@frozen
class CardTransferClaim:
    """The customer's claim that they transferred the money.

    ``transaction_id`` is the bank's tracking/reference number (digits normalized to ASCII);
    ``card_last4`` the last four digits of the *payer's* card; ``receipt_ref`` an optional pointer to a stored
    receipt image (e.g. a Telegram ``file_id``). A claim is evidence for an admin, never proof by itself.
    """

    transaction_id: str = field(converter=_transaction_id)
    card_last4: str = field(converter=_card_last4)
    receipt_ref: str | None = field(default=None, converter=_receipt_ref)


class CardReviewStatus(StrEnum):
    AWAITING_RECEIPT = "awaiting_receipt"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


@frozen
class ReviewDecision:
    """An admin's decision. ``text`` is the approval note (may be empty) or the rejection reason (never empty)."""

    status: CardReviewStatus
    decided_by: str
    decided_at: datetime
    text: str

    @property
    def approved(self) -> bool:
        return self.status is CardReviewStatus.APPROVED


@define(eq=False)
class CardPaymentReview:
    """One card-to-card payment: ``awaiting_receipt -> submitted -> approved | rejected``.

    ``approved`` and ``rejected`` are final. Both decisions are idempotent: repeating the decision that was made
    returns the stored :class:`ReviewDecision` unchanged (whoever repeats it, whatever note they add); the
    opposite decision raises InvalidTransitionError. ``version`` grows by one on every real change, so a
    repository can save with compare-and-set (``UPDATE ... WHERE version = :loaded``) and two admins clicking
    at once cannot both win. Nothing here moves by itself over time.
    """

    payment_id: str
    account: CardAccount
    amount: Money
    status: CardReviewStatus = CardReviewStatus.AWAITING_RECEIPT
    claim: CardTransferClaim | None = None
    submitted_at: datetime | None = None
    decision: ReviewDecision | None = None
    version: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.amount.is_positive:
            raise ValidationError("a card payment needs a positive amount", field="amount")

    @property
    def instructions(self) -> CardTransferInstructions:
        return CardTransferInstructions(self.account, self.amount)

    def submit(self, claim: CardTransferClaim, *, at: datetime) -> bool:
        """Record the customer's claim. Returns True if it changed the review.

        Idempotent: submitting the identical claim again returns False. A *different* claim after one was
        submitted, or any claim after a decision, raises InvalidTransitionError (the admin may be looking at
        the first one; the customer opens a new payment instead).
        """
        if self.status is CardReviewStatus.AWAITING_RECEIPT:
            self.claim, self.submitted_at = claim, at
            self.status = CardReviewStatus.SUBMITTED
            self.version += 1
            return True
        if self.status is CardReviewStatus.SUBMITTED and claim == self.claim:
            return False
        raise InvalidTransitionError(
            f"card payment {self.payment_id} is {self.status.value}; a new transfer claim is not accepted",
            details={"status": self.status.value})

    def approve(self, *, by: str, at: datetime, note: str = "") -> ReviewDecision:
        """Approve the submitted claim; the caller credits ``amount`` once when this is a new decision.

        Returns the stored decision (the same one on every repeat). Raises InvalidTransitionError before a
        claim was submitted or after a rejection.
        """
        return self._decide(CardReviewStatus.APPROVED, by=by, at=at, text=note.strip())

    def reject(self, *, by: str, at: datetime, reason: str) -> ReviewDecision:
        """Reject the submitted claim with a reason the customer will see. Idempotent like :meth:`approve`.

        Raises ValidationError for a blank reason, InvalidTransitionError before a claim or after an approval.
        """
        if not reason or not reason.strip():
            raise ValidationError("a rejection needs a reason", field="reason", code="REASON_REQUIRED")
        return self._decide(CardReviewStatus.REJECTED, by=by, at=at, text=reason.strip())

    def _decide(self, target: CardReviewStatus, *, by: str, at: datetime, text: str) -> ReviewDecision:
        if not by:
            raise ValidationError("the deciding admin must be named", field="by")
        if self.decision is not None:
            if self.decision.status is target:
                return self.decision
            raise InvalidTransitionError(
                f"card payment {self.payment_id} was already {self.decision.status.value}",
                details={"status": self.decision.status.value})
        if self.status is not CardReviewStatus.SUBMITTED:
            raise InvalidTransitionError(
                f"card payment {self.payment_id} has no submitted transfer to review",
                details={"status": self.status.value})
        self.decision = ReviewDecision(target, by, at, text)
        self.status = target
        self.version += 1
        return self.decision
