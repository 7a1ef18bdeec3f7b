"""The ru-vpn frontend's backend API (ru-vpn-frontend-spec.md): a Marzban-backed Go service's endpoints with
their JSON shapes. Amounts are kopecks (RUB minor units), durations seconds, dates ISO 8601, ids strings.
Errors are ``{"error": <message>, "code": <CODE>}``. Thin: every call is a shared use case.

See docs/dialects/ru-vpn.md for each endpoint and the choices made where the document says ``{...}``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from attrs import evolve
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Meta, Struct

from vpnsmm.application.billing import (
    CreateInvoice,
    GetInvoice,
    HandleGatewayNotice,
    NewInvoice,
    PayInvoice,
    PaymentInstructions,
    Wallets,
)
from vpnsmm.application.identity import (
    Authenticate,
    Logout,
    Principal,
    RefreshSession,
    RegisterUser,
    RegisterUserCommand,
    TokenPair,
)
from vpnsmm.application.vpn import (
    BuyPlan,
    BuyPlanCommand,
    ManagePlans,
    ManageServers,
    RenewAccount,
    RevokeAccount,
    VpnAccounts,
)
from vpnsmm.application.vpn_dialects import LoginByIdentifier, PaymentMethods, VpnBillingViews, account_of_invoice
from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose, Payment
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn_sales import Plan, VpnAccount
from vpnsmm.entrypoints.http.dialects.vpn_wire import (
    bearer_principal,
    client_secret_of,
    config_text,
    path_id,
    protocol_of,
    transport_of,
    validation_detail,
)

log = structlog.get_logger("vpnsmm.http")

#: Every amount of this dialect is in kopecks.
CURRENCY = Currency.RUB
#: Gateways tried, in order, when a request names no ``provider`` (the wallet when none is configured).
PREFERRED = (Gateway.CRYPTOMUS, Gateway.CARD)
TAG = ["dialect: ru-vpn"]

IdIn = Annotated[int, Meta(ge=1, le=2**62)] | Annotated[str, Meta(min_length=1, max_length=20)]
Kopecks = Annotated[int, Meta(ge=1, le=10**13)]
Provider = Annotated[str, Meta(max_length=16)]


# ------------------------------------------------------------------------------------------ errors
_EARLY_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 429: "RATE_LIMITED"}


def early_error_body(_path: str, status: int, message: str) -> dict[str, Any]:
    """Errors raised before this router's handlers run (the rate limiter's 429, routing's 404/405 on its
    paths) in this dialect's ``{"error", "code"}`` format."""
    return {"error": message, "code": _EARLY_CODES.get(status, "HTTP_ERROR")}


def error(status: int, message: str, code: str) -> Response[Any]:
    return Response({"error": message, "code": code}, status_code=status, media_type=MediaType.JSON,
                    headers={"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else None)


_STATUS: list[tuple[type[VpnsmmError], int]] = [
    (ValidationError, 400), (AuthenticationError, 401), (InsufficientFundsError, 402),
    (PermissionDeniedError, 403), (NotFoundError, 404), (ConflictError, 409), (InvalidTransitionError, 409),
    (RateLimitedError, 429), (UpstreamRejectedError, 502), (UpstreamUnavailableError, 503)]


def _domain_error(_: Request[Any, Any, Any], exc: VpnsmmError) -> Response[Any]:
    status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 400)
    response = error(status, exc.message, exc.code)
    field = exc.field if isinstance(exc, ValidationError) else exc.details.get("field")
    if field:
        response.content["field"] = str(field)
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        field, message = validation_detail(exc)
        response = error(400, message, "VALIDATION_ERROR")
        response.content["field"] = field
        return response
    if exc.status_code >= 500:
        log.error("ru_vpn_http_error", status=exc.status_code)
        return error(500, "internal error", "INTERNAL_ERROR")
    return error(exc.status_code, str(exc.detail), "HTTP_ERROR")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error=type(exc).__name__)
    return error(500, "internal error", "INTERNAL_ERROR")


EXCEPTION_HANDLERS: dict[Any, Any] = {ValidationException: _http_error, HTTPException: _http_error,
                                      VpnsmmError: _domain_error, Exception: _unexpected}


