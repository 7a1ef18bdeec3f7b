"""Per-caller, per-endpoint-class rate limiting as ASGI middleware (fixed windows, shared through Redis).

Who is counted:

* a valid ``Authorization: Bearer`` access token -> ``user:<id>`` (signature and expiry checked with the
  secret; no database call); an ``X-API-Key`` (or Perfect Panel ``?key=``) -> ``key:<public id>:<digest>``
  where the digest is of the whole presented key, so a caller who knows only a key's public id cannot burn
  its owner's budget (the secret is checked later by the handler). Invented keys would each get a fresh
  budget, so every 401 answered to an API-key request counts against the caller's IP, and an IP with more
  failures in a window than the ``anonymous`` budget gets 429 for API-key requests until the window ends;
* anyone else -> their client IP (``scope["client"]``, which uvicorn's ``--proxy-headers`` sets from
  ``X-Forwarded-For`` for trusted proxies only, so the header cannot be spoofed from outside).

Which budgets a request spends (``adapters/ratelimit/policy.py`` holds the numbers):

* anonymous callers: the ``anonymous`` budget per IP, and their endpoint class's budget per IP;
* authenticated callers: their endpoint class's budget, or ``authenticated`` for endpoints in no class.

Every limited response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(Unix time the window ends) of the tightest budget; over the limit the answer is 429 with the problem body
and ``Retry-After``. When Redis is down requests are let through (logged): availability over limiting.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import structlog
from attrs import frozen

from vpnsmm.adapters.ratelimit.policy import Limit, RateLimitPolicy
from vpnsmm.adapters.ratelimit.stores import RateLimitStore
from vpnsmm.adapters.security import JwtAccessTokens
from vpnsmm.domain.errors import VpnsmmError

log = structlog.get_logger("vpnsmm.http")

ASGIApp = Callable[..., Any]
#: A dialect's error body: (path, status, message) -> JSON object.
ErrorBody = Callable[[str, int, str], Mapping[str, Any]]
_API_KEY = re.compile(r"^[A-Za-z0-9]{1,16}_([0-9a-f]{12})_")


@frozen
class RouteRule:
    """Requests whose path matches ``pattern`` (and method is in ``methods``, None = any) are ``endpoint_class``."""

    endpoint_class: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and self.pattern.search(path) is not None


_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: First match wins. Matches the native /v1 paths and every dialect's paths at any prefix (/api/v1/auth/token,
#: /auth/login, /api/auth, /bot_api/admin/..., /compat/smm-rest/api/v1/orders, /payments/create, /vpn/topup).
DEFAULT_ROUTES: tuple[RouteRule, ...] = (
    RouteRule("auth", re.compile(r"/auth(?:/|$)")),
    RouteRule("admin", re.compile(r"/(?:bot_api/)?admin(?:/|$)")),
    RouteRule("orders", re.compile(r"/(?:smm/)?(?:orders|subscriptions)(?:/bulk)?/?$"), frozenset({"POST"})),
    RouteRule("balance", re.compile(r"/(?:balance|wallet|payments|topups?|ledger)(?:/|$)"), _WRITE),
    RouteRule("read", re.compile(r"^/"), frozenset({"GET", "HEAD"})),
)

#: Never limited: probes, metrics, docs, and payment-gateway callbacks (they come from few IPs in bursts;
#: ``/payments/webhook`` is the ru-vpn dialect's Cryptomus webhook).
DEFAULT_EXEMPT = re.compile(r"^/(?:health|metrics|schema)(?:/|$)|/webhooks(?:/|$)|/payments/webhook/?$")

#: Perfect Panel compatible endpoint: one path, the operation is the ``action`` parameter.
_PERFECT_PANEL = re.compile(r"^/api/v2/?$")
_PP_ACTIONS = {"add": "orders", "refill": "orders", "cancel": "orders", "balance": "balance"}


@frozen
class _Budget:
    name: str
    limit: Limit
    count: int
    reset_at: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit.requests - self.count)


class RateLimitMiddleware:
    """ASGI middleware; see the module docstring. ``clock`` returns Unix seconds (injectable for tests)."""

    def __init__(self, app: ASGIApp, *, policy: RateLimitPolicy, store: RateLimitStore,
                 tokens: JwtAccessTokens | None = None, routes: Sequence[RouteRule] = DEFAULT_ROUTES,
                 exempt: re.Pattern[str] = DEFAULT_EXEMPT, clock: Callable[[], float] = time.time,
                 error_bodies: Sequence[tuple[re.Pattern[str], ErrorBody]] = ()) -> None:
        self.app, self.policy, self.store, self.tokens = app, policy, store, tokens
        self.routes, self.exempt, self.clock = tuple(routes), exempt, clock
        self.error_bodies = tuple(error_bodies)  # (path pattern, renderer): dialects answer in their own format

    def classify(self, method: str, path: str, query: dict[str, list[str]]) -> str | None:
        if _PERFECT_PANEL.match(path):
            action = (query.get("action") or [""])[0].lower()
            return _PP_ACTIONS.get(action, "read")
        return next((r.endpoint_class for r in self.routes if r.matches(method, path)), None)

    def principal(self, headers: dict[str, str], query: dict[str, list[str]], client_ip: str) -> tuple[str, bool]:
        """``(identity, authenticated)`` from cheap, local checks only."""
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip() and self.tokens is not None:
            try:
                claims = self.tokens.decode(token.strip(), now=datetime.fromtimestamp(self.clock(), UTC))
                return f"user:{claims.user_id}", True
            except VpnsmmError:
                pass
        key = headers.get("x-api-key") or (query.get("key") or [""])[0]
        match = _API_KEY.match(key)
        if match:
            digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]
            return f"key:{match.group(1)}:{digest}", True
        return f"ip:{client_ip}", False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.policy.enabled or self.exempt.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client") or ("unknown", 0)
        identity, authenticated = self.principal(headers, query, str(client[0]))
        endpoint_class = self.classify(method, path, query)
        names = [endpoint_class] if endpoint_class else []
        if not authenticated:
            names.append("anonymous")
        elif not endpoint_class:
            names.append("authenticated")

        now = self.clock()
        client_ip = str(client[0])
        failures = self._failure_counters(client_ip, now) if identity.startswith("key:") else []
        counters: list[tuple[str, int]] = []
        plan: list[tuple[str, Limit, int]] = []
        for name in names:
            for limit in self.policy.of(name):
                window = int(now // limit.window)
                counters.append((f"{name}:{limit.window}:{identity}:{window}", limit.window + 1))
                plan.append((name, limit, (window + 1) * limit.window))
        if not counters:
            await self.app(scope, receive, send)
            return
        try:
            if failures:
                failed = await self.store.hit([(key, ttl) for key, ttl, _ in failures], amount=0)
                over = [(limit, reset) for (_, _, (limit, reset)), count in zip(failures, failed, strict=True)
                        if count >= limit.requests]
                if over:
                    limit, reset = max(over, key=lambda item: item[1])
                    budget = _Budget("failed API key", limit, limit.requests, reset)
                    retry_after = max(1, int(reset - now + 0.999))
                    await self._too_many(send, [(b"x-ratelimit-limit", str(limit.requests).encode()),
                                                (b"x-ratelimit-remaining", b"0"),
                                                (b"x-ratelimit-reset", str(reset).encode())], retry_after, budget,
                                         path=path, render=self._render_for(path))
                    return
            counts = await self.store.hit(counters)
        except VpnsmmError as exc:
            log.warning("rate_limit_store_unavailable", error=exc.message)
            await self.app(scope, receive, send)
            return
        budgets = [_Budget(name, limit, count, reset) for (name, limit, reset), count in zip(plan, counts, strict=True)]
        exceeded = [b for b in budgets if b.count > b.limit.requests]
        tightest = max(exceeded, key=lambda b: b.reset_at) if exceeded else \
            min(budgets, key=lambda b: (b.remaining, b.reset_at))
        limit_headers = [(b"x-ratelimit-limit", str(tightest.limit.requests).encode()),
                         (b"x-ratelimit-remaining", str(tightest.remaining).encode()),
                         (b"x-ratelimit-reset", str(tightest.reset_at).encode())]
        if exceeded:
            retry_after = max(1, int(tightest.reset_at - now + 0.999))
            await self._too_many(send, limit_headers, retry_after, tightest, path=path, render=self._render_for(path))
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
                if failures and message.get("status") == 401:
                    await self._count_failure(failures)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _failure_counters(self, client_ip: str, now: float) -> list[tuple[str, int, tuple[Limit, int]]]:
        """Per-IP counters of API-key requests answered 401, one per ``anonymous`` budget window."""
        result = []
        for limit in self.policy.of("anonymous"):
            window = int(now // limit.window)
            result.append((f"keyfail:{limit.window}:{client_ip}:{window}", limit.window + 1,
                           (limit, (window + 1) * limit.window)))
        return result

    async def _count_failure(self, failures: list[tuple[str, int, tuple[Limit, int]]]) -> None:
        try:
            await self.store.hit([(key, ttl) for key, ttl, _ in failures])
        except VpnsmmError as exc:
            log.warning("rate_limit_store_unavailable", error=exc.message)

    def _render_for(self, path: str) -> ErrorBody | None:
        return next((render for pattern, render in self.error_bodies if pattern.match(path)), None)

    @staticmethod
    async def _too_many(send: Any, limit_headers: list[tuple[bytes, bytes]], retry_after: int,
                        budget: _Budget, *, path: str = "", render: ErrorBody | None = None) -> None:
        detail = (f"rate limit of {budget.limit.requests} requests per {budget.limit.window} s "
                  f"exceeded for {budget.name} requests; retry in {retry_after} s")
        if render is not None:
            body, content_type = json.dumps(dict(render(path, 429, detail))).encode(), b"application/json"
        else:
            body = json.dumps({"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": detail,
                               "code": "RATE_LIMITED", "retry_after": retry_after}).encode()
            content_type = b"application/problem+json"
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", content_type), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()), *limit_headers]})
        await send({"type": "http.response.body", "body": body})


def rate_limit_middleware(policy: RateLimitPolicy, store: RateLimitStore,
                          tokens: JwtAccessTokens | None = None, **options: Any) -> Callable[[ASGIApp], ASGIApp]:
    """A Litestar ``middleware=[...]`` entry (a factory taking the next ASGI app)."""
    def factory(app: ASGIApp) -> ASGIApp:
        return RateLimitMiddleware(app, policy=policy, store=store, tokens=tokens, **options)
    return factory
