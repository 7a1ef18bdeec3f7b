"""Payment gateway ports: start a payment, verify it, and authenticate what a gateway pushes to us.

The flow every use case follows::

    start(StartPayment)            -> PaymentStart     store external_id on the payment row, redirect the customer
    parse_callback(query)          -> CallbackNotice   (Zarinpal redirect) only *which* payment; Status=OK is a hint
    parse_webhook(body, hdrs, ip)  -> WebhookNotice    (Cryptomus push) authentic, but still only a hint
    verify(external_id, stored)    -> VerificationResult   the only answer that may lead to a credit
    credit once (compare-and-set on the payment row) when ``result.credits``

Rules the adapters follow: nothing a customer's browser sends is trusted; ``verify`` is always called with
the amount *we stored*, never an amount from a query string or a webhook; amounts are :class:`Money`.

Errors (from :mod:`vpnsmm.domain.errors`):

* ``UpstreamUnavailableError`` -- timeout, connection error, 5xx, rate limit, unparseable answer: retry later.
* ``UpstreamRejectedError``    -- the gateway answered no (bad merchant, validation, limits); ``code`` names it,
  ``details`` carry ``provider``, ``provider_code`` and ``provider_message``. Do not retry unchanged.
* ``NotFoundError``            -- the gateway does not know this external id (for this merchant).
* ``ValidationError``          -- our own input cannot be sent (unsupported currency, bad order id).
* ``AuthenticationError``      -- (webhooks only) bad/missing signature or a source IP not allowed.

Payment *outcomes* (paid, canceled, wrong amount, ...) are results, never exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from attrs import frozen

from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome

__all__ = [
    "CallbackNotice",
    "CallbackParser",
    "PaymentGateway",
    "PaymentOutcome",
    "PaymentStart",
    "StartPayment",
    "UnverifiedLister",
    "UnverifiedPayment",
    "VerificationResult",
    "WebhookNotice",
    "WebhookVerifier",
]


@frozen
class StartPayment:
    """What we ask a gateway to collect.

    ``payment_id`` is OUR id (used as the gateway's order id; letters, digits, ``-`` and ``_``, at most 128).
    ``callback_url`` is where the customer's browser returns. ``webhook_url`` is where a gateway that pushes
    notifications (Cryptomus) should POST; gateways without webhooks ignore it.
    """

    payment_id: str
    amount: Money
    description: str
    callback_url: str
    customer_email: str | None = None
    customer_mobile: str | None = None
    webhook_url: str | None = None


@frozen
class PaymentStart:
    """A payment the gateway has opened: send the customer to ``redirect_url``; store ``external_id``.

    ``external_id`` is the Zarinpal authority or the Cryptomus invoice uuid. ``fee`` is the gateway's quoted fee
    when it reports one, ``expires_at`` the invoice expiry when it reports one.
    """

    gateway: str
    payment_id: str
    external_id: str
    redirect_url: str
    amount: Money
    fee: Money | None = None
    expires_at: datetime | None = None


@frozen
class VerificationResult:
    """The gateway's authoritative answer about one payment, checked against the amount we expected.

    ``status`` decides (see :class:`PaymentOutcome`; credit only when ``credits``). ``amount`` is the amount the
    gateway holds for this payment in the expected currency, when it reports one. ``raw_status`` is the
    provider's own word (``"100"``, ``"101"``, ``"-51"``, ``"paid_over"``, ...). ``provider_ref`` is the receipt
    number to show and store (Zarinpal ``ref_id``, Cryptomus ``txid``). ``paid_amount``/``paid_currency`` are what
    the payer actually sent when it differs in kind (crypto), as the provider's decimal string. ``detail`` says
    in words why a non-crediting status was chosen.
    """

    gateway: str
    external_id: str
    status: PaymentOutcome
    expected: Money
    raw_status: str
    amount: Money | None = None
    provider_ref: str | None = None
    card_pan: str | None = None
    card_hash: str | None = None
    fee: Money | None = None
    paid_amount: str | None = None
    paid_currency: str | None = None
    detail: str = ""

    @property
    def credits(self) -> bool:
        return self.status.credits


@frozen
class CallbackNotice:
    """The browser came back. ``reported_ok`` is what the URL claims; it is never proof of payment."""

    gateway: str
    external_id: str
    reported_ok: bool


@frozen
class WebhookNotice:
    """An *authentic* gateway notification (signature and source checked), still not a reason to credit.

    Authentic does not mean current: a gateway retries, and an old notice can be replayed. Always call
    ``verify(external_id, stored amount)`` and credit on that result.
    """

    gateway: str
    external_id: str
    order_id: str | None
    status: PaymentOutcome
    raw_status: str
    is_final: bool
    amount: Money | None = None
    provider_ref: str | None = None


@frozen
class UnverifiedPayment:
    """A paid but not yet verified session, for reconciliation (customer never came back).

    ``amount`` is the gateway's integer in the unit the session was created in. Do not credit from it: look the
    payment up by ``external_id`` and call ``verify`` with the stored amount.
    """

    external_id: str
    amount: int
    callback_url: str
    created: str


@runtime_checkable
class PaymentGateway(Protocol):
    """One payment gateway."""

    @property
    def name(self) -> str: ...

    async def start(self, request: StartPayment) -> PaymentStart:
        """Open a payment and return where to send the customer.

        Not idempotent in general: Zarinpal issues a new authority per call. Cryptomus returns the existing
        invoice for a repeated ``payment_id``. Store the returned ``external_id``; raises the port errors above.
        """
        ...

    async def verify(self, external_id: str, expected: Money) -> VerificationResult:
        """Ask the gateway what happened to ``external_id`` and check it against ``expected`` (OUR stored amount).

        Safe to repeat: a second call after a success reports ``already_verified`` (Zarinpal) or ``paid``
        again (Cryptomus); the caller's compare-and-set credits once. Raises NotFoundError for an unknown id.
        """
        ...


@runtime_checkable
class WebhookVerifier(Protocol):
    """A gateway that pushes signed notifications."""

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str], source_ip: str | None) -> WebhookNotice:
        """Authenticate and parse one notification, exactly as received.

        Raises AuthenticationError for a missing or wrong signature (constant-time comparison) or a source IP
        outside the configured allow-list, ValidationError for a body that is not a notification. Pure: no
        I/O, nothing recorded.
        """
        ...


@runtime_checkable
class CallbackParser(Protocol):
    """A gateway that returns the customer's browser to us with the payment id in the query string."""

    def parse_callback(self, query: Mapping[str, str]) -> CallbackNotice:
        """Extract the external id; raises ValidationError when it is missing or malformed. Pure."""
        ...


@runtime_checkable
class UnverifiedLister(Protocol):
    """A gateway that can list paid-but-unverified sessions (Zarinpal ``unVerified.json``)."""

    async def unverified(self) -> list[UnverifiedPayment]:
        """Every session paid by the customer but not verified by us yet. Read-only; raises the port errors."""
        ...
