"""EventBus contract on the in-memory bus and Redis pub/sub, plus fan-out across two Redis bus instances."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.redis import require_redis
from vpnsmm.adapters.events.local import InMemoryEventBus
from vpnsmm.adapters.events.redis import RedisEventBus
from vpnsmm.domain.errors import UpstreamUnavailableError, ValidationError


@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis()


@pytest.fixture(params=["memory", "redis"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def buses(bus_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    """(publisher side, subscriber side): the same bus in memory, two independent Redis clients otherwise."""
    if bus_kind == "memory":
        bus = InMemoryEventBus(backlog=5)
        yield bus, bus
        await bus.close()
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"test:{secrets.token_hex(4)}:"
    a, b = RedisEventBus.from_url(url, prefix=prefix, backlog=5), RedisEventBus.from_url(url, prefix=prefix, backlog=5)
    yield a, b
    await a.close()
    await b.close()


async def next_event(stream: Any, timeout: float = 3.0) -> Any:
    return await asyncio.wait_for(stream.__anext__(), timeout)


async def test_subscribers_get_events_in_order_and_only_for_their_channel(buses: tuple[Any, Any]) -> None:
    pub, sub = buses
    async with sub.subscribe("orders:1") as one, sub.subscribe("orders:1") as two, sub.subscribe("orders:2") as other:
        await pub.publish("orders:1", {"status": "paid", "n": 1})
        await pub.publish("orders:1", {"status": "active", "n": 2, "nested": {"ok": True}})
        await pub.publish("orders:2", {"status": "x"})
        assert [await next_event(one), await next_event(one)] == [
            {"status": "paid", "n": 1}, {"status": "active", "n": 2, "nested": {"ok": True}}]
        assert (await next_event(two))["n"] == 1
        assert await next_event(other) == {"status": "x"}


async def test_events_before_subscribing_and_after_leaving_are_not_delivered(buses: tuple[Any, Any]) -> None:
    pub, sub = buses
    await pub.publish("c", {"early": True})
    async with sub.subscribe("c") as stream:
        await pub.publish("c", {"n": 1})
        assert await next_event(stream) == {"n": 1}
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)  # the stream ended with the subscription
    async with sub.subscribe("c") as again:
        await pub.publish("c", {"n": 2})
        assert await next_event(again) == {"n": 2}


async def test_a_subscriber_that_falls_behind_is_cut_off_and_told(buses: tuple[Any, Any]) -> None:
    pub, sub = buses
    async with sub.subscribe("firehose") as slow, sub.subscribe("firehose") as fast:
        for n in range(8):  # backlog is 5
            await pub.publish("firehose", {"n": n})
            assert (await next_event(fast))["n"] == n
        received = [event["n"] async for event in slow]
        assert slow.lagged is True and received == [0, 1, 2, 3, 4]
        assert fast.lagged is False


async def test_bad_channels_and_events_are_refused(buses: tuple[Any, Any]) -> None:
    pub, _ = buses
    with pytest.raises(ValidationError):
        await pub.publish("", {"a": 1})
    with pytest.raises(ValidationError):
        await pub.publish("c", {"when": object()})
    with pytest.raises(ValidationError):
        await pub.publish("c", ["not", "an", "object"])
    with pytest.raises(ValidationError):
        async with pub.subscribe(""):
            pass


async def test_redis_unreachable_is_an_upstream_error() -> None:
    bus = RedisEventBus.from_url("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(UpstreamUnavailableError):
            await bus.publish("c", {"a": 1})
        with pytest.raises(UpstreamUnavailableError):
            async with bus.subscribe("c"):
                pass
    finally:
        await bus.close()


def _subscriber_process(url: str, prefix: str, channel: str, ready: Any, out: Any) -> None:
    async def main() -> None:
        bus = RedisEventBus.from_url(url, prefix=prefix)
        async with bus.subscribe(channel) as stream:
            ready.set()
            out.put(await asyncio.wait_for(stream.__anext__(), 10))
        await bus.close()
    asyncio.run(main())


async def test_fan_out_reaches_a_subscriber_in_another_process(redis_url: str) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    prefix, channel = f"test:{secrets.token_hex(4)}:", "orders:9"
    proc = ctx.Process(target=_subscriber_process, args=(redis_url, prefix, channel, ready, out))
    proc.start()
    try:
        assert await asyncio.to_thread(ready.wait, 20)
        bus = RedisEventBus.from_url(redis_url, prefix=prefix)
        await bus.publish(channel, {"order": 9, "status": "completed"})
        await bus.close()
        assert await asyncio.to_thread(out.get, True, 10) == {"order": 9, "status": "completed"}
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
