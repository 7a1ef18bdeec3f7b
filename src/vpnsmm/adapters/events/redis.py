"""EventBus over Redis pub/sub: every process holds one pub/sub connection and fans out locally.

``publish`` is a Redis PUBLISH of ``{"e": event}`` JSON on ``<prefix><channel>``; each process subscribes
to a Redis channel while it has at least one local subscriber to it. Delivery is at most once (pub/sub
keeps no history): a process that is disconnected misses events, and its streams end so that the
consumers resynchronise (``EventStream`` ends; reconnecting subscribers re-read state over HTTP).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog

from vpnsmm.adapters.events.local import LocalFanout, LocalStream, encode_event
from vpnsmm.application.ports.jobs import JSON
from vpnsmm.domain.errors import UpstreamUnavailableError

log = structlog.get_logger("vpnsmm.events")


class RedisEventBus:
    def __init__(self, client: Any, *, prefix: str = "vpnsmm:ev:", backlog: int = 1000) -> None:
        self._client, self._prefix = client, prefix
        self._fanout = LocalFanout(backlog)
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "vpnsmm:ev:", backlog: int = 1000) -> RedisEventBus:
        import redis.asyncio as redis

        return cls(redis.from_url(url, socket_connect_timeout=2.0), prefix=prefix, backlog=backlog)

    async def publish(self, channel: str, event: Mapping[str, JSON]) -> None:
        from redis.exceptions import RedisError

        body = json.dumps({"e": json.loads(encode_event(channel, event))}, separators=(",", ":"))
        try:
            await self._client.publish(self._prefix + channel, body)
        except (RedisError, OSError) as exc:
            raise UpstreamUnavailableError(f"event bus unreachable: {exc}", code="REDIS_UNAVAILABLE") from exc

    async def _ensure_reader(self) -> Any:
        if self._pubsub is None:
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        return self._pubsub

    async def _read(self) -> None:
        pubsub = self._pubsub
        try:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    if not pubsub.subscribed:
                        await asyncio.sleep(0.05)
                    continue
                if message.get("type") != "message":
                    continue
                channel = message["channel"]
                channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                try:
                    event = json.loads(message["data"])["e"]
                except (ValueError, KeyError, TypeError):
                    log.warning("event_malformed", channel=channel)
                    continue
                self._fanout.deliver(channel[len(self._prefix):], event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection lost: end every stream so consumers resync and resubscribe
            log.warning("event_bus_disconnected", error=f"{type(exc).__name__}: {exc}")
            for channel, streams in list(self._fanout.streams.items()):
                for stream in list(streams):
                    self._fanout.remove(channel, stream)
            self._pubsub, self._reader = None, None
            await pubsub.aclose()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[LocalStream]:
        from redis.exceptions import RedisError

        encode_event(channel, {})
        async with self._lock:
            first = channel not in self._fanout.streams
            stream = self._fanout.add(channel)
            if first:
                try:
                    pubsub = await self._ensure_reader()
                    await pubsub.subscribe(self._prefix + channel)  # returns once Redis confirmed it
                except (RedisError, OSError) as exc:
                    self._fanout.remove(channel, stream)
                    raise UpstreamUnavailableError(f"event bus unreachable: {exc}",
                                                   code="REDIS_UNAVAILABLE") from exc
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read(), name="redis-event-reader")
        try:
            yield stream
        finally:
            async with self._lock:
                if self._fanout.remove(channel, stream) and self._pubsub is not None:
                    with suppress(RedisError, OSError):
                        await self._pubsub.unsubscribe(self._prefix + channel)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        for channel, streams in list(self._fanout.streams.items()):
            for stream in list(streams):
                self._fanout.remove(channel, stream)
        await self._client.aclose()
