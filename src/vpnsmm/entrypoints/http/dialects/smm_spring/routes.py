"""smm-spring user-facing endpoints: /api/v1/auth, orders, balance, service, api-keys and /api/v2/webhooks."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.params import Parameter

from vpnsmm.application.billing import HandleGatewayNotice, Wallets
from vpnsmm.application.identity import (
    FindUser,
    Login,
    Logout,
    LogoutAll,
    ManageApiKeys,
    Principal,
    RefreshSession,
    RegisterUser,
    RegisterUserCommand,
    TokenPair,
)
from vpnsmm.application.operations import StartDeposit, WalletStatement
from vpnsmm.application.smm import NewOrder, PlaceOrder, SmmCatalogue, SmmOrders
from vpnsmm.config import Settings
from vpnsmm.domain.billing import Gateway
from vpnsmm.domain.errors import AuthenticationError, NotFoundError, ValidationError
from vpnsmm.domain.identity import Role, User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm_orders import OrderFilter
from vpnsmm.entrypoints.http.dialects.smm_spring import wire
from vpnsmm.entrypoints.http.dialects.smm_spring.schemas import (
    DepositIn,
    FundsIn,
    LoginIn,
    OrderIn,
    RefreshIn,
    RegisterIn,
)

Page = Annotated[int, Parameter(ge=0, le=10**6)]
#: Ids in paths: beyond 2**62 no row can exist (and PostgreSQL's bigint would overflow), so 400, not a 500.
PathId = Annotated[int, Parameter(ge=1, le=2**62)]
Size = Annotated[int, Parameter(ge=1, le=10**6)]
_REFRESH_COOKIE = "refreshToken"


def shop_currency(settings: Settings) -> Currency:
    return Currency.parse(settings.default_currency)


def role_name(role: Role) -> str:
    return role.value.upper()


def _tokens(pair: TokenPair) -> dict[str, Any]:
    user = pair.user
    body = {"id": user.id, "username": user.username, "email": user.email, "role": role_name(user.role),
            "token": pair.access.token, "refreshToken": pair.refresh_token, "tokenType": "Bearer",
            "expiresIn": pair.access.expires_in}
    return body


def _with_cookie(body: dict[str, Any], pair: TokenPair, status: int) -> Response[Any]:
    response: Response[Any] = Response(body, status_code=status)
    max_age = max(0, int(pair.refresh_expires_at.timestamp() - time.time()))
    response.set_cookie(_REFRESH_COOKIE, pair.refresh_token, max_age=max_age, httponly=True, samesite="strict",
                        path="/api/v1/auth")
    return response


# ------------------------------------------------------------------------------------------ auth
@post("/api/v1/auth/register", status_code=201, security=[])
async def register(data: RegisterIn, register_user: RegisterUser, login: Login) -> Response[Any]:
    """Create a USER account and log it in (the same users as every API). 409 when the name is taken."""
    if data.confirm_password is not None and data.confirm_password != data.password:
        raise ValidationError("passwords do not match", field="confirmPassword")
    await register_user(RegisterUserCommand(username=data.username, password=data.password, email=data.email))
    pair = await login(data.username, data.password)
    return _with_cookie(_tokens(pair), pair, 201)


@post("/api/v1/auth/login", status_code=200, security=[])
async def login_(data: LoginIn, login: Login) -> Response[Any]:
    pair = await login(data.username, data.password)
    return _with_cookie(_tokens(pair), pair, 200)


@post("/api/v1/auth/refresh", status_code=200, security=[])
async def refresh(request: Request[Any, Any, Any], refresh_session: RefreshSession,
                  data: RefreshIn | None = None) -> Response[Any]:
    """Rotating refresh: the token works once (body ``refreshToken`` or the HttpOnly cookie)."""
    token = (data.refresh_token if data else None) or request.cookies.get(_REFRESH_COOKIE)
    if not token:
        raise AuthenticationError("refreshToken is required", code="INVALID_TOKEN")
    pair = await refresh_session(token)
    return _with_cookie({"accessToken": pair.access.token, "refreshToken": pair.refresh_token}, pair, 200)


async def _balance_text(wallets: Wallets, user: User, currency: Currency) -> str:
    return wire.money((await wallets.balance(user.id, currency)).balance)


@get("/api/v1/auth/me")
async def me(principal: Principal, wallets: Wallets, settings: Settings) -> dict[str, Any]:
    user = principal.user
    return {"id": user.id, "username": user.username, "email": user.email, "role": role_name(user.role),
            "balance": await _balance_text(wallets, user, shop_currency(settings))}


async def _key_info(api_keys: ManageApiKeys, user_id: int) -> dict[str, Any]:
    keys = sorted(await api_keys.list(user_id), key=lambda k: k.id)
    live = [k for k in keys if k.revoked_at is None]
    current = live[-1] if live else None
    rotated = current is not None and any(k.revoked_at is not None for k in keys)
    return {"hasApiKey": current is not None,
            "lastRotated": wire.iso(current.created_at) if current is not None and rotated else None,
            "createdAt": wire.iso(keys[0].created_at) if keys and current is not None else None}


@get("/api/v1/auth/profile")
async def profile(principal: Principal, wallets: Wallets, api_keys: ManageApiKeys,
                  settings: Settings) -> dict[str, Any]:
    user = principal.user
    info = await _key_info(api_keys, user.id)
    return {"id": user.id, "username": user.username, "email": user.email, "role": role_name(user.role),
            "balance": await _balance_text(wallets, user, shop_currency(settings)), "isActive": user.is_active,
            "hasApiKey": info["hasApiKey"], "apiKeyLastRotated": info["lastRotated"],
            "createdAt": wire.iso(user.joined_at), "updatedAt": None}


@post("/api/v1/auth/logout", status_code=200)
async def logout_(principal: Principal, logout: Logout) -> dict[str, Any]:
    """End this session (its access and refresh tokens stop working now)."""
    await logout(principal)
    return {"success": True, "message": "Logged out successfully"}


@post("/api/v1/auth/logout-all", status_code=200)
async def logout_all_(principal: Principal, logout_all: LogoutAll) -> dict[str, Any]:
    count = await logout_all(principal.user_id)
    return {"success": True, "message": "Logged out from all devices", "sessionsRevoked": count}


# ------------------------------------------------------------------------------------------ orders
@post("/api/v1/orders", status_code=201)
async def create_order(data: OrderIn, principal: Principal, place_smm_order: PlaceOrder) -> dict[str, Any]:
    """Charge the balance and place the order. 402 when the balance is short, 404 for an unknown service."""
    order = await place_smm_order(NewOrder(user_id=principal.user_id, service_id=data.service, link=data.link,
                                           quantity=data.quantity))
    return wire.success(wire.order_json(order), "Order created successfully")


@get("/api/v1/orders")
async def list_orders(principal: Principal, smm_orders: SmmOrders,
                      status: Annotated[str | None, Parameter(max_length=32)] = None, page: Page = 0,
                      size: Size = 20, sort: Annotated[str, Parameter(max_length=32)] = "createdAt",
                      direction: Annotated[str, Parameter(max_length=8)] = "desc") -> dict[str, Any]:
    wanted = wire.statuses(status)
    size = wire.page_size(size)
    key, desc = wire.sort_key(sort), wire.descending(direction)
    items, total = await smm_orders.search(OrderFilter(user_id=principal.user_id, statuses=wanted), limit=size,
                                           offset=page * size, sort=key, descending=desc)
    body = wire.page_json([wire.order_json(o) for o in items], total, page, size)
    return wire.success(body, "Orders retrieved successfully")


@get("/api/v1/orders/{order_id:int}")
async def get_order(order_id: PathId, principal: Principal, smm_orders: SmmOrders) -> dict[str, Any]:
    """Another user's order is 404."""
    return wire.success(wire.order_json(await smm_orders.get(principal.user_id, order_id), detail=True),
                        "Order retrieved successfully")


