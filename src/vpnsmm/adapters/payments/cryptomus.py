"""Cryptomus merchant API: signed invoice creation, ``payment/info`` re-checks and webhook verification.

Wire facts this module relies on (see docs/adapters/cryptomus.md):

* Every call is ``POST`` with headers ``merchant`` (merchant uuid) and ``sign`` = md5(base64(body) + payment key),
  computed over the exact bytes sent -- so bodies are encoded once and posted with ``content=``.
* Success ``{"state": 0, "result": {...}}``; errors ``{"state": 1, "errors": {field: [...]}}`` (HTTP 422) or
  ``{"state": 1, "message": "..."}``.
* Amounts are decimal strings in major units (``"10.28"``); we format them from :class:`Money` exactly.
* ``order_id`` is unique per merchant: creating again with the same order id returns the existing invoice.
* A webhook is only a hint: :meth:`CryptomusGateway.parse_webhook` proves it came from Cryptomus; crediting waits
  for :meth:`CryptomusGateway.verify`, which re-reads ``/v1/payment/info``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import msgspec

from vpnsmm.adapters.payments._http import post_json
from vpnsmm.adapters.payments.cryptomus_signing import request_sign, sign_matches, webhook_sign
from vpnsmm.application.ports.payments import PaymentStart, StartPayment, VerificationResult, WebhookNotice
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import PaymentOutcome

__all__ = ["CRYPTOMUS_WEBHOOK_IPS", "CryptomusGateway", "map_status"]

#: The documented origin of Cryptomus webhooks. Pass it as ``allowed_ips`` when not behind a proxy that
#: rewrites the source address (behind one, give the real client IP your own proxy reports).
CRYPTOMUS_WEBHOOK_IPS: Final = frozenset({"91.227.144.54"})
DEFAULT_API: Final = "https://api.cryptomus.com"

_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

_STATUS: Final[Mapping[str, PaymentOutcome]] = {
    "paid": PaymentOutcome.PAID,
    "paid_over": PaymentOutcome.PAID_OVER,
    "wrong_amount": PaymentOutcome.WRONG_AMOUNT,
    "wrong_amount_waiting": PaymentOutcome.PENDING,
    "process": PaymentOutcome.PENDING,
    "check": PaymentOutcome.PENDING,
    "confirm_check": PaymentOutcome.PENDING,
    "locked": PaymentOutcome.PENDING,  # AML hold: may still be released; alert, do not credit
    "fail": PaymentOutcome.FAILED,
    "system_fail": PaymentOutcome.FAILED,
    "cancel": PaymentOutcome.CANCELED,
    # Refunds: the money went (or is going) back; raw_status says which step.
    "refund_process": PaymentOutcome.FAILED,
    "refund_fail": PaymentOutcome.FAILED,
    "refund_paid": PaymentOutcome.FAILED,
}


def map_status(raw: str, is_final: bool | None) -> PaymentOutcome:
    """Cryptomus status -> outcome. Unknown statuses are ``pending`` (never credited); a crediting status on an
    invoice Cryptomus itself calls not final is ``pending`` too."""
    outcome = _STATUS.get(raw, PaymentOutcome.PENDING)
    if outcome.credits and is_final is False:
        return PaymentOutcome.PENDING
    return outcome


class _InvoiceIn(msgspec.Struct, omit_defaults=True):
    amount: str
    currency: str
    order_id: str
    url_return: str | None = None
    url_success: str | None = None
    url_callback: str | None = None
    lifetime: int | None = None


class _InfoIn(msgspec.Struct):
    uuid: str


class _Invoice(msgspec.Struct):
    uuid: str
    order_id: str
    amount: str
    currency: str
    url: str = ""
    payment_status: str | None = None
    status: str | None = None
    is_final: bool | None = None
    payment_amount: str | None = None
    payer_amount: str | None = None
    payer_currency: str | None = None
    txid: str | None = None
    expired_at: int | None = None


_encoder = msgspec.json.Encoder()


class CryptomusGateway:
    """Cryptomus over an injected ``httpx.AsyncClient``; also the webhook verifier for its notifications.

    ``payment_api_key`` is the *payment* key (payouts have another); it signs requests and webhooks and is never
    logged or shown in ``repr``. ``allowed_ips=None`` disables the source-IP check; a set enables it and then a
    missing source IP is refused too. ``lifetime`` (300-43200 s) is sent with every invoice when given.
    """

    name = "cryptomus"

    def __init__(self, client: httpx.AsyncClient, merchant_uuid: str, payment_api_key: str, *,
                 allowed_ips: frozenset[str] | None = None, base_url: str = DEFAULT_API,
                 lifetime: int | None = None) -> None:
        if not merchant_uuid or not payment_api_key:
            raise ValidationError("Cryptomus needs a merchant uuid and a payment API key", field="merchant_uuid")
        if lifetime is not None and not 300 <= lifetime <= 43200:
            raise ValidationError("lifetime must be 300-43200 seconds", field="lifetime")
        self._client = client
        self._merchant = merchant_uuid
        self._key = payment_api_key
        self.allowed_ips = allowed_ips
        self.base_url = base_url.rstrip("/")
        self.lifetime = lifetime

    def __repr__(self) -> str:
        return f"CryptomusGateway(base_url={self.base_url!r}, allowed_ips={self.allowed_ips!r})"

    async def start(self, request: StartPayment) -> PaymentStart:
        """``POST /v1/payment``. Idempotent per ``payment_id`` (Cryptomus returns the existing invoice);
        raises ConflictError if that existing invoice is for another amount or currency."""
        if not _ORDER_ID.match(request.payment_id):
            raise ValidationError("payment_id must be 1-128 letters, digits, '-' or '_' for Cryptomus",
                                  field="payment_id")
        body = _encoder.encode(_InvoiceIn(
            amount=request.amount.format(), currency=request.amount.currency.value, order_id=request.payment_id,
            url_return=request.callback_url, url_success=request.callback_url, url_callback=request.webhook_url,
            lifetime=self.lifetime))
        invoice = await self._call("/v1/payment", body)
        if _invoice_money(invoice) != request.amount:
            raise ConflictError(
                f"Cryptomus already holds order {request.payment_id} for {invoice.amount} {invoice.currency}",
                code="CRYPTOMUS_ORDER_CONFLICT", details={"provider": self.name})
        expires = datetime.fromtimestamp(invoice.expired_at, UTC) if invoice.expired_at else None
        return PaymentStart(gateway=self.name, payment_id=request.payment_id, external_id=invoice.uuid,
                            redirect_url=invoice.url, amount=request.amount, expires_at=expires)

    async def verify(self, external_id: str, expected: Money) -> VerificationResult:
        """Re-read ``POST /v1/payment/info`` and judge it against ``expected``. Read-only, safe to repeat.

        An invoice whose amount or currency is not ``expected`` is ``wrong_amount`` whatever its status;
        ``paid``/``paid_over`` credit only when Cryptomus marks the invoice final. Raises NotFoundError for an
        unknown uuid.
        """
        invoice = await self._call("/v1/payment/info", _encoder.encode(_InfoIn(external_id)))
        raw = invoice.payment_status or invoice.status or ""
        status = map_status(raw, invoice.is_final)
        amount = _invoice_money(invoice)
        detail = ""
        if amount != expected:
            status = PaymentOutcome.WRONG_AMOUNT
            detail = f"invoice is for {invoice.amount} {invoice.currency}, expected {expected}"
        elif status is PaymentOutcome.WRONG_AMOUNT:
            detail = f"customer paid {invoice.payment_amount} {invoice.payer_currency}, less than the invoice"
        return VerificationResult(
            gateway=self.name, external_id=invoice.uuid, status=status, expected=expected, raw_status=raw,
            amount=amount, provider_ref=invoice.txid, paid_amount=invoice.payment_amount,
            paid_currency=invoice.payer_currency, detail=detail)

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str], source_ip: str | None) -> WebhookNotice:
        """Authenticate a webhook exactly as received. ``headers`` are not used: Cryptomus signs in the body.

        Order: source IP (if an allow-list is set), JSON object, ``sign`` over the body minus ``sign`` (PHP
        encoding, constant-time compare), then the fields. Raises AuthenticationError or ValidationError.
        """
        if self.allowed_ips is not None and (source_ip is None or source_ip not in self.allowed_ips):
            raise AuthenticationError(f"webhook from {source_ip or 'an unknown address'} is not allowed",
                                      code="WEBHOOK_SOURCE_NOT_ALLOWED")
        try:
            data = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError("webhook body is not JSON", field="body", code="INVALID_WEBHOOK") from exc
        if not isinstance(data, dict):
            raise ValidationError("webhook body is not a JSON object", field="body", code="INVALID_WEBHOOK")
        received = data.pop("sign", None)
        if received is None:
            raise AuthenticationError("webhook has no sign", code="WEBHOOK_SIGNATURE_MISSING")
        try:
            expected = webhook_sign(data, self._key)
        except ValueError as exc:  # NaN/Infinity cannot be re-encoded, so it cannot have been signed
            raise AuthenticationError("webhook body cannot be signed", code="WEBHOOK_SIGNATURE_INVALID") from exc
        if not sign_matches(expected, received):
            raise AuthenticationError("webhook sign does not match", code="WEBHOOK_SIGNATURE_INVALID")
        if data.get("type") not in ("payment", "wallet"):
            raise ValidationError("not a payment webhook", field="type", code="INVALID_WEBHOOK")
        uuid, raw = data.get("uuid"), data.get("status")
        if not isinstance(uuid, str) or not uuid or not isinstance(raw, str):
            raise ValidationError("webhook lacks uuid or status", field="uuid", code="INVALID_WEBHOOK")
        is_final = data.get("is_final")
        order_id, txid = data.get("order_id"), data.get("txid")
        return WebhookNotice(
            gateway=self.name, external_id=uuid, order_id=order_id if isinstance(order_id, str) else None,
            status=map_status(raw, is_final if isinstance(is_final, bool) else None), raw_status=raw,
            is_final=is_final is True, amount=_money_or_none(data.get("amount"), data.get("currency")),
            provider_ref=txid if isinstance(txid, str) else None)

    # -- plumbing -------------------------------------------------------------------------------
    async def _call(self, path: str, body: bytes) -> _Invoice:
        headers = {"merchant": self._merchant, "sign": request_sign(body, self._key)}
        status, doc = await post_json(self._client, f"{self.base_url}{path}", body, headers, provider=self.name)
        if isinstance(doc, dict) and doc.get("state") == 0 and status < 400:
            try:
                return msgspec.convert(doc.get("result"), _Invoice)
            except msgspec.ValidationError as exc:
                raise UpstreamUnavailableError(f"Cryptomus invoice has an unexpected shape: {exc}",
                                               code="CRYPTOMUS_BAD_RESPONSE", details={"provider": self.name}
                                               ) from exc
        raise _rejection(status, doc)


def _invoice_money(invoice: _Invoice) -> Money | None:
    return _money_or_none(invoice.amount, invoice.currency)


def _money_or_none(amount: object, currency: object) -> Money | None:
    if not isinstance(amount, str) or not isinstance(currency, str):
        return None
    try:
        return Money.parse(amount, Currency.parse(currency))
    except ValidationError:
        return None  # a currency we do not model (BTC invoice) or more decimals than it has


def _rejection(status: int, doc: Any) -> Exception:
    doc = doc if isinstance(doc, dict) else {}
    message = doc.get("message") if isinstance(doc.get("message"), str) else ""
    details: dict[str, Any] = {"provider": "cryptomus", "provider_code": status, "provider_message": message}
    if isinstance(doc.get("errors"), dict):
        details["errors"] = doc["errors"]
        return UpstreamRejectedError(f"Cryptomus refused the input: {doc['errors']}", code="CRYPTOMUS_VALIDATION",
                                     details=details)
    if status in (401, 403):
        return UpstreamRejectedError(f"Cryptomus refused our credentials: {message}",
                                     code="CRYPTOMUS_AUTH_REJECTED", details=details)
    if "not found" in message.lower():
        return NotFoundError(f"Cryptomus: {message}", code="CRYPTOMUS_NOT_FOUND", details=details)
    if doc.get("state") == 1 or 400 <= status < 500:
        return UpstreamRejectedError(f"Cryptomus refused: {message or 'HTTP ' + str(status)}",
                                     code="CRYPTOMUS_REJECTED", details=details)
    return UpstreamUnavailableError(f"Cryptomus answered HTTP {status} without a known envelope",
                                    code="CRYPTOMUS_BAD_RESPONSE", details=details)
