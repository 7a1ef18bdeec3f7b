"""Two ``vpnsmm serve`` processes sharing one Redis enforce one limit together, not one each."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import redis

from tests.support.redis import require_redis
from tests.support.server import running_server

LIMIT = 7


def _forget_counters(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter("vpnsmm:rl:*"):
            client.delete(key)
    finally:
        client.close()


def test_two_servers_share_the_anonymous_budget_through_redis(tmp_path: Path) -> None:
    base = require_redis().rsplit("/", 1)[0]
    url = f"{base}/{random.randint(1, 14)}"  # a database of its own, so parallel runs are unlikely to collide
    _forget_counters(url)
    # A day-long window: the test cannot straddle a window boundary in practice.
    env = {"VPNSMM_REDIS_URL": url, "VPNSMM_RATE_LIMITS": f"anonymous={LIMIT}/86400,read=1000/86400"}
    with running_server(tmp_path / "a", env=env) as a, running_server(tmp_path / "b", env=env) as b:
        statuses, remaining = [], []
        for n in range(3 * LIMIT):
            response = httpx.get(f"{(a, b)[n % 2]}/v1/me", timeout=10)
            statuses.append(response.status_code)
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
            assert response.headers["x-ratelimit-limit"] == str(LIMIT)
        assert statuses.count(429) == 2 * LIMIT
        assert statuses[:LIMIT] == [401] * LIMIT  # let through (then refused by auth), counted by both servers
        assert remaining[:LIMIT] == list(range(LIMIT - 1, -1, -1))
        refused = httpx.get(f"{b}/v1/me", timeout=10)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert refused.json()["code"] == "RATE_LIMITED"
    _forget_counters(url)