@post("/api/v1/orders/{order_id:int}/cancel", status_code=200)
async def cancel_order(order_id: PathId, principal: Principal, smm_orders: SmmOrders) -> Response[Any]:
    """Cancel: refunded at once if not yet at the provider, otherwise when the provider confirms. An order that
    cannot be canceled answers 400 with ``success: false``."""
    (result,) = await smm_orders.cancel(principal.user_id, [order_id])
    if result.code == "ORDER_NOT_FOUND":
        await smm_orders.get(principal.user_id, order_id)  # raises the 404
    if not result.accepted:
        raise ValidationError(result.message or "Order cannot be cancelled", field="id",
                              code=result.code or "CANCEL_NOT_ALLOWED")
    return Response({"success": True, "message": "Order cancelled successfully", "timestamp": wire.now_iso()},
                    status_code=200)


# ------------------------------------------------------------------------------------------ balance
@get("/api/v1/balance")
async def balance(principal: Principal, wallets: Wallets, settings: Settings) -> dict[str, Any]:
    currency = shop_currency(settings)
    found = await wallets.balance(principal.user_id, currency)
    latest = await wallets.history(principal.user_id, currency, limit=1)
    return {"balance": wire.money(found.balance), "currency": currency.value,
            "lastUpdated": wire.iso(latest[0].timestamp) if latest else None}


