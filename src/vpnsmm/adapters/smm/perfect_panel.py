"""SmmProvider over Perfect Panel API v2 (the protocol nearly every SMM panel speaks; smm.md §1).

One endpoint, ``POST <api_url>`` with an ``application/x-www-form-urlencoded`` body holding ``key``,
``action`` and the action's parameters. Errors come as ``{"error": "..."}``, usually with HTTP 200, so
the body is checked for ``error`` whatever the status code.

Numbers: panels send decimals as strings (``"0.90"``) but some send JSON numbers (``0.9``). The body is
decoded with msgspec's ``float_hook`` returning the number's *source text*, so no float is ever made;
``"0.9"``, ``0.9`` and ``9e-1`` all become the exact decimal 0.9 (exponents are expanded with
``decimal.Decimal`` on that text, which is exact). Amounts are then read with :class:`ExactAmount`
and rounded once as the port documents (rate UP, charge HALF_UP, balance DOWN).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from vpnsmm.application.ports.smm_provider import (
    MAX_IDS_PER_REQUEST,
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderErrorKind,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
    ProviderService,
    chunked,
)
from vpnsmm.domain.errors import UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Currency, Money, Rounding
from vpnsmm.domain.smm import (
    ExactAmount,
    ServiceType,
    normalise_refill_status,
    normalise_status,
)

log = logging.getLogger(__name__)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the provider saw nothing
_NO_ANSWER_FOR_ID = "no answer for this id"
_PLAIN = re.compile(r"^[+-]?\d+(?:\.\d*)?$")
_SCIENTIFIC = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d{1,4}$")


# -- private wire types ---------------------------------------------------------------------------
class _WireService(msgspec.Struct, kw_only=True):
    service: int | str
    name: str
    rate: str | int
    min: str | int
    max: str | int
    type: str = "Default"  # panels old enough to omit it only had Default services
    category: str = ""
    refill: bool | int | str | None = None
    cancel: bool | int | str | None = None
    dripfeed: bool | int | str | None = None
    desc: str | None = None
    description: str | None = None


class _WireStatus(msgspec.Struct, kw_only=True):
    status: str
    charge: str | int | None = None
    start_count: str | int | None = None
    remains: str | int | None = None
    currency: str | None = None
    orders: list[Any] | Any = None  # subscription / drip-feed parents: child order ids
    posts: Any = None  # subscriptions: posts seen so far
    expiry: Any = None  # subscriptions: d/m/Y or null


class _WireBalance(msgspec.Struct, kw_only=True):
    balance: str | int
    currency: str | None = None


_decoder = msgspec.json.Decoder(float_hook=str)  # keep each JSON float as its source text


# -- lenient scalar readers -------------------------------------------------------------------------
def decimal_text(value: object) -> str:
    """A JSON scalar as plain decimal text, exactly (``0.9``/``"0.90"``/``"9E-1"`` keep their value).

    Raises ValueError for anything that is not a finite number.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a number")
    text = str(value).strip()
    if _PLAIN.match(text):
        return text
    if not _SCIENTIFIC.match(text):
        raise ValueError(f"{value!r} is not a number")
    return format(Decimal(text), "f")  # exact: Decimal reads the text, not a float


def int_or_none(value: object) -> int | None:
    """A JSON scalar as an int, or None for ``"Unknown"``, ``""``, ``None`` or a fraction."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = ExactAmount.parse(decimal_text(value), Currency.USD)
    except (ValueError, ValidationError):
        return None
    return amount.units if amount.scale == 0 else None


def date_or_none(value: object) -> date | None:
    """A ``d/m/Y`` date (``"11/11/2022"``), or None for null, blank or anything unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def _child_ids(values: object) -> tuple[str, ...]:
    """The ``orders`` list as id strings (ints or strings; anything else, and a non-list, is dropped), order
    kept, duplicates folded."""
    if not isinstance(values, list):
        return ()
    ids = (str(v).strip() for v in values if isinstance(v, int | str) and not isinstance(v, bool))
    return tuple(dict.fromkeys(i for i in ids if i and "," not in i))


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _error_text(value: object) -> str | None:
    """The message of an ``{"error": ...}`` object (or a SmartPanel bare-string error), else None."""
    if isinstance(value, dict) and "error" in value:
        return str(value["error"])
    return None


