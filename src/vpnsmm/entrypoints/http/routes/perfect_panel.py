"""Our own Perfect Panel API v2 at ``/api/v2``, so resellers' panels and bots can buy from us.

Form POST (``application/x-www-form-urlencoded`` or multipart) or query string; GET is accepted for the
read actions only (services, status, refill_status, balance). ``key`` is one of the caller's API keys.
Every answer is HTTP 200 JSON, errors included (``{"error": "Incorrect order ID"}``), with the exact
shapes and error strings real panels use (docs/smm.md): numbers as strings where panels send strings,
ids as ints. Another user's order id answers ``Incorrect order ID``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Request, Response, route

from vpnsmm.application.billing import Wallets
from vpnsmm.application.identity import Principal
from vpnsmm.application.ports.smm_provider import MAX_IDS_PER_REQUEST, ProviderRejectedError
from vpnsmm.application.smm import NewOrder, PlaceOrder, SmmCatalogue, SmmOrders
from vpnsmm.domain.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    UpstreamError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.money import Currency
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import Refill, SmmOrder
from vpnsmm.entrypoints.http.dependencies import PerfectPanelUseCases

INCORRECT_REQUEST = "Incorrect request"
INVALID_KEY = "Invalid API key"
INCORRECT_ORDER_ID = "Incorrect order ID"
INCORRECT_SERVICE_ID = "Incorrect service ID"
INCORRECT_LINK = "Incorrect link"
NOT_ENOUGH_FUNDS = "Not enough funds on balance"
REFILL_NOT_FOUND = "Refill not found"
NOT_ELIGIBLE_FOR_REFILL = "Order not eligible for refill."
CANNOT_CANCEL = "Order cannot be canceled"
UNAVAILABLE = "Service temporarily unavailable, try again later"

_READ_ONLY = frozenset({"services", "status", "refill_status", "balance"})
_INT_FIELDS = ("quantity", "runs", "interval", "answer_number", "min", "max", "posts", "old_posts", "delay")
_TEXT_FIELDS = ("link", "comments", "usernames", "hashtags", "keywords", "groups", "hashtag", "username", "media")

Json = Any


class _Reject(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def error_text(exc: VpnsmmError) -> str:
    """The Perfect Panel error string for a domain error."""
    if isinstance(exc, AuthenticationError):
        return INVALID_KEY
    if isinstance(exc, InsufficientFundsError):
        return NOT_ENOUGH_FUNDS
    if isinstance(exc, NotFoundError):
        return {"SERVICE_NOT_FOUND": INCORRECT_SERVICE_ID, "REFILL_NOT_FOUND": REFILL_NOT_FOUND}.get(
            exc.code, INCORRECT_ORDER_ID)
    if isinstance(exc, ValidationError):
        if exc.code == "INVALID_LINK":
            return INCORRECT_LINK
        if exc.code == "INVALID_QUANTITY" and "min" in exc.details:
            return f"Quantity less than minimal {exc.details['min']}"
        if exc.code == "INVALID_QUANTITY" and "max" in exc.details:
            return f"Quantity more than maximum {exc.details['max']}"
        if exc.code == "SUBSCRIPTION_POSTS_REQUIRED":  # our own rule, so say it plainly (docs/smm.md)
            return exc.message
        return INCORRECT_REQUEST
    if isinstance(exc, InvalidTransitionError) and exc.code == "REFILL_NOT_ALLOWED":
        return NOT_ELIGIBLE_FOR_REFILL
    if isinstance(exc, ProviderRejectedError):
        return exc.provider_message
    if isinstance(exc, UpstreamError):
        return UNAVAILABLE
    return INCORRECT_REQUEST


def _int(raw: str | None, error: str = INCORRECT_REQUEST) -> int:
    text = (raw or "").strip()
    if not text or not text.isdigit() or len(text) > 18:
        raise _Reject(error)
    return int(text)


def _ids(raw: str, error: str = INCORRECT_REQUEST) -> list[str]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > MAX_IDS_PER_REQUEST:
        raise _Reject(error)
    return list(dict.fromkeys(parts))


def _id_json(raw: str) -> Json:
    return int(raw) if raw.isdigit() and len(raw) <= 18 else raw


#: How a subscription's status reads on the wire (smm.md §1.4/§1.5: Active / Paused / Completed / Canceled).
_SUBSCRIPTION_STATUS = {OrderStatus.PENDING: "Active", OrderStatus.IN_PROGRESS: "Active",
                        OrderStatus.PROCESSING: "Active", OrderStatus.PAUSED: "Paused",
                        OrderStatus.COMPLETED: "Completed", OrderStatus.PARTIAL: "Completed",
                        OrderStatus.CANCELED: "Canceled", OrderStatus.REFUNDED: "Canceled"}


def _expiry(raw: str | None) -> date:
    """``expiry`` as Perfect Panel writes it (``d/m/Y``); anything else is ``Incorrect request``."""
    try:
        return datetime.strptime((raw or "").strip(), "%d/%m/%Y").date()
    except ValueError:
        raise _Reject(INCORRECT_REQUEST) from None


def _subscription_json(order: SmmOrder, children: list[int]) -> dict[str, Json]:
    """A subscription parent in the smm.md §1.4 shape; ``orders`` are our child order ids."""
    terms = order.subscription
    assert terms is not None
    return {"status": _SUBSCRIPTION_STATUS[order.status],
            "expiry": terms.expiry.strftime("%d/%m/%Y") if terms.expiry else None,
            "posts": str(len(children)), "orders": [str(child) for child in children]}


def _order_json(order: SmmOrder, children: Mapping[int, list[int]]) -> dict[str, Json]:
    if order.subscription is not None:
        return _subscription_json(order, children.get(order.id, []))
    remains = order.remains if order.remains is not None else order.quantity
    return {"charge": order.held.format(), "start_count": str(order.start_count or 0),
            "status": order.status.value, "remains": str(remains), "currency": order.charge.currency.value}


class PerfectPanelApi:
    """One request's dispatcher: ``params`` already merged from the query string and the form."""

    def __init__(self, principal: Principal, catalogue: SmmCatalogue, place: PlaceOrder, orders: SmmOrders,
                 wallets: Wallets, currency: Currency) -> None:
        self.user_id = principal.user_id
        self._catalogue, self._place, self._orders, self._wallets = catalogue, place, orders, wallets
        self._currency = currency

    async def dispatch(self, action: str, params: Mapping[str, str]) -> Json:
        handler: Callable[[Mapping[str, str]], Any] | None = getattr(self, f"_{action}", None) \
            if action in ("services", "add", "status", "refill", "refill_status", "cancel", "balance") else None
        if handler is None:
            raise _Reject(INCORRECT_REQUEST)
        return await handler(params)

    async def _services(self, params: Mapping[str, str]) -> Json:
        return [{"service": p.service.id, "name": p.service.name, "type": p.service.type.value,
                 "category": p.category, "rate": p.rate.format(), "min": str(p.service.min),
                 "max": str(p.service.max), "refill": p.service.refill, "cancel": p.service.cancel,
                 "dripfeed": p.service.dripfeed}
                for p in await self._catalogue.services(user_id=self.user_id, active=True)]

    async def _add(self, params: Mapping[str, str]) -> Json:
        values: dict[str, Any] = {}
        for name in _INT_FIELDS:
            if (params.get(name) or "").strip():
                values[name] = _int(params[name])
        for name in _TEXT_FIELDS:
            if (params.get(name) or "").strip():
                values[name] = params[name]
        if (params.get("expiry") or "").strip():
            values["expiry"] = _expiry(params["expiry"])
        cmd = NewOrder(user_id=self.user_id, service_id=_int(params.get("service"), INCORRECT_SERVICE_ID), **values)
        order = await self._place(cmd, defer=True)  # forwarded moments later, as panels do (docs/smm.md)
        return {"order": order.id}

    async def _status(self, params: Mapping[str, str]) -> Json:
        if "orders" in params:
            ids = _ids(params["orders"])
            wanted = [int(i) for i in ids if i.isdigit() and len(i) <= 18]
            found = await self._orders.many(self.user_id, wanted)
            children = await self._children(found.values())
            return {i: (_order_json(found[int(i)], children) if i.isdigit() and len(i) <= 18 and int(i) in found
                        else {"error": INCORRECT_ORDER_ID}) for i in ids}
        order_id = _int(params.get("order"), INCORRECT_ORDER_ID)
        order = await self._orders.get(self.user_id, order_id)
        return _order_json(order, await self._children([order]))

    async def _children(self, orders: Iterable[SmmOrder]) -> dict[int, list[int]]:
        """Child order ids of the subscriptions among ``orders`` (one query, none without subscriptions)."""
        parents = [o.id for o in orders if o.subscription is not None]
        return await self._orders.child_ids(self.user_id, parents) if parents else {}

    async def _refill_one(self, raw: str) -> Json:
        try:
            refill: Refill = await self._orders.refill(self.user_id, _int(raw, INCORRECT_ORDER_ID))
        except VpnsmmError as exc:
            return {"error": error_text(exc)}
        except _Reject as exc:
            return {"error": exc.message}
        return refill.id

    async def _refill(self, params: Mapping[str, str]) -> Json:
        if "orders" in params:
            return [{"order": _id_json(i), "refill": await self._refill_one(i)} for i in _ids(params["orders"])]
        refill = await self._orders.refill(self.user_id, _int(params.get("order"), INCORRECT_ORDER_ID))
        return {"refill": str(refill.id)}

    async def _refill_status_one(self, raw: str) -> Json:
        try:
            return (await self._orders.refill_status(self.user_id, _int(raw, REFILL_NOT_FOUND))).status.value
        except VpnsmmError as exc:
            return {"error": error_text(exc)}
        except _Reject as exc:
            return {"error": exc.message}

    async def _refill_status(self, params: Mapping[str, str]) -> Json:
        if "refills" in params:
            return [{"refill": _id_json(i), "status": await self._refill_status_one(i)}
                    for i in _ids(params["refills"])]
        refill = await self._orders.refill_status(self.user_id, _int(params.get("refill"), REFILL_NOT_FOUND))
        return {"status": refill.status.value}

    async def _cancel(self, params: Mapping[str, str]) -> Json:
        raw = params.get("orders") or params.get("order") or ""
        ids = _ids(raw)
        numeric = [int(i) for i in ids if i.isdigit() and len(i) <= 18]
        results = {r.order_id: r for r in await self._orders.cancel(self.user_id, numeric)} if numeric else {}
        out = []
        for i in ids:
            result = results.get(int(i)) if i.isdigit() and len(i) <= 18 else None
            if result is None:
                out.append({"order": _id_json(i), "cancel": {"error": INCORRECT_ORDER_ID}})
            elif result.accepted:
                out.append({"order": _id_json(i), "cancel": 1})
            else:
                message = INCORRECT_ORDER_ID if result.code == "ORDER_NOT_FOUND" else (
                    CANNOT_CANCEL if result.code == "CANCEL_NOT_ALLOWED" else result.message or CANNOT_CANCEL)
                out.append({"order": _id_json(i), "cancel": {"error": message}})
        return out

    async def _balance(self, params: Mapping[str, str]) -> Json:
        balance = await self._wallets.balance(self.user_id, self._currency)
        return {"balance": balance.available.format(), "currency": self._currency.value}