@post("/api/v1/balance/deposit", status_code=200)
async def deposit(data: DepositIn, principal: Principal, start_deposit: StartDeposit, wallets: Wallets,
                  find_user: FindUser, settings: Settings) -> dict[str, Any]:
    """Money never appears here: this opens a top-up invoice at an online gateway (Cryptomus first) and returns
    its payment page. The balance rises once, when the gateway's verified confirmation arrives. An ADMIN naming
    ``userId``/``username`` credits that user at once instead (an audited operator credit, idempotent per
    ``idempotencyKey``)."""
    currency = shop_currency(settings)
    amount = wire.parse_amount(data.amount, currency)
    if data.user_id is not None or (data.username or "").strip():
        return await _admin_credit(data, amount, principal, wallets, find_user)
    method = None
    if data.method:
        try:
            method = Gateway(data.method.strip().lower())
        except ValueError:
            raise ValidationError("method must be cryptomus or zarinpal", field="method") from None
    started = await start_deposit(principal.user_id, amount, description=data.description, gateway=method,
                                  customer_email=principal.user.email)
    current = await wallets.balance(principal.user_id, currency)
    payment = started.instructions.payment
    return {"success": True, "newBalance": wire.money(current.balance),
            "message": "Payment created; your balance is credited when the payment completes",
            "status": "PENDING", "paymentUrl": started.instructions.redirect_url, "paymentId": payment.id,
            "invoiceId": started.instructions.invoice.id, "paymentMethod": started.gateway.value.upper(),
            "amount": wire.money(amount), "currency": currency.value}


async def _admin_credit(data: DepositIn, amount: Money, principal: Principal, wallets: Wallets,
                        find_user: FindUser) -> dict[str, Any]:
    principal.require(Role.ADMIN)
    if data.user_id is not None:
        target = await find_user(data.user_id)
    else:
        name = (data.username or "").strip()
        target = await find_user(name)
        if target.username.casefold() != name.casefold():  # FindUser also takes ids; a name was given
            raise NotFoundError(f"no user {name!r}", code="USER_NOT_FOUND")
    key = data.idempotency_key or f"spring-deposit-{secrets.token_hex(12)}"
    entry = await wallets.adjust(actor_id=principal.user_id, user_id=target.id, amount=amount,
                                 reason=(data.description or "Deposit by an operator").strip() or "Deposit",
                                 idempotency_key=key)
    return {"success": True, "newBalance": wire.money(Money(entry.balance_after, entry.currency)),
            "message": "Funds added successfully", "status": "COMPLETED", "userId": target.id,
            "amount": wire.money(amount), "currency": entry.currency.value, "transactionId": entry.id}


@get("/api/v1/balance/transactions")
async def transactions(principal: Principal, wallet_statement: WalletStatement, settings: Settings,
                       page: Page = 0, size: Size = 20) -> dict[str, Any]:
    size = wire.page_size(size)
    entries, total = await wallet_statement.page(principal.user_id, shop_currency(settings), page=page, size=size)
    return wire.page_json([wire.entry_json(e) for e in entries], total, page, size)


@get("/api/v1/balance/transactions/recent")
async def recent_transactions(principal: Principal, wallet_statement: WalletStatement,
                              settings: Settings) -> dict[str, Any]:
    """The last 10 transactions, in the same page format."""
    entries, total = await wallet_statement.page(principal.user_id, shop_currency(settings), page=0, size=10)
    return wire.page_json([wire.entry_json(e) for e in entries], total, 0, 10)


