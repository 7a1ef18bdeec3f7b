"""Card-to-card: account and claim validation, and the review state machine (pure domain, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpnsmm.domain.errors import InvalidTransitionError, ValidationError
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import (
    CardAccount,
    CardPaymentReview,
    CardReviewStatus,
    CardTransferClaim,
    PaymentOutcome,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ACCOUNT = CardAccount(holder="Ali Rezaei", card_number="6037-9912-3456-7893", bank="Melli")
CLAIM = CardTransferClaim(transaction_id="123456789012", card_last4="4321", receipt_ref="tg-file-AgAD")


def _review(amount: int = 1_250_000) -> CardPaymentReview:
    return CardPaymentReview(payment_id="pay-1", account=ACCOUNT, amount=Money(amount, "IRR"))


def test_card_account_normalizes_and_masks() -> None:
    persian = CardAccount(holder="علی", card_number="۶۰۳۷ ۹۹۱۲ ۳۴۵۶ ۷۸۹۳", bank="ملی")
    assert persian.card_number == "6037991234567893"
    assert ACCOUNT.grouped == "6037 9912 3456 7893"
    assert ACCOUNT.masked == "603799******7893"
    assert "1234567" not in repr(ACCOUNT)
    assert CardAccount(holder="x", card_number="4111111111111111", bank="y").card_number == "4111111111111111"


@pytest.mark.parametrize("number", ["6037991234567894", "603799123456789", "60379912345678931", "6037abcd34567893",
                                    ""])
def test_card_account_rejects_bad_numbers(number: str) -> None:
    with pytest.raises(ValidationError) as info:
        CardAccount(holder="x", card_number=number, bank="y")
    assert info.value.field == "card_number"


def test_card_account_needs_holder_and_bank() -> None:
    with pytest.raises(ValidationError):
        CardAccount(holder=" ", card_number="6037991234567893", bank="y")
    with pytest.raises(ValidationError):
        CardAccount(holder="x", card_number="6037991234567893", bank="")


def test_claim_validation() -> None:
    claim = CardTransferClaim(transaction_id="۱۲۳۴۵۶۷۸", card_last4="۴۳۲۱")
    assert (claim.transaction_id, claim.card_last4, claim.receipt_ref) == ("12345678", "4321", None)
    for bad_tail in ("432", "43210", "43a1", ""):
        with pytest.raises(ValidationError) as info:
            CardTransferClaim(transaction_id="12345678", card_last4=bad_tail)
        assert info.value.field == "card_last4"
    for bad_id in ("12", "x" * 41, "12 34; DROP", ""):
        with pytest.raises(ValidationError) as info:
            CardTransferClaim(transaction_id=bad_id, card_last4="4321")
        assert info.value.field == "transaction_id"
    with pytest.raises(ValidationError):
        CardTransferClaim(transaction_id="12345678", card_last4="4321", receipt_ref="  ")


def test_instructions_show_the_card_and_the_exact_amount() -> None:
    text = _review(1_250_370).instructions.render()
    assert "6037 9912 3456 7893" in text
    assert "1250370 IRR" in text
    assert "Ali Rezaei" in text


def test_amount_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        _review(0)


def test_happy_path_and_idempotent_approval() -> None:
    review = _review()
    assert review.status is CardReviewStatus.AWAITING_RECEIPT
    assert review.submit(CLAIM, at=T0) is True
    assert (review.status, review.claim, review.submitted_at, review.version) == (
        CardReviewStatus.SUBMITTED, CLAIM, T0, 1)
    assert review.submit(CardTransferClaim("123456789012", "4321", "tg-file-AgAD"), at=T0 + timedelta(1)) is False
    assert review.version == 1
    decision = review.approve(by="admin-1", at=T0, note=" looks right ")
    assert decision.approved
    assert (decision.decided_by, decision.text, review.status, review.version) == (
        "admin-1", "looks right", CardReviewStatus.APPROVED, 2)
    again = review.approve(by="admin-2", at=T0 + timedelta(minutes=5), note="me too")
    assert again == decision
    assert review.version == 2
    with pytest.raises(InvalidTransitionError):
        review.reject(by="admin-2", at=T0, reason="fake receipt")
    with pytest.raises(InvalidTransitionError):
        review.submit(CLAIM, at=T0)


def test_rejection_needs_a_reason_and_is_idempotent() -> None:
    review = _review()
    review.submit(CLAIM, at=T0)
    with pytest.raises(ValidationError):
        review.reject(by="admin-1", at=T0, reason="   ")
    assert review.status.value == "submitted"  # unchanged (compared by value: mypy would pin the literal)
    decision = review.reject(by="admin-1", at=T0, reason="no such transaction")
    assert not decision.approved
    assert review.reject(by="admin-3", at=T0, reason="other words") == decision
    with pytest.raises(InvalidTransitionError):
        review.approve(by="admin-2", at=T0)
    assert review.status is CardReviewStatus.REJECTED


def test_no_decision_before_a_claim_and_no_claim_swap() -> None:
    review = _review()
    with pytest.raises(InvalidTransitionError):
        review.approve(by="admin-1", at=T0)
    with pytest.raises(InvalidTransitionError):
        review.reject(by="admin-1", at=T0, reason="nothing sent")
    review.submit(CLAIM, at=T0)
    with pytest.raises(InvalidTransitionError):
        review.submit(CardTransferClaim("999999999", "4321"), at=T0)
    assert review.claim == CLAIM
    with pytest.raises(ValidationError):
        review.approve(by="", at=T0)


_actions = st.lists(st.sampled_from(["submit", "submit_other", "approve", "reject"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(_actions)
def test_any_sequence_decides_at_most_once(actions: list[str]) -> None:
    review = _review()
    decisions = []
    for action in actions:
        try:
            if action == "submit":
                review.submit(CLAIM, at=T0)
            elif action == "submit_other":
                review.submit(CardTransferClaim("55555555", "1111"), at=T0)
            elif action == "approve":
                decisions.append(review.approve(by="a", at=T0))
            else:
                decisions.append(review.reject(by="a", at=T0, reason="r"))
        except InvalidTransitionError:
            pass
    assert len(set(decisions)) <= 1  # one decision, repeated at most
    if decisions:
        assert review.decision == decisions[0]
        assert review.status is decisions[0].status
        assert review.claim is not None
    assert review.version <= 2


def test_outcomes_that_credit() -> None:
    assert {o for o in PaymentOutcome if o.credits} == {
        PaymentOutcome.PAID, PaymentOutcome.ALREADY_VERIFIED, PaymentOutcome.PAID_OVER}
    assert [o for o in PaymentOutcome if not o.is_final] == [PaymentOutcome.PENDING]
