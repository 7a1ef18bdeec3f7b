"""/v1/smm (services, orders, refills, cancels) and /v1/admin/smm (providers, services, order actions, stats)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vpnsmm.application.identity import Principal
from vpnsmm.application.smm import (
    AdminOrders,
    ManageProviders,
    ManageServices,
    NewProvider,
    OrderStatistics,
    PlaceOrder,
    SmmCatalogue,
    SmmOrders,
    SyncOrders,
)
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import OrderFilter, ProviderKind, SubmitState, parse_discount
from vpnsmm.entrypoints.http.money_schemas import MoneyOut
from vpnsmm.entrypoints.http.smm_schemas import (
    AdminOrderOut,
    AdminOrderPage,
    AdminServiceOut,
    BulkActionIn,
    BulkIn,
    BulkItemOut,
    CancelOut,
    OrderIn,
    OrderOut,
    OrderPage,
    ProviderIn,
    ProviderOut,
    ProviderPatch,
    ReasonIn,
    RefillOut,
    ServiceOut,
    ServicePatch,
    StartCountIn,
    StatsOut,
    SyncIn,
    SyncOut,
    UserRateIn,
)

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=10**9)]
Id = Annotated[int | None, Parameter(ge=1, le=2**62)]


def _status(raw: str | None) -> OrderStatus | None:
    if not raw:
        return None
    for status in OrderStatus:
        if raw.strip().casefold() in (status.value.casefold(), status.name.casefold()):
            return status
    raise ValidationError(f"unknown status {raw!r}", field="status")


def _submit_state(raw: str | None) -> SubmitState | None:
    try:
        return SubmitState(raw) if raw else None
    except ValueError:
        raise ValidationError(f"unknown submit_state {raw!r}", field="submit_state") from None


class SmmController(Controller):
    path = "/v1/smm"
    tags = ["smm"]

    @get("/services", operation_id="SmmListServices")
    async def services(self, principal: Principal, smm_catalogue: SmmCatalogue,
                       category: Annotated[str | None, Parameter(max_length=100)] = None,
                       active: bool = True) -> list[ServiceOut]:
        """The catalogue at the caller's prices (per 1000 units). Filter by ``category`` name and ``active``."""
        return [ServiceOut.of(p) for p in await smm_catalogue.services(user_id=principal.user_id, category=category,
                                                                       active=active)]

    @post("/orders", operation_id="SmmPlaceOrder", status_code=HTTP_201_CREATED)
    async def place(self, data: OrderIn, principal: Principal, place_smm_order: PlaceOrder) -> OrderOut:
        """Charge the wallet and place an order (fields per service type, as Perfect Panel ``add``).
        402 INSUFFICIENT_BALANCE, 404 SERVICE_NOT_FOUND, 400 INVALID_QUANTITY / INVALID_LINK."""
        return OrderOut.of(await place_smm_order(data.command(principal.user_id)))

    @post("/orders/bulk", operation_id="SmmPlaceOrders", status_code=HTTP_200_OK)
    async def bulk(self, data: BulkIn, principal: Principal, place_smm_order: PlaceOrder) -> list[BulkItemOut]:
        """Up to 100 orders, each charged and placed on its own; the answer reports each line."""
        items = await place_smm_order.bulk(principal.user_id, [o.command(principal.user_id) for o in data.orders])
        return [BulkItemOut.of(b) for b in items]

    @get("/orders", operation_id="SmmListOrders")
    async def orders(self, principal: Principal, smm_orders: SmmOrders, limit: Limit = 50, offset: Offset = 0,
                     status: Annotated[str | None, Parameter(max_length=16)] = None, service_id: Id = None,
                     search: Annotated[str | None, Parameter(max_length=200)] = None) -> OrderPage:
        flt = OrderFilter(user_id=principal.user_id, status=_status(status), service_id=service_id, search=search)
        items, total = await smm_orders.search(flt, limit=limit, offset=offset)
        return OrderPage(items=[OrderOut.of(o) for o in items], total=total, limit=limit, offset=offset)

    @get("/orders/{order_id:int}", operation_id="SmmGetOrder")
    async def order(self, order_id: int, principal: Principal, smm_orders: SmmOrders) -> OrderOut:
        """One order; a subscription lists its child orders (one per post) in ``child_order_ids``."""
        order = await smm_orders.get(principal.user_id, order_id)
        children = None
        if order.subscription is not None:
            children = (await smm_orders.child_ids(principal.user_id, [order.id])).get(order.id, [])
        return OrderOut.of(order, children=children)

    @post("/orders/{order_id:int}/cancel", operation_id="SmmCancelOrder", status_code=HTTP_200_OK)
    async def cancel(self, order_id: int, principal: Principal, smm_orders: SmmOrders) -> CancelOut:
        """Cancel (refunded at once if not yet at the provider; otherwise when the provider confirms)."""
        (result,) = await smm_orders.cancel(principal.user_id, [order_id])
        if result.code == "ORDER_NOT_FOUND":
            await smm_orders.get(principal.user_id, order_id)  # raises the 404
        return CancelOut.of(result)

    @post("/orders/{order_id:int}/refill", operation_id="SmmRefillOrder", status_code=HTTP_201_CREATED)
    async def refill(self, order_id: int, principal: Principal, smm_orders: SmmOrders) -> RefillOut:
        return RefillOut.of(await smm_orders.refill(principal.user_id, order_id))

    @get("/refills/{refill_id:int}", operation_id="SmmGetRefill")
    async def refill_status(self, refill_id: int, principal: Principal, smm_orders: SmmOrders) -> RefillOut:
        return RefillOut.of(await smm_orders.refill_status(principal.user_id, refill_id))


