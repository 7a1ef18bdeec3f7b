"""Counter stores: ``hit`` increments fixed-window counters atomically and returns their new values.

The Redis store does INCR and EXPIRE for every key of a request in one Lua script, so the count is exact
across any number of processes and a key never outlives its window (the pitfall of read-modify-write
limiters, litestar#4700, is that the limit multiplies by the number of workers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from vpnsmm.domain.errors import UpstreamUnavailableError


class RateLimitStore(Protocol):
    async def hit(self, counters: Sequence[tuple[str, int]], *, amount: int = 1) -> list[int]:
        """Increment each ``(key, ttl_seconds)`` counter by ``amount``; return the counts after incrementing.

        A counter that did not exist starts at ``amount`` and expires ``ttl_seconds`` later. ``amount=0`` only
        reads (a missing counter reads 0 and is not created). Not idempotent for ``amount > 0``.
        Raises UpstreamUnavailableError when the shared store cannot be reached.
        """
        ...

    async def close(self) -> None: ...


class InMemoryRateLimitStore:
    """Counters in a dict for a single process (the default without Redis)."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._monotonic, self._max_keys = monotonic, max_keys
        self._lock = asyncio.Lock()

    async def hit(self, counters: Sequence[tuple[str, int]], *, amount: int = 1) -> list[int]:
        async with self._lock:
            now = self._monotonic()
            if len(self._counts) > self._max_keys:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            result = []
            for key, ttl in counters:
                count, expires = self._counts.get(key, (0, 0.0))
                if expires <= now:
                    count, expires = 0, now + ttl
                if amount:
                    self._counts[key] = (count + amount, expires)
                result.append(count + amount)
            return result

    async def close(self) -> None:
        self._counts.clear()


_HIT_SCRIPT = """
local amount = tonumber(ARGV[#ARGV])
local counts = {}
for i, key in ipairs(KEYS) do
  local count
  if amount == 0 then
    count = tonumber(redis.call('GET', key) or '0')
  else
    count = redis.call('INCRBY', key, amount)
    if count == amount then redis.call('EXPIRE', key, tonumber(ARGV[i])) end
  end
  counts[i] = count
end
return counts
"""


class RedisRateLimitStore:
    """Counters in Redis (``redis.asyncio``), shared by every process that points at the same server."""

    def __init__(self, client: Any, *, prefix: str = "vpnsmm:rl:") -> None:
        self._client, self._prefix = client, prefix
        self._script = client.register_script(_HIT_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "vpnsmm:rl:") -> RedisRateLimitStore:
        import redis.asyncio as redis

        return cls(redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0), prefix=prefix)

    async def hit(self, counters: Sequence[tuple[str, int]], *, amount: int = 1) -> list[int]:
        if not counters:
            return []
        from redis.exceptions import RedisError

        try:
            counts = await self._script(keys=[self._prefix + key for key, _ in counters],
                                        args=[*(ttl for _, ttl in counters), amount])
        except (RedisError, OSError) as exc:
            raise UpstreamUnavailableError(f"rate-limit store unreachable: {exc}", code="REDIS_UNAVAILABLE") from exc
        return [int(c) for c in counts]

    async def close(self) -> None:
        await self._client.aclose()
