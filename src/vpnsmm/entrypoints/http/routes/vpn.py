"""/v1/plans, /v1/servers (public), /v1/vpn (the customer's accounts and purchases), /v1/admin/vpn (servers,
plans, accounts)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from vpnsmm.application.identity import Principal
from vpnsmm.application.vpn import (
    AdminAccounts,
    BuyAddOn,
    BuyPlan,
    BuyPlanCommand,
    ManagePlans,
    ManageServers,
    PlanDraft,
    RenewAccount,
    RevokeAccount,
    ServerDraft,
    SyncUsage,
    VpnAccounts,
)
from vpnsmm.application.vpn_prices import ManagePriceLists
from vpnsmm.domain.billing import Gateway
from vpnsmm.domain.errors import NotFoundError, ValidationError
from vpnsmm.domain.money import Currency
from vpnsmm.domain.smm_orders import parse_discount
from vpnsmm.domain.vpn_sales import GIB, AccountStatus, AddOnKind, ServerKind
from vpnsmm.entrypoints.http.qr import QR_FORMATS, qr_format, render_qr
from vpnsmm.entrypoints.http.vpn_schemas import (
    AccountConfigOut,
    AccountOut,
    AddDaysIn,
    AddTrafficIn,
    PlanIn,
    PlanOut,
    PlanPatchIn,
    PriceListIn,
    PriceListOut,
    PriceQuoteOut,
    PublicServerOut,
    PurchaseIn,
    PurchaseOut,
    RenewIn,
    ServerIn,
    ServerOut,
    ServerPatchIn,
    ServerStatusOut,
    SyncOut,
    UsageEventOut,
    UsageOut,
    parse_prices,
)

Limit = Annotated[int, Parameter(ge=1, le=500)]
BeforeId = Annotated[int | None, Parameter(ge=1, le=2**62)]


def _gateway(raw: str | None) -> Gateway | None:
    if raw is None:
        return None
    try:
        return Gateway(raw.strip().lower())
    except ValueError:
        raise ValidationError(f"unknown payment method {raw!r}; expected one of "
                              f"{', '.join(g.value for g in Gateway)}", field="gateway") from None


def _status(raw: str | None) -> AccountStatus | None:
    if raw is None:
        return None
    try:
        return AccountStatus(raw)
    except ValueError:
        raise ValidationError(f"unknown status {raw!r}", field="status") from None


class CatalogueController(Controller):
    path = "/v1"
    tags = ["vpn"]

    @get("/plans", operation_id="ListPlans", security=[])
    async def plans(self, manage_plans: ManagePlans) -> list[PlanOut]:
        """Plans on sale."""
        return [PlanOut.of(p) for p in await manage_plans.list(active_only=True)]

    @get("/servers", operation_id="ListServers", security=[])
    async def servers(self, manage_servers: ManageServers) -> list[PublicServerOut]:
        """Active servers: name, location and whether the last health check reached them."""
        return [PublicServerOut.of(s) for s in await manage_servers.public()]


class VpnController(Controller):
    path = "/v1/vpn"
    tags = ["vpn"]

    @post("/purchase", operation_id="BuyPlan", status_code=HTTP_201_CREATED)
    async def purchase(self, data: PurchaseIn, principal: Principal, buy_plan: BuyPlan) -> PurchaseOut:
        """Buy a plan: an invoice, paid at once from the wallet (default; 402 when short) or through a gateway
        (follow ``payment.redirect_url``). The account appears once the invoice is paid; ``account_id`` says which."""
        purchase = await buy_plan(BuyPlanCommand(
            user_id=principal.user_id, plan_id=data.plan_id, currency=Currency.parse(data.currency),
            gateway=_gateway(data.gateway), server_group=data.server_group, location=data.location,
            idempotency_key=data.idempotency_key, email=data.email or principal.user.email))
        return PurchaseOut.of(purchase)

    @get("/plans/{plan_id:int}/price", operation_id="GetMyVpnPrice")
    async def my_price(self, plan_id: int, principal: Principal, vpn_price_lists: ManagePriceLists,
                       currency: Annotated[str, Parameter(max_length=8)]) -> PriceQuoteOut:
        """What this plan costs you (your price list applied): a period, and one unit of each add-on."""
        return PriceQuoteOut.of(await vpn_price_lists.quote(principal.user_id, plan_id, Currency.parse(currency)))

    @get("/accounts", operation_id="ListVpnAccounts")
    async def accounts(self, principal: Principal, vpn_accounts: VpnAccounts, limit: Limit = 50,
                       before_id: BeforeId = None,
                       status: Annotated[str | None, Parameter(max_length=16)] = None) -> list[AccountOut]:
        found = await vpn_accounts.list(principal.user_id, status=_status(status), limit=limit, before_id=before_id)
        return [AccountOut.of(a) for a in found]

    @get("/accounts/{account_id:int}", operation_id="GetVpnAccount")
    async def account(self, account_id: int, principal: Principal, vpn_accounts: VpnAccounts) -> AccountOut:
        return AccountOut.of(await vpn_accounts.get(principal.user_id, account_id))

    @get("/accounts/{account_id:int}/config", operation_id="GetVpnAccountConfig")
    async def config(self, account_id: int, principal: Principal, vpn_accounts: VpnAccounts) -> AccountConfigOut:
        """Share links, the WireGuard config (WireGuard servers) and the subscription URL (``/sub/<token>``)."""
        return AccountConfigOut.of(await vpn_accounts.config(principal.user_id, account_id))

    @get("/accounts/{account_id:int}/qr", operation_id="GetVpnAccountQr", media_type="image/svg+xml")
    async def qr(self, account_id: int, principal: Principal, vpn_accounts: VpnAccounts,
                 format: Annotated[str | None, Parameter(max_length=8)] = None,
                 link: Annotated[int | None, Parameter(ge=0, le=100)] = None) -> Response[bytes]:
        """A QR code (``?format=svg``, the default, or ``png``) of the subscription URL -- of the WireGuard config
        for WireGuard accounts -- or, with ``?link=N``, of the account's N-th share link (0-based)."""
        fmt = qr_format(format)
        config = await vpn_accounts.config(principal.user_id, account_id)
        if link is not None:
            if link >= len(config.links):
                raise NotFoundError(f"the account has {len(config.links)} share links", code="LINK_NOT_FOUND")
            data = config.links[link]
        else:
            data = config.config or config.subscription_url
        return Response(render_qr(data, fmt), media_type=QR_FORMATS[fmt], headers={"cache-control": "no-store"})

    @get("/accounts/{account_id:int}/usage", operation_id="GetVpnAccountUsage")
    async def usage(self, account_id: int, principal: Principal, vpn_accounts: VpnAccounts) -> UsageOut:
        """Traffic of the current period and lifetime, as of the last sync."""
        return UsageOut.of(await vpn_accounts.get(principal.user_id, account_id))

    @post("/accounts/{account_id:int}/renew", operation_id="RenewVpnAccount", status_code=HTTP_201_CREATED)
    async def renew(self, account_id: int, data: RenewIn, principal: Principal,
                    renew_account: RenewAccount) -> PurchaseOut:
        """Another period of the plan: expiry extends from the later of now and the current expiry; the quota
        restarts."""
        return PurchaseOut.of(await renew_account(principal.user_id, account_id, Currency.parse(data.currency),
                                                  _gateway(data.gateway), idempotency_key=data.idempotency_key,
                                                  email=principal.user.email))

    @post("/accounts/{account_id:int}/add-traffic", operation_id="AddVpnTraffic", status_code=HTTP_201_CREATED)
    async def add_traffic(self, account_id: int, data: AddTrafficIn, principal: Principal,
                          buy_addon: BuyAddOn) -> PurchaseOut:
        return PurchaseOut.of(await buy_addon(principal.user_id, account_id, AddOnKind.TRAFFIC, data.gb,
                                              Currency.parse(data.currency), _gateway(data.gateway),
                                              idempotency_key=data.idempotency_key, email=principal.user.email))

    @post("/accounts/{account_id:int}/add-days", operation_id="AddVpnDays", status_code=HTTP_201_CREATED)
    async def add_days(self, account_id: int, data: AddDaysIn, principal: Principal,
                       buy_addon: BuyAddOn) -> PurchaseOut:
        return PurchaseOut.of(await buy_addon(principal.user_id, account_id, AddOnKind.DAYS, data.days,
                                              Currency.parse(data.currency), _gateway(data.gateway),
                                              idempotency_key=data.idempotency_key, email=principal.user.email))

    @post("/accounts/{account_id:int}/revoke", operation_id="RevokeVpnAccount", status_code=HTTP_200_OK)
    async def revoke(self, account_id: int, principal: Principal, revoke_account: RevokeAccount) -> AccountOut:
        """Stop the account for good: disabled on its panel and credentials rotated. Not refunded."""
        return AccountOut.of(await revoke_account(principal.user_id, account_id))


