"""Background work as seen by the core: a use case enqueues a job inside its unit of work.

``uow.jobs`` is a :class:`JobOutbox` bound to the unit of work's transaction, so a job exists if and
only if the business write it belongs to commits. Workers run the job later, possibly more than once
(after a crash or a lost lease), so every handler must be idempotent (see ``application/jobs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeAlias

#: What a job payload may hold: JSON values only (no datetimes, no Money; pass ISO strings and minor units).
JSON: TypeAlias = "str | int | float | bool | Sequence[JSON] | Mapping[str, JSON] | None"


class JobOutbox(Protocol):
    """Enqueue side of the job queue, bound to one transaction."""

    async def enqueue(self, task: str, payload: Mapping[str, JSON], *, key: str | None = None,
                      run_at: datetime | None = None, queue: str = "default") -> None:
        """Record that ``task`` must run with ``payload``; visible to workers only after the commit.

        ``key`` serialises work: at most one job with the same key runs at a time (e.g. ``"sync:panel:3"``);
        when omitted, the task's lock template from the registry (if any) derives it from the payload.
        ``run_at`` (timezone-aware) delays the first attempt; default: as soon as possible.
        ``queue`` lets operators dedicate workers (``vpnsmm worker --queues``).

        Not idempotent: two calls enqueue two jobs. Raises ValidationError for an empty task name, a
        naive ``run_at`` or a payload that is not JSON-serialisable.
        """
        ...
