"""smm-rest-api.md wire format: ``{success, data}`` envelopes, ``{success:false, error:{code, message}}`` errors,
prefixed string ids, decimal amounts as JSON numbers, lower-case statuses and ``...Z`` timestamps.

Parsing is done here, by hand, so that every malformed field answers with the document's own code for it
(a bad ``quantity`` is INVALID_QUANTITY, a bad ``link`` INVALID_LINK, a bad ``service_id`` SERVICE_NOT_FOUND)
instead of a generic validation error. Nothing here decides anything about money or orders.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from vpnsmm.application.smm import PricedService
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm import OrderStatus, RefillStatus
from vpnsmm.domain.smm_orders import Refill, SmmOrder
from vpnsmm.domain.smm_subscriptions import SmmSubscription, recurring_capable

#: The document's error codes (its "Error Codes" table), plus the few it has no code for (docs/dialects/smm-rest.md).
DOCUMENTED_CODES = ("INVALID_API_KEY", "RATE_LIMIT_EXCEEDED", "INSUFFICIENT_BALANCE", "SERVICE_NOT_FOUND",
                    "INVALID_QUANTITY", "INVALID_LINK", "ORDER_NOT_FOUND", "SERVER_ERROR")

SERVICE, ORDER, SUBSCRIPTION, REFILL = "service", "order", "sub", "refill"
_NOT_FOUND_CODE = {SERVICE: "SERVICE_NOT_FOUND", ORDER: "ORDER_NOT_FOUND", SUBSCRIPTION: "ORDER_NOT_FOUND",
                   REFILL: "ORDER_NOT_FOUND"}
_ID = re.compile(r"^(?:([a-z]+)_)?(\d{1,18})$")
MAX_ID = 2**62
MAX_QUANTITY = 10**12


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


# ------------------------------------------------------------------------------------------ ids
def render_id(kind: str, value: int) -> str:
    """``order_456``: the document's id style (ids are strings with the kind as prefix)."""
    return f"{kind}_{value}"


def _not_found(kind: str) -> NotFoundError:
    noun = {SERVICE: "Service", ORDER: "Order", SUBSCRIPTION: "Subscription", REFILL: "Refill"}[kind]
    return NotFoundError(f"{noun} doesn't exist", code=_NOT_FOUND_CODE[kind])


def parse_id(raw: object, kind: str, *, field: str) -> int:
    """An id as the document writes it (``"order_456"``) or bare (``"456"``, ``456``).

    A value that cannot be an id of this kind names nothing that exists: NotFoundError with the kind's code
    (SERVICE_NOT_FOUND / ORDER_NOT_FOUND). A missing value is a ValidationError with that code.
    """
    if raw is None or raw == "":
        raise ValidationError(f"{field} is required", field=field, code=_NOT_FOUND_CODE[kind])
    if isinstance(raw, bool):
        raise _not_found(kind)
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str):
        match = _ID.match(raw.strip().casefold())
        if match is None or (match.group(1) is not None and match.group(1) != kind):
            raise _not_found(kind)
        number = int(match.group(2))
    else:
        raise _not_found(kind)
    if not 1 <= number <= MAX_ID:
        raise _not_found(kind)
    return number


# ------------------------------------------------------------------------------------------ body fields
def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON object a request sent. Raises ValidationError (VALIDATION_ERROR) for anything else."""
    try:
        value = msgspec.json.decode(body) if body.strip() else None
    except msgspec.DecodeError:
        raise ValidationError("the body must be a JSON object", field="body") from None
    if not isinstance(value, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return value


def quantity_of(raw: object, *, required: bool = True, field: str = "quantity") -> int | None:
    """A positive whole number (``1000``, ``1000.0`` or ``"1000"``). Raises ValidationError INVALID_QUANTITY."""
    if raw is None:
        if required:
            raise ValidationError(f"{field} is required", field=field, code="INVALID_QUANTITY")
        return None
    value: int | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) <= 13:
        value = int(raw.strip())
    if value is None or not 1 <= value <= MAX_QUANTITY:
        raise ValidationError(f"{field} must be a positive whole number", field=field, code="INVALID_QUANTITY")
    return value


def link_of(raw: object) -> str:
    """The link as sent (the use case checks its form). Raises ValidationError INVALID_LINK when absent."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("link is required and must be a URL", field="link", code="INVALID_LINK")
    return raw


def lines_of(raw: object, field: str) -> list[str] | str | None:
    """A list of strings or one newline-separated string (Perfect Panel style), or None. ValidationError else."""
    if raw is None or (isinstance(raw, str) and len(raw) <= 100_000):
        return raw
    if isinstance(raw, list) and len(raw) <= 10_000 and all(isinstance(x, str) and len(x) <= 1000 for x in raw):
        return raw
    raise ValidationError(f"{field} must be a list of strings or one string with a line per entry", field=field)


def optional_text(raw: object, field: str) -> str | None:
    if raw is None or (isinstance(raw, str) and len(raw) <= 1000):
        return raw
    raise ValidationError(f"{field} must be a string", field=field)