@post("/api/v1/balance/check-funds", status_code=200)
async def check_funds(data: FundsIn, principal: Principal, wallets: Wallets, settings: Settings) -> dict[str, Any]:
    currency = shop_currency(settings)
    amount = wire.parse_amount(data.amount, currency)
    found = await wallets.balance(principal.user_id, currency)
    return {"hasSufficientFunds": found.available.amount >= amount.amount,
            "currentBalance": wire.money(found.balance), "requiredAmount": wire.money(amount)}


# ------------------------------------------------------------------------------------------ services
@get("/api/v1/service/services", security=[])
async def services(smm_catalogue: SmmCatalogue) -> dict[str, Any]:
    """Every active service at list prices (per 1000 units); no authentication, as documented."""
    found = await smm_catalogue.services(active=True)
    return {"data": [{"id": p.service.id, "name": p.service.name, "category": p.category,
                      "type": p.service.type.value, "rate": wire.money(p.rate), "min": p.service.min,
                      "max": p.service.max, "description": p.service.description, "dripfeed": p.service.dripfeed,
                      "refill": p.service.refill, "cancel": p.service.cancel} for p in found],
            "success": True, "timestamp": wire.now_iso()}


# ------------------------------------------------------------------------------------------ API keys
@post("/api/v1/api-keys/generate", status_code=200)
async def generate_key(principal: Principal, api_keys: ManageApiKeys) -> dict[str, Any]:
    """One key per user, as the document models it: a new key replaces any live one. Shown only here."""
    new = await api_keys.rotate(principal.user_id)
    return {"apiKey": new.secret, "createdAt": wire.iso(new.info.created_at),
            "message": "API key generated successfully. Store it securely as it won't be shown again."}


@post("/api/v1/api-keys/rotate", status_code=200)
async def rotate_key(principal: Principal, api_keys: ManageApiKeys) -> dict[str, Any]:
    """404 when there is no live key to rotate (generate one first)."""
    if not any(k.revoked_at is None for k in await api_keys.list(principal.user_id)):
        raise NotFoundError("no API key to rotate; generate one first", code="API_KEY_NOT_FOUND")
    new = await api_keys.rotate(principal.user_id)
    return {"apiKey": new.secret, "rotatedAt": wire.iso(new.info.created_at),
            "message": "API key rotated successfully. The old key is now invalid."}


@delete("/api/v1/api-keys/revoke", status_code=200)
async def revoke_key(principal: Principal, api_keys: ManageApiKeys) -> dict[str, Any]:
    """Idempotent: revoking without a key succeeds too."""
    count = await api_keys.revoke(principal.user_id)
    return {"success": True, "message": "API key revoked successfully", "revoked": count}


@get("/api/v1/api-keys/info")
async def key_info(principal: Principal, api_keys: ManageApiKeys) -> dict[str, Any]:
    return await _key_info(api_keys, principal.user_id)


# ------------------------------------------------------------------------------------------ webhooks
@post("/api/v2/webhooks/cryptomus", status_code=200, security=[])
async def cryptomus_webhook(request: Request[Any, Any, Any], gateway_notices: HandleGatewayNotice) -> dict[str, Any]:
    """Cryptomus payment notices, handled by billing: the signature is verified (a bad one is 401 and writes
    nothing), the gateway is asked what happened, and a paid payment credits the wallet exactly once."""
    body = await request.body()
    client = request.client.host if request.client else None
    await gateway_notices.webhook(Gateway.CRYPTOMUS, body, dict(request.headers), client)
    return {"status": "success"}


@post("/api/v2/webhooks/test", status_code=200, security=[])
async def test_webhook(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Echo check for webhook senders: acknowledges with the server time in milliseconds. Stores nothing."""
    await request.body()
    return {"status": "received", "timestamp": str(int(time.time() * 1000))}


@get("/api/v2/webhooks/health", security=[])
async def webhooks_health() -> dict[str, Any]:
    return {"status": "healthy", "service": "webhooks"}


USER_ROUTES = [register, login_, refresh, me, profile, logout_, logout_all_, create_order, list_orders, get_order,
               cancel_order, balance, deposit, transactions, recent_transactions, check_funds, services,
               generate_key, rotate_key, revoke_key, key_info, cryptomus_webhook, test_webhook, webhooks_health]
