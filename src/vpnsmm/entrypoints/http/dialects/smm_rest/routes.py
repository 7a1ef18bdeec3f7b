"""The handlers of smm-rest-api.md at ``/api/v1/...`` (relative to the dialect prefix). Thin: parse the
document's wire format, call the same use cases as the native API, render the document's shapes."""

from __future__ import annotations

import math
from typing import Any

from attrs import evolve
from litestar import Controller, Request, delete, get, post
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vpnsmm.application.billing import Wallets
from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.application.smm import BulkItem, NewOrder, PlaceOrder, SmmCatalogue, SmmOrders
from vpnsmm.application.smm_subscriptions import NewSubscription, SmmSubscriptions
from vpnsmm.config import Settings
from vpnsmm.domain.errors import (
    AuthenticationError,
    InsufficientFundsError,
    NotFoundError,
    UpstreamError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.money import Currency
from vpnsmm.domain.smm_orders import OrderFilter
from vpnsmm.entrypoints.http.dialects.smm_rest import wire
from vpnsmm.entrypoints.http.dialects.smm_rest.errors import status_and_code
from vpnsmm.entrypoints.http.dialects.smm_rest.wire import ORDER, SERVICE, SUBSCRIPTION, ok

MAX_BULK = 100


async def resolve_caller(request: Request[Any, Any, Any], authenticate: Authenticate) -> Principal:
    """The caller from ``X-API-Key`` (the document's scheme: our API keys); ``Authorization: Bearer`` works too,
    so a logged-in web frontend can use the same paths. Raises AuthenticationError -> 401 INVALID_API_KEY."""
    key = request.headers.get("x-api-key")
    if key and key.strip():
        return await authenticate.api_key(key.strip())
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await authenticate.access_token(token.strip())
    raise AuthenticationError("API key required in the X-API-Key header", code="INVALID_API_KEY")


def _new_order(user_id: int, item: object) -> NewOrder:
    """One order of the document's body (``service_id``, ``link``, ``quantity``; drip-feed ``runs`` +
    ``interval`` in minutes as in Perfect Panel). Raises the document's codes for malformed fields."""
    if not isinstance(item, dict):
        raise ValidationError("each order must be a JSON object", field="orders")
    service_id = wire.parse_id(item.get("service_id", item.get("serviceId")), SERVICE, field="service_id")
    link = wire.link_of(item.get("link"))
    quantity = wire.quantity_of(item.get("quantity"), required=False)
    runs = wire.quantity_of(item.get("runs"), required=False, field="runs")
    interval = item.get("interval")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 0
                                 or interval > 10**6):
        raise ValidationError("interval (minutes between drip-feed runs) must be a whole number >= 0",
                              field="interval")
    extras: dict[str, Any] = {name: wire.lines_of(item.get(name), name) for name in _LIST_FIELDS}
    extras.update({name: wire.optional_text(item.get(name), name) for name in _TEXT_FIELDS})
    extras["answer_number"] = wire.quantity_of(item.get("answer_number"), required=False, field="answer_number")
    return NewOrder(user_id=user_id, service_id=service_id, link=link, quantity=quantity, runs=runs,
                    interval=interval, **extras)


#: Type-specific Perfect Panel fields (Custom Comments, Mentions, Poll ...) accepted as an extension of the document.
_LIST_FIELDS = ("comments", "usernames", "hashtags", "keywords", "groups")
_TEXT_FIELDS = ("hashtag", "username", "media")


async def _fit(cmd: NewOrder, catalogue: SmmCatalogue) -> NewOrder:
    """The document sends ``quantity`` for every service; a Package (or a list-counted type) takes none, so
    drop it there instead of refusing the order. Wire translation only: the use case still checks everything."""
    if cmd.quantity is None:
        return cmd
    try:
        service = (await catalogue.service(cmd.service_id)).service
    except NotFoundError:
        return cmd  # PlaceOrder answers SERVICE_NOT_FOUND
    return cmd if "quantity" in service.type.allowed_fields else evolve(cmd, quantity=None)