async def _principal(request: Request[Any, Any, Any], authenticate: Authenticate) -> Principal:
    return await bearer_principal(request, authenticate)


_AUTH = {"principal": Provide(_principal)}


# ------------------------------------------------------------------------------------------ rendering
def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _sid(value: int | None) -> str | None:
    return str(value) if value else None


def _id_in(raw: int | str, what: str) -> int:
    """A body id sent as a number or a numeric string; anything else is 404 like a path id."""
    return raw if isinstance(raw, int) else path_id(raw, what)


def _user(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "email": user.email, "username": user.username,
            "telegram_id": user.telegram_id, "roles": [user.role.value], "marzban_username": user.username,
            "first_name": user.first_name, "last_name": user.last_name, "created_at": _iso(user.joined_at)}


def _tokens(pair: TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access.token, "refresh_token": pair.refresh_token, "token_type": "Bearer",
            "expires_in": pair.access.expires_in, "refresh_expires_at": _iso(pair.refresh_expires_at),
            "user": _user(pair.user), "roles": [pair.user.role.value]}


def _client(account: VpnAccount, subscription_url: str) -> dict[str, Any]:
    live = account.status.value not in ("pending", "revoked")
    return {"id": str(account.id), "client_id": str(account.id), "user_id": str(account.user_id),
            "marzban_client_id": account.client_key, "protocol": protocol_of(account),
            "transport": transport_of(account), "created_at": _iso(account.created_at),
            "expires_at": _iso(account.expires_at), "active": account.status.may_connect,
            "status": account.status.value, "subscription_url": subscription_url if live else None,
            "config_text": config_text(account), "tariff_id": str(account.plan_id),
            "node_id": str(account.server_id), "traffic_limit": account.traffic_limit_bytes,
            "traffic_used": account.period_used_bytes}


def _usage(account: VpnAccount | None) -> dict[str, Any]:
    if account is None:
        return {"client_id": None, "up": 0, "down": 0, "total": 0, "limit": None, "expires": None}
    return {"client_id": str(account.id), "up": account.period_upload, "down": account.period_download,
            "total": account.period_used_bytes, "limit": account.traffic_limit_bytes,
            "expires": _iso(account.expires_at)}


def _tariff(plan: Plan) -> dict[str, Any] | None:
    price = plan.prices.get(CURRENCY)
    if price is None:
        return None
    return {"id": str(plan.id), "name": plan.name, "description": plan.description, "price": price.amount,
            "currency": CURRENCY.value, "duration": plan.duration_days * 86_400,
            "duration_days": plan.duration_days, "traffic_limit": plan.traffic_bytes,
            "device_limit": plan.device_limit, "protocol": plan.protocol, "active": plan.active}


_KIND = {InvoicePurpose.VPN_PURCHASE: "purchase", InvoicePurpose.VPN_RENEWAL: "renewal",
         InvoicePurpose.VPN_ADDON: "addon", InvoicePurpose.WALLET_TOPUP: "topup",
         InvoicePurpose.SMM_ORDER: "smm_order"}


def _invoice(invoice: Invoice) -> dict[str, Any]:
    plan_id = invoice.item.get("plan_id")
    return {"id": str(invoice.id), "type": _KIND.get(invoice.purpose, invoice.purpose.value),
            "status": invoice.status.value, "amount": invoice.amount.amount,
            "currency": invoice.amount.currency.value, "description": invoice.description,
            "client_id": _sid(account_of_invoice(invoice)),
            "tariff_id": str(plan_id) if type(plan_id) is int else None,
            "created_at": _iso(invoice.created_at), "expires_at": _iso(invoice.expires_at),
            "paid_at": _iso(invoice.paid_at), "fulfilled_at": _iso(invoice.fulfilled_at)}


def _payment(payment: Payment) -> dict[str, Any]:
    return {"id": str(payment.id), "invoice_id": str(payment.invoice_id), "provider": payment.gateway.value,
            "status": payment.status.value, "amount": payment.amount.amount,
            "currency": payment.amount.currency.value, "provider_payment_id": payment.external_id,
            "payment_url": payment.redirect_url, "created_at": _iso(payment.created_at),
            "paid_at": _iso(payment.paid_at)}


