"""Zarinpal REST API v4: ``request.json`` -> StartPay -> callback -> ``verify.json``, plus reconciliation.

Wire facts this module relies on (see docs/adapters/zarinpal.md):

* Success envelope ``{"data": {"code": 100, ...}, "errors": []}``; error envelope ``{"data": [], "errors":
  {"code": -9, "message": ..., "validations": [...]}}`` -- ``data`` becomes a list, ``errors`` an object.
* ``amount`` is an integer in the ``currency`` we send; we always send ``currency`` explicitly (IRR or IRT) so a
  panel default cannot change the unit under us. ``verify.json`` takes the same integer, from OUR database.
* Verify code 100 = verified now, 101 = verified before (same payload). -51 = the session is not paid; we ask
  ``inquiry.json`` to tell "still at the bank" (pending) from "failed/canceled".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import httpx
import msgspec

from vpnsmm.adapters.payments._http import post_json
from vpnsmm.application.ports.payments import (
    CallbackNotice,
    PaymentStart,
    StartPayment,
    UnverifiedPayment,
    VerificationResult,
)
from vpnsmm.domain.errors import (
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import PaymentOutcome

__all__ = ["ZARINPAL_ERRORS", "ZarinpalGateway"]

_T = TypeVar("_T")

PRODUCTION_API: Final = "https://payment.zarinpal.com"
SANDBOX_API: Final = "https://sandbox.zarinpal.com"
_PREFIX: Final = "/pg/v4/payment"

#: Every documented error code -> (error class, our stable error code, what it means).
ZARINPAL_ERRORS: Final[Mapping[int, tuple[type[VpnsmmError], str, str]]] = {
    -9: (UpstreamRejectedError, "ZARINPAL_VALIDATION", "input rejected (merchant, callback, description, amount)"),
    -10: (UpstreamRejectedError, "ZARINPAL_TERMINAL_INVALID", "terminal not valid: check merchant_id or IP"),
    -11: (UpstreamRejectedError, "ZARINPAL_TERMINAL_INACTIVE", "terminal not active"),
    -12: (UpstreamUnavailableError, "ZARINPAL_TOO_MANY_ATTEMPTS", "too many attempts, try later"),
    -13: (UpstreamRejectedError, "ZARINPAL_TERMINAL_LIMIT", "terminal limit reached"),
    -14: (UpstreamRejectedError, "ZARINPAL_CALLBACK_DOMAIN", "callback URL domain does not match the terminal"),
    -15: (UpstreamRejectedError, "ZARINPAL_TERMINAL_SUSPENDED", "terminal user suspended"),
    -16: (UpstreamRejectedError, "ZARINPAL_LEVEL_INVALID", "terminal user level not valid"),
    -17: (UpstreamRejectedError, "ZARINPAL_LEVEL_LIMIT", "terminal user level limit"),
    **dict.fromkeys(range(-39, -29), (UpstreamRejectedError, "ZARINPAL_WAGES", "split-settlement (wages) error")),
    -40: (UpstreamRejectedError, "ZARINPAL_EXTRA_PARAMS", "invalid extra params"),
    -41: (UpstreamRejectedError, "ZARINPAL_AMOUNT_TOO_LARGE", "maximum amount is 100,000,000 toman"),
    -50: (UpstreamRejectedError, "ZARINPAL_AMOUNT_MISMATCH", "verify amount differs from the paid amount"),
    -51: (UpstreamRejectedError, "ZARINPAL_NOT_PAID", "session not paid (failed or canceled)"),
    -52: (UpstreamRejectedError, "ZARINPAL_UNEXPECTED", "unexpected error at Zarinpal, contact support"),
    -53: (NotFoundError, "ZARINPAL_FOREIGN_SESSION", "session does not belong to this merchant"),
    -54: (NotFoundError, "ZARINPAL_INVALID_AUTHORITY", "invalid authority"),
    -55: (NotFoundError, "ZARINPAL_MANUAL_REQUEST_NOT_FOUND", "manual payment request not found"),
    -60: (UpstreamRejectedError, "ZARINPAL_REVERSE_IMPOSSIBLE", "session cannot be reversed with the bank"),
    -61: (UpstreamRejectedError, "ZARINPAL_REVERSE_NOT_SUCCESSFUL", "session not in success status"),
    -62: (UpstreamRejectedError, "ZARINPAL_REVERSE_IP", "terminal IP limit must be active"),
    -63: (UpstreamRejectedError, "ZARINPAL_REVERSE_EXPIRED", "reverse window (30 min) expired"),
}

_AUTHORITY = re.compile(r"^[A-Za-z0-9]{10,64}$")
_INQUIRY_TO_OUTCOME: Final = {
    "IN_BANK": PaymentOutcome.PENDING,
    "PAID": PaymentOutcome.PENDING,  # paid but verify said -51: the bank has not settled; ask again
    "FAILED": PaymentOutcome.CANCELED,  # Zarinpal does not tell a failure from a cancel (both are NOK)
    "REVERSED": PaymentOutcome.FAILED,
}


class _Metadata(msgspec.Struct, omit_defaults=True):
    order_id: str
    mobile: str | None = None
    email: str | None = None


class _RequestIn(msgspec.Struct):
    merchant_id: str
    amount: int
    currency: str
    description: str
    callback_url: str
    metadata: _Metadata


class _VerifyIn(msgspec.Struct):
    merchant_id: str
    amount: int
    authority: str


class _AuthorityIn(msgspec.Struct):
    merchant_id: str
    authority: str


class _MerchantIn(msgspec.Struct):
    merchant_id: str


class _RequestOut(msgspec.Struct):
    code: int
    authority: str
    message: str = ""
    fee: int | None = None
    fee_type: str | None = None


class _VerifyOut(msgspec.Struct):
    code: int
    message: str = ""
    ref_id: int | str | None = None
    card_pan: str | None = None
    card_hash: str | None = None
    fee: int | None = None
    fee_type: str | None = None


class _InquiryOut(msgspec.Struct):
    code: int
    status: str


class _UnverifiedItem(msgspec.Struct):
    authority: str
    amount: int
    callback_url: str = ""
    referer: str = ""
    date: str = ""


class _UnverifiedOut(msgspec.Struct):
    code: int
    authorities: list[_UnverifiedItem] = msgspec.field(default_factory=list)


_encoder = msgspec.json.Encoder()


class _ProviderError(Exception):
    """A documented negative code, before it is mapped (verify needs some codes as outcomes)."""

    def __init__(self, code: int, message: str, details: Any) -> None:
        super().__init__(code, message)
        self.code, self.message, self.details = code, message, details


class ZarinpalGateway:
    """Zarinpal v4 over an injected ``httpx.AsyncClient``.

    ``sandbox`` switches both hosts to ``sandbox.zarinpal.com``; ``api_base`` and ``startpay_base`` override them
    (e.g. a fake served on 127.0.0.1). The client's own ``base_url`` is not used: every URL is absolute.
    The merchant id is never put into an error message or ``repr``.
    """

    name = "zarinpal"

    def __init__(self, client: httpx.AsyncClient, merchant_id: str, *, sandbox: bool = False,
                 api_base: str | None = None, startpay_base: str | None = None) -> None:
        if not isinstance(merchant_id, str) or len(merchant_id) != 36:
            raise ValidationError("a Zarinpal merchant_id is 36 characters", field="merchant_id")
        default = SANDBOX_API if sandbox else PRODUCTION_API
        self._client = client
        self._merchant_id = merchant_id
        self.sandbox = sandbox
        self.api_base = (api_base or default).rstrip("/")
        self.startpay_base = (startpay_base or default).rstrip("/")

    def __repr__(self) -> str:
        return f"ZarinpalGateway(api_base={self.api_base!r}, sandbox={self.sandbox})"

    def startpay_url(self, authority: str) -> str:
        return f"{self.startpay_base}/pg/StartPay/{authority}"

    async def start(self, request: StartPayment) -> PaymentStart:
        """``request.json``. Raises ValidationError for a currency other than IRR/IRT, else the port errors."""
        currency = request.amount.currency
        if currency not in (Currency.IRR, Currency.IRT):
            raise ValidationError(f"Zarinpal takes IRR or IRT, not {currency.value}", field="amount",
                                  code="UNSUPPORTED_CURRENCY")
        body = _RequestIn(
            merchant_id=self._merchant_id, amount=request.amount.amount, currency=currency.value,
            description=request.description, callback_url=request.callback_url,
            metadata=_Metadata(order_id=request.payment_id, mobile=request.customer_mobile,
                               email=request.customer_email))
        try:
            data = await self._call("request.json", _encoder.encode(body))
        except _ProviderError as err:
            raise _mapped(err) from None
        out = _convert(data, _RequestOut)
        if out.code != 100:
            raise _unexpected(f"request.json answered code {out.code}")
        return PaymentStart(
            gateway=self.name, payment_id=request.payment_id, external_id=out.authority,
            redirect_url=self.startpay_url(out.authority), amount=request.amount,
            fee=Money(out.fee, currency) if out.fee is not None else None)

    async def verify(self, external_id: str, expected: Money) -> VerificationResult:
        """``verify.json`` with ``expected`` (IRR/IRT integer), refined by ``inquiry.json`` when not paid.

        100 -> paid, 101 -> already_verified, -50 -> wrong_amount, -51 -> pending/canceled/failed (inquiry);
        -53/-54/-55 -> NotFoundError; other codes -> UpstreamRejectedError (-12: UpstreamUnavailableError).
        """
        authority = self._authority(external_id)
        if expected.currency not in (Currency.IRR, Currency.IRT):
            raise ValidationError(f"Zarinpal amounts are IRR or IRT, not {expected.currency.value}",
                                  field="expected", code="UNSUPPORTED_CURRENCY")
        body = _encoder.encode(_VerifyIn(self._merchant_id, expected.amount, authority))
        result = _Result(self.name, authority, expected)
        try:
            data = await self._call("verify.json", body)
        except _ProviderError as err:
            if err.code == -50:
                return result.make(PaymentOutcome.WRONG_AMOUNT, "-50",
                                   detail="Zarinpal holds a different amount for this authority")
            if err.code == -51:
                status = await self.inquiry(authority)
                outcome = _INQUIRY_TO_OUTCOME.get(status, PaymentOutcome.PENDING)
                return result.make(outcome, "-51", detail=f"not paid; inquiry status {status}")
            raise _mapped(err) from None
        out = _convert(data, _VerifyOut)
        if out.code not in (100, 101):
            raise _unexpected(f"verify.json answered code {out.code}")
        return result.make(
            PaymentOutcome.PAID if out.code == 100 else PaymentOutcome.ALREADY_VERIFIED, str(out.code),
            amount=expected, provider_ref=None if out.ref_id is None else str(out.ref_id),
            card_pan=out.card_pan, card_hash=out.card_hash,
            fee=Money(out.fee, expected.currency) if out.fee is not None else None)

    async def inquiry(self, external_id: str) -> str:
        """``inquiry.json``: ``IN_BANK | PAID | VERIFIED | FAILED | REVERSED``. Read-only."""
        body = _encoder.encode(_AuthorityIn(self._merchant_id, self._authority(external_id)))
        try:
            data = await self._call("inquiry.json", body)
        except _ProviderError as err:
            raise _mapped(err) from None
        return _convert(data, _InquiryOut).status

    async def unverified(self) -> list[UnverifiedPayment]:
        """``unVerified.json``: sessions paid by customers who never came back. Read-only."""
        try:
            data = await self._call("unVerified.json", _encoder.encode(_MerchantIn(self._merchant_id)))
        except _ProviderError as err:
            raise _mapped(err) from None
        out = _convert(data, _UnverifiedOut)
        return [UnverifiedPayment(i.authority, i.amount, i.callback_url, i.date) for i in out.authorities]

    def parse_callback(self, query: Mapping[str, str]) -> CallbackNotice:
        """Read ``?Authority=...&Status=OK|NOK``. Status is a hint only: call :meth:`verify` before crediting."""
        authority = query.get("Authority")
        if authority is None:
            raise ValidationError("callback has no Authority", field="Authority")
        return CallbackNotice(self.name, self._authority(authority), query.get("Status") == "OK")

    # -- plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _authority(value: str) -> str:
        if not isinstance(value, str) or not _AUTHORITY.match(value):
            raise ValidationError("malformed Zarinpal authority", field="authority", code="INVALID_AUTHORITY")
        return value

    async def _call(self, endpoint: str, body: bytes) -> Any:
        """POST and unwrap the envelope: the ``data`` object, or _ProviderError for a documented error."""
        status, doc = await post_json(self._client, f"{self.api_base}{_PREFIX}/{endpoint}", body, {},
                                      provider=self.name)
        if not isinstance(doc, dict):
            raise _unexpected(f"{endpoint} answered HTTP {status} without an envelope")
        data, errors = doc.get("data"), doc.get("errors")
        if isinstance(errors, dict) and isinstance(errors.get("code"), int):
            raise _ProviderError(errors["code"], str(errors.get("message", "")),
                                 errors.get("validations"))
        if isinstance(data, dict) and isinstance(data.get("code"), int) and status < 400:
            return data
        raise _unexpected(f"{endpoint} answered HTTP {status} with an unknown envelope")


class _Result:
    """Builds VerificationResults that share the gateway, authority and expected amount."""

    def __init__(self, gateway: str, external_id: str, expected: Money) -> None:
        self.gateway, self.external_id, self.expected = gateway, external_id, expected

    def make(self, status: PaymentOutcome, raw: str, **kw: Any) -> VerificationResult:
        return VerificationResult(gateway=self.gateway, external_id=self.external_id, status=status,
                                  expected=self.expected, raw_status=raw, **kw)


def _convert(data: Any, kind: type[_T]) -> _T:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise _unexpected(f"Zarinpal answer does not match {kind.__name__.strip('_')}: {exc}") from exc


def _unexpected(message: str) -> UpstreamUnavailableError:
    return UpstreamUnavailableError(message, code="ZARINPAL_BAD_RESPONSE", details={"provider": "zarinpal"})


def _mapped(err: _ProviderError) -> VpnsmmError:
    kind, code, meaning = ZARINPAL_ERRORS.get(
        err.code, (UpstreamRejectedError, "ZARINPAL_ERROR", "undocumented Zarinpal error"))
    details: dict[str, Any] = {"provider": "zarinpal", "provider_code": err.code,
                               "provider_message": err.message}
    if err.details:
        details["validations"] = err.details
    return kind(f"Zarinpal {err.code}: {meaning} ({err.message})", code=code, details=details)