def text_of(raw: object, field: str) -> str:
    if not isinstance(raw, str):
        raise ValidationError(f"{field} must be a string", field=field)
    return raw


# ------------------------------------------------------------------------------------------ rendering
def amount(money: Money) -> float:
    """A decimal amount as a JSON number in major units (display only; the ledger keeps minor units)."""
    return float(Decimal(money.format()))


def timestamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


_STATUS = {OrderStatus.PENDING: "pending", OrderStatus.IN_PROGRESS: "processing", OrderStatus.PROCESSING: "processing",
           OrderStatus.PAUSED: "processing", OrderStatus.PARTIAL: "partial", OrderStatus.COMPLETED: "completed",
           OrderStatus.CANCELED: "canceled", OrderStatus.REFUNDED: "refunded"}
STATUS_FILTERS: dict[str, frozenset[OrderStatus]] = {}
for _status, _name in _STATUS.items():
    STATUS_FILTERS.setdefault(_name, frozenset())
    STATUS_FILTERS[_name] = STATUS_FILTERS[_name] | {_status}
STATUS_FILTERS["cancelled"] = STATUS_FILTERS["canceled"]


def order_status(status: OrderStatus) -> str:
    return _STATUS[status]


def refill_status(status: RefillStatus) -> str:
    return {RefillStatus.AWAITING: "pending", RefillStatus.IN_PROGRESS: "processing"}.get(
        status, status.value.casefold())


def service_json(priced: PricedService, *, detail: bool = False) -> dict[str, Any]:
    """The document's service. ``price`` is per unit, as its example's arithmetic has it (``price`` 0.60 x
    ``quantity`` 1000 = ``charge`` 600.00); ``ratePer1000`` is the usual SMM figure."""
    s = priced.service
    per_unit = Decimal(priced.rate.format()) / 1000
    out: dict[str, Any] = {
        "id": render_id(SERVICE, s.id), "name": s.name, "category": priced.category,
        "description": s.description, "price": float(per_unit), "ratePer1000": amount(priced.rate),
        "currency": priced.rate.currency.value, "minQuantity": s.min, "maxQuantity": s.max, "speed": "",
        "tags": _tags(priced),
    }
    if detail:
        out.update({"averageTime": "", "refillEnabled": s.refill,
                    "subscriptionCapable": recurring_capable(s.type) and s.active})
    out.update({"type": s.type.value, "dripfeed": s.dripfeed, "active": s.active})
    return out


def _tags(priced: PricedService) -> list[str]:
    words = [priced.category.casefold(), *re.findall(r"[a-z]+", priced.service.name.casefold())]
    return list(dict.fromkeys(w for w in words if len(w) > 2 and w not in {"the", "and", "for", "with"}))


def order_json(order: SmmOrder) -> dict[str, Any]:
    """The document's order. ``quantity`` is per run for a drip-feed (``runs`` x ``quantity`` are delivered)."""
    per_run = order.quantity // order.runs if order.runs else order.quantity
    finished = order.status in (OrderStatus.COMPLETED, OrderStatus.PARTIAL)
    out: dict[str, Any] = {
        "order_id": render_id(ORDER, order.id), "service_id": render_id(SERVICE, order.service_id),
        "status": order_status(order.status), "link": order.link, "quantity": per_run,
        "start_count": order.start_count, "remains": order.remains, "charge": amount(order.charge),
        "currency": order.charge.currency.value, "created_at": timestamp(order.created_at),
        "updated_at": timestamp(order.updated_at or order.created_at),
        "completed_at": timestamp(order.updated_at or order.created_at) if finished else None,
    }
    if order.refunded is not None and order.refunded.is_positive:
        out["refunded"] = amount(order.refunded)
    if order.runs:
        out.update({"runs": order.runs, "interval": order.interval})
    return out


def created_order_json(order: SmmOrder) -> dict[str, Any]:
    full = order_json(order)
    return {k: full[k] for k in ("order_id", "service_id", "link", "quantity", "status", "charge", "currency",
                                 "created_at")} | {k: full[k] for k in ("runs", "interval") if k in full}


def subscription_json(sub: SmmSubscription, *, first_order: SmmOrder | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "subscription_id": render_id(SUBSCRIPTION, sub.id), "service_id": render_id(SERVICE, sub.service_id),
        "status": sub.status.value, "interval": sub.interval.value, "next_run": timestamp(sub.next_run_at),
        "link": sub.link, "quantity": sub.quantity, "runs_placed": sub.runs_placed,
        "created_at": timestamp(sub.created_at),
    }
    if first_order is not None:
        out["order_id"] = render_id(ORDER, first_order.id)
    return out


def refill_json(refill: Refill) -> dict[str, Any]:
    return {"refill_id": render_id(REFILL, refill.id), "order_id": render_id(ORDER, refill.order_id),
            "status": refill_status(refill.status), "created_at": timestamp(refill.created_at)}
