"""Redis for tests: ``VPNSMM_TEST_REDIS_URL`` (default the local server, database 15).

When it cannot be reached the Redis tests are skipped -- except in CI (``CI=true``), where they fail.
Tests isolate themselves with random key prefixes and channel names, never FLUSHDB.
"""

from __future__ import annotations

import os

import pytest

from tests.support.databases import IN_CI

REDIS_URL = os.environ.get("VPNSMM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_unavailable_reason() -> str | None:
    import redis

    # The synchronous client, so this works inside a running event loop (async fixtures) too.
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def require_redis() -> str:
    """The Redis URL; skips (locally) or fails (in CI) when Redis is not reachable."""
    reason = redis_unavailable_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return REDIS_URL
