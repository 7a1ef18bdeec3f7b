"""The only place Litestar DI meets the container: use cases by name, and the caller's Principal."""

from __future__ import annotations

from typing import Any

from attrs import frozen
from litestar import Request
from litestar.di import Provide

from vpnsmm.application.billing import Wallets
from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.application.smm import PlaceOrder, SmmCatalogue, SmmOrders
from vpnsmm.config import Settings
from vpnsmm.container import Container
from vpnsmm.domain.errors import AuthenticationError
from vpnsmm.domain.identity import Role

#: Container providers handed to handlers under the same name.
USE_CASES = (
    "register_user", "login", "refresh_session", "logout", "logout_all", "authenticate", "get_user", "find_user",
    "update_profile", "change_password", "list_users", "set_user_status", "set_user_role", "api_keys", "uow",
    "settings",
    # money
    "wallets", "create_invoice", "get_invoice", "cancel_invoice", "pay_invoice", "gateway_notices",
    "submit_card_receipt", "review_card_payment", "list_payments", "reconcile_payments",
    # smm
    "smm_catalogue", "place_smm_order", "smm_orders", "sync_smm_orders", "smm_admin_orders", "smm_manage_providers",
    "smm_manage_services", "smm_stats", "smm_subscriptions",
    # vpn
    "manage_plans", "manage_servers", "buy_plan", "renew_account", "buy_addon", "vpn_accounts", "revoke_account",
    "admin_accounts", "sync_usage", "enforce_limits", "vpn_price_lists",
    # events and webhooks
    "manage_webhooks", "event_subscriptions",
    # vpn dialects (v2ray, ru-vpn)
    "login_by_identifier", "payment_methods", "verify_card_payment", "vpn_billing_views",
    # the candypanel dialect
    "candypanel_setup", "candypanel_clients", "candypanel_interfaces", "candypanel_tokens", "candypanel_sync",
    "candypanel_bot",
    # operator capabilities (application/operations.py) and live events
    "system_status", "manage_youtube_accounts", "service_coefficients", "operator_log", "start_deposit",
    "wallet_statement", "count_users", "event_bus",
)


def _provider(container: Container, name: str) -> Provide:
    provider = getattr(container, name)

    def resolve() -> Any:
        return provider()

    return Provide(resolve, sync_to_thread=False, use_cache=True)


async def resolve_principal(request: Request[Any, Any, Any], authenticate: Authenticate) -> Principal:
    """The caller, from ``Authorization: Bearer <jwt>`` or ``X-API-Key``. Raises AuthenticationError (401)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>'", code="INVALID_TOKEN")
        return await authenticate.access_token(token.strip())
    key = request.headers.get("x-api-key")
    if key:
        return await authenticate.api_key(key)
    raise AuthenticationError("authentication required", code="UNAUTHORIZED")


async def resolve_admin(principal: Principal) -> Principal:
    """The caller, who must hold the admin role (403 otherwise)."""
    principal.require(Role.ADMIN)
    return principal


async def resolve_operator(principal: Principal) -> Principal:
    principal.require(Role.OPERATOR)
    return principal


@frozen
class PerfectPanelUseCases:
    """Everything ``/api/v2`` calls, as one dependency. Litestar resolves two or more dependencies of a handler
    concurrently, in an anyio task group per request; for the busiest endpoint that overhead was measurable
    (docs/performance.md), so it takes this single bundle instead."""

    authenticate: Authenticate
    catalogue: SmmCatalogue
    place: PlaceOrder
    orders: SmmOrders
    wallets: Wallets
    settings: Settings


def _perfect_panel(container: Container) -> Provide:
    def resolve() -> PerfectPanelUseCases:
        return PerfectPanelUseCases(authenticate=container.authenticate(), catalogue=container.smm_catalogue(),
                                    place=container.place_smm_order(), orders=container.smm_orders(),
                                    wallets=container.wallets(), settings=container.settings())

    return Provide(resolve, sync_to_thread=False, use_cache=True)


def http_dependencies(container: Container) -> dict[str, Provide]:
    deps = {name: _provider(container, name) for name in USE_CASES}
    deps["perfect_panel"] = _perfect_panel(container)
    deps["principal"] = Provide(resolve_principal)
    deps["admin"] = Provide(resolve_admin)
    deps["operator"] = Provide(resolve_operator)
    return deps
