"""The V2Ray Account Management System API (v2ray-account-api.md): Django-REST-style paths with trailing
slashes, ``access``/``refresh`` JWTs, ``{"error", "detail"}`` errors. Thin: every call is a shared use case.

Amounts are Iranian rials (IRR minor units are rials). See docs/dialects/v2ray.md for every choice made
where the document is silent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from litestar import Controller, MediaType, Request, Response, get, patch, post
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED
from msgspec import UNSET, Meta, Struct, UnsetType

from vpnsmm.application.identity import Authenticate, Login, Principal, ProfileUpdate, RefreshSession, UpdateProfile
from vpnsmm.application.vpn import BuyPlan, BuyPlanCommand, ManagePlans, ManageServers, VpnAccounts
from vpnsmm.application.vpn_dialects import PaymentMethods, VerifyCardPayment
from vpnsmm.domain.billing import Gateway
from vpnsmm.domain.errors import (
    AuthenticationError,
    InsufficientFundsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency
from vpnsmm.domain.payments import CardTransferClaim
from vpnsmm.domain.vpn import ServerStatus
from vpnsmm.domain.vpn_sales import Plan, Server, ServerKind, VpnAccount
from vpnsmm.entrypoints.http.dialects.vpn_wire import (
    bearer_principal,
    config_text,
    path_id,
    protocol_of,
    public_host,
    validation_detail,
)

log = structlog.get_logger("vpnsmm.http")

#: The currency of every amount in this dialect (the document's Zarinpal amounts are rials).
CURRENCY = Currency.IRR

Id = Annotated[int, Meta(ge=1, le=2**62)]
Amount = Annotated[int, Meta(ge=1, le=10**15)]
Name = Annotated[str, Meta(max_length=100)]


# ------------------------------------------------------------------------------------------ errors
_TITLES = {400: "Invalid input", 401: "Authentication required", 403: "Permission denied", 404: "Not found",
           405: "Method not allowed", 413: "Request too large", 415: "Unsupported media type",
           429: "Too many requests", 500: "Server error"}


def early_error_body(_path: str, status: int, message: str) -> dict[str, Any]:
    """Errors raised before this router's handlers run (the rate limiter's 429, routing's 404/405 on its
    paths) in the document's ``{"error", "detail"}`` format."""
    return {"error": _TITLES.get(status, "Error"), "detail": message}


