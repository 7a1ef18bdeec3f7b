"""A pure in-memory PaymentGateway for use-case tests: no HTTP, Zarinpal-like verify semantics.

``start`` opens a payment; :meth:`InMemoryPaymentGateway.pay` / :meth:`InMemoryPaymentGateway.cancel` play the
customer; ``verify`` answers ``paid`` once, then ``already_verified``, and ``wrong_amount`` for another amount.
"""

from __future__ import annotations

import itertools

from attrs import define

from vpnsmm.application.ports.payments import PaymentStart, StartPayment, VerificationResult
from vpnsmm.domain.errors import NotFoundError, UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome

__all__ = ["InMemoryPaymentGateway"]


@define
class _Session:
    payment_id: str
    amount: Money
    state: str = "open"  # open | paid | verified | canceled


class InMemoryPaymentGateway:
    """Implements PaymentGateway in memory. ``fail_next`` makes the next call raise UpstreamUnavailableError."""

    def __init__(self, name: str = "memory") -> None:
        self._name = name
        self.sessions: dict[str, _Session] = {}
        self._ids = itertools.count(1)
        self.fail_next = False

    @property
    def name(self) -> str:
        return self._name

    async def start(self, request: StartPayment) -> PaymentStart:
        self._maybe_fail()
        if not request.amount.is_positive:
            raise ValidationError("amount must be positive", field="amount")
        external_id = f"mem-{next(self._ids):06d}"
        self.sessions[external_id] = _Session(request.payment_id, request.amount)
        return PaymentStart(gateway=self.name, payment_id=request.payment_id, external_id=external_id,
                            redirect_url=f"memory://pay/{external_id}", amount=request.amount)

    def pay(self, external_id: str) -> None:
        self._open(external_id).state = "paid"

    def cancel(self, external_id: str) -> None:
        self._open(external_id).state = "canceled"

    async def verify(self, external_id: str, expected: Money) -> VerificationResult:
        self._maybe_fail()
        session = self.sessions.get(external_id)
        if session is None:
            raise NotFoundError(f"no payment {external_id}", code="PAYMENT_NOT_FOUND")

        def result(status: PaymentOutcome, amount: Money | None = None, detail: str = "") -> VerificationResult:
            return VerificationResult(gateway=self.name, external_id=external_id, status=status,
                                      expected=expected, raw_status=session.state, amount=amount, detail=detail)

        if expected != session.amount:
            return result(PaymentOutcome.WRONG_AMOUNT, detail=f"session holds {session.amount}")
        if session.state == "paid":
            session.state = "verified"
            return result(PaymentOutcome.PAID, expected)
        if session.state == "verified":
            return result(PaymentOutcome.ALREADY_VERIFIED, expected)
        return result(PaymentOutcome.CANCELED if session.state == "canceled" else PaymentOutcome.PENDING)

    def _open(self, external_id: str) -> _Session:
        session = self.sessions[external_id]
        if session.state != "open":
            raise ValueError(f"payment {external_id} is {session.state}")
        return session

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise UpstreamUnavailableError("in-memory gateway told to fail", details={"provider": self.name})