def _started(invoice: Invoice, instructions: PaymentInstructions | None) -> dict[str, Any]:
    """The ``{invoice_id, payment_id, provider_payment_id, payment_url, status}`` of every payment start."""
    invoice = instructions.invoice if instructions is not None else invoice
    payment = instructions.payment if instructions is not None else None
    body: dict[str, Any] = {
        "invoice_id": str(invoice.id), "payment_id": _sid(payment.id if payment else None),
        "provider_payment_id": payment.external_id if payment else None,
        "payment_url": instructions.redirect_url if instructions is not None else None,
        "status": payment.status.value if payment else invoice.status.value,
        "provider": payment.gateway.value if payment else None, "amount": invoice.amount.amount,
        "currency": invoice.amount.currency.value, "invoice_status": invoice.status.value,
        "client_id": _sid(account_of_invoice(invoice))}
    if instructions is not None and instructions.card is not None:
        card = instructions.card
        body["card"] = {"card_number": card.account.grouped, "holder": card.account.holder,
                        "bank": card.account.bank, "amount": card.amount.amount,
                        "instructions": card.render()}
    return body


# ------------------------------------------------------------------------------------------ auth
class RegisterIn(Struct):
    password: Annotated[str, Meta(max_length=256)]
    email: Annotated[str, Meta(max_length=254)] | None = None
    username: Annotated[str, Meta(max_length=64)] | None = None
    telegram_id: Annotated[int, Meta(gt=0, le=2**63 - 1)] | Annotated[str, Meta(max_length=20)] | None = None
    first_name: Annotated[str, Meta(max_length=100)] | None = None
    last_name: Annotated[str, Meta(max_length=100)] | None = None


class LoginIn(Struct):
    password: Annotated[str, Meta(max_length=1024)]
    email: Annotated[str, Meta(max_length=256)] | None = None
    username: Annotated[str, Meta(max_length=256)] | None = None
    login: Annotated[str, Meta(max_length=256)] | None = None


class RefreshIn(Struct):
    refresh_token: Annotated[str, Meta(max_length=512)]


class AuthController(Controller):
    path = "/auth"
    tags = TAG
    dependencies = _AUTH

    @post("/register", status_code=HTTP_201_CREATED, security=[])
    async def register(self, data: RegisterIn, register_user: RegisterUser,
                       login_by_identifier: LoginByIdentifier) -> dict[str, Any]:
        """Create a user (username = ``username`` or the email) and log it in. 409 when taken."""
        username = data.username or data.email
        if not username:
            raise ValidationError("email is required", field="email")
        await register_user(RegisterUserCommand(username=username, password=data.password, email=data.email,
                                                first_name=data.first_name, last_name=data.last_name,
                                                telegram_id=data.telegram_id))
        return _tokens(await login_by_identifier(username, data.password))

    @post("/login", status_code=HTTP_200_OK, security=[])
    async def login(self, data: LoginIn, login_by_identifier: LoginByIdentifier) -> dict[str, Any]:
        """``email`` (or ``username``/``login``) and password. 401 on any mismatch."""
        identifier = data.email or data.username or data.login
        if not identifier:
            raise ValidationError("email is required", field="email")
        return _tokens(await login_by_identifier(identifier, data.password))

    @post("/refresh", status_code=HTTP_200_OK, security=[])
    async def refresh(self, data: RefreshIn, refresh_session: RefreshSession) -> dict[str, Any]:
        """Rotating: the refresh token is spent and a new pair returned (reuse ends the session)."""
        return _tokens(await refresh_session(data.refresh_token))

    @post("/logout", status_code=HTTP_200_OK)
    async def logout(self, principal: Principal, logout: Logout) -> dict[str, Any]:
        """End this session: its access and refresh tokens stop working now. Idempotent."""
        await logout(principal)
        return {"success": True}


# ------------------------------------------------------------------------------------------ public
@get("/tariffs", tags=TAG, security=[])
async def tariffs(manage_plans: ManagePlans) -> list[dict[str, Any]]:
    """Plans on sale with a RUB price (price in kopecks, duration in seconds)."""
    return [t for t in (_tariff(p) for p in await manage_plans.list(active_only=True)) if t is not None]


