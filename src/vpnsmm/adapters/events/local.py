"""In-process fan-out: the building block of both buses (the Redis bus feeds it from its one connection)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from vpnsmm.application.ports.jobs import JSON
from vpnsmm.domain.errors import ValidationError

_CLOSED = object()


def encode_event(channel: str, event: Mapping[str, JSON]) -> str:
    """Validate and serialise; raises ValidationError (empty channel, not a JSON object)."""
    if not channel or len(channel) > 200:
        raise ValidationError("channel names are 1-200 characters", field="channel")
    if not isinstance(event, Mapping):
        raise ValidationError("an event is a JSON object", field="event")
    try:
        return json.dumps(event, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the event is not JSON: {exc}", field="event") from None


class LocalStream:
    """One subscriber's queue. Bounded: a subscriber more than ``backlog`` events behind is cut off."""

    def __init__(self, backlog: int) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=backlog + 1)
        self._backlog = backlog
        self.lagged = False
        self.closed = False

    def offer(self, event: dict[str, JSON]) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= self._backlog:
            # Dropping silently would show the client a wrong picture; end the stream so it resyncs.
            self.lagged = True
            self.close()
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_CLOSED)

    def __aiter__(self) -> LocalStream:
        return self

    async def __anext__(self) -> dict[str, JSON]:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # stay ended for later reads
            raise StopAsyncIteration
        assert isinstance(item, dict)
        return item


class LocalFanout:
    """channel -> set of live streams."""

    def __init__(self, backlog: int = 1000) -> None:
        self.backlog = backlog
        self.streams: dict[str, set[LocalStream]] = {}

    def deliver(self, channel: str, event: dict[str, JSON]) -> None:
        for stream in list(self.streams.get(channel, ())):
            stream.offer(dict(event))

    def add(self, channel: str) -> LocalStream:
        stream = LocalStream(self.backlog)
        self.streams.setdefault(channel, set()).add(stream)
        return stream

    def remove(self, channel: str, stream: LocalStream) -> bool:
        """Forget ``stream``; True when it was the channel's last subscriber."""
        stream.close()
        streams = self.streams.get(channel)
        if streams is None:
            return False
        streams.discard(stream)
        if not streams:
            del self.streams[channel]
            return True
        return False


class InMemoryEventBus:
    """EventBus within one process (the default without Redis, and the fake for tests)."""

    def __init__(self, *, backlog: int = 1000) -> None:
        self._fanout = LocalFanout(backlog)

    async def publish(self, channel: str, event: Mapping[str, JSON]) -> None:
        self._fanout.deliver(channel, json.loads(encode_event(channel, event)))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[LocalStream]:
        encode_event(channel, {})
        stream = self._fanout.add(channel)
        try:
            yield stream
        finally:
            self._fanout.remove(channel, stream)

    async def close(self) -> None:
        for channel, streams in list(self._fanout.streams.items()):
            for stream in list(streams):
                self._fanout.remove(channel, stream)
