"""CandyPanel's unified API (candypanel-api.md): /check, /api/auth, /api/manage, /api/data and /bot_api/*.

Every answer is ``{"message", "success", "data"}`` (errors: ``{"message", "success": false}``). Handlers parse the
document's JSON, call the CandyPanel use cases (application/candypanel.py) and render; no rule lives here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.types import ControllerRouterHandler

from vpnsmm.adapters.panels.wireguard.keys import public_key_of
from vpnsmm.application.candypanel import (
    CandyPanelBot,
    CandyPanelClients,
    CandyPanelInterfaces,
    CandyPanelSetup,
    CandyPanelSync,
    CandyPanelTokens,
    ClientView,
    InstallCommand,
    telegram_id_of,
)
from vpnsmm.application.identity import Authenticate, GetUser, Login, Principal
from vpnsmm.application.vpn import ManageServers
from vpnsmm.domain.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.identity import Role
from vpnsmm.domain.vpn_sales import GIB, AccountStatus
from vpnsmm.entrypoints.http.dialects.candypanel.host import dashboard, uptime_text

log = structlog.get_logger("vpnsmm.http.candypanel")
Body = dict[str, Any]

#: Domain error class -> status, as CandyPanel answers (conflicts and refused transitions are 400 there).
_STATUS: list[tuple[type[VpnsmmError], int]] = [
    (AuthenticationError, 401), (PermissionDeniedError, 403), (NotFoundError, 404), (RateLimitedError, 429),
    (UpstreamError, 500),
]


def envelope(message: str, data: Mapping[str, Any] | None = None, *, status: int = 200) -> Response[Any]:
    return Response({"message": message, "success": True, "data": dict(data or {})}, status_code=status)


def early_error_body(_path: str, _status: int, message: str) -> dict[str, Any]:
    """Errors raised before this router's handlers run (the rate limiter's 429, routing's 404/405 on its
    paths) in the document's ``{message, success}`` envelope."""
    return {"message": message, "success": False}


def failure(message: str, status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response({"message": message, "success": False}, status_code=status, headers=headers)


def _status_of(exc: VpnsmmError) -> int:
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 400)