@get("/nodes", tags=TAG, security=[])
async def nodes(manage_servers: ManageServers) -> list[dict[str, Any]]:
    """Active servers: name, location and the last health check (``online``/``offline``/``unknown``)."""
    return [{"id": str(s.id), "name": s.name, "location": s.location, "online": s.online,
             "status": "unknown" if s.online is None else ("online" if s.online else "offline")}
            for s in await manage_servers.public()]


# ------------------------------------------------------------------------------------------ user
class NewClientIn(Struct):
    tariff_id: IdIn | None = None
    provider: Provider | None = None
    location: Annotated[str, Meta(max_length=64)] | None = None


class ProfileController(Controller):
    path = "/"
    tags = TAG
    dependencies = _AUTH

    @get("/profile")
    async def profile(self, principal: Principal, vpn_accounts: VpnAccounts, wallets: Wallets) -> dict[str, Any]:
        accounts = await vpn_accounts.list(principal.user_id, limit=500)
        balance = await wallets.balance(principal.user_id, CURRENCY)
        return {"user": _user(principal.user),
                "stats": {"clients_total": len(accounts),
                          "clients_active": sum(1 for a in accounts if a.status.may_connect),
                          "balance": balance.balance.amount, "currency": CURRENCY.value},
                "clients": [_client(a, vpn_accounts.feed_url(a)) for a in accounts]}

    @get("/profile/keys")
    async def keys(self, principal: Principal, vpn_accounts: VpnAccounts) -> list[dict[str, Any]]:
        """The caller's VPN keys (accounts), newest first."""
        return [_client(a, vpn_accounts.feed_url(a)) for a in await vpn_accounts.list(principal.user_id, limit=500)]

    @get("/profile/usage")
    async def usage(self, principal: Principal, vpn_accounts: VpnAccounts,
                    client_id: Annotated[str | None, Parameter(max_length=20)] = None) -> dict[str, Any]:
        """Traffic of ``client_id`` (default: the newest account that is not revoked) this period, in bytes."""
        if client_id is not None:
            return _usage(await vpn_accounts.get(principal.user_id, path_id(client_id, "client")))
        accounts = await vpn_accounts.list(principal.user_id, limit=500)
        return _usage(next((a for a in accounts if a.status.value != "revoked"), None))

    @get("/me/clients")
    async def clients(self, principal: Principal, vpn_accounts: VpnAccounts) -> list[dict[str, Any]]:
        return [_client(a, vpn_accounts.feed_url(a)) for a in await vpn_accounts.list(principal.user_id, limit=500)]

    @post("/me/clients", status_code=HTTP_201_CREATED)
    async def create_client(self, data: NewClientIn, principal: Principal, buy_plan: BuyPlan,
                            manage_plans: ManagePlans, vpn_accounts: VpnAccounts,
                            payment_methods: PaymentMethods) -> dict[str, Any]:
        """A new client = buying ``tariff_id`` (default: the first tariff on sale in RUB). Without ``provider``
        it is paid from the wallet, or, when the balance is short, the same invoice is offered through the
        default gateway (``payment_url``; the client exists once paid). ``provider: wallet`` insists (402)."""
        if data.tariff_id is None:
            on_sale = [p for p in await manage_plans.list(active_only=True) if CURRENCY in p.prices]
            if not on_sale:
                raise NotFoundError("no tariff is on sale", code="TARIFF_NOT_FOUND")
            plan_id = on_sale[0].id
        else:
            plan_id = _id_in(data.tariff_id, "tariff")
        gateway = payment_methods.pick(data.provider, prefer=(Gateway.WALLET,))
        # One idempotency key for both attempts: a short wallet leaves the invoice pending, and the fallback
        # pays that same invoice through a gateway instead of opening a second one.
        command = BuyPlanCommand(user_id=principal.user_id, plan_id=plan_id, currency=CURRENCY, gateway=gateway,
                                 location=data.location, email=principal.user.email,
                                 idempotency_key=f"ru-vpn-client-{secrets.token_hex(12)}")
        try:
            purchase = await buy_plan(command)
        except InsufficientFundsError:
            fallback = payment_methods.pick(None, prefer=PREFERRED)
            if data.provider is not None or fallback is Gateway.WALLET:
                raise
            purchase = await buy_plan(evolve(command, gateway=fallback))
        body = _started(purchase.invoice, purchase.payment)
        account_id = account_of_invoice(purchase.payment.invoice if purchase.payment else purchase.invoice)
        account = await vpn_accounts.get(principal.user_id, account_id) if account_id is not None else None
        body.update({"client_id": _sid(account.id if account else None),
                     "uuid": client_secret_of(account) if account else None})
        if account is not None:
            body["client"] = _client(account, vpn_accounts.feed_url(account))
        return body

    @post("/me/clients/{client_id:str}/revoke", status_code=HTTP_200_OK)
    async def revoke(self, client_id: str, principal: Principal, revoke_account: RevokeAccount,
                     vpn_accounts: VpnAccounts) -> dict[str, Any]:
        """Stop the client for good (disabled on the panel, credentials rotated). Idempotent; not refunded."""
        account = await revoke_account(principal.user_id, path_id(client_id, "client"))
        return _client(account, vpn_accounts.feed_url(account))