class PerfectPanelProvider:
    """SmmProvider for one Perfect Panel API v2 account.

    ``client`` is owned by the caller (timeouts, limits, transport). ``currency_hint`` is the account
    currency, used where the panel does not say (``services`` never does). The API key is sent only
    in the form body and never logged.
    """

    def __init__(self, client: httpx.AsyncClient, api_url: str, api_key: str, *,
                 currency_hint: Currency = Currency.USD, chunk_size: int = MAX_IDS_PER_REQUEST):
        if not api_key:
            raise ValidationError("a provider API key is required", field="api_key")
        if not 1 <= chunk_size <= MAX_IDS_PER_REQUEST:
            raise ValidationError(f"chunk_size must be 1..{MAX_IDS_PER_REQUEST}", field="chunk_size")
        self._client = client
        self._url = api_url
        self._key = api_key
        self._currency = Currency.parse(currency_hint)
        self._chunk = chunk_size

    # -- transport ----------------------------------------------------------------------------
    async def _call(self, action: str, params: dict[str, str] | None = None, *,
                    outcome_matters: bool = False) -> Any:
        """POST one action; returns the decoded body. See the port for the errors it raises.

        ``outcome_matters`` (add) turns failures after sending into ProviderOutcomeUnknownError.
        """
        unknown: type[UpstreamUnavailableError] = (
            ProviderOutcomeUnknownError if outcome_matters else UpstreamUnavailableError)
        form = {"key": self._key, "action": action, **(params or {})}
        try:
            response = await self._client.post(self._url, data=form)
        except _NOT_SENT as exc:
            raise UpstreamUnavailableError(f"provider unreachable ({action}): {type(exc).__name__}") from exc
        except httpx.TimeoutException as exc:
            raise unknown(f"provider timed out ({action})") from exc
        except httpx.HTTPError as exc:
            raise unknown(f"provider transport error ({action}): {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise unknown(f"provider answered HTTP {response.status_code} ({action})")
        try:
            body = _decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise unknown(f"provider answered non-JSON with HTTP {response.status_code} ({action})") from exc
        message = _error_text(body)
        if message is not None:
            raise ProviderRejectedError(message)
        if response.status_code >= 400:
            raise unknown(f"provider answered HTTP {response.status_code} without an error ({action})")
        return body

    @staticmethod
    def _unreadable(action: str, body: object, cls: type[UpstreamUnavailableError] = UpstreamUnavailableError,
                    ) -> UpstreamUnavailableError:
        log.warning("unreadable Perfect Panel %s answer: %.200r", action, body)
        return cls(f"provider answered {action} with an unexpected shape")

    # -- catalogue ----------------------------------------------------------------------------
    async def services(self) -> list[ProviderService]:
        body = await self._call("services")
        if isinstance(body, dict):  # SmartPanel's empty list: {"status":"success","data":"Empty Data"}
            data = body.get("data")
            body = data if isinstance(data, list) else []
        if not isinstance(body, list):
            raise self._unreadable("services", body)
        result = []
        for item in body:
            try:
                result.append(self._service(msgspec.convert(item, _WireService)))
            except (msgspec.ValidationError, ValueError, ValidationError) as exc:
                log.warning("skipping unreadable provider service %.200r: %s", item, exc)
        return result

    def _service(self, wire: _WireService) -> ProviderService:
        rate = ExactAmount.parse(decimal_text(wire.rate), self._currency, field_name="rate")
        low, high = int_or_none(wire.min), int_or_none(wire.max)
        if low is None or high is None or rate.is_negative:
            raise ValueError("min, max and rate must be numbers")
        return ProviderService(
            service_id=str(wire.service), name=wire.name, type=ServiceType.parse(wire.type),
            type_name=wire.type, category=wire.category, rate=rate.to_money(Rounding.UP), rate_exact=rate,
            min=low, max=high, refill=_flag(wire.refill), cancel=_flag(wire.cancel),
            dripfeed=_flag(wire.dripfeed), description=(wire.desc or wire.description or "").strip())

    # -- orders -------------------------------------------------------------------------------
    async def add(self, order: AddOrder) -> str:
        body = await self._call("add", order.form_fields(), outcome_matters=True)
        order_id = body.get("order") if isinstance(body, dict) else None
        if isinstance(order_id, bool) or not isinstance(order_id, int | str) or not str(order_id).strip():
            raise self._unreadable("add", body, ProviderOutcomeUnknownError)
        return str(order_id).strip()

    async def status(self, ids: Sequence[str]) -> dict[str, ProviderOrderStatus | ProviderError]:
        result: dict[str, ProviderOrderStatus | ProviderError] = {}
        for chunk in chunked(ids, self._chunk):
            if len(chunk) == 1:
                try:
                    body = await self._call("status", {"order": chunk[0]})
                except ProviderRejectedError as exc:
                    if exc.kind is not ProviderErrorKind.NOT_FOUND:
                        raise
                    result[chunk[0]] = ProviderError(exc.provider_message, exc.kind)
                    continue
                result[chunk[0]] = self._order_status(body)
                continue
            body = await self._call("status", {"orders": ",".join(chunk)})
            if not isinstance(body, dict):
                raise self._unreadable("status", body)
            for order_id in chunk:
                result[order_id] = self._order_status(body.get(order_id))
        return result

    def _order_status(self, item: object) -> ProviderOrderStatus | ProviderError:
        if item is None:
            return ProviderError(_NO_ANSWER_FOR_ID, ProviderErrorKind.UNKNOWN)
        if isinstance(item, str):  # SmartPanel: "2": "Incorrect order ID"
            return ProviderError.from_message(item)
        message = _error_text(item)
        if message is not None:
            return ProviderError.from_message(message)
        try:
            wire = msgspec.convert(item, _WireStatus)
        except msgspec.ValidationError:
            log.warning("unreadable provider order status %.200r", item)
            return ProviderError("unreadable status", ProviderErrorKind.UNKNOWN)
        currency = self._currency if wire.currency is None else _known_currency(wire.currency)
        charge_exact = None
        if wire.charge is not None and currency is not None:
            try:
                charge_exact = ExactAmount.parse(decimal_text(wire.charge), currency)
            except (ValueError, ValidationError):
                charge_exact = None
        return ProviderOrderStatus(
            status=normalise_status(wire.status), raw_status=wire.status,
            charge=charge_exact.to_money(Rounding.HALF_UP) if charge_exact is not None else None,
            charge_exact=charge_exact, start_count=int_or_none(wire.start_count),
            remains=int_or_none(wire.remains), currency=currency, child_ids=_child_ids(wire.orders),
            posts=int_or_none(wire.posts), expiry=date_or_none(wire.expiry))

    # -- refills ------------------------------------------------------------------------------
    async def refill(self, order_id: str) -> str:
        (only,) = chunked([order_id])[0]
        body = await self._call("refill", {"order": only})
        value = body.get("refill") if isinstance(body, dict) else None
        message = _error_text(value)
        if message is not None:
            raise ProviderRejectedError(message)
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
            raise self._unreadable("refill", body)
        return str(value).strip()

    async def refill_status(self, refill_ids: Sequence[str]) -> dict[str, ProviderRefill | ProviderError]:
        result: dict[str, ProviderRefill | ProviderError] = {}
        for chunk in chunked(refill_ids, self._chunk):
            if len(chunk) == 1:
                try:
                    body = await self._call("refill_status", {"refill": chunk[0]})
                except ProviderRejectedError as exc:
                    if exc.kind is not ProviderErrorKind.NOT_FOUND:
                        raise
                    result[chunk[0]] = ProviderError(exc.provider_message, exc.kind)
                    continue
                result[chunk[0]] = self._refill(body.get("status") if isinstance(body, dict) else None)
                continue
            body = await self._call("refill_status", {"refills": ",".join(chunk)})
            by_id = _keyed(body, "refill", "status")
            if by_id is None:
                raise self._unreadable("refill_status", body)
            for refill_id in chunk:
                result[refill_id] = self._refill(by_id.get(refill_id))
        return result

    @staticmethod
    def _refill(value: object) -> ProviderRefill | ProviderError:
        if value is None:
            return ProviderError(_NO_ANSWER_FOR_ID, ProviderErrorKind.UNKNOWN)
        message = _error_text(value)
        if message is not None:
            return ProviderError.from_message(message)
        if not isinstance(value, str):
            return ProviderError("unreadable refill status", ProviderErrorKind.UNKNOWN)
        return ProviderRefill(normalise_refill_status(value), value)

    # -- cancel -------------------------------------------------------------------------------
    async def cancel(self, ids: Sequence[str]) -> dict[str, CancelAccepted | ProviderError]:
        result: dict[str, CancelAccepted | ProviderError] = {}
        for chunk in chunked(ids, self._chunk):
            body = await self._call("cancel", {"orders": ",".join(chunk)})
            by_id = _keyed(body, "order", "cancel")
            if by_id is None:
                raise self._unreadable("cancel", body)
            for order_id in chunk:
                result[order_id] = _cancel_result(order_id, by_id.get(order_id, _MISSING))
        return result

    # -- balance ------------------------------------------------------------------------------
    async def balance(self) -> Money:
        body = await self._call("balance")
        try:
            wire = msgspec.convert(body, _WireBalance)
            text = decimal_text(wire.balance)
        except (msgspec.ValidationError, ValueError):
            raise self._unreadable("balance", body) from None
        currency = self._currency if wire.currency is None else _known_currency(wire.currency)
        if currency is None:
            raise ProviderRejectedError(f"unsupported provider currency {wire.currency}",
                                        kind=ProviderErrorKind.UNKNOWN)
        try:
            return ExactAmount.parse(text, currency).to_money(Rounding.DOWN)
        except ValidationError:
            raise self._unreadable("balance", body) from None


_MISSING = object()


def _known_currency(raw: str) -> Currency | None:
    try:
        return Currency.parse(raw)
    except ValidationError:
        return None


def _keyed(body: object, id_field: str, value_field: str) -> dict[str, object] | None:
    """Per-id values of a batch answer, keyed by id text.

    Perfect Panel sends a list (``[{"order": 2, "cancel": 1}, ...]``); some clones send an object keyed
    by id whose values are either the bare value or ``{value_field: ...}`` (sns-panel's cancel).
    """
    if isinstance(body, list):
        keyed: dict[str, object] = {}
        for item in body:
            if isinstance(item, dict) and id_field in item:
                keyed[str(item[id_field]).strip()] = item.get(value_field)
        return keyed
    if isinstance(body, dict):
        return {str(k).strip(): (v[value_field] if isinstance(v, dict) and value_field in v else v)
                for k, v in body.items()}
    return None


def _cancel_result(order_id: str, value: object) -> CancelAccepted | ProviderError:
    if value is _MISSING:
        return ProviderError(_NO_ANSWER_FOR_ID, ProviderErrorKind.UNKNOWN)
    message = _error_text(value)
    if message is not None:
        return ProviderError.from_message(message)
    if isinstance(value, str) and value.strip().casefold() in ("", "0", "false"):
        value = None
    if isinstance(value, str) and value.strip().casefold() not in _ACCEPTED_WORDS:
        return ProviderError.from_message(value)  # a bare error text, SmartPanel style
    if value in (None, 0, False):
        return ProviderError("cancel refused", ProviderErrorKind.NOT_ALLOWED)
    return CancelAccepted(order_id)  # 1, "1", true, "requested", "success", {"success": ...}


_ACCEPTED_WORDS = frozenset({"1", "true", "ok", "yes", "success", "requested", "accepted"})
