"""An in-process Marzban 0.8.4 admin API reproducing what MarzbanPanel relies on.

Faithful to ``docs/adapters/marzban.md`` (research: ``vpn-panels.md`` section 1): OAuth2 password token at
``POST /api/admin/token`` (form body), ``Authorization: Bearer``; 401 ``Could not validate credentials`` for an
expired/unknown token and ``Not authenticated`` without one; ``{"detail": str}`` errors (404 ``User not found``,
409 ``User already exists``) and 422 ``{"detail": {"<field>": "<msg>"}}``; the status machine
(``active -> limited/expired``, applied on every touch instead of a 10 s job); ``PUT`` side effects; the reset
quirk (**a disabled user becomes active after** ``POST /reset``); ``revoke_sub`` issuing new proxy ids; paged
``GET /api/users`` whose ``total`` ignores offset/limit; ``GET /api/system``.

Test hooks on ``FakeMarzbanState``: ``expire_tokens``, ``add_traffic``, ``request_log``, ``logins``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import uuid as uuidlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from attrs import define, field
from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.params import FromPath

from vpnsmm.adapters.panels.links import Transport, share_link

USERNAME = re.compile(r"^(?=\w{3,32}\b)[a-zA-Z0-9-_@.]+(?:_[a-zA-Z0-9-_@.]+)*$")
PROTOCOLS = ("vmess", "vless", "trojan", "shadowsocks")
VERSION = "0.8.4"


@define(eq=False)
class FakeMarzbanState:
    username: str = "admin"
    password: str = "secret"
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # protocol -> inbound tags the (imaginary) xray config has; a protocol missing here is "disabled"
    inbounds: dict[str, list[str]] = field(factory=lambda: {"vless": ["VLESS TCP REALITY"], "vmess": ["VMess TCP"],
                                                              "trojan": ["Trojan TCP"]})
    link_host: str = "vpn.example.com"
    link_port: int = 443
    users: dict[str, dict[str, Any]] = field(factory=dict)  # lower-case username -> stored user
    tokens: dict[str, str] = field(factory=dict)  # token -> admin username
    secret: bytes = field(factory=lambda: secrets.token_bytes(16))
    request_log: list[tuple[str, str]] = field(factory=list)
    logins: int = 0
    incoming_bandwidth: int = 0
    outgoing_bandwidth: int = 0

    def expire_tokens(self) -> None:
        """Invalidate every issued token, as expiry or a password reset does."""
        self.tokens.clear()

    def add_traffic(self, username: str, used: int) -> None:
        user = self.users[username.lower()]
        user["used_traffic"] += used
        user["lifetime_used_traffic"] += used
        self.outgoing_bandwidth += used
        self.review(user)

    def review(self, user: dict[str, Any]) -> None:
        """``app/jobs/review_users.py`` for one user (the real job runs every 10 s)."""
        if user["status"] != "active":
            return
        if user["data_limit"] and user["used_traffic"] >= user["data_limit"]:
            user["status"] = "limited"
        elif user["expire"] and user["expire"] <= int(self.now().timestamp()):
            user["status"] = "expired"

    def sub_token(self, username: str) -> str:
        # create_subscription_token: embeds the current time, so it differs on every read (Marzban#2083).
        data = base64.urlsafe_b64encode(f"{username},{math.ceil(self.now().timestamp())}".encode()).decode()
        data = data.rstrip("=")
        sig = base64.urlsafe_b64encode(hashlib.sha256((data + self.secret.hex()).encode()).digest()).decode()
        return data + sig[:10]

    def response(self, user: dict[str, Any]) -> dict[str, Any]:
        self.review(user)
        links = []
        for proto, settings in user["proxies"].items():
            secret = settings.get("id") or settings.get("password") or ""
            for tag in user["inbounds"].get(proto, []):
                transport = Transport(host=self.link_host, port=self.link_port, network="tcp",
                                      security="reality" if "REALITY" in tag else "none")
                if proto in ("vless", "vmess", "trojan"):
                    links.append(share_link(proto, secret, transport, f"{tag} ({user['username']})",
                                            flow=settings.get("flow", "")))
        return {**{k: v for k, v in user.items() if not k.startswith("_")},
                "excluded_inbounds": {p: [t for t in self.inbounds.get(p, []) if t not in user["inbounds"].get(p, [])]
                                      for p in user["proxies"]},
                "links": links, "subscription_url": f"/sub/{self.sub_token(user['username'])}",
                "admin": {"username": self.username, "is_sudo": True, "telegram_id": None,
                          "discord_webhook": None, "users_usage": None}}


def _detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response({"detail": detail}, status_code=status, headers=headers)


def _proxy_defaults(proto: str, settings: dict[str, Any]) -> dict[str, Any]:
    if proto in ("vmess", "vless"):
        out = {"id": str(settings.get("id") or uuidlib.uuid4())}
        if proto == "vless":
            out["flow"] = settings.get("flow", "")
        return out
    if proto == "trojan":
        return {"password": settings.get("password") or secrets.token_urlsafe(16), "flow": settings.get("flow", "")}
    return {"password": settings.get("password") or secrets.token_urlsafe(16),
            "method": settings.get("method", "chacha20-ietf-poly1305")}


def create_fake_marzban_app(state: FakeMarzbanState) -> Litestar:
    """A Litestar app serving ``state`` like a Marzban 0.8.4 panel (``/api`` routes only)."""

    def authorise(request: Request[Any, Any, Any]) -> Response[Any] | None:
        state.request_log.append((request.method, request.url.path))
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _detail(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})
        if header[7:] not in state.tokens:
            return _detail(401, "Could not validate credentials", {"WWW-Authenticate": "Bearer"})
        return None

    def reviewed_status(user: dict[str, Any]) -> str:
        state.review(user)
        return str(user["status"])

    def find(username: str) -> dict[str, Any] | None:
        return state.users.get(username.lower())

    def validate_common(body: dict[str, Any], errors: dict[str, str]) -> None:
        for name in ("expire", "data_limit"):
            value = body.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors[name] = "value is not a valid integer"
            elif value < 0:
                errors[name] = "ensure this value is greater than or equal to 0"
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            errors["note"] = "ensure this value has at most 500 characters"
        inbounds = body.get("inbounds") or {}
        if not isinstance(inbounds, dict):
            errors["inbounds"] = "value is not a valid dict"
        else:
            for proto, tags in inbounds.items():
                for tag in tags or []:
                    if tag not in state.inbounds.get(proto, []):
                        errors["inbounds"] = f"Inbound {tag} doesn't exist"

    def apply_proxies(user: dict[str, Any], proxies: dict[str, Any], inbounds: dict[str, Any]) -> None:
        user["proxies"] = {p: _proxy_defaults(p, s or {}) for p, s in proxies.items()}
        user["inbounds"] = {p: list(inbounds.get(p) or state.inbounds.get(p, [])) for p in proxies}

    @post("/api/admin/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        if form.get("grant_type") not in (None, "", "password"):
            return _detail(422, {"grant_type": 'string does not match regex "password"'})
        if form.get("username") != state.username or form.get("password") != state.password:
            return _detail(401, "Incorrect username or password", {"WWW-Authenticate": "Bearer"})
        value = secrets.token_urlsafe(32)
        state.tokens[value] = state.username
        state.logins += 1
        return Response({"access_token": value, "token_type": "bearer"})

    @post("/api/user", status_code=200)
    async def add_user(request: Request[Any, Any, Any]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        try:
            body = await request.json()
        except ValueError:
            return _detail(422, {"body": "value is not a valid dict"})
        if not isinstance(body, dict):
            return _detail(422, {"body": "value is not a valid dict"})
        errors: dict[str, str] = {}
        username = body.get("username")
        if not isinstance(username, str) or not USERNAME.match(username):
            errors["username"] = ("Username only can be 3 to 32 characters and contain a-z, 0-9, "
                                  "and underscores in between.")
        proxies = body.get("proxies")
        if not isinstance(proxies, dict) or not proxies:
            errors["proxies"] = "Each user needs at least one proxy"
        elif any(p not in PROTOCOLS for p in proxies):
            errors["proxies"] = "value is not a valid enumeration member"
        status = body.get("status", "active") or "active"
        if status not in ("active", "on_hold"):
            errors["status"] = "value is not a valid enumeration member; permitted: 'active', 'on_hold'"
        validate_common(body, errors)
        if errors:
            return _detail(422, errors)
        assert isinstance(proxies, dict)
        assert isinstance(username, str)
        for proto in proxies:
            if not state.inbounds.get(proto):
                return _detail(400, f"Protocol {proto} is disabled on your server")
        if find(username) is not None:
            return _detail(409, "User already exists")
        user: dict[str, Any] = {
            "username": username, "status": status, "used_traffic": 0, "lifetime_used_traffic": 0,
            "created_at": state.now().astimezone(UTC).replace(tzinfo=None).isoformat(),
            "expire": int(body.get("expire") or 0) or None, "data_limit": int(body.get("data_limit") or 0) or None,
            "data_limit_reset_strategy": body.get("data_limit_reset_strategy") or "no_reset",
            "note": body.get("note"), "sub_updated_at": None, "sub_last_user_agent": None, "online_at": None,
            "on_hold_expire_duration": body.get("on_hold_expire_duration"),
            "on_hold_timeout": body.get("on_hold_timeout"), "auto_delete_in_days": body.get("auto_delete_in_days"),
            "next_plan": body.get("next_plan"),
        }
        apply_proxies(user, proxies, body.get("inbounds") or {})
        state.users[username.lower()] = user
        return Response(state.response(user))

    @get("/api/user/{username:str}")
    async def get_user(request: Request[Any, Any, Any], username: FromPath[str]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        user = find(username)
        return Response(state.response(user)) if user else _detail(404, "User not found")

    @put("/api/user/{username:str}")
    async def modify_user(request: Request[Any, Any, Any], username: FromPath[str]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        user = find(username)
        if user is None:
            return _detail(404, "User not found")
        try:
            body = await request.json()
        except ValueError:
            return _detail(422, {"body": "value is not a valid dict"})
        if not isinstance(body, dict):
            return _detail(422, {"body": "value is not a valid dict"})
        errors: dict[str, str] = {}
        status = body.get("status")
        if status is not None and status not in ("active", "disabled", "on_hold"):
            errors["status"] = "value is not a valid enumeration member; permitted: 'active', 'disabled', 'on_hold'"
        validate_common(body, errors)
        if errors:
            return _detail(422, errors)
        state.review(user)
        # crud.update_user, in its order
        if body.get("proxies"):
            apply_proxies(user, body["proxies"], body.get("inbounds") or user["inbounds"])
        if status is not None:
            user["status"] = status
        if body.get("data_limit") is not None:
            user["data_limit"] = int(body["data_limit"]) or None
            if user["status"] not in ("expired", "disabled"):
                if not user["data_limit"] or user["used_traffic"] < user["data_limit"]:
                    if user["status"] != "on_hold":
                        user["status"] = "active"
                else:
                    user["status"] = "limited"
        if body.get("expire") is not None:
            user["expire"] = int(body["expire"]) or None
            if user["status"] in ("active", "expired"):
                if not user["expire"] or user["expire"] > int(state.now().timestamp()):
                    user["status"] = "active"
                else:
                    user["status"] = "expired"
        if body.get("note") is not None:
            user["note"] = body["note"]
        if body.get("data_limit_reset_strategy") is not None:
            user["data_limit_reset_strategy"] = body["data_limit_reset_strategy"]
        user["next_plan"] = body.get("next_plan")  # a PUT without next_plan deletes it
        return Response(state.response(user))

    @delete("/api/user/{username:str}", status_code=200)
    async def remove_user(request: Request[Any, Any, Any], username: FromPath[str]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        if state.users.pop(username.lower(), None) is None:
            return _detail(404, "User not found")
        return _detail(200, "User successfully deleted")

    @post("/api/user/{username:str}/reset", status_code=200)
    async def reset_user(request: Request[Any, Any, Any], username: FromPath[str]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        user = find(username)
        if user is None:
            return _detail(404, "User not found")
        user["used_traffic"] = 0
        # Upstream bug kept on purpose: `status not in (expired or disabled)` == `status != expired`,
        # so a disabled user comes back active.
        if user["status"] != "expired":
            user["status"] = "active"
        user["next_plan"] = None
        return Response(state.response(user))

    @post("/api/user/{username:str}/revoke_sub", status_code=200)
    async def revoke_sub(request: Request[Any, Any, Any], username: FromPath[str]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        user = find(username)
        if user is None:
            return _detail(404, "User not found")
        user["proxies"] = {p: _proxy_defaults(p, {"flow": s.get("flow", "")} if "flow" in s else {})
                           for p, s in user["proxies"].items()}
        user["_sub_revoked_at"] = state.now().isoformat()
        return Response(state.response(user))

    @get("/api/users")
    async def get_users(request: Request[Any, Any, Any]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        q = request.query_params
        try:
            offset = int(q["offset"]) if "offset" in q else 0
            limit = int(q["limit"]) if "limit" in q else None
        except ValueError:
            return _detail(422, {"offset": "value is not a valid integer"})
        names = q.getall("username", [])
        status = q.get("status")
        if names:
            rows: Any = (u for u in (find(n) for n in names) if u is not None)
        else:
            rows = iter(state.users.values())
        if status:
            rows = (u for u in rows if reviewed_status(u) == status)
        selected = list(rows)
        total = len(selected)
        page = selected[offset:] if limit is None else list(islice(selected, offset, offset + limit))
        return Response({"users": [state.response(u) for u in page], "total": total})

    @get("/api/system")
    async def system(request: Request[Any, Any, Any]) -> Response[Any]:
        if denied := authorise(request):
            return denied
        counts: dict[str, int] = {}
        for user in state.users.values():
            state.review(user)
            counts[user["status"]] = counts.get(user["status"], 0) + 1
        return Response({
            "version": VERSION, "mem_total": 2 * 2**30, "mem_used": 700 * 2**20, "cpu_cores": 2,
            "cpu_usage": 7.5, "total_user": len(state.users), "online_users": 0,
            "users_active": counts.get("active", 0), "users_on_hold": counts.get("on_hold", 0),
            "users_disabled": counts.get("disabled", 0), "users_expired": counts.get("expired", 0),
            "users_limited": counts.get("limited", 0), "incoming_bandwidth": state.incoming_bandwidth,
            "outgoing_bandwidth": state.outgoing_bandwidth, "incoming_bandwidth_speed": 0,
            "outgoing_bandwidth_speed": 0,
        })

    @get("/api/user/{username:str}/usage")
    async def user_usage(request: Request[Any, Any, Any], username: FromPath[str]) -> Response[Any]:
        """Per-node usage of one user in ``[start, end]`` (ISO-8601, default the last 30 days). This fake has one
        node (the master, ``node_id`` null) and attributes the user's current period counter to it."""
        if denied := authorise(request):
            return denied
        user = find(username)
        if user is None:
            return _detail(404, "User not found")
        try:
            end = datetime.fromisoformat(request.query_params["end"]) if "end" in request.query_params \
                else state.now()
            start = datetime.fromisoformat(request.query_params["start"]) if "start" in request.query_params \
                else end - timedelta(days=30)
        except ValueError:
            return _detail(400, "Invalid date range or format")
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        if start >= end:
            return _detail(400, "Start date must be before end date")
        return Response({"username": user["username"],
                         "usages": [{"node_id": None, "node_name": "Master", "used_traffic": user["used_traffic"]}]})

    @get("/api/inbounds")
    async def inbounds(request: Request[Any, Any, Any]) -> Response[Any]:
        """Inbound tags by protocol, as the xray config has them."""
        if denied := authorise(request):
            return denied
        return Response({proto: [{"tag": tag, "protocol": proto, "network": "tcp",
                                  "tls": "reality" if "REALITY" in tag else "none", "port": state.link_port}
                                 for tag in tags] for proto, tags in state.inbounds.items()})

    return Litestar(route_handlers=[token, add_user, get_user, modify_user, remove_user, reset_user, revoke_sub,
                                    get_users, system, user_usage, inbounds], openapi_config=None, debug=False)