# ------------------------------------------------------------------------------------------ vpn
class RenewIn(Struct):
    client_id: IdIn
    provider: Provider | None = None


class TopUpIn(Struct):
    amount: Kopecks
    provider: Provider | None = None


class VpnController(Controller):
    path = "/vpn"
    tags = TAG
    dependencies = _AUTH

    @get("/config/{client_id:str}")
    async def config(self, client_id: str, principal: Principal, vpn_accounts: VpnAccounts) -> dict[str, Any]:
        """``config`` (the first share link, or the WireGuard config) and ``subscription_url``."""
        found = await vpn_accounts.config(principal.user_id, path_id(client_id, "client"))
        return {"client_id": str(found.account.id), "config": found.links[0] if found.links else found.config,
                "subscription_url": found.subscription_url, "links": list(found.links),
                "wireguard_config": found.config, "panel_subscription_url": found.panel_subscription_url}

    @post("/renew", status_code=HTTP_201_CREATED)
    async def renew(self, data: RenewIn, principal: Principal, renew_account: RenewAccount,
                    payment_methods: PaymentMethods) -> dict[str, Any]:
        """Another period of the client's tariff, paid through ``provider`` (default: Cryptomus, else card,
        else the wallet)."""
        gateway = payment_methods.pick(data.provider, prefer=PREFERRED)
        purchase = await renew_account(principal.user_id, _id_in(data.client_id, "client"), CURRENCY, gateway,
                                       email=principal.user.email)
        return _started(purchase.invoice, purchase.payment)

    @post("/topup", status_code=HTTP_201_CREATED)
    async def topup(self, data: TopUpIn, principal: Principal, create_invoice: CreateInvoice,
                    pay_invoice: PayInvoice, payment_methods: PaymentMethods) -> dict[str, Any]:
        """Top up the RUB balance by ``amount`` kopecks through ``provider`` (default: Cryptomus, else card)."""
        gateway = payment_methods.pick(data.provider, prefer=PREFERRED)
        invoice = await create_invoice(NewInvoice(user_id=principal.user_id, purpose=InvoicePurpose.WALLET_TOPUP,
                                                  amount=Money(data.amount, CURRENCY), description="Balance top-up"))
        return _started(invoice, await pay_invoice(principal.user_id, invoice.id, gateway,
                                                   customer_email=principal.user.email))


# ------------------------------------------------------------------------------------------ payments
class PaymentCreateIn(Struct):
    tariff_id: IdIn | None = None
    client_id: IdIn | None = None
    amount: Kopecks | None = None
    provider: Provider | None = None


