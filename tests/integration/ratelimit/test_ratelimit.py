"""Rate limiting: policy parsing, counter stores (memory and Redis) and the ASGI middleware over HTTP."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Response, get, post

from tests.support.redis import require_redis
from vpnsmm.adapters.ratelimit.policy import DEFAULT_RATE_LIMITS, Limit, parse_rate_limits
from vpnsmm.adapters.ratelimit.stores import InMemoryRateLimitStore, RedisRateLimitStore
from vpnsmm.adapters.security import JwtAccessTokens
from vpnsmm.domain.identity import Role
from vpnsmm.entrypoints.http.ratelimit import rate_limit_middleware

SECRET = "s" * 40


# -- policy -------------------------------------------------------------------------------------------------

def test_default_policy_carries_the_seed_numbers() -> None:
    policy = parse_rate_limits("default")
    assert policy.enabled and parse_rate_limits("") == policy
    assert policy.of("auth") == (Limit(10, 60), Limit(60, 3600))
    assert policy.of("orders") == (Limit(30, 60), Limit(300, 3600))
    assert policy.of("balance") == (Limit(20, 60), Limit(200, 3600))
    assert policy.of("admin") == (Limit(100, 60), Limit(1000, 3600))
    assert policy.of("read") == (Limit(100, 60), Limit(5000, 3600))
    assert policy.of("anonymous") == (Limit(10, 60),) and policy.of("authenticated") == (Limit(60, 60),)
    assert "auth=10/60" in DEFAULT_RATE_LIMITS


def test_overrides_replace_only_the_named_classes_and_off_disables() -> None:
    policy = parse_rate_limits("auth=3/10, read=5/1,read=50/60")
    assert policy.of("auth") == (Limit(3, 10),) and policy.of("read") == (Limit(5, 1), Limit(50, 60))
    assert policy.of("orders") == (Limit(30, 60), Limit(300, 3600))
    assert parse_rate_limits("OFF").enabled is False


@pytest.mark.parametrize("bad", ["auth", "auth=10", "auth=x/60", "nope=1/60", "auth=0/60", "auth=1/0",
                                 "auth=1/100000"])
def test_bad_policies_are_refused_with_the_entry_named(bad: str) -> None:
    with pytest.raises(ValueError, match=r"auth|nope"):
        parse_rate_limits(bad)


# -- stores -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis()


class Ticking:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    """Two handles on one counter space: the same dict, or two Redis clients (two processes' view)."""
    if request.param == "memory":
        store = InMemoryRateLimitStore()
        yield store, store
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"test:{secrets.token_hex(4)}:"
    a, b = RedisRateLimitStore.from_url(url, prefix=prefix), RedisRateLimitStore.from_url(url, prefix=prefix)
    yield a, b
    await a.close()
    await b.close()


async def test_hits_count_per_key_and_are_atomic_across_clients(stores: tuple[Any, Any]) -> None:
    a, b = stores
    assert await a.hit([("k1", 60), ("k2", 60)]) == [1, 1]
    assert await b.hit([("k1", 60)]) == [2]
    counts = await asyncio.gather(*(store.hit([("hot", 60)]) for store in [a, b] * 25))
    assert sorted(c[0] for c in counts) == list(range(1, 51))  # no lost update, no duplicate
    assert await a.hit([]) == []


async def test_counters_expire_after_their_ttl(stores: tuple[Any, Any]) -> None:
    a, _ = stores
    assert await a.hit([("short", 1)]) == [1]
    assert await a.hit([("short", 1)]) == [2]
    await asyncio.sleep(1.2)
    assert await a.hit([("short", 1)]) == [1]


# -- middleware ---------------------------------------------------------------------------------------------

@post("/v1/auth/login", status_code=200)
async def login() -> dict[str, bool]:
    return {"ok": True}


@get("/v1/things")
async def things() -> dict[str, bool]:
    return {"ok": True}


@post("/v1/me/thing", status_code=200)
async def other_write() -> dict[str, bool]:
    return {"ok": True}


@post("/v1/orders", status_code=201)
async def create_order() -> dict[str, bool]:
    return {"ok": True}


@get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


class Clock:
    """Wall-clock based (PyJWT refuses tokens issued in the future), 10 s into a 60 s window."""

    def __init__(self) -> None:
        # two minutes back: tokens issued "now" must not look issued in the future to PyJWT's own iat check
        self.window_start = (int(time.time()) // 60 - 2) * 60
        self.now = self.window_start + 10.0

    def __call__(self) -> float:
        return self.now


def make_app(limits: str, store: Any, clock: Clock) -> Litestar:
    tokens = JwtAccessTokens(SECRET, ttl=timedelta(minutes=15))
    return Litestar([login, things, other_write, create_order, health], middleware=[
        rate_limit_middleware(parse_rate_limits(limits), store, tokens, clock=clock)])


def token_for(user_id: int, clock: Clock, secret: str = SECRET) -> str:
    tokens = JwtAccessTokens(secret, ttl=timedelta(minutes=15))
    now = datetime.fromtimestamp(clock.now, UTC)
    return tokens.issue(user_id=user_id, session_id="s", role=Role.USER, now=now).token


def client(app: Litestar, ip: str = "10.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url="http://t")


async def test_headers_count_down_and_the_429_is_a_problem_with_retry_after() -> None:
    clock = Clock()  # 10 s into a 60 s window
    app = make_app("auth=3/60,anonymous=100/60", InMemoryRateLimitStore(), clock)
    async with client(app) as http:
        seen = []
        for _ in range(3):
            response = await http.post("/v1/auth/login")
            assert response.status_code == 200
            seen.append((response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"],
                         response.headers["x-ratelimit-reset"]))
        reset = str(clock.window_start + 60)
        assert seen == [("3", "2", reset), ("3", "1", reset), ("3", "0", reset)]
        refused = await http.post("/v1/auth/login")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "50"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        body = refused.json()
        assert (body["status"], body["code"], body["title"]) == (429, "RATE_LIMITED", "Too Many Requests")
        assert "auth" in body["detail"]
        clock.now += 50  # next window
        assert (await http.post("/v1/auth/login")).status_code == 200


async def test_anonymous_callers_are_counted_per_ip() -> None:
    app = make_app("anonymous=2/60", InMemoryRateLimitStore(), Clock())
    async with client(app, "10.0.0.1") as one, client(app, "10.0.0.2") as two:
        assert [(await one.get("/v1/things")).status_code for _ in range(3)] == [200, 200, 429]
        assert (await two.get("/v1/things")).status_code == 200


async def test_authenticated_callers_get_their_own_budget_and_forged_tokens_do_not() -> None:
    clock = Clock()
    app = make_app("anonymous=1/60,authenticated=2/60,read=3/60", InMemoryRateLimitStore(), clock)
    async with client(app) as http:
        alice = {"Authorization": f"Bearer {token_for(1, clock)}"}
        bob = {"Authorization": f"Bearer {token_for(2, clock)}"}
        # reads: the read class budget per user (3), not the anonymous one (1)
        assert [(await http.get("/v1/things", headers=alice)).status_code for _ in range(4)] == [200] * 3 + [429]
        assert (await http.get("/v1/things", headers=bob)).status_code == 200
        # endpoints in no class: the authenticated budget (2)
        assert [(await http.post("/v1/me/thing", headers=bob)).status_code for _ in range(3)] == [200, 200, 429]
        # a token signed with another secret counts as anonymous, so it cannot mint fresh budgets
        forged = {"Authorization": f"Bearer {token_for(3, clock, secret='x' * 40)}"}
        assert [(await http.get("/v1/things", headers=forged)).status_code for _ in range(2)] == [200, 429]


async def test_api_keys_are_counted_per_presented_key() -> None:
    app = make_app("orders=1/60", InMemoryRateLimitStore(), Clock())
    async with client(app) as http:
        key_a = {"X-API-Key": "vsm_0123456789ab_secret"}
        key_b = {"X-API-Key": "vsm_ba9876543210_secret"}
        assert (await http.post("/v1/orders", headers=key_a)).status_code == 201
        assert (await http.post("/v1/orders", headers=key_a)).status_code == 429
        # knowing a key's public id is not enough to burn its owner's budget
        assert (await http.post("/v1/orders", headers={"X-API-Key": "vsm_0123456789ab_other"})).status_code == 201
        assert (await http.post("/v1/orders", headers=key_b)).status_code == 201
        assert (await http.post("/v1/orders?key=vsm_ba9876543210_secret")).status_code == 429  # Perfect Panel style


@post("/v1/keyed", status_code=200)
async def keyed(request: Request[Any, Any, Any]) -> Response[dict[str, bool]]:
    """Stands in for a handler that verifies the API key: only ``..._good`` is valid."""
    ok = request.headers.get("x-api-key", "").endswith("_good")
    return Response({"ok": ok}, status_code=200 if ok else 401)


async def test_invented_api_keys_cannot_mint_fresh_budgets() -> None:
    app = Litestar([keyed], middleware=[rate_limit_middleware(
        parse_rate_limits("anonymous=3/60,authenticated=100/60"), InMemoryRateLimitStore(), None, clock=Clock())])
    async with client(app, "10.0.0.9") as guesser, client(app, "10.0.0.10") as owner:
        statuses = [(await guesser.post("/v1/keyed", headers={"X-API-Key": f"vsm_0123456789ab_guess{i}"})).status_code
                    for i in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        refused = await guesser.post("/v1/keyed", headers={"X-API-Key": "vsm_0123456789ab_guess9"})
        assert refused.status_code == 429 and "failed API key" in refused.json()["detail"]
        # the owner, elsewhere, is untouched; successful requests never count as failures
        assert [(await owner.post("/v1/keyed", headers={"X-API-Key": "vsm_0123456789ab_good"})).status_code
                for _ in range(5)] == [200] * 5


async def test_zero_amount_hits_only_read(stores: tuple[Any, Any]) -> None:
    a, b = stores
    key = f"peek:{secrets.token_hex(4)}"
    assert await a.hit([(key, 60)], amount=0) == [0]
    assert await b.hit([(key, 60)]) == [1]
    assert await a.hit([(key, 60)], amount=0) == [1]
    assert await b.hit([(key, 60)], amount=2) == [3]


async def test_exempt_paths_and_disabled_limits_carry_no_headers() -> None:
    async with client(make_app("anonymous=1/60", InMemoryRateLimitStore(), Clock())) as http:
        for _ in range(3):
            response = await http.get("/health")
            assert response.status_code == 200 and "x-ratelimit-limit" not in response.headers
    async with client(make_app("off", InMemoryRateLimitStore(), Clock())) as http:
        for _ in range(20):
            response = await http.post("/v1/auth/login")
            assert response.status_code == 200 and "x-ratelimit-limit" not in response.headers


async def test_an_unreachable_redis_lets_requests_through() -> None:
    store = RedisRateLimitStore.from_url("redis://127.0.0.1:1/0")
    try:
        async with client(make_app("anonymous=1/60", store, Clock())) as http:
            assert [(await http.get("/v1/things")).status_code for _ in range(3)] == [200, 200, 200]
    finally:
        await store.close()


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/v1/auth/login", "auth"),
    ("POST", "/api/v1/auth/token/", "auth"),            # v2ray
    ("POST", "/auth/login", "auth"),                    # ru-vpn
    ("POST", "/api/auth", "auth"),                      # candypanel
    ("GET", "/v1/admin/users", "admin"),
    ("POST", "/bot_api/admin/approve_transaction", "admin"),
    ("GET", "/api/v2/admin/dashboard", "admin"),        # smm-spring
    ("POST", "/compat/smm-rest/api/v1/orders", "orders"),
    ("POST", "/api/v1/orders/bulk", "orders"),
    ("POST", "/v1/smm/orders", "orders"),
    ("POST", "/payments/create", "balance"),            # ru-vpn
    ("POST", "/vpn/topup", "balance"),
    ("POST", "/api/v1/balance/deposit", "balance"),
    ("GET", "/tariffs", "read"),
    ("POST", "/v1/me/password", None),
])
def test_every_dialect_path_falls_in_its_class(method: str, path: str, expected: str | None) -> None:
    middleware = rate_limit_middleware(parse_rate_limits("default"), InMemoryRateLimitStore())(things)
    assert middleware.classify(method, path, {}) == expected  # type: ignore[attr-defined]