def _domain_error(_: Request[Any, Any, Any], exc: VpnsmmError) -> Response[Any]:
    status = _status_of(exc)
    message = exc.message
    if isinstance(exc, ValidationError) and exc.field and exc.field not in message:
        message = f"{exc.field}: {message}"
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
    return failure(message, status, headers)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return failure(f"Invalid request: {exc.detail}", 400)
    if isinstance(exc, NotAuthorizedException):
        return failure("Invalid authentication credentials", 401)
    if exc.status_code >= 500:
        log.error("http_error", status=exc.status_code)
        return failure("Internal server error", 500)
    return failure(str(exc.detail), exc.status_code, exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error=type(exc).__name__)
    return failure("Internal server error", 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {VpnsmmError: _domain_error, HTTPException: _http_error, Exception: _unexpected}


async def _body(request: Request[Any, Any, Any]) -> Body:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the request body must be JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    return data


def _str(body: Mapping[str, Any], name: str, *, required: bool = True, default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required and default is None:
            raise ValidationError(f"{name} is required", field=name)
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(f"{name} must be a string", field=name)
    return str(value)


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=None).isoformat(timespec="seconds") if value is not None else None


# ------------------------------------------------------------------------------------------ auth
async def _admin(request: Request[Any, Any, Any], authenticate: Authenticate, tokens: CandyPanelTokens) -> Principal:
    """``Authorization: Bearer`` with a login token (JWT) or a CandyPanel API token; or a native X-API-Key."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("Invalid authentication credentials", code="INVALID_TOKEN")
        if token.count(".") == 2:  # a login token (JWT); an API token may look like one too
            try:
                principal = await authenticate.access_token(token)
            except AuthenticationError:
                principal = await tokens.authenticate(token)
        else:
            principal = await tokens.authenticate(token)
    elif request.headers.get("x-api-key"):
        principal = await authenticate.api_key(request.headers["x-api-key"])
    else:
        raise AuthenticationError("Authorization header is missing", code="UNAUTHORIZED")
    if not principal.role.at_least(Role.ADMIN):
        raise PermissionDeniedError("this endpoint is for the CandyPanel admin", code="FORBIDDEN")
    return principal


@get("/check")
async def check(candypanel_setup: CandyPanelSetup) -> dict[str, bool]:
    """Installation status: ``{"installed": bool}`` (the one answer without the envelope, as documented)."""
    return {"installed": await candypanel_setup.installed()}


@post("/api/auth", status_code=200)
async def auth(request: Request[Any, Any, Any], login: Login, candypanel_setup: CandyPanelSetup) -> Response[Any]:
    """``action: login`` -> a bearer token; ``action: install`` -> the one-time installation."""
    body = await _body(request)
    action = body.get("action")
    if action == "login":
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            return failure("username and password are required", 400)
        try:
            pair = await login(username, password)
        except AuthenticationError:
            return failure("Invalid authentication credentials", 401)
        return envelope("Login successful!", {"access_token": pair.access.token, "token_type": "bearer"})
    if action == "install":
        cmd = InstallCommand(
            server_ip=_str(body, "server_ip") or "", wg_port=_str(body, "wg_port") or "",
            wg_address_range=_str(body, "wg_address_range", required=False, default="10.0.0.1/24") or "",
            wg_dns=_str(body, "wg_dns", required=False, default="8.8.8.8") or "",
            admin_user=_str(body, "admin_user", required=False, default="admin") or "",
            admin_password=_str(body, "admin_password", required=False, default="admin") or "")
        await candypanel_setup.install(cmd)
        return envelope("Installed successfully!")
    return failure("Invalid action. Use 'login' or 'install'.", 400)


# ------------------------------------------------------------------------------------------ /api/manage
class _Manage:
    """One /api/manage (or server_control) call: resource + action + data, answered as (message, data)."""

    def __init__(self, principal_id: int, clients: CandyPanelClients, interfaces: CandyPanelInterfaces,
                 setup: CandyPanelSetup, tokens: CandyPanelTokens, sync: CandyPanelSync) -> None:
        self.actor, self.clients, self.interfaces = principal_id, clients, interfaces
        self.setup, self.tokens, self.sync = setup, tokens, sync

    async def __call__(self, resource: object, action: object, data: object) -> tuple[str, dict[str, Any]]:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValidationError("data must be a JSON object", field="data")
        handlers: dict[tuple[object, object], Callable[[Body], Awaitable[tuple[str, dict[str, Any]]]]] = {
            ("client", "create"): self.client_create, ("client", "update"): self.client_update,
            ("client", "delete"): self.client_delete, ("client", "get_config"): self.client_config,
            ("interface", "create"): self.interface_create, ("interface", "update"): self.interface_update,
            ("interface", "delete"): self.interface_delete, ("setting", "update"): self.setting_update,
            ("api_token", "create_or_update"): self.token_put, ("api_token", "delete"): self.token_delete,
            ("sync", "trigger"): self.sync_trigger,
        }
        handler = handlers.get((resource, action))
        if handler is None:
            known = ", ".join(f"{r}/{a}" for r, a in handlers)
            raise ValidationError(f"unknown resource/action {resource}/{action} (supported: {known})",
                                  field="action", code="UNKNOWN_ACTION")
        return await handler(data)

    async def client_create(self, data: Body) -> tuple[str, dict[str, Any]]:
        if data.get("traffic") is None:
            raise ValidationError("traffic is required (bytes, as a string)", field="traffic")
        view = await self.clients.create(owner_id=self.actor, name=data.get("name"), expires=data.get("expires"),
                                         traffic=data.get("traffic"),
                                         wg=data.get("wg_id", 0) if data.get("wg_id") is not None else 0,
                                         note=data.get("note") or "", actor_id=self.actor)
        return "Client created successfully!", {"client_config": view.account.config or ""}

    async def client_update(self, data: Body) -> tuple[str, dict[str, Any]]:
        name = data.get("name")
        status = data.get("status")
        if status is not None and not isinstance(status, bool):
            raise ValidationError("status must be true or false", field="status")
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            raise ValidationError("note must be a string", field="note")
        view = await self.clients.update(name, expires=data.get("expires") or None, traffic=data.get("traffic"),
                                         enabled=status, note=note, actor_id=self.actor)
        return f"Client '{view.name.name}' edited successfully.", {}

    async def client_delete(self, data: Body) -> tuple[str, dict[str, Any]]:
        name = await self.clients.delete(data.get("name"), actor_id=self.actor)
        return f"Client '{name}' deleted successfully.", {}

    async def client_config(self, data: Body) -> tuple[str, dict[str, Any]]:
        return "Client config retrieved successfully.", {"config": await self.clients.config(data.get("name"))}

    async def interface_create(self, data: Body) -> tuple[str, dict[str, Any]]:
        wg = await self.interfaces.create(data.get("address_range"), data.get("port"), actor_id=self.actor)
        return "New Interface Created!", {"wg": wg, "name": f"wg{wg}"}

    async def interface_update(self, data: Body) -> tuple[str, dict[str, Any]]:
        name = await self.interfaces.update(data.get("name"), address=data.get("address"), port=data.get("port"),
                                            status=data.get("status"), actor_id=self.actor)
        return f"Interface '{name}' edited successfully.", {}

    async def interface_delete(self, data: Body) -> tuple[str, dict[str, Any]]:
        name = await self.interfaces.delete(data.get("wg_id"), actor_id=self.actor)
        return f"Interface {name} and all associated clients deleted successfully.", {}

    async def setting_update(self, data: Body) -> tuple[str, dict[str, Any]]:
        key = data.get("key")
        if not isinstance(key, str) or not key:
            raise ValidationError("key is required", field="key")
        if "value" not in data or data["value"] is None:
            raise ValidationError("value is required", field="value")
        await self.setup.update_setting(key, data["value"], actor_id=self.actor)
        return "Changed!", {}

    async def token_put(self, data: Body) -> tuple[str, dict[str, Any]]:
        name = await self.tokens.put(data.get("name"), data.get("token"), user_id=self.actor)
        return f"API token '{name}' added/updated successfully.", {}

    async def token_delete(self, data: Body) -> tuple[str, dict[str, Any]]:
        name = await self.tokens.delete(data.get("name"), actor_id=self.actor)
        return f"API token '{name}' deleted successfully.", {}

    async def sync_trigger(self, data: Body) -> tuple[str, dict[str, Any]]:
        result = await self.sync()
        return "Synchronization process initiated successfully.", {
            "interfaces": result.servers, "enforced": result.enforced,
            "failed": {f"wg{wg}": why for wg, why in result.failed.items()}}


@post("/api/manage", status_code=200)
async def manage(request: Request[Any, Any, Any], authenticate: Authenticate, candypanel_tokens: CandyPanelTokens,
                 candypanel_clients: CandyPanelClients, candypanel_interfaces: CandyPanelInterfaces,
                 candypanel_setup: CandyPanelSetup, candypanel_sync: CandyPanelSync) -> Response[Any]:
    """The admin's unified management call (Bearer token)."""
    principal = await _admin(request, authenticate, candypanel_tokens)
    body = await _body(request)
    run = _Manage(principal.user_id, candypanel_clients, candypanel_interfaces, candypanel_setup,
                  candypanel_tokens, candypanel_sync)
    message, data = await run(body.get("resource"), body.get("action"), body.get("data"))
    return envelope(message, data)


# ------------------------------------------------------------------------------------------ /api/data
def _config_value(config: str | None, key: str) -> str:
    for line in (config or "").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return ""


def _client_out(view: ClientView) -> dict[str, Any]:
    account = view.account
    return {"name": view.name.name, "wg": view.name.wg, "public_key": account.remote_id,
            "private_key": _config_value(account.config, "PrivateKey"),
            "address": _config_value(account.config, "Address"), "created_at": _iso(view.name.created_at),
            "expires": _iso(account.expires_at), "note": view.name.note,
            "traffic": str(account.traffic_limit_bytes or 0),
            "used_trafic": {"download": account.used_download, "upload": account.used_upload},
            "connected_now": False, "status": account.status.may_connect}


@get("/api/data")
async def data(request: Request[Any, Any, Any], authenticate: Authenticate, candypanel_tokens: CandyPanelTokens,
               candypanel_clients: CandyPanelClients, candypanel_interfaces: CandyPanelInterfaces,
               candypanel_setup: CandyPanelSetup, manage_servers: ManageServers, get_user: GetUser) -> Response[Any]:
    """Dashboard, clients, interfaces and settings in one answer (Bearer token). Secrets of the installation
    itself (session token, admin password, bot token, API token values) are withheld."""
    await _admin(request, authenticate, candypanel_tokens)
    clients = [v for v in await candypanel_clients.list() if v.account.status is not AccountStatus.REVOKED]
    interfaces = []
    for view in await candypanel_interfaces.list():
        private = _config_value(await manage_servers.server_config(view.server.id), "PrivateKey")
        interfaces.append({"wg": view.wg, "private_key": private, "public_key": public_key_of(private),
                           "port": view.server.settings.get("listen_port"),
                           "address_range": view.server.settings.get("ipv4_network"), "status": view.server.active})
    stored = await candypanel_setup.settings()
    admin_name = ""
    if stored.get("admin_user_id", "").isdigit():
        try:
            admin_name = (await get_user(int(stored["admin_user_id"]))).username
        except NotFoundError:
            admin_name = ""
    token_names = await candypanel_tokens.names()
    settings = {
        "server_ip": stored.get("server_ip", ""), "session_token": "", "dns": stored.get("dns", ""),
        "admin": json.dumps({"user": admin_name, "password": "********"}), "status": stored.get("status", ""),
        "alert": stored.get("alert", "[]"), "reset_time": stored.get("reset_time", "0"),
        "mtu": stored.get("mtu", "1420"), "bandwidth": stored.get("bandwidth", "0"), "uptime": uptime_text(),
        "telegram_bot_status": stored.get("telegram_bot_status", "0"),
        "telegram_bot_admin_id": str(await candypanel_setup.admin_telegram_id() or ""),
        "telegram_bot_token": "********" if stored.get("telegram_bot_token") else "",
        "admin_card_number": stored.get("admin_card_number", ""),
        "prices": stored.get("prices", json.dumps({"1GB": 4000, "1Month": 75000})),
        "api_tokens": json.dumps(dict.fromkeys(token_names, "********")),
        "auto_backup": stored.get("auto_backup", "1"), "install": stored.get("install", "0"),
    }
    try:
        alerts = [str(a) for a in json.loads(settings["alert"])]
    except (ValueError, TypeError):
        alerts = []
    return envelope("All data retrieved successfully.", {
        "dashboard": dashboard(len(clients), settings["status"] or "unknown", alerts),
        "clients": [_client_out(v) for v in clients], "interfaces": interfaces, "settings": settings})


# ------------------------------------------------------------------------------------------ /bot_api/user
def _tg(body: Body, *names: str) -> int:
    for name in names:
        if body.get(name) is not None:
            return telegram_id_of(body[name], name)
    raise ValidationError(f"{names[0]} is required", field=names[0])


@post("/bot_api/user/register", status_code=200)
async def bot_register(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    _, created = await candypanel_bot.register(_tg(await _body(request), "telegram_id"))
    return envelope("User registered successfully." if created else "User already registered.",
                    {"registered": True})


@post("/bot_api/user/buy_traffic_request", status_code=200)
async def bot_buy(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    quote = await candypanel_bot.quote(_tg(body, "telegram_id"), body.get("purchase_type"), body.get("quantity"),
                                       order_id=body.get("order_id"), card_number_sent=body.get("card_number_sent"))
    data = {"admin_card_number": quote.admin_card_number, "prices": dict(quote.prices),
            "admin_telegram_id": str(quote.admin_telegram_id or ""), "calculated_amount": float(quote.amount)}
    if quote.order is None:
        return envelope("Price calculated. Transfer the amount to the admin card, then send order_id and "
                        "card_number_sent.", data)
    return envelope("Purchase request submitted. Admin will review.", {**data, "order_id": quote.order.order_id})


@post("/bot_api/user/get_license", status_code=200)
async def bot_license(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot,
                      candypanel_clients: CandyPanelClients) -> Response[Any]:
    user = await candypanel_bot.user(_tg(await _body(request), "telegram_id"))
    if user.client is None:
        raise NotFoundError("You don't have a license yet. Buy traffic first.", code="CLIENT_NOT_FOUND")
    return envelope("Your WireGuard configuration:", {"config": await candypanel_clients.config(user.client.name.name)})


def _bought(view: ClientView | None) -> tuple[float, int]:
    if view is None:
        return 0.0, 0
    account = view.account
    gb = round(account.traffic_limit_bytes / GIB, 2) if account.traffic_limit_bytes else 0.0
    days = max(0, round((account.expires_at - view.name.created_at).total_seconds() / 86400)) \
        if account.expires_at else account.duration_days
    return gb, days


@post("/bot_api/user/account_status", status_code=200)
async def bot_status(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    user = await candypanel_bot.user(_tg(await _body(request), "telegram_id"))
    gb, days = _bought(user.client)
    if user.client is None:
        return envelope("Your account status:", {
            "status": "inactive", "traffic_bought_gb": 0.0, "time_bought_days": 0, "candy_client_name": None,
            "used_traffic_bytes": 0, "expires": None, "traffic_limit_bytes": 0,
            "note": "You have no client yet; buy traffic or a month to get one."})
    account = user.client.account
    return envelope("Your account status:", {
        "status": account.status.value, "traffic_bought_gb": gb, "time_bought_days": days,
        "candy_client_name": user.client.name.name, "used_traffic_bytes": account.period_used_bytes,
        "expires": _iso(account.expires_at), "traffic_limit_bytes": account.traffic_limit_bytes or 0,
        "note": f"usage as of {_iso(account.usage_synced_at)}" if account.usage_synced_at
        else "usage has not been read from the server yet"})


@post("/bot_api/user/call_support", status_code=200)
async def bot_support(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    message, admin = await candypanel_bot.call_support(_tg(body, "telegram_id"), body.get("message"))
    return envelope("Your message has been sent to support.",
                    {"admin_telegram_id": str(admin or ""), "support_message": message.message})


# ------------------------------------------------------------------------------------------ /bot_api/admin
_ADMIN_IDS = ("telegram_id", "admin_telegram_id")


@post("/bot_api/admin/check_admin", status_code=200)
async def bot_check_admin(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot,
                          candypanel_setup: CandyPanelSetup) -> Response[Any]:
    telegram_id = _tg(await _body(request), *_ADMIN_IDS)
    admin = await candypanel_setup.admin_telegram_id()
    return envelope("Admin status checked.", {"is_admin": await candypanel_bot.is_admin(telegram_id),
                                              "admin_telegram_id": str(admin or "")})


@post("/bot_api/admin/get_all_users", status_code=200)
async def bot_all_users(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    await candypanel_bot.require_admin(_tg(await _body(request), *_ADMIN_IDS))
    users = []
    for bot_user in await candypanel_bot.all_users():
        gb, days = _bought(bot_user.client)
        user = bot_user.user
        users.append({"telegram_id": user.telegram_id,
                      "candy_client_name": bot_user.client.name.name if bot_user.client else None,
                      "traffic_bought_gb": gb, "time_bought_days": days,
                      "status": "active" if user.is_active else "banned",
                      "is_admin": int(await candypanel_bot.is_admin(user.telegram_id or 0)),
                      "created_at": _iso(user.joined_at)})
    return envelope("All bot users retrieved.", {"users": users})


@post("/bot_api/admin/get_transactions", status_code=200)
async def bot_transactions(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    await candypanel_bot.require_admin(_tg(body, *_ADMIN_IDS))
    views = await candypanel_bot.orders(body.get("status_filter"))
    return envelope("Transactions retrieved.", {"transactions": [{
        "order_id": v.order.order_id, "telegram_id": v.order.telegram_id, "amount": float(v.order.amount),
        "card_number_sent": v.order.card_number_sent, "status": v.status, "requested_at": _iso(v.order.requested_at),
        "approved_at": _iso(v.payment.decision.decided_at) if v.payment.decision else None,
        "admin_note": v.order.admin_note, "purchase_type": v.order.purchase_type,
        "quantity": float(v.order.quantity)} for v in views]})


def _note(body: Body) -> str:
    note = body.get("admin_note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise ValidationError("admin_note must be a string of at most 500 characters", field="admin_note")
    return (note or "").strip()


@post("/bot_api/admin/approve_transaction", status_code=200)
async def bot_approve(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    approval = await candypanel_bot.approve(_tg(body, *_ADMIN_IDS), body.get("order_id"), _note(body))
    name = approval.client.name.name
    return envelope(f"Transaction {approval.order.order_id} approved. Client '{name}' created in CandyPanel.", {
        "client_config": approval.client.account.config or "", "telegram_id": approval.order.telegram_id,
        "client_name": name})


@post("/bot_api/admin/reject_transaction", status_code=200)
async def bot_reject(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    order = await candypanel_bot.reject(_tg(body, *_ADMIN_IDS), body.get("order_id"), _note(body))
    return envelope(f"Transaction {order.order_id} rejected.", {"telegram_id": order.telegram_id})


@post("/bot_api/admin/manage_user", status_code=200)
async def bot_manage_user(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    message = await candypanel_bot.manage_user(_tg(body, "admin_telegram_id", "telegram_id"),
                                               _tg(body, "target_telegram_id"), body.get("action"), body.get("value"))
    return envelope(message)


@post("/bot_api/admin/send_message_to_all", status_code=200)
async def bot_broadcast(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot) -> Response[Any]:
    body = await _body(request)
    stored = await candypanel_bot.broadcast(_tg(body, *_ADMIN_IDS), body.get("message"))
    return envelope("Broadcast message prepared.", {"target_user_ids": list(stored.recipients),
                                                    "message": stored.message, "outbox_id": stored.id})


@post("/bot_api/admin/server_control", status_code=200)
async def bot_server_control(request: Request[Any, Any, Any], candypanel_bot: CandyPanelBot,
                             candypanel_clients: CandyPanelClients, candypanel_interfaces: CandyPanelInterfaces,
                             candypanel_setup: CandyPanelSetup, candypanel_tokens: CandyPanelTokens,
                             candypanel_sync: CandyPanelSync) -> Response[Any]:
    """/api/manage for the bot admin; answers are prefixed ``CandyPanel:`` / ``CandyPanel Error:``."""
    body = await _body(request)
    actor = await candypanel_bot.require_admin(_tg(body, "admin_telegram_id", "telegram_id"))
    run = _Manage(actor, candypanel_clients, candypanel_interfaces, candypanel_setup, candypanel_tokens,
                  candypanel_sync)
    try:
        message, data = await run(body.get("resource"), body.get("action"), body.get("data"))
    except VpnsmmError as exc:
        return failure(f"CandyPanel Error: {exc.message}", _status_of(exc))
    return envelope(f"CandyPanel: {message}", data)


def route_handlers() -> list[ControllerRouterHandler]:
    return [check, auth, manage, data, bot_register, bot_buy, bot_license, bot_status, bot_support,
            bot_check_admin, bot_all_users, bot_transactions, bot_approve, bot_reject, bot_manage_user,
            bot_broadcast, bot_server_control]
