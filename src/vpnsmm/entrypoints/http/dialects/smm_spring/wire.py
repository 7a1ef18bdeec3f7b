"""The smm-spring wire vocabulary: status names, timestamps, amounts, order and page shapes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.ledger import Entry
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import SmmOrder

Json = dict[str, Any]

#: Our status -> the document's. Refunded (money back in full) is a cancellation to these clients.
WIRE_STATUS: Mapping[OrderStatus, str] = {
    OrderStatus.PENDING: "PENDING",
    OrderStatus.IN_PROGRESS: "ACTIVE",
    OrderStatus.PROCESSING: "PROCESSING",
    OrderStatus.PAUSED: "PAUSED",
    OrderStatus.PARTIAL: "PARTIAL",
    OrderStatus.COMPLETED: "COMPLETED",
    OrderStatus.CANCELED: "CANCELLED",
    OrderStatus.REFUNDED: "CANCELLED",
}

#: The document's status filter -> ours. HOLDING and REFILL have no counterpart: they match no order.
STATUS_FILTER: Mapping[str, tuple[OrderStatus, ...]] = {
    "PENDING": (OrderStatus.PENDING,),
    "IN_PROGRESS": (OrderStatus.IN_PROGRESS,),
    "ACTIVE": (OrderStatus.IN_PROGRESS,),
    "PROCESSING": (OrderStatus.PROCESSING,),
    "PAUSED": (OrderStatus.PAUSED,),
    "PARTIAL": (OrderStatus.PARTIAL,),
    "COMPLETED": (OrderStatus.COMPLETED,),
    "CANCELLED": (OrderStatus.CANCELED, OrderStatus.REFUNDED),
    "CANCELED": (OrderStatus.CANCELED, OrderStatus.REFUNDED),
    "HOLDING": (),
    "REFILL": (),
}

#: Running statuses: the document's "active" orders.
RUNNING = (OrderStatus.IN_PROGRESS, OrderStatus.PROCESSING, OrderStatus.PAUSED)

SORT_KEYS: Mapping[str, str] = {"id": "id", "createdAt": "created_at", "updatedAt": "updated_at",
                                "status": "status", "quantity": "quantity"}
MAX_SIZE = 100


def iso(moment: datetime | None) -> str | None:
    """``2024-01-01T12:00:00Z`` (UTC, whole seconds), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Money) -> str:
    """Decimal text with at least two decimals, as the document writes amounts ("100.00"), whatever the
    currency's own exponent (IRR "250000.00"); exact, and parses back to the same amount."""
    text = amount.format()
    if amount.currency.exponent >= 2:
        return text
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def now_iso() -> str:
    return iso(datetime.now(UTC)) or ""


def statuses(raw: str | None) -> tuple[OrderStatus, ...] | None:
    """The ``status`` filter; None = any. Raises ValidationError for a name the document does not list."""
    if raw is None or not raw.strip():
        return None
    found = STATUS_FILTER.get(raw.strip().upper())
    if found is None:
        raise ValidationError(f"status must be one of {', '.join(k for k in STATUS_FILTER if k != 'CANCELED')}",
                              field="status")
    return found


def sort_key(raw: str) -> str:
    found = SORT_KEYS.get(raw.strip())
    if found is None:
        raise ValidationError(f"sort must be one of {', '.join(SORT_KEYS)}", field="sort")
    return found


def descending(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("asc", "desc"):
        raise ValidationError("direction must be asc or desc", field="direction")
    return value == "desc"


def page_size(size: int) -> int:
    return max(1, min(size, MAX_SIZE))


def day_start(raw: str | None, field: str, *, next_day: bool = False) -> datetime | None:
    """``2024-01-31`` -> that day's 00:00 UTC (the next day's with ``next_day``: dateTo is inclusive)."""
    if raw is None or not raw.strip():
        return None
    try:
        day = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise ValidationError(f"{field} must be a date like 2024-01-31", field=field) from None
    moment = datetime.combine(day, time(0), tzinfo=UTC)
    return moment + timedelta(days=1) if next_day else moment


def amount_text(raw: object, field: str = "amount") -> str:
    """An amount as the document sends it (``"50.00"``; a JSON number is accepted too) as decimal text."""
    if isinstance(raw, bool) or raw is None:
        raise ValidationError(f"{field} must be a decimal amount like \"50.00\"", field=field)
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValidationError(f"{field} must be a finite amount", field=field)
        return repr(raw)
    if isinstance(raw, str):
        return raw.strip()
    raise ValidationError(f"{field} must be a decimal amount like \"50.00\"", field=field)


def parse_amount(raw: object, currency: Currency, field: str = "amount") -> Money:
    amount = Money.parse(amount_text(raw, field), currency, field_name=field)
    if not amount.is_positive:
        raise ValidationError(f"{field} must be positive", field=field)
    return amount


def order_json(o: SmmOrder, *, detail: bool = False) -> Json:
    out: Json = {"id": o.id, "service": o.service_id, "link": o.link, "quantity": o.quantity,
                 "status": WIRE_STATUS[o.status], "charge": money(o.charge), "startCount": o.start_count or 0,
                 "remains": o.quantity if o.remains is None else o.remains, "createdAt": iso(o.created_at)}
    if detail:
        out["updatedAt"] = iso(o.updated_at or o.created_at)
    return out


def page_json(content: Sequence[Any], total: int, page: int, size: int) -> Json:
    """The document's Spring-style page."""
    pages = math.ceil(total / size) if size else 0
    return {"content": list(content), "totalElements": total, "totalPages": pages, "number": page, "size": size,
            "first": page == 0, "last": page >= pages - 1, "numberOfElements": len(content)}


def success(data: Any, message: str) -> Json:
    return {"data": data, "success": True, "message": message, "timestamp": now_iso()}


_ENTRY_TYPES = {"smm_charge": "CHARGE", "invoice_charge": "CHARGE", "smm_refund": "REFUND", "refund": "REFUND",
                "payment": "DEPOSIT", "wallet_transfer": "TRANSFER", "adjustment": "ADJUSTMENT"}


def entry_json(e: Entry) -> Json:
    kind = _ENTRY_TYPES.get(e.code, e.code.upper())
    if e.code == "adjustment":
        kind = "DEPOSIT" if e.delta > 0 else "CHARGE"
    reference = e.reference or ""
    what, _, ref_id = reference.partition(":")
    if what == "smm_order":
        description = f"Order #{ref_id}" if kind == "CHARGE" else f"Refund for order #{ref_id}"
    elif e.code == "payment":
        description = f"Payment #{ref_id}" if ref_id else "Deposit"
    elif e.code == "adjustment":
        description = "Balance adjustment by an operator"
    elif e.code == "wallet_transfer":
        description = "Transfer" + (f" ({reference})" if reference else "")
    else:
        description = e.code.replace("_", " ").capitalize() + (f" ({reference})" if reference else "")

    def m(v: int) -> str:
        return money(Money(v, e.currency))

    return {"id": e.id, "type": kind, "amount": m(e.delta), "balanceBefore": m(e.balance_before),
            "balanceAfter": m(e.balance_after), "description": description, "createdAt": iso(e.timestamp)}
