"""The SQL unit of work: one connection and one transaction per ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vpnsmm.adapters.sqlalchemy.engine import WRITE_OPTION
from vpnsmm.adapters.sqlalchemy.errors import translated
from vpnsmm.adapters.sqlalchemy.repositories.identity import (
    SqlApiKeyRepository,
    SqlSessionRepository,
    SqlUserRepository,
)


class SqlUnitOfWork:
    """A transaction on its own pooled connection. Rolls back on exit unless committed."""

    users: SqlUserRepository
    sessions: SqlSessionRepository
    api_keys: SqlApiKeyRepository

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine, self._read_only = engine, read_only
        self._conn: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        async with translated():
            conn = await self._engine.connect()
            try:
                conn = await conn.execution_options(**{WRITE_OPTION: not self._read_only})
                await conn.begin()
            except BaseException:
                await conn.close()
                raise
        self._conn = conn
        self.users = SqlUserRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.api_keys = SqlApiKeyRepository(conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        async with translated():
            await self.connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: False})
            await conn.execute(text("SELECT 1"))
