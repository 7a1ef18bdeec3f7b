"""The worker loop: claim due jobs, run their handlers under a heartbeated lease, record the outcome.

One :class:`JobRunner` per process (``vpnsmm worker``, or in-process inside ``vpnsmm serve`` on SQLite).
Any number of runners may share one database: claims are exclusive, periodic slots are enqueued once
(deduplicated by slot), and a runner that dies mid-job loses nothing -- its lease expires, the job is
requeued by whichever runner notices first, and runs again (handlers are idempotent, see
``application/jobs.py``).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog

from vpnsmm.adapters.jobs.store import ClaimedJob, JobStore, new_job
from vpnsmm.application.jobs import JobContext, TaskRegistry, TaskSpec

log = structlog.get_logger("vpnsmm.jobs")


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class JobRunner:
    """Runs jobs from ``store`` with the handlers of ``registry``.

    ``lease_seconds``: how long a claim stays valid without a heartbeat (heartbeats every third of it);
    a killed worker's jobs are picked up again after at most this long. ``queues`` None = every queue.
    """

    def __init__(self, store: JobStore, registry: TaskRegistry, *, now: Callable[[], datetime],
                 concurrency: int = 4, queues: Sequence[str] | None = None, lease_seconds: float = 60.0,
                 poll_interval: float = 1.0, worker_id: str | None = None, run_periodic: bool = True,
                 keep_succeeded: timedelta = timedelta(days=7), jitter: Callable[[], float] = random.random) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_seconds <= 0 or poll_interval <= 0:
            raise ValueError("lease_seconds and poll_interval must be positive")
        self.store, self.registry, self._now = store, registry, now
        self.concurrency, self.queues = concurrency, list(queues) if queues is not None else None
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.worker_id = worker_id or default_worker_id()
        self.run_periodic = run_periodic
        self.keep_succeeded = keep_succeeded
        self._jitter = jitter
        self._running: dict[asyncio.Task[None], ClaimedJob] = {}
        self._next_fire: dict[str, datetime] = {}
        self._last_prune: datetime | None = None
        self._wake = asyncio.Event()

    @property
    def _tasks(self) -> list[str]:
        return list(self.registry.names)

    # -- maintenance --------------------------------------------------------------------------------------

    async def enqueue_periodic(self) -> int:
        """Enqueue each periodic task whose slot has come; once per slot across all runners. Returns how many."""
        if not self.run_periodic:
            return 0
        now, added = self._now(), 0
        for spec in self.registry.periodic():
            if self.queues is not None and spec.queue not in self.queues:
                continue
            assert spec.schedule is not None
            due = self._next_fire.get(spec.name)
            if due is None:
                # First look: the slot we are in now counts, so a fresh worker fleet starts the work promptly.
                due = spec.schedule.next_after(now - _slot_width(spec))
                if due > now:
                    self._next_fire[spec.name] = due
                    continue
            if due > now:
                continue
            job = new_job(spec.name, {}, key=spec.key_for({}) or f"periodic:{spec.name}", run_at=due,
                          queue=spec.queue, now=now, dedupe_key=f"periodic:{spec.name}:{due.isoformat()}")
            if await self.store.add(job) is not None:
                added += 1
            # Slots missed while no worker ran are skipped, not replayed in a burst.
            self._next_fire[spec.name] = spec.schedule.next_after(max(due, now))
        return added

    async def maintain(self) -> None:
        now = self._now()
        # The read-only check first: an idle worker must not take SQLite's write lock every poll.
        if await self.store.has_work(now=now, queues=None, tasks=self._tasks or [""]):
            recovered = await self.store.recover_stalled(now=now)
            if recovered:
                log.warning("jobs_recovered", count=recovered, reason="lease expired")
        await self.enqueue_periodic()
        if self._last_prune is None or now - self._last_prune > timedelta(hours=1):
            self._last_prune = now
            await self.store.prune(finished_before=now - self.keep_succeeded)

    # -- running ------------------------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        now = self._now()
        if limit < 1 or not await self.store.has_work(now=now, queues=self.queues, tasks=self._tasks):
            return []
        return await self.store.claim(worker=self.worker_id, now=now, lease_until=now + self.lease, limit=limit,
                                      queues=self.queues, tasks=self._tasks)

    async def _heartbeat(self, job: ClaimedJob, work: asyncio.Task[None]) -> None:
        interval = self.lease.total_seconds() / 3
        while not work.done():
            await asyncio.sleep(interval)
            if work.done():
                return
            if not await self.store.heartbeat(job.job_id, job.lease_token, lease_until=self._now() + self.lease):
                log.warning("job_lease_lost", job_id=job.job_id, task=job.task)
                work.cancel()
                return

    async def execute(self, job: ClaimedJob) -> None:
        """Run one claimed job to an outcome (succeeded, retried, failed or released on cancellation)."""
        spec = self.registry.get(job.task)
        if job.attempt > spec.retry.max_attempts:
            # Its earlier workers died mid-run every time (e.g. it exhausts memory): stop feeding it to workers.
            await self.store.fail(job.job_id, job.lease_token, now=self._now(),
                                  error=f"gave up after {job.attempt - 1} attempts whose worker was lost")
            log.error("job_failed", job_id=job.job_id, task=job.task, reason="attempts exhausted by lost workers")
            return
        ctx = JobContext(job_id=job.job_id, task=job.task, payload=job.payload, attempt=job.attempt, key=job.key,
                         queue=job.queue)
        work = asyncio.ensure_future(asyncio.wait_for(spec.handler(ctx), timeout=spec.timeout))
        beat = asyncio.create_task(self._heartbeat(job, work))
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            if not work.done():  # we are being cancelled (shutdown): stop the handler and hand the job back
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                await self.store.release(job.job_id, job.lease_token, now=self._now())
                log.info("job_released", job_id=job.job_id, task=job.task)
                raise
            # the heartbeat cancelled the handler: the lease is gone, someone else owns the job now
            return
        except Exception as exc:
            await self._failed(spec, job, exc)
            return
        finally:
            beat.cancel()
        if await self.store.complete(job.job_id, job.lease_token, now=self._now()):
            log.info("job_succeeded", job_id=job.job_id, task=job.task, attempt=job.attempt)

    async def _failed(self, spec: TaskSpec, job: ClaimedJob, exc: Exception) -> None:
        if isinstance(exc, TimeoutError):
            error = f"timed out after {spec.timeout:g}s"
        else:
            error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_tb(exc.__traceback__)[-5:])
        now = self._now()
        if spec.retry.should_retry(job.attempt, exc):
            delay = spec.retry.delay(job.attempt) * (0.8 + 0.4 * self._jitter())  # +-20 %: no thundering herd
            await self.store.retry(job.job_id, job.lease_token, run_at=now + delay, error=error)
            log.warning("job_retry", job_id=job.job_id, task=job.task, attempt=job.attempt,
                        delay_s=round(delay.total_seconds(), 2), error=error.splitlines()[0])
        else:
            await self.store.fail(job.job_id, job.lease_token, now=now, error=error)
            log.error("job_failed", job_id=job.job_id, task=job.task, attempt=job.attempt,
                      error=error.splitlines()[0])

    def _start(self, job: ClaimedJob) -> None:
        task = asyncio.create_task(self.execute(job), name=f"job-{job.job_id}")
        self._running[task] = job
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("job_runner_error", error=repr(task.exception()))

    async def run_once(self) -> int:
        """Maintenance, then claim and run due jobs until none is due. Returns how many ran (for tests)."""
        await self.maintain()
        ran = 0
        while jobs := await self._claim(self.concurrency):
            await asyncio.gather(*(self.execute(job) for job in jobs))
            ran += len(jobs)
        return ran

    async def run(self, stop: asyncio.Event, *, grace: float = 30.0) -> None:
        """Work until ``stop`` is set; then wait up to ``grace`` s for running jobs and release the rest."""
        log.info("worker_started", worker=self.worker_id, concurrency=self.concurrency,
                 queues=self.queues or "all", tasks=len(self._tasks))
        last_maintenance: datetime | None = None
        while not stop.is_set():
            try:
                now = self._now()
                if last_maintenance is None or (now - last_maintenance).total_seconds() >= self.poll_interval:
                    last_maintenance = now
                    await self.maintain()
                for job in await self._claim(self.concurrency - len(self._running)):
                    self._start(job)
            except Exception as exc:  # the database blipped: keep the worker alive and try again
                log.warning("job_poll_failed", error=f"{type(exc).__name__}: {exc}")
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
        running = list(self._running)
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        log.info("worker_stopped", worker=self.worker_id)


def _slot_width(spec: TaskSpec) -> timedelta:
    schedule = spec.schedule
    if schedule is not None and schedule.every_seconds is not None:
        return timedelta(seconds=schedule.every_seconds)
    return timedelta(minutes=1)