def _int_param(raw: str | None, name: str, default: int, *, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.isdigit() or len(text) > 12:
        raise ValidationError(f"{name} must be a positive whole number", field=name)
    return max(low, min(int(text), high))


class SmmRestController(Controller):
    path = "/api/v1"
    dependencies = {"caller": Provide(resolve_caller)}

    # ---------------------------------------------------------------------------------- services
    @get("/services", operation_id="SmmRestListServices")
    async def list_services(self, caller: Principal, smm_catalogue: SmmCatalogue,
                            category: str | None = None, active: str | None = None) -> dict[str, Any]:
        """The catalogue at the caller's prices. ``active`` defaults to true (available services only)."""
        flag: bool | None = True
        if active is not None and active.strip() != "":
            text = active.strip().casefold()
            if text not in ("true", "false", "1", "0"):
                raise ValidationError("active must be true or false", field="active")
            flag = text in ("true", "1")
        if category is not None and len(category) > 100:
            raise ValidationError("category is at most 100 characters", field="category")
        found = await smm_catalogue.services(user_id=caller.user_id, category=category or None, active=flag)
        return ok([wire.service_json(p) for p in found])

    @get("/services/{service_id:str}", operation_id="SmmRestGetService")
    async def get_service(self, service_id: str, caller: Principal, smm_catalogue: SmmCatalogue) -> dict[str, Any]:
        number = wire.parse_id(service_id, SERVICE, field="serviceId")
        return ok(wire.service_json(await smm_catalogue.service(number, user_id=caller.user_id), detail=True))

    # ---------------------------------------------------------------------------------- orders
    @post("/orders", operation_id="SmmRestCreateOrder", status_code=HTTP_201_CREATED)
    async def create_order(self, request: Request[Any, Any, Any], caller: Principal, place_smm_order: PlaceOrder,
                           smm_catalogue: SmmCatalogue) -> dict[str, Any]:
        """Charge the wallet and place one order. 402 INSUFFICIENT_BALANCE, 404 SERVICE_NOT_FOUND,
        400 INVALID_QUANTITY / INVALID_LINK."""
        body = wire.decode_object(await request.body())
        order = await place_smm_order(await _fit(_new_order(caller.user_id, body), smm_catalogue))
        return ok(wire.created_order_json(order))

    @post("/orders/bulk", operation_id="SmmRestCreateOrders", status_code=HTTP_200_OK)
    async def create_orders(self, request: Request[Any, Any, Any], caller: Principal, place_smm_order: PlaceOrder,
                            smm_catalogue: SmmCatalogue) -> dict[str, Any]:
        """Up to 100 orders, each charged and placed on its own; ``orders`` reports each line in order."""
        body = wire.decode_object(await request.body())
        items = body.get("orders")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
            raise ValidationError(f"orders must be a list of 1-{MAX_BULK} orders", field="orders")
        lines: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, NewOrder]] = []
        for index, item in enumerate(items):
            try:
                valid.append((index, await _fit(_new_order(caller.user_id, item), smm_catalogue)))
            except VpnsmmError as exc:
                lines[index] = _failed_line(index, exc)
        if valid:
            placed: list[BulkItem] = await place_smm_order.bulk(caller.user_id, [cmd for _, cmd in valid])
            for (index, _), result in zip(valid, placed, strict=True):
                if result.order is not None:
                    lines[index] = {"index": index, "success": True, **wire.created_order_json(result.order)}
                else:
                    lines[index] = _failed_line(index, _rebuilt(result))
        created = sum(1 for line in lines if line and line["success"])
        return ok({"created": created, "failed": len(items) - created, "orders": lines})

    @get("/orders/{order_id:str}", operation_id="SmmRestGetOrder")
    async def get_order(self, order_id: str, caller: Principal, smm_orders: SmmOrders) -> dict[str, Any]:
        number = wire.parse_id(order_id, ORDER, field="orderId")
        return ok(wire.order_json(await smm_orders.get(caller.user_id, number)))

    @get("/orders", operation_id="SmmRestListOrders")
    async def list_orders(self, caller: Principal, smm_orders: SmmOrders, status: str | None = None,
                          page: str | None = None, limit: str | None = None) -> dict[str, Any]:
        """The caller's orders, newest first. ``limit`` 1-100 (default 20; larger values are capped)."""
        statuses = None
        if status is not None and status.strip():
            statuses = wire.STATUS_FILTERS.get(status.strip().casefold())
            if statuses is None:
                raise ValidationError(f"unknown status {status[:20]!r}", field="status")
        number = _int_param(page, "page", 1, low=1, high=10**9)
        size = _int_param(limit, "limit", 20, low=1, high=100)
        items, total = await smm_orders.search(OrderFilter(user_id=caller.user_id, statuses=statuses),
                                               limit=size, offset=(number - 1) * size)
        return ok({"orders": [wire.order_json(o) for o in items],
                   "pagination": {"page": number, "limit": size, "total": total,
                                  "pages": math.ceil(total / size)}})

    # ---------------------------------------------------------------------------------- balance
    @get("/balance", operation_id="SmmRestBalance")
    async def balance(self, caller: Principal, wallets: Wallets, settings: Settings) -> dict[str, Any]:
        """The spendable wallet balance (holds excluded, as ``/api/v2`` ``balance``) in the shop currency."""
        found = await wallets.balance(caller.user_id, Currency.parse(settings.default_currency))
        return ok({"balance": wire.amount(found.available), "currency": found.currency.value})

    # ---------------------------------------------------------------------------------- subscriptions
    @post("/subscriptions", operation_id="SmmRestCreateSubscription", status_code=HTTP_201_CREATED)
    async def create_subscription(self, request: Request[Any, Any, Any], caller: Principal,
                                  smm_subscriptions: SmmSubscriptions) -> dict[str, Any]:
        """A recurring order; its first run is placed (and charged) now, the next at ``next_run``."""
        body = wire.decode_object(await request.body())
        service_id = wire.parse_id(body.get("service_id", body.get("serviceId")), SERVICE, field="service_id")
        link = wire.link_of(body.get("link"))
        quantity = wire.quantity_of(body.get("quantity"), required=False)
        interval = wire.text_of(body.get("interval", ""), "interval")
        started = await smm_subscriptions.create(NewSubscription(
            user_id=caller.user_id, service_id=service_id, link=link, quantity=quantity, interval=interval))
        return ok(wire.subscription_json(started.subscription, first_order=started.first_order))

    @delete("/subscriptions/{subscription_id:str}", operation_id="SmmRestCancelSubscription",
            status_code=HTTP_200_OK)
    async def cancel_subscription(self, subscription_id: str, caller: Principal,
                                  smm_subscriptions: SmmSubscriptions) -> dict[str, Any]:
        number = wire.parse_id(subscription_id, SUBSCRIPTION, field="subscriptionId")
        await smm_subscriptions.cancel(caller.user_id, number)
        return {"success": True, "message": "Subscription canceled successfully"}

    # ---------------------------------------------------------------------------------- refills
    @post("/refills", operation_id="SmmRestRequestRefill", status_code=HTTP_201_CREATED)
    async def request_refill(self, request: Request[Any, Any, Any], caller: Principal,
                             smm_orders: SmmOrders) -> dict[str, Any]:
        """Ask the provider to refill a completed or partial order of a refill-enabled service."""
        body = wire.decode_object(await request.body())
        order_id = wire.parse_id(body.get("order_id", body.get("orderId")), ORDER, field="order_id")
        return ok(wire.refill_json(await smm_orders.refill(caller.user_id, order_id)))


def _rebuilt(result: BulkItem) -> VpnsmmError:
    """The bulk use case reports a failed line as (code, message); give it back its class for the mapping."""
    code, message = result.code or "VALIDATION_ERROR", result.message or "the order was not placed"
    if code == "INSUFFICIENT_BALANCE":
        return InsufficientFundsError(message)
    if code.endswith("NOT_FOUND"):
        return NotFoundError(message, code=code)
    if code.startswith("UPSTREAM"):
        return UpstreamError(message, code=code)
    return ValidationError(message, code=code)


def _failed_line(index: int, exc: VpnsmmError) -> dict[str, Any]:
    _, code, message = status_and_code(exc)
    return {"index": index, "success": False, "order_id": None, "status": "failed",
            "error": {"code": code, "message": message}}