class PaymentsController(Controller):
    path = "/payments"
    tags = TAG
    dependencies = _AUTH

    @post("/create", status_code=HTTP_201_CREATED)
    async def create(self, data: PaymentCreateIn, principal: Principal, buy_plan: BuyPlan,
                     renew_account: RenewAccount, create_invoice: CreateInvoice, pay_invoice: PayInvoice,
                     payment_methods: PaymentMethods) -> dict[str, Any]:
        """``tariff_id``: buy a tariff; ``client_id``: renew that client; else ``amount`` kopecks: top up the
        balance. Paid through ``provider`` (default: Cryptomus, else card, else the wallet)."""
        gateway = payment_methods.pick(data.provider, prefer=PREFERRED)
        if data.tariff_id is not None:
            purchase = await buy_plan(BuyPlanCommand(user_id=principal.user_id,
                                                     plan_id=_id_in(data.tariff_id, "tariff"), currency=CURRENCY,
                                                     gateway=gateway, email=principal.user.email))
            return _started(purchase.invoice, purchase.payment)
        if data.client_id is not None:
            purchase = await renew_account(principal.user_id, _id_in(data.client_id, "client"), CURRENCY, gateway,
                                           email=principal.user.email)
            return _started(purchase.invoice, purchase.payment)
        if data.amount is None:
            raise ValidationError("one of tariff_id, client_id or amount is required", field="amount")
        invoice = await create_invoice(NewInvoice(user_id=principal.user_id, purpose=InvoicePurpose.WALLET_TOPUP,
                                                  amount=Money(data.amount, CURRENCY), description="Balance top-up"))
        return _started(invoice, await pay_invoice(principal.user_id, invoice.id, gateway,
                                                   customer_email=principal.user.email))

    @get("/{invoice_id:str}")
    async def get_one(self, invoice_id: str, principal: Principal, get_invoice: GetInvoice) -> dict[str, Any]:
        """``:id`` is the ``invoice_id`` a payment start returned; another user's is 404."""
        invoice, payments = await get_invoice(principal.user_id, path_id(invoice_id, "payment"))
        return {"invoice": _invoice(invoice), "payments": [_payment(p) for p in payments]}

    @post("/webhook", status_code=HTTP_200_OK, security=[])
    async def webhook(self, request: Request[Any, Any, Any], gateway_notices: HandleGatewayNotice) -> dict[str, Any]:
        """Cryptomus payment notifications. The ``sign`` is checked (401 and nothing written when it is wrong)
        and the payment is re-read from Cryptomus before anything is credited; repeats credit once."""
        body = await request.body()
        client = request.client.host if request.client else None
        payment = await gateway_notices.webhook(Gateway.CRYPTOMUS, body, dict(request.headers), client)
        return {"ok": True, "payment_id": _sid(payment.id if payment else None),
                "status": payment.status.value if payment else None}


# ------------------------------------------------------------------------------------------ billing
class BillingController(Controller):
    path = "/billing"
    tags = TAG
    dependencies = _AUTH

    @get("/state/{client_id:str}")
    async def state(self, client_id: str, principal: Principal, vpn_billing_views: VpnBillingViews,
                    wallets: Wallets) -> dict[str, Any]:
        """The client's billing state (status, expiry, seconds left, traffic, renewal price, balance) and its
        billing events (purchase, renewals, add-ons), newest first."""
        billing = await vpn_billing_views.account(principal.user_id, path_id(client_id, "client"))
        account, plan = billing.account, billing.plan
        balance = await wallets.balance(principal.user_id, CURRENCY)
        left = None
        if account.expires_at is not None:
            left = max(0, int((account.expires_at - datetime.now(UTC)).total_seconds()))
        price = plan.prices.get(CURRENCY) if plan is not None else None
        state = {"client_id": str(account.id), "status": account.status.value,
                 "active": account.status.may_connect, "tariff_id": str(account.plan_id),
                 "tariff_name": plan.name if plan else None, "expires_at": _iso(account.expires_at),
                 "seconds_left": left, "traffic_limit": account.traffic_limit_bytes,
                 "traffic_used": account.period_used_bytes,
                 "renewal_price": price.amount if price else None, "currency": CURRENCY.value,
                 "balance": balance.balance.amount}
        return {"state": state, "events": [_invoice(i) for i in billing.invoices]}

    @get("/history")
    async def history(self, principal: Principal, vpn_billing_views: VpnBillingViews,
                      page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
                      limit: Annotated[int, Parameter(ge=1, le=100)] = 20) -> dict[str, Any]:
        """The caller's invoices (top-ups, purchases, renewals) newest first, ``page`` from 1."""
        found = await vpn_billing_views.history(principal.user_id, page=page, limit=limit)
        return {"page": page, "limit": limit, "total": found.total, "items": [_invoice(i) for i in found.items]}


def route_handlers() -> list[Any]:
    return [AuthController, tariffs, nodes, ProfileController, VpnController, PaymentsController,
            BillingController]
