"""Event fan-out to live subscribers (WebSocket clients), across every process of a deployment.

Delivery is at most once and best effort: a subscriber sees the events published on its channel while
it is subscribed, in publish order per publisher, and nothing from before it subscribed. Anything that
must not be lost goes through the job queue or the database instead; clients that reconnect re-read
the state over HTTP and then follow the events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from vpnsmm.application.ports.jobs import JSON


class EventStream(Protocol):
    """The events of one subscription, in order. Iteration ends when the subscription is closed."""

    #: True once events were dropped because this subscriber fell too far behind; the stream then ends,
    #: and the consumer should resynchronise (re-read over HTTP) and subscribe again.
    lagged: bool

    def __aiter__(self) -> AsyncIterator[dict[str, JSON]]: ...

    async def __anext__(self) -> dict[str, JSON]: ...


class EventBus(Protocol):
    async def publish(self, channel: str, event: Mapping[str, JSON]) -> None:
        """Deliver ``event`` to every current subscriber of ``channel`` in every process.

        Returns once the event is handed to the transport (not once it is consumed). Raises
        ValidationError for an empty channel or an event that is not JSON-serialisable, and
        UpstreamUnavailableError when the shared transport (Redis) cannot be reached.
        """
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[EventStream]:
        """``async with bus.subscribe("orders:42") as events: async for event in events: ...``

        The subscription is active when the ``async with`` body starts, so an event published after
        that point is delivered. Leaving the block unsubscribes.
        """
        ...
