"""Hot statements: SQLAlchemy Core statements that run straight on the asyncpg connection on PostgreSQL.

Every ``/api/v2`` add runs the same handful of statements (API key lookup, service lookup, order insert, job
insert, order update). Through SQLAlchemy each costs about 85-95 microseconds of Python per execution
(execution context, cache key, result wrapping); through asyncpg's own prepared statements about 35-40
(``benchmarks/smm_api.py``, docs/performance.md). A :class:`HotStatement` is written once as an ordinary Core
statement, compiled once per dialect, and then:

* on PostgreSQL with an asyncpg connection at hand (the unit of work's own, which drives its transaction
  itself, see ``uow.py``) it is sent to asyncpg with the same SQL SQLAlchemy would send, the same bind
  processing (JSON encoding, UTC datetimes) and the same result processing;
* anywhere else (SQLite, or no asyncpg connection) it goes through SQLAlchemy unchanged.

Rows come back with attribute access by column name, like SQLAlchemy rows, so the row mappers serve both paths.
Integrity errors from either path are translated by ``errors.translated()`` as usual.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable, Select

_Processor = Callable[[Any], Any] | None


class _Compiled:
    __slots__ = ("binds", "defaults", "names", "results", "row", "sql")

    def __init__(self, sql: str, names: Sequence[str], binds: Sequence[_Processor], defaults: Mapping[str, Any],
                 results: Sequence[_Processor], row: Any) -> None:
        self.sql, self.names, self.binds, self.results, self.row = sql, tuple(names), tuple(binds), \
            tuple(results), row
        self.defaults = dict(defaults)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        defaults = self.defaults
        for name, process in zip(self.names, self.binds, strict=True):
            value = params[name] if name in params else defaults[name]  # literals in the statement: defaults
            out.append(process(value) if process is not None else value)
        return out

    def rows(self, records: Sequence[Any]) -> list[Any]:
        make, results = self.row._make, self.results
        if not any(results):
            return [make(record) for record in records]
        return [make([value if process is None else process(value)
                      for value, process in zip(record, results, strict=True)]) for record in records]


class HotStatement:
    """A Core statement with only named bound parameters (``sa.bindparam``), run on asyncpg where possible.

    ``params`` must name every bound parameter (no defaults are filled in). Not thread-safe to first use from
    two threads at once (compiling twice is harmless: both results are equal).
    """

    def __init__(self, statement: Executable) -> None:
        self.statement: Any = statement
        self._pg: _Compiled | None = None
        self._writes = not isinstance(statement, Select)

    def _check(self, driver: Any) -> None:
        # A read-only unit of work hands over its autocommit connection; SQLAlchemy's guard (uow.py) does not
        # see statements sent here, so the same rule is kept here: outside a transaction, SELECT only.
        if self._writes and not driver.is_in_transaction():
            raise RuntimeError("a read-only unit of work may not write")

    def _compiled(self, dialect: Dialect) -> _Compiled:
        if self._pg is not None:
            return self._pg
        compiled: Any = self.statement.compile(dialect=dialect)
        names = list(compiled.positiontup or ())
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("hot statements take no expanding IN parameters; pass arrays (= ANY) instead")
        defaults = {name: compiled.binds[name].value for name in names if not compiled.binds[name].required}
        processors = compiled._bind_processors
        binds = [processors.get(name) for name in names]
        columns = [entry[0] for entry in compiled._result_columns]
        results = [entry[3].dialect_impl(dialect).result_processor(dialect, None)
                   for entry in compiled._result_columns]
        row = namedtuple("HotRow", columns, rename=True)  # type: ignore[misc]
        self._pg = _Compiled(compiled.string, names, binds, defaults, results, row)
        return self._pg

    async def all(self, conn: AsyncConnection, driver: Any, params: Mapping[str, Any]) -> list[Any]:
        """Every row (attribute access by column name). ``driver``: the asyncpg connection, or None."""
        if driver is None:
            return list(await conn.execute(self.statement, dict(params)))
        self._check(driver)
        compiled = self._compiled(conn.dialect)
        return compiled.rows(await driver.fetch(compiled.sql, *compiled.args(params)))

    async def first(self, conn: AsyncConnection, driver: Any, params: Mapping[str, Any]) -> Any | None:
        """The first row, or None."""
        if driver is None:
            return (await conn.execute(self.statement, dict(params))).first()
        self._check(driver)
        compiled = self._compiled(conn.dialect)
        record = await driver.fetchrow(compiled.sql, *compiled.args(params))
        return None if record is None else compiled.rows([record])[0]

    async def run(self, conn: AsyncConnection, driver: Any, params: Mapping[str, Any]) -> int:
        """Execute a statement without RETURNING; how many rows it touched."""
        if driver is None:
            return int((await conn.execute(self.statement, dict(params))).rowcount)
        self._check(driver)
        compiled = self._compiled(conn.dialect)
        status = await driver.execute(compiled.sql, *compiled.args(params))
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0


def asyncpg_driver(conn: AsyncConnection, given: Any) -> Any:
    """The asyncpg connection hot statements may use: the one a unit of work drives (``given``), else None."""
    return given if given is not None and conn.dialect.name == "postgresql" else None


class Prefixed:
    """A row's prefix-labelled columns (``p_id``, ``p_name`` ...) under their own names, for the row mappers.
    Works on SQLAlchemy rows and hot-statement rows alike."""

    __slots__ = ("_p", "_r")

    def __init__(self, row: Any, prefix: str) -> None:
        self._r, self._p = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._r, self._p + name)