def _plan_changes(data: PlanPatchIn) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("name", "duration_days", "description", "device_limit", "server_group", "start_on_first_use",
                 "active", "traffic_reset", "transport"):
        value = getattr(data, name)
        if value is not None:
            changes[name] = value
    for name in ("prices", "extra_gb_prices", "extra_day_prices"):
        value = getattr(data, name)
        if value is not None:
            changes[name] = parse_prices(value)
    if data.traffic_gb is not None:
        changes["traffic_bytes"] = data.traffic_gb * GIB or None
    return changes


class AdminVpnController(Controller):
    path = "/v1/admin/vpn"
    tags = ["admin"]

    # -- servers ---------------------------------------------------------------------------------------------
    @get("/servers", operation_id="AdminListVpnServers")
    async def list_servers(self, admin: Principal, manage_servers: ManageServers,
                           group: Annotated[str | None, Parameter(max_length=32)] = None) -> list[ServerOut]:
        return [ServerOut.of(s) for s in await manage_servers.list(group=group)]

    @post("/servers", operation_id="AdminAddVpnServer", status_code=HTTP_201_CREATED)
    async def add_server(self, data: ServerIn, admin: Principal, manage_servers: ManageServers) -> ServerOut:
        """Add a panel. ``credentials`` (username/password/api_token; WireGuard: private_key, generated when
        omitted) are sealed at rest and never returned."""
        try:
            kind = ServerKind(data.kind)
        except ValueError:
            raise ValidationError(f"kind must be one of {', '.join(k.value for k in ServerKind)}",
                                  field="kind") from None
        server = await manage_servers.add(ServerDraft(
            kind=kind, name=data.name, address=data.address, credentials=data.credentials or {},
            settings=data.settings or {}, group=data.group, location=data.location, capacity=data.capacity,
            weight=data.weight, active=data.active), actor_id=admin.user_id)
        return ServerOut.of(await manage_servers.get(server.id))

    @get("/servers/{server_id:int}", operation_id="AdminGetVpnServer")
    async def get_server(self, server_id: int, admin: Principal, manage_servers: ManageServers) -> ServerOut:
        return ServerOut.of(await manage_servers.get(server_id))

    @patch("/servers/{server_id:int}", operation_id="AdminUpdateVpnServer")
    async def update_server(self, server_id: int, data: ServerPatchIn, admin: Principal,
                            manage_servers: ManageServers) -> ServerOut:
        changes = {name: getattr(data, name) for name in ("name", "address", "credentials", "settings", "group",
                                                           "location", "capacity", "weight", "active")
                   if getattr(data, name) is not None}
        await manage_servers.update(server_id, changes, actor_id=admin.user_id)
        return ServerOut.of(await manage_servers.get(server_id))

    @delete("/servers/{server_id:int}", operation_id="AdminRemoveVpnServer", status_code=HTTP_204_NO_CONTENT)
    async def remove_server(self, server_id: int, admin: Principal, manage_servers: ManageServers) -> None:
        """Only a server that never held accounts; otherwise 409 (deactivate it with PATCH active=false)."""
        await manage_servers.remove(server_id, actor_id=admin.user_id)

    @get("/servers/{server_id:int}/status", operation_id="AdminVpnServerStatus")
    async def server_status(self, server_id: int, admin: Principal, manage_servers: ManageServers) -> ServerStatusOut:
        """Ask the panel now (also records online/offline for the public list)."""
        return ServerStatusOut.of(await manage_servers.status(server_id))

    @get("/servers/{server_id:int}/wireguard-config", operation_id="AdminVpnServerWireGuardConfig",
         media_type="text/plain")
    async def wireguard_config(self, server_id: int, admin: Principal, manage_servers: ManageServers) -> str:
        """WireGuard servers: ``/etc/wireguard/<if>.conf`` for wg-quick, listing every enabled peer."""
        return await manage_servers.server_config(server_id)

    @post("/servers/{server_id:int}/sync", operation_id="AdminSyncVpnServer", status_code=HTTP_200_OK)
    async def sync(self, server_id: int, admin: Principal, sync_usage: SyncUsage) -> SyncOut:
        """Read the panel's counters into the accounts now; returns the threshold events crossed."""
        report = await sync_usage(server_id)
        return SyncOut(server_id=report.server_id, seen=report.seen, updated=report.updated,
                       unknown_keys=report.unknown_keys, status_changes=report.status_changes,
                       events=[UsageEventOut(account_id=e.account_id, user_id=e.user_id, kind=e.kind.value,
                                             threshold=e.threshold, value=e.value) for e in report.events])

    # -- plans -----------------------------------------------------------------------------------------------
    @get("/plans", operation_id="AdminListPlans")
    async def list_plans(self, admin: Principal, manage_plans: ManagePlans) -> list[PlanOut]:
        return [PlanOut.of(p) for p in await manage_plans.list(active_only=False)]

    @post("/plans", operation_id="AdminCreatePlan", status_code=HTTP_201_CREATED)
    async def create_plan(self, data: PlanIn, admin: Principal, manage_plans: ManagePlans) -> PlanOut:
        plan = await manage_plans.create(PlanDraft(
            name=data.name, prices=parse_prices(data.prices), duration_days=data.duration_days,
            traffic_bytes=data.traffic_gb * GIB if data.traffic_gb else None, description=data.description,
            device_limit=data.device_limit, protocol=data.protocol, server_group=data.server_group,
            start_on_first_use=data.start_on_first_use, active=data.active,
            extra_gb_prices=parse_prices(data.extra_gb_prices), extra_day_prices=parse_prices(data.extra_day_prices),
            traffic_reset=data.traffic_reset, transport=data.transport),  # type: ignore[arg-type]  # domain checks
            actor_id=admin.user_id)
        return PlanOut.of(plan)

    @get("/plans/{plan_id:int}", operation_id="AdminGetPlan")
    async def get_plan(self, plan_id: int, admin: Principal, manage_plans: ManagePlans) -> PlanOut:
        return PlanOut.of(await manage_plans.get(plan_id))

    @patch("/plans/{plan_id:int}", operation_id="AdminUpdatePlan")
    async def update_plan(self, plan_id: int, data: PlanPatchIn, admin: Principal,
                          manage_plans: ManagePlans) -> PlanOut:
        return PlanOut.of(await manage_plans.update(plan_id, _plan_changes(data), actor_id=admin.user_id))

    @delete("/plans/{plan_id:int}", operation_id="AdminDeactivatePlan", status_code=HTTP_204_NO_CONTENT)
    async def deactivate_plan(self, plan_id: int, admin: Principal, manage_plans: ManagePlans) -> None:
        """Plans are never deleted (accounts refer to them): this takes the plan off sale."""
        await manage_plans.update(plan_id, {"active": False}, actor_id=admin.user_id)

    # -- price lists (resellers) -----------------------------------------------------------------------------
    @get("/price-lists/{user_id:int}", operation_id="AdminGetVpnPriceList")
    async def price_list(self, user_id: int, admin: Principal,
                         vpn_price_lists: ManagePriceLists) -> list[PriceListOut]:
        return [PriceListOut.of(e) for e in await vpn_price_lists.list(user_id)]

    @put("/price-lists/{user_id:int}", operation_id="AdminSetVpnPriceList")
    async def set_price_list(self, user_id: int, data: PriceListIn, admin: Principal,
                             vpn_price_lists: ManagePriceLists) -> PriceListOut:
        """Set (or replace) the user's price for one plan or every plan: used by purchase, renewal and add-ons."""
        entry = await vpn_price_lists.set(actor_id=admin.user_id, user_id=user_id, plan_id=data.plan_id,
                                          discount_bp=parse_discount(data.discount_percent),
                                          prices=parse_prices(data.prices))
        return PriceListOut.of(entry)

    @delete("/price-lists/{user_id:int}", operation_id="AdminRemoveVpnPriceList", status_code=HTTP_204_NO_CONTENT)
    async def remove_price_list(self, user_id: int, admin: Principal, vpn_price_lists: ManagePriceLists,
                                plan_id: Annotated[int | None, Parameter(ge=1, le=2**62)] = None) -> None:
        if not await vpn_price_lists.remove(actor_id=admin.user_id, user_id=user_id, plan_id=plan_id):
            raise NotFoundError("no such price list entry", code="PRICE_LIST_ENTRY_NOT_FOUND")

    # -- accounts --------------------------------------------------------------------------------------------
    @get("/accounts", operation_id="AdminListVpnAccounts")
    async def list_accounts(self, admin: Principal, vpn_accounts: VpnAccounts,
                            user_id: Annotated[int | None, Parameter(ge=1, le=2**62)] = None,
                            server_id: Annotated[int | None, Parameter(ge=1, le=2**62)] = None,
                            status: Annotated[str | None, Parameter(max_length=16)] = None, limit: Limit = 50,
                            before_id: BeforeId = None) -> list[AccountOut]:
        found = await vpn_accounts.list(user_id, status=_status(status), server_id=server_id, limit=limit,
                                        before_id=before_id)
        return [AccountOut.of(a) for a in found]

    @post("/accounts/{account_id:int}/disable", operation_id="AdminDisableVpnAccount", status_code=HTTP_200_OK)
    async def disable(self, account_id: int, admin: Principal, admin_accounts: AdminAccounts) -> AccountOut:
        return AccountOut.of(await admin_accounts.set_enabled(admin.user_id, account_id, False))

    @post("/accounts/{account_id:int}/enable", operation_id="AdminEnableVpnAccount", status_code=HTTP_200_OK)
    async def enable(self, account_id: int, admin: Principal, admin_accounts: AdminAccounts) -> AccountOut:
        return AccountOut.of(await admin_accounts.set_enabled(admin.user_id, account_id, True))

    @post("/accounts/{account_id:int}/revoke", operation_id="AdminRevokeVpnAccount", status_code=HTTP_200_OK)
    async def revoke(self, account_id: int, admin: Principal, revoke_account: RevokeAccount) -> AccountOut:
        return AccountOut.of(await revoke_account(None, account_id, actor_id=admin.user_id))