def _json(body: Json) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=200, media_type="application/json")


@route("/api/v2", http_method=["GET", "POST"], tags=["perfect-panel"],
       security=[], exclude_from_auth=True, include_in_schema=True)
async def perfect_panel_v2(request: Request[Any, Any, Any], perfect_panel: PerfectPanelUseCases) -> Response[bytes]:
    """Perfect Panel API v2 (``key``, ``action`` = services | add | status | refill | refill_status | cancel |
    balance). Errors are ``{"error": "..."}`` with HTTP 200, as every SMM panel does."""
    params: dict[str, str] = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    if request.method == "POST":
        try:
            form = await request.form()
        except Exception:  # a body that is not a form: the panel sees only the query string
            form = None
        if form is not None:
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    key, action = (params.get("key") or "").strip(), (params.get("action") or "").strip().lower()
    if not key or not action:
        return _json({"error": INCORRECT_REQUEST})
    if request.method == "GET" and action not in _READ_ONLY:
        return _json({"error": INCORRECT_REQUEST})
    try:
        principal = await perfect_panel.authenticate.api_key(key)
    except AuthenticationError:
        return _json({"error": INVALID_KEY})
    use = perfect_panel
    api = PerfectPanelApi(principal, use.catalogue, use.place, use.orders, use.wallets,
                          Currency.parse(use.settings.default_currency))
    try:
        return _json(await api.dispatch(action, params))
    except _Reject as exc:
        return _json({"error": exc.message})
    except VpnsmmError as exc:
        return _json({"error": error_text(exc)})
