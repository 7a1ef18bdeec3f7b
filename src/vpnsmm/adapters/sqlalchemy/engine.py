"""Engine construction with identical transaction behaviour on SQLite and PostgreSQL.

SQLite: WAL journal, foreign keys on, a 60 s busy timeout, and ``BEGIN IMMEDIATE`` for write transactions
(SQLAlchemy silently drops ``FOR UPDATE`` on SQLite, so the write lock must be taken when the transaction
starts; a deferred BEGIN would let two writers read the same balance and then fail or, worse, both pass).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

WRITE_OPTION = "vpnsmm_write"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An AsyncEngine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2,
                                     pool_timeout=60, connect_args={"timeout": 60})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout; stale connections are recycled and a failed
    # statement surfaces as a retryable error instead.
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def _enable_wal(cursor: Any, *, attempts: int = 600) -> None:
    """Switch a (possibly fresh) database to WAL. Changing the journal mode needs the database to itself and
    SQLite does not always wait for that through the busy handler, so a process starting while another one
    migrates a fresh file can see "database is locked" at once: retry for up to a minute instead."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver so we can say IMMEDIATE or DEFERRED ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        _enable_wal(cursor)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