def error(status: int, detail: str, title: str | None = None) -> Response[Any]:
    return Response({"error": title or _TITLES.get(status, "Error"), "detail": detail}, status_code=status,
                    media_type=MediaType.JSON,
                    headers={"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else None)


def _domain_error(_: Request[Any, Any, Any], exc: VpnsmmError) -> Response[Any]:
    # The document lists 400/401/403/404/500 only: conflicts, short balances and refused transitions are
    # client mistakes (400); a panel or gateway failure is a server error (500) with its reason, no traceback.
    if isinstance(exc, AuthenticationError):
        title = "Authentication required" if exc.code == "UNAUTHORIZED" else "Authentication failed"
        return error(401, exc.message, title)
    if isinstance(exc, PermissionDeniedError):
        return error(403, exc.message)
    if isinstance(exc, NotFoundError):
        return error(404, exc.message)
    if isinstance(exc, RateLimitedError):
        response = error(429, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, UpstreamError):
        log.warning("v2ray_upstream_error", code=exc.code)
        return error(500, exc.message)
    field: object = exc.field if isinstance(exc, ValidationError) else exc.details.get("field")
    short = "Insufficient funds" if isinstance(exc, InsufficientFundsError) else None
    return error(400, f"Field '{field}': {exc.message}" if field else exc.message, short)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return error(400, validation_detail(exc)[1])
    if exc.status_code >= 500:
        log.error("v2ray_http_error", status=exc.status_code)
        return error(500, "internal error")
    return error(exc.status_code, str(exc.detail))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error=type(exc).__name__)
    return error(500, "internal error")


EXCEPTION_HANDLERS: dict[Any, Any] = {ValidationException: _http_error, HTTPException: _http_error,
                                      VpnsmmError: _domain_error, Exception: _unexpected}


async def _principal(request: Request[Any, Any, Any], authenticate: Authenticate) -> Principal:
    # simplejwt clients send "Bearer"; older django-rest-framework-jwt clients send "JWT".
    return await bearer_principal(request, authenticate, ("bearer", "jwt"))


_AUTH = {"principal": Provide(_principal)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# ------------------------------------------------------------------------------------------ auth
class TokenIn(Struct):
    username: Annotated[str, Meta(max_length=256)]
    password: Annotated[str, Meta(max_length=1024)]


class RefreshIn(Struct):
    refresh: Annotated[str, Meta(max_length=512)]


class AuthController(Controller):
    path = "/api/v1/auth/token"
    tags = ["dialect: v2ray"]

    @post("/", status_code=HTTP_200_OK, security=[])
    async def token(self, data: TokenIn, login: Login) -> dict[str, str]:
        """``{access, refresh}`` for a username and password (401 on any mismatch)."""
        pair = await login(data.username, data.password)
        return {"access": pair.access.token, "refresh": pair.refresh_token}

    @post("/refresh/", status_code=HTTP_200_OK, security=[])
    async def refresh(self, data: RefreshIn, refresh_session: RefreshSession) -> dict[str, str]:
        """A new ``access`` token, and the rotated ``refresh`` token: refresh tokens work once here, so a
        client must keep the new one (a reused refresh token ends the session)."""
        pair = await refresh_session(data.refresh)
        return {"access": pair.access.token, "refresh": pair.refresh_token}


# ------------------------------------------------------------------------------------------ users
def _user(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email or "", "first_name": user.first_name,
            "last_name": user.last_name, "telegram_id": str(user.telegram_id) if user.telegram_id else None,
            "is_active": user.is_active, "date_joined": _iso(user.joined_at)}


class UserPatchIn(Struct):
    first_name: Name | UnsetType = UNSET
    last_name: Name | UnsetType = UNSET
    email: Annotated[str, Meta(max_length=254)] | UnsetType | None = UNSET
    telegram_id: Annotated[str, Meta(max_length=20)] | Annotated[int, Meta(ge=0)] | UnsetType | None = UNSET


class UsersController(Controller):
    path = "/api/v1/users/me"
    tags = ["dialect: v2ray"]
    dependencies = _AUTH

    @get("/")
    async def me(self, principal: Principal) -> dict[str, Any]:
        return _user(principal.user)

    @patch("/")
    async def update(self, data: UserPatchIn, principal: Principal, update_profile: UpdateProfile) -> dict[str, Any]:
        """Partial update of first_name, last_name, email (``""`` or null clears it) and telegram_id."""
        email = data.email
        telegram = data.telegram_id
        change = ProfileUpdate(
            email=email if isinstance(email, str) and email.strip() else None,
            clear_email=email is None or (isinstance(email, str) and not email.strip()),
            first_name=data.first_name if isinstance(data.first_name, str) else None,
            last_name=data.last_name if isinstance(data.last_name, str) else None,
            telegram_id=telegram if isinstance(telegram, int | str) and str(telegram).strip() else None)
        return _user(await update_profile(principal.user_id, change))


# ------------------------------------------------------------------------------------------ accounts
def _account(account: VpnAccount) -> dict[str, Any]:
    return {"id": account.id, "name": account.client_key, "status": account.status.value,
            "created_at": _iso(account.created_at), "expires_at": _iso(account.expires_at),
            "traffic_limit": account.traffic_limit_bytes or 0, "traffic_used": account.period_used_bytes,
            "config": config_text(account)}


def _inbound(server: Server, account: VpnAccount) -> dict[str, Any]:
    inbound_id = server.settings.get("inbound_id")
    if server.kind is ServerKind.XUI and type(inbound_id) is int:
        return {"id": inbound_id, "protocol": protocol_of(account, server), "tag": f"inbound-{inbound_id}"}
    protocol = protocol_of(account, server)
    tags = server.settings.get("inbounds")
    tag = None
    if isinstance(tags, dict) and isinstance(tags.get(protocol), list) and tags[protocol]:
        tag = str(tags[protocol][0])
    return {"id": 1, "protocol": protocol, "tag": tag or f"{server.kind.value}-{server.id}"}


class AccountsController(Controller):
    path = "/api/v1/v2ray/accounts"
    tags = ["dialect: v2ray"]
    dependencies = _AUTH

    @get("/")
    async def list_accounts(self, principal: Principal, vpn_accounts: VpnAccounts) -> list[dict[str, Any]]:
        """The caller's accounts, newest first (at most 500)."""
        return [_account(a) for a in await vpn_accounts.list(principal.user_id, limit=500)]

    @get("/{account_id:str}/")
    async def account(self, account_id: str, principal: Principal, vpn_accounts: VpnAccounts,
                      manage_servers: ManageServers) -> dict[str, Any]:
        """One of the caller's accounts with its panel and inbound; another user's id is 404."""
        account = await vpn_accounts.get(principal.user_id, path_id(account_id, "account"))
        server = (await manage_servers.get(account.server_id)).server
        return {**_account(account), "subscription_url": vpn_accounts.feed_url(account),
                "panel": {"id": server.id, "name": server.name, "url": f"https://{public_host(server)}"},
                "inbound": _inbound(server, account)}


# ------------------------------------------------------------------------------------------ plans
def _plan(plan: Plan) -> dict[str, Any] | None:
    price = plan.prices.get(CURRENCY)
    if price is None:
        return None
    return {"id": plan.id, "name": plan.name, "description": plan.description, "price": price.amount,
            "duration_days": plan.duration_days, "traffic_limit": plan.traffic_bytes or 0,
            "is_active": plan.active}


@get("/api/v1/plans/", tags=["dialect: v2ray"], security=[])
async def list_plans(manage_plans: ManagePlans) -> list[dict[str, Any]]:
    """Plans on sale in rials (plans without an IRR price are not sold through this API)."""
    return [p for p in (_plan(plan) for plan in await manage_plans.list(active_only=True)) if p is not None]


# ------------------------------------------------------------------------------------------ payments
class PaymentIn(Struct):
    plan_id: Id
    method: Annotated[str, Meta(max_length=16)] | None = None
    amount: Amount | None = None


class VerifyCardIn(Struct):
    payment_id: Id
    transaction_id: Annotated[str, Meta(min_length=1, max_length=40)] | Annotated[int, Meta(ge=0, le=10**18)]
    card_number: Annotated[str, Meta(min_length=4, max_length=32)]
    amount: Amount | None = None


def _card_tail(card_number: str) -> str:
    compact = "".join(ch for ch in card_number if not ch.isspace() and ch != "-")
    return compact[-4:]


class PaymentsController(Controller):
    path = "/api/v1/payments"
    tags = ["dialect: v2ray"]
    dependencies = _AUTH

    @post("/", status_code=HTTP_201_CREATED)
    async def create(self, data: PaymentIn, principal: Principal, buy_plan: BuyPlan, manage_plans: ManagePlans,
                     payment_methods: PaymentMethods) -> dict[str, Any]:
        """Buy ``plan_id``: ``zarinpal`` (default) returns ``payment_url`` (the StartPay page), ``card`` the card
        to transfer to (then verify-card-payment), ``wallet`` pays at once from the balance. ``amount``, when
        sent, must be the plan's price."""
        method = payment_methods.pick(data.method, prefer=(Gateway.ZARINPAL, Gateway.CARD), field="method")
        plan = await manage_plans.get(data.plan_id, active_only=True)
        if data.amount is not None and data.amount != plan.price_in(CURRENCY).amount:
            raise ValidationError(f"amount must be the plan's price ({plan.price_in(CURRENCY).amount})",
                                  field="amount", code="AMOUNT_MISMATCH")
        purchase = await buy_plan(BuyPlanCommand(user_id=principal.user_id, plan_id=plan.id, currency=CURRENCY,
                                                 gateway=method, email=principal.user.email))
        instructions = purchase.payment
        assert instructions is not None  # a gateway was always chosen
        payment = instructions.payment
        body: dict[str, Any] = {
            "id": payment.id, "amount": payment.amount.amount, "method": method.value,
            "status": payment.status.value, "created_at": _iso(payment.created_at),
            "updated_at": _iso(payment.updated_at or payment.created_at), "payment_url": instructions.redirect_url,
            "invoice_id": purchase.invoice.id, "plan_id": plan.id}
        if instructions.card is not None:
            card = instructions.card
            body["card"] = {"card_number": card.account.grouped, "holder": card.account.holder,
                            "bank": card.account.bank, "amount": card.amount.amount}
        result = purchase.invoice.item.get("result")
        if isinstance(result, dict) and type(result.get("account_id")) is int:
            body["account_id"] = result["account_id"]
        return body

    @post("/verify-card-payment/", status_code=HTTP_200_OK)
    async def verify_card(self, data: VerifyCardIn, principal: Principal,
                          verify_card_payment: VerifyCardPayment) -> Response[Any]:
        """Card-to-card. The owner's call records the transfer claim (202, ``success: false`` until an admin
        approves); an admin's call approves it (the claim must match the owner's), which pays the invoice once
        and provisions the account (200, ``success: true`` with the account). A rejected claim is 400."""
        claim = CardTransferClaim(transaction_id=str(data.transaction_id), card_last4=_card_tail(data.card_number))
        outcome = await verify_card_payment(principal, data.payment_id, claim, amount=data.amount)
        payment = outcome.payment
        if payment.status.value == "rejected":
            reason = payment.decision.text if payment.decision is not None else "rejected"
            return error(400, reason, "Payment rejected")
        account = None
        if outcome.account is not None:
            account = {"id": outcome.account.id, "name": outcome.account.client_key,
                       "config": config_text(outcome.account)}
        if outcome.verified:
            message = "Payment verified successfully" if account is not None \
                else "Payment verified; the account is being provisioned"
            return Response({"success": True, "message": message, "account": account, "payment_id": payment.id,
                             "status": payment.status.value}, status_code=HTTP_200_OK)
        return Response({"success": False, "message": "Transfer received; an admin will verify it",
                         "account": None, "payment_id": payment.id, "status": payment.status.value},
                        status_code=HTTP_202_ACCEPTED)


# ------------------------------------------------------------------------------------------ panels (admin)
def _inbounds_count(server: Server) -> int:
    inbounds = server.settings.get("inbounds")
    if server.kind is ServerKind.MARZBAN and isinstance(inbounds, dict):
        return sum(len(v) for v in inbounds.values() if isinstance(v, list)) or 1
    return 1  # a 3x-UI server sells one inbound; WireGuard and the fake one interface


def _uptime(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    days, rest = divmod(max(0, seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} day{'s' * (days != 1)}, {hours} hour{'s' * (hours != 1)}"
    if hours:
        return f"{hours} hour{'s' * (hours != 1)}, {rest // 60} minutes"
    return f"{rest // 60} minutes"


def _percent(used: int | None, total: int | None) -> float | None:
    return round(used * 100 / total, 1) if used is not None and total else None


def _status(server: Server, status: ServerStatus) -> dict[str, Any]:
    return {"id": server.id, "name": server.name, "status": "online" if status.online else "offline",
            "uptime": _uptime(status.uptime_seconds), "uptime_seconds": status.uptime_seconds,
            "cpu_usage": round(status.cpu_percent, 1) if status.cpu_percent is not None else None,
            "memory_usage": _percent(status.memory_used_bytes, status.memory_total_bytes),
            "disk_usage": _percent(status.disk_used_bytes, status.disk_total_bytes),
            "total_clients": status.total_clients, "active_clients": status.active_clients,
            "detail": status.detail}


class PanelsController(Controller):
    path = "/api/v1/panels"
    tags = ["dialect: v2ray"]
    dependencies = _AUTH

    @get("/")
    async def list_panels(self, admin: Principal, manage_servers: ManageServers) -> list[dict[str, Any]]:
        """Admin only (403 otherwise): every server with its live account count."""
        return [{"id": load.server.id, "name": load.server.name, "url": load.server.address,
                 "is_active": load.server.active, "inbounds_count": _inbounds_count(load.server),
                 "clients_count": load.accounts, "kind": load.server.kind.value,
                 "online": load.server.online} for load in await manage_servers.list()]

    @get("/{panel_id:str}/status/")
    async def panel_status(self, panel_id: str, admin: Principal, manage_servers: ManageServers) -> dict[str, Any]:
        """Admin only: asks the panel now (an unreachable panel is ``status: offline``)."""
        server_id = path_id(panel_id, "panel")
        server = (await manage_servers.get(server_id)).server
        return _status(server, await manage_servers.status(server_id))


def route_handlers() -> list[Any]:
    return [AuthController, UsersController, AccountsController, list_plans, PaymentsController, PanelsController]
