"""``vpnsmm worker``: run background jobs (payment reconciliation, provisioning retries, syncs, polling...).

Run as many as you like, on any machine that reaches the database: claims are exclusive, per-key locks
and periodic slots hold across all of them. SIGTERM/SIGINT stop claiming, let running jobs finish for
``--grace`` seconds and hand the rest back; SIGKILL loses nothing either (the lease expires and another
worker reruns the job, whose handler is idempotent).
"""

from __future__ import annotations

import asyncio
import signal

import typer

from vpnsmm.container import build_job_runner, opened
from vpnsmm.entrypoints.cli.runtime import fail, out, settings_or_exit
from vpnsmm.entrypoints.logging import configure_logging


def worker(
    concurrency: int | None = typer.Option(None, min=1, max=256,
                                           help="Jobs run at once (default VPNSMM_JOB_CONCURRENCY, 4)."),
    queues: str | None = typer.Option(None, help="Comma-separated queues to serve (default: all)."),
    grace: float = typer.Option(30.0, min=0, help="Seconds running jobs get to finish on SIGTERM."),
    once: bool = typer.Option(False, "--once", help="Run the jobs that are due now, then exit."),
) -> None:
    """Run background job workers on the configured database (SQLite or PostgreSQL)."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    if queues is not None and not queue_list:
        fail("--queues needs at least one queue name", 2)

    async def main() -> int:
        async with opened(settings) as container:
            runner = build_job_runner(container, concurrency=concurrency, queues=queue_list)
            if once:
                return await runner.run_once()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            out.print(f"vpnsmm worker {runner.worker_id}: {len(runner.registry.names)} tasks, "
                      f"concurrency {runner.concurrency}, queues {', '.join(queue_list or ['all'])}")
            await runner.run(stop, grace=grace)
            return 0

    try:
        ran = asyncio.run(main())
    except OSError as exc:
        fail(f"cannot reach the database: {exc}", 1)
    if once:
        out.print(f"ran {ran} jobs")
