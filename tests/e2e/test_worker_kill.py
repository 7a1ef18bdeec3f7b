"""Kill ``vpnsmm worker`` with SIGKILL mid-job: no job is lost and no effect happens twice (SQLite and Postgres).

The worker processes import this module through ``VPNSMM_JOB_MODULES`` and run ``probe.slow``, whose
handler records its effect idempotently (a row keyed by job id, ON CONFLICT DO NOTHING), notes each run
(not idempotent, as evidence of reruns) and then sleeps -- the window in which we kill the worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server
from vpnsmm.adapters.jobs.sql import SqlJobOutbox, SqlJobStore
from vpnsmm.adapters.jobs.store import JobStatus
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.application.jobs import JobContext, RetryPolicy, TaskRegistry

REPO = Path(__file__).resolve().parents[2]
JOBS = 6


PROBE_TASK = "probe.slow"

def register_tasks(registry: TaskRegistry, container: Any) -> None:
    """Called inside the worker process (VPNSMM_JOB_MODULES=tests.e2e.test_worker_kill)."""
    engine = container.engine()

    async def slow(job: JobContext) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO probe_runs (job_id, attempt) VALUES (:j, :a)"),
                               {"j": job.job_id, "a": job.attempt})
            await conn.execute(sa.text("INSERT INTO probe_effects (job_id) VALUES (:j) ON CONFLICT DO NOTHING"),
                               {"j": job.job_id})
        await asyncio.sleep(float(str(job.payload["sleep"])))

    registry.register(PROBE_TASK, slow, retry=RetryPolicy(max_attempts=5, base_delay=0.1))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}"
    else:
        with temporary_postgres_database() as url:
            yield url


async def _prepare(url: str, sleep: float = 2.0) -> None:
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE probe_effects (job_id BIGINT PRIMARY KEY)"))
            await conn.execute(sa.text("CREATE TABLE probe_runs (job_id BIGINT NOT NULL, attempt INT NOT NULL)"))
            outbox = SqlJobOutbox(conn)
            for _ in range(JOBS):
                await outbox.enqueue(PROBE_TASK, {"sleep": sleep})
    finally:
        await engine.dispose()


async def _query(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.text(sql))).all())
    finally:
        await engine.dispose()


async def _jobs(url: str) -> list[Any]:
    """This test's probe jobs (the worker also runs the built-in periodic jobs, which are not counted)."""
    engine = make_engine(url)
    try:
        return [job for job in await SqlJobStore(engine).find() if job.task == PROBE_TASK]
    finally:
        await engine.dispose()


def _worker(url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    env.update({"VPNSMM_DATA_DIR": str(data_dir), "VPNSMM_DATABASE_URL": url, "VPNSMM_LOG_FORMAT": "json",
                "VPNSMM_JOB_MODULES": "tests.e2e.test_worker_kill", "VPNSMM_JOB_LEASE_SECONDS": "2",
                "VPNSMM_JOB_POLL_MS": "100", "VPNSMM_JOB_CONCURRENCY": "4",
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])})
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "vpnsmm", "worker"], env=env, cwd=REPO, stdout=handle,
                            stderr=subprocess.STDOUT)


def _wait_until(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_sigkill_mid_job_loses_nothing_and_repeats_no_effect(database_url: str, tmp_path: Path) -> None:
    asyncio.run(_prepare(database_url))
    log = tmp_path / "worker.log"

    first = _worker(database_url, tmp_path, log)
    try:
        # four jobs (the concurrency) are mid-sleep, their effects already recorded
        _wait_until(lambda: len(asyncio.run(_query(database_url, "SELECT job_id FROM probe_runs"))) >= 4,
                    30, "the first worker to start four jobs", log)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed = {row.job_id for row in asyncio.run(_query(database_url, "SELECT job_id FROM probe_runs"))}
    assert len(killed) >= 4
    states = asyncio.run(_jobs(database_url))
    assert sum(j.status is JobStatus.RUNNING for j in states) >= 4  # orphaned, still leased to the dead worker

    second = _worker(database_url, tmp_path, log)
    try:
        _wait_until(lambda: all(j.status is JobStatus.SUCCEEDED for j in asyncio.run(_jobs(database_url))),
                    60, "every job to succeed after the restart", log)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0, log.read_text()[-3000:]

    jobs = asyncio.run(_jobs(database_url))
    assert len(jobs) == JOBS  # nothing lost, nothing duplicated
    effects = asyncio.run(_query(database_url, "SELECT job_id FROM probe_effects ORDER BY job_id"))
    assert [row.job_id for row in effects] == sorted(j.job_id for j in jobs)  # exactly one effect per job
    runs = asyncio.run(_query(database_url, "SELECT job_id, attempt FROM probe_runs"))
    for job in jobs:
        attempts = sorted(r.attempt for r in runs if r.job_id == job.job_id)
        if job.job_id in killed:
            assert attempts == [1, 2] and job.attempts == 2, (job, attempts)  # rerun after the kill
        else:
            assert attempts == [1] and job.attempts == 1, (job, attempts)


def test_serve_on_sqlite_runs_jobs_in_process(tmp_path: Path) -> None:
    """No `vpnsmm worker` needed on the SQLite default: the server's lifespan runs a job runner."""
    url = f"sqlite+aiosqlite:///{(tmp_path / 'vpnsmm.db').resolve()}"
    asyncio.run(_prepare(url, sleep=0.0))
    env = {"VPNSMM_JOB_MODULES": "tests.e2e.test_worker_kill", "VPNSMM_JOB_POLL_MS": "100",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with running_server(tmp_path, env=env):
        _wait_until(lambda: all(j.status is JobStatus.SUCCEEDED for j in asyncio.run(_jobs(url))),
                    30, "the in-process runner to run every job", tmp_path / "server.log")
    effects = asyncio.run(_query(url, "SELECT job_id FROM probe_effects"))
    assert len(effects) == JOBS
