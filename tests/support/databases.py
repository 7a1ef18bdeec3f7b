"""Real databases for tests: a fresh SQLite file per test, one throw-away PostgreSQL database per run.

PostgreSQL comes from ``VPNSMM_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
When it cannot be reached the Postgres tests are skipped -- except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from vpnsmm.adapters.sqlalchemy.tables import metadata

ADMIN_URL = os.environ.get("VPNSMM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


async def _admin(statement: str) -> None:
    engine = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def postgres_unavailable_reason() -> str | None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL not reachable at {ADMIN_URL}: {type(exc).__name__}: {exc}"
    return None


def require_postgres() -> None:
    """Skip (locally) or fail (in CI) when PostgreSQL is not reachable."""
    reason = postgres_unavailable_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """A freshly created, empty database; dropped afterwards. Yields its asyncpg URL."""
    require_postgres()
    name = f"vpnsmm_test_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(ADMIN_URL, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_all(url: str) -> None:
    """Empty every application table and restart identities (PostgreSQL)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            existing = (await conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars().all()
            wanted = [f'"{n}"' for n in existing if n != "alembic_version" and f'"{n}"' in names.split(", ")]
            extra = [f'"{n}"' for n in existing if n != "alembic_version" and f'"{n}"' not in wanted]
            tables = wanted + extra
            if tables:
                await conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
