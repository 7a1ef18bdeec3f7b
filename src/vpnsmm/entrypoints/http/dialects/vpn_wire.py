"""Wire helpers shared by the VPN dialects (``v2ray``, ``ru-vpn``): reading share links, ids in paths,
validation messages, the caller from a bearer token. Presentation only: no rule lives here."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Request
from litestar.exceptions import ValidationException

from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.domain.errors import AuthenticationError, NotFoundError
from vpnsmm.domain.vpn_sales import Server, ServerKind, VpnAccount


def path_id(raw: str, what: str = "resource") -> int:
    """A numeric id from a path segment; anything else is the dialect's not-found (never a 500)."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise NotFoundError(f"{what} not found", code="NOT_FOUND")
    return int(text)


def protocol_of(account: VpnAccount, server: Server | None = None) -> str:
    """vless / vmess / trojan / ss / wireguard, from the account's first share link (or its panel kind)."""
    if account.links:
        scheme = account.links[0].split("://", 1)[0].lower()
        if scheme:
            return scheme
    if account.config or (server is not None and server.kind is ServerKind.WIREGUARD):
        return "wireguard"
    return "unknown"


def _vmess(link: str) -> dict[str, Any]:
    body = link.split("://", 1)[1]
    try:
        data = json.loads(base64.b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def transport_of(account: VpnAccount) -> str:
    """The link's network (tcp, ws, grpc, ...); ``udp`` for WireGuard; ``tcp`` when unknown."""
    if not account.links:
        return "udp" if account.config else "tcp"
    link = account.links[0]
    if link.startswith("vmess://"):
        return str(_vmess(link).get("net") or "tcp")
    query = parse_qs(urlsplit(link).query)
    return (query.get("type") or ["tcp"])[0]


def client_secret_of(account: VpnAccount) -> str:
    """The client's UUID (vless/vmess) or password (trojan) from its link, else the panel's id for it."""
    if account.links:
        link = account.links[0]
        if link.startswith("vmess://"):
            value = _vmess(link).get("id")
            if isinstance(value, str) and value:
                return value
        else:
            user = urlsplit(link).username
            if user:
                return user
    return account.remote_id


def config_text(account: VpnAccount) -> str | None:
    """What a client imports: the first share link, or the WireGuard config; None before provisioning."""
    if account.links:
        return account.links[0]
    return account.config


def public_host(server: Server) -> str:
    """Where customers see the server: its public host when configured, else the host of its address
    (never the panel's port, base path or credentials)."""
    host = server.settings.get("public_host")
    if isinstance(host, str) and host.strip():
        return host.strip()
    address = server.address if "://" in server.address else "//" + server.address
    return urlsplit(address).hostname or server.name


def validation_detail(exc: ValidationException) -> tuple[str, str]:
    """(field, readable message) of the first problem Litestar/msgspec found in a request."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        key = str(item.get("key") or "")
        if "missing required field `" in message:
            name = message.split("field `", 1)[1].split("`", 1)[0]
            return name, f"Field '{name}' is required"
        if "at `$." in message:
            name = message.rsplit("at `$.", 1)[1].rstrip("`")
            text = message.rsplit(" - at `", 1)[0]
            return name, f"Field '{name}': {text}"
        if key and key != "data":
            return key, f"Field '{key}': {message}"
        if message.strip("'\"") == "data" or not message:
            return "body", "A JSON request body is required"
        return "body", message
    return "body", str(exc.detail or "the request is not valid")


async def bearer_principal(request: Request[Any, Any, Any], authenticate: Authenticate,
                           schemes: tuple[str, ...] = ("bearer",)) -> Principal:
    """The caller from ``Authorization: <scheme> <token>`` (an access token) or ``X-API-Key``."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in schemes or not token.strip():
            raise AuthenticationError(f"use 'Authorization: {schemes[0].capitalize()} <token>'",
                                      code="INVALID_TOKEN")
        return await authenticate.access_token(token.strip())
    key = request.headers.get("x-api-key")
    if key:
        return await authenticate.api_key(key)
    raise AuthenticationError("Authentication credentials were not provided", code="UNAUTHORIZED")