class AdminSmmController(Controller):
    path = "/v1/admin/smm"
    tags = ["admin"]

    # -- providers ---------------------------------------------------------------------------------
    @get("/providers", operation_id="AdminSmmListProviders")
    async def providers(self, admin: Principal, smm_manage_providers: ManageProviders) -> list[ProviderOut]:
        return [ProviderOut.of(p) for p in await smm_manage_providers.all()]

    @post("/providers", operation_id="AdminSmmAddProvider", status_code=HTTP_201_CREATED)
    async def add_provider(self, data: ProviderIn, admin: Principal,
                           smm_manage_providers: ManageProviders) -> ProviderOut:
        """Add an upstream panel (Perfect Panel API v2). The key is stored encrypted and never shown again."""
        try:
            kind = ProviderKind(data.kind)
        except ValueError:
            raise ValidationError(f"unknown provider kind {data.kind!r}", field="kind") from None
        provider = await smm_manage_providers.add(NewProvider(
            name=data.name, api_url=data.api_url, api_key=data.api_key, kind=kind,
            currency=Currency.parse(data.currency), exchange_rate=data.exchange_rate), actor_id=admin.user_id)
        return ProviderOut.of(provider)

    @get("/providers/{provider_id:int}", operation_id="AdminSmmGetProvider")
    async def provider(self, provider_id: int, admin: Principal,
                       smm_manage_providers: ManageProviders) -> ProviderOut:
        return ProviderOut.of(await smm_manage_providers.get(provider_id))

    @patch("/providers/{provider_id:int}", operation_id="AdminSmmUpdateProvider")
    async def update_provider(self, provider_id: int, data: ProviderPatch, admin: Principal,
                              smm_manage_providers: ManageProviders) -> ProviderOut:
        """Change a provider; ``active: false`` is how a provider is removed (its orders keep their history)."""
        return ProviderOut.of(await smm_manage_providers.update(
            provider_id, actor_id=admin.user_id, name=data.name, api_url=data.api_url, api_key=data.api_key,
            active=data.active, exchange_rate=data.exchange_rate))

    @get("/providers/{provider_id:int}/balance", operation_id="AdminSmmProviderBalance")
    async def provider_balance(self, provider_id: int, admin: Principal,
                               smm_manage_providers: ManageProviders) -> MoneyOut:
        return MoneyOut.of(await smm_manage_providers.balance(provider_id))

    @post("/providers/{provider_id:int}/sync", operation_id="AdminSmmSyncServices", status_code=HTTP_200_OK)
    async def sync(self, provider_id: int, admin: Principal, smm_manage_providers: ManageProviders,
                   data: SyncIn | None = None) -> SyncOut:
        """Import/refresh the provider's services, priced with ``markup`` percent."""
        body = data or SyncIn()
        return SyncOut.of(await smm_manage_providers.sync_services(
            provider_id, markup=body.markup, update_prices=body.update_prices, actor_id=admin.user_id))

    # -- services ----------------------------------------------------------------------------------
    @get("/services", operation_id="AdminSmmListServices")
    async def services(self, admin: Principal, smm_catalogue: SmmCatalogue,
                       active: bool | None = None) -> list[AdminServiceOut]:
        return [AdminServiceOut.of(p.service) for p in await smm_catalogue.services(active=active)]

    @patch("/services/{service_id:int}", operation_id="AdminSmmUpdateService")
    async def update_service(self, service_id: int, data: ServicePatch, admin: Principal,
                             smm_manage_services: ManageServices, smm_catalogue: SmmCatalogue) -> AdminServiceOut:
        current = (await smm_catalogue.service(service_id)).service
        rate = Money.parse(data.rate, current.rate.currency, field_name="rate") if data.rate is not None else None
        return AdminServiceOut.of(await smm_manage_services.update(
            service_id, actor_id=admin.user_id, rate=rate, name=data.name, active=data.active, min=data.min,
            max=data.max, category=data.category, description=data.description))

    @put("/user-rates", operation_id="AdminSmmSetUserRate", status_code=HTTP_200_OK)
    async def user_rate(self, data: UserRateIn, admin: Principal, smm_manage_services: ManageServices,
                        smm_catalogue: SmmCatalogue) -> dict[str, object]:
        """A custom per-1000 ``rate`` for one service, or a ``discount`` percent (one or every service)."""
        rate = None
        if data.rate is not None:
            if data.service_id is None:
                raise ValidationError("a custom rate needs service_id", field="service_id")
            current = (await smm_catalogue.service(data.service_id)).service
            rate = Money.parse(data.rate, current.rate.currency, field_name="rate")
        entry = await smm_manage_services.set_user_rate(actor_id=admin.user_id, user_id=data.user_id,
                                                        service_id=data.service_id, rate=rate,
                                                        discount_bp=parse_discount(data.discount))
        return {"user_id": entry.user_id, "service_id": entry.service_id,
                "rate": entry.rate.format() if entry.rate else None, "discount_bp": entry.discount_bp}

    # -- orders ------------------------------------------------------------------------------------
    @get("/orders", operation_id="AdminSmmListOrders")
    async def orders(self, admin: Principal, smm_orders: SmmOrders, limit: Limit = 50, offset: Offset = 0,
                     status: Annotated[str | None, Parameter(max_length=16)] = None, user_id: Id = None,
                     service_id: Id = None, provider_id: Id = None,
                     submit_state: Annotated[str | None, Parameter(max_length=16)] = None,
                     search: Annotated[str | None, Parameter(max_length=200)] = None) -> AdminOrderPage:
        flt = OrderFilter(user_id=user_id, status=_status(status), service_id=service_id, provider_id=provider_id,
                          submit_state=_submit_state(submit_state), search=search)
        items, total = await smm_orders.search(flt, limit=limit, offset=offset)
        return AdminOrderPage(items=[AdminOrderOut.of_admin(o) for o in items], total=total, limit=limit,
                              offset=offset)

    @get("/orders/{order_id:int}", operation_id="AdminSmmGetOrder")
    async def order(self, order_id: int, admin: Principal, smm_admin_orders: AdminOrders) -> AdminOrderOut:
        return AdminOrderOut.of_admin(await smm_admin_orders.get(order_id))

    @post("/orders/{order_id:int}/complete", operation_id="AdminSmmCompleteOrder", status_code=HTTP_200_OK)
    async def complete(self, order_id: int, admin: Principal, smm_admin_orders: AdminOrders) -> AdminOrderOut:
        return AdminOrderOut.of_admin(await smm_admin_orders.complete(admin.user_id, order_id))

    @post("/orders/{order_id:int}/cancel", operation_id="AdminSmmCancelOrder", status_code=HTTP_200_OK)
    async def cancel(self, order_id: int, admin: Principal, smm_admin_orders: AdminOrders,
                     data: ReasonIn | None = None) -> AdminOrderOut:
        """Cancel and refund everything still held, whatever the provider says."""
        return AdminOrderOut.of_admin(await smm_admin_orders.cancel_and_refund(
            admin.user_id, order_id, data.reason if data else ""))

    @post("/orders/{order_id:int}/start-count", operation_id="AdminSmmSetStartCount", status_code=HTTP_200_OK)
    async def start_count(self, order_id: int, data: StartCountIn, admin: Principal,
                          smm_admin_orders: AdminOrders) -> AdminOrderOut:
        return AdminOrderOut.of_admin(await smm_admin_orders.set_start_count(admin.user_id, order_id,
                                                                             data.start_count))

    @post("/orders/{order_id:int}/resume", operation_id="AdminSmmResumeOrder", status_code=HTTP_200_OK)
    async def resume(self, order_id: int, admin: Principal, smm_admin_orders: AdminOrders) -> AdminOrderOut:
        """Send again an order whose submission outcome was unknown (check the provider first)."""
        return AdminOrderOut.of_admin(await smm_admin_orders.resume(admin.user_id, order_id))

    @post("/orders/{order_id:int}/stop", operation_id="AdminSmmStopOrder", status_code=HTTP_200_OK)
    async def stop(self, order_id: int, admin: Principal, smm_admin_orders: AdminOrders,
                   data: ReasonIn | None = None) -> AdminOrderOut:
        """Hold an order that has not reached its provider (Paused; nothing sends it until resumed). An order
        already at the provider answers 409 ORDER_AT_PROVIDER: Perfect Panel providers cannot pause."""
        return AdminOrderOut.of_admin(await smm_admin_orders.stop(admin.user_id, order_id,
                                                                  data.reason if data else ""))

    @post("/orders/{order_id:int}/refill", operation_id="AdminSmmRefillOrder", status_code=HTTP_201_CREATED)
    async def refill(self, order_id: int, admin: Principal, smm_admin_orders: AdminOrders) -> RefillOut:
        """Ask the provider to refill any customer's order (the customer's rules apply), audited."""
        return RefillOut.of(await smm_admin_orders.refill(admin.user_id, order_id))

    @post("/orders/bulk-actions", operation_id="AdminSmmBulkOrderActions", status_code=HTTP_200_OK)
    async def bulk_actions(self, data: BulkActionIn, admin: Principal,
                           smm_admin_orders: AdminOrders) -> dict[str, object]:
        """One action on up to 100 orders, each on its own and audited; per-order results."""
        results = await smm_admin_orders.bulk(admin.user_id, data.action, data.order_ids, reason=data.reason,
                                              start_count=data.start_count)
        return {"processed": len(results), "succeeded": sum(1 for r in results if r.order is not None),
                "results": [{"order_id": r.order_id, "ok": r.order is not None,
                             **({"order": AdminOrderOut.of_admin(r.order)} if r.order is not None
                                else {"code": r.code, "message": r.message})} for r in results]}

    @post("/orders/sync", operation_id="AdminSmmSyncOrders", status_code=HTTP_200_OK)
    async def sync_orders(self, admin: Principal, sync_smm_orders: SyncOrders) -> dict[str, int]:
        """Poll providers now for every open order (also runs as a background job)."""
        report = await sync_smm_orders()
        return {"polled": report.polled, "changed": report.changed, "settled": report.settled,
                "errors": report.errors, "refills_polled": report.refills_polled}

    @get("/stats", operation_id="AdminSmmStats")
    async def stats(self, admin: Principal, smm_stats: OrderStatistics,
                    days: Annotated[int, Parameter(ge=1, le=3660)] = 30) -> StatsOut:
        return StatsOut.of(await smm_stats(days=days))
