"""The ledger in SQL: the same pure rules as the in-memory ledger, with row locks for concurrency.

Every transfer locks the accounts it touches in ascending id order (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite the write transaction already holds the database lock from ``BEGIN IMMEDIATE``),
checks the idempotency id *after* taking the locks (so two concurrent identical requests serialise and the
second replays the first), decides with :func:`plan_transfer` and writes the new counters, the transfer and
its two entries. CHECK constraints on the account rows are a backstop: a bug in the rules could not leave
a wallet below zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from attrs import evolve
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.jobs.sql import PendingJob, job_rows_sql
from vpnsmm.adapters.sqlalchemy.errors import translated
from vpnsmm.adapters.sqlalchemy.tables import ledger_accounts, ledger_entries, ledger_transfers
from vpnsmm.application.ports.ledger import MAX_ENTRIES_PAGE
from vpnsmm.domain.errors import ValidationError, VpnsmmError
from vpnsmm.domain.ledger import (
    AccountFlags,
    AccountPurpose,
    Entry,
    LedgerAccount,
    LedgerTotals,
    PendingStatus,
    Side,
    Transfer,
    TransferKind,
    TransferOutcome,
    TransferRequest,
    account_not_found,
    check_linked_batch,
    check_replay,
    involved_account_ids,
    partial_replay_error,
    plan_transfer,
    totals_of,
)
from vpnsmm.domain.money import Currency, ExchangeRate


def account_of(row: Any) -> LedgerAccount:
    """A ``ledger_accounts`` row (attribute access) as a LedgerAccount."""
    return _account(row)


def _account(row: Any) -> LedgerAccount:
    return LedgerAccount(id=row.id, owner_id=row.owner_id or None, currency=Currency(row.currency),
                         purpose=AccountPurpose(row.purpose), flags=AccountFlags(row.flags),
                         debits_posted=row.debits_posted, credits_posted=row.credits_posted,
                         debits_pending=row.debits_pending, credits_pending=row.credits_pending)


def _transfer(row: Any) -> Transfer:
    rate = None
    if row.rate_numerator is not None:
        rate = ExchangeRate(Currency(row.rate_source), Currency(row.rate_target), row.rate_numerator,
                            row.rate_denominator)
    return Transfer(id=row.id, kind=TransferKind(row.kind), debit_account_id=row.debit_account_id,
                    credit_account_id=row.credit_account_id, amount=row.amount, currency=Currency(row.currency),
                    code=row.code, pending_id=row.pending_id, reference=row.reference, memo=row.memo, rate=rate,
                    timestamp=row.created_at)


_ENTRY_QUERY = sa.select(
    ledger_entries, ledger_transfers.c.currency, ledger_transfers.c.kind, ledger_transfers.c.code,
    ledger_transfers.c.reference, ledger_transfers.c.created_at,
).join(ledger_transfers, ledger_transfers.c.id == ledger_entries.c.transfer_id)


def _entry(row: Any) -> Entry:
    return Entry(id=row.id, transfer_id=row.transfer_id, account_id=row.account_id, currency=Currency(row.currency),
                 side=Side(row.side), kind=TransferKind(row.kind), code=row.code, reference=row.reference,
                 delta=row.delta, pending_delta=row.pending_delta, balance_before=row.balance_before,
                 balance_after=row.balance_after, available_before=row.available_before,
                 available_after=row.available_after, timestamp=row.created_at)


_WRITE_ALL_TEMPLATE = """
WITH t AS (
  INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount, currency, code, pending_id,
    pending_status, reference, memo, rate_source, rate_target, rate_numerator, rate_denominator, created_at)
  VALUES (:t_id, :t_kind, :t_debit_account_id, :t_credit_account_id, :t_amount, :t_currency, :t_code, :t_pending_id,
    :t_pending_status, :t_reference, :t_memo, :t_rate_source, :t_rate_target, :t_rate_numerator, :t_rate_denominator,
    :t_created_at)
  ON CONFLICT (id) DO NOTHING RETURNING id
), u AS (
  UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dpe,
    credits_pending = v.cpe
  FROM (VALUES (CAST(:d_id AS BIGINT), CAST(:d_dp AS BIGINT), CAST(:d_cp AS BIGINT), CAST(:d_dpe AS BIGINT),
                CAST(:d_cpe AS BIGINT)),
               (:c_id, :c_dp, :c_cp, :c_dpe, :c_cpe)) AS v (id, dp, cp, dpe, cpe)
  WHERE a.id = v.id AND EXISTS (SELECT 1 FROM t) RETURNING a.id
), e AS (
  INSERT INTO ledger_entries (transfer_id, account_id, side, delta, pending_delta, balance_before, balance_after,
    available_before, available_after)
  SELECT t.id, x.account_id, x.side, x.delta, x.pdelta, x.bb, x.ba, x.ab, x.aa
  FROM t, (VALUES (1, CAST(:d_id AS BIGINT), CAST(:d_side AS VARCHAR), CAST(:d_delta AS BIGINT),
                   CAST(:d_pdelta AS BIGINT), CAST(:d_bb AS BIGINT), CAST(:d_ba AS BIGINT), CAST(:d_ab AS BIGINT),
                   CAST(:d_aa AS BIGINT)),
                  (2, :c_id, :c_side, :c_delta, :c_pdelta, :c_bb, :c_ba, :c_ab, :c_aa))
       AS x (n, account_id, side, delta, pdelta, bb, ba, ab, aa)
  ORDER BY x.n RETURNING id
)/*resolve*/
SELECT (SELECT count(*) FROM t) AS inserted, (SELECT count(*) FROM u) AS updated,
       (SELECT array_agg(id) FROM e) AS entry_ids
"""
# The optimistic write (PostgreSQL, asyncpg): lock both accounts in ascending id order, and only if their counters
# are still the ones the transfer was planned against, insert the transfer (its primary key is the idempotency
# check), write both counters and both entries -- one round trip instead of a locking SELECT plus a write. A
# stale snapshot writes nothing and returns ok = false with the current counters of the rows it now holds locked;
# the caller re-plans on those and writes on the pessimistic path, without reading them again. Under READ
# COMMITTED a row lock that waited returns the newest row version, so the comparison is against what is
# committed, never a stale snapshot.
_CAS_WRITE = """
WITH l AS (
  SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_accounts
  WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
), ok AS (
  SELECT count(*) = 2 AS ok FROM l JOIN (VALUES
    ($2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint),
    ($7::bigint, $8::bigint, $9::bigint, $10::bigint, $11::bigint)) AS v (id, dp, cp, dpe, cpe)
  ON l.id = v.id AND l.debits_posted = v.dp AND l.credits_posted = v.cp AND l.debits_pending = v.dpe
     AND l.credits_pending = v.cpe
), t AS (
  INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount, currency, code, pending_id,
    pending_status, reference, memo, rate_source, rate_target, rate_numerator, rate_denominator, created_at)
  SELECT $12::varchar, $13::varchar, $2::bigint, $7::bigint, $14::bigint, $15::varchar, $16::varchar,
    NULL, $17::varchar, $18::varchar, $19::varchar, $20::varchar, $21::varchar, $22::bigint, $23::bigint,
    $24::timestamptz
  WHERE (SELECT ok FROM ok)
  ON CONFLICT (id) DO NOTHING RETURNING id
), u AS (
  UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dpe,
    credits_pending = v.cpe
  FROM (VALUES ($2::bigint, $25::bigint, $26::bigint, $27::bigint, $28::bigint),
               ($7::bigint, $29::bigint, $30::bigint, $31::bigint, $32::bigint)) AS v (id, dp, cp, dpe, cpe)
  WHERE a.id = v.id AND EXISTS (SELECT 1 FROM t) RETURNING a.id
), e AS (
  INSERT INTO ledger_entries (transfer_id, account_id, side, delta, pending_delta, balance_before, balance_after,
    available_before, available_after)
  SELECT t.id, x.account_id, x.side, x.delta, x.pdelta, x.bb, x.ba, x.ab, x.aa
  FROM t, (VALUES (1, $2::bigint, $33::varchar, $34::bigint, $35::bigint, $36::bigint, $37::bigint, $38::bigint,
                   $39::bigint),
                  (2, $7::bigint, $40::varchar, $41::bigint, $42::bigint, $43::bigint, $44::bigint, $45::bigint,
                   $46::bigint)) AS x (n, account_id, side, delta, pdelta, bb, ba, ab, aa)
  ORDER BY x.n RETURNING id
)
SELECT (SELECT ok FROM ok) AS ok, (SELECT count(*) FROM t) AS inserted, (SELECT count(*) FROM u) AS updated,
       (SELECT array_agg(id ORDER BY id) FROM e) AS entry_ids,
       (SELECT array_agg(ARRAY[id, debits_posted, credits_posted, debits_pending, credits_pending] ORDER BY id)
        FROM l) AS locked
"""

_FIND_ONE = ("SELECT id, owner_id, currency, purpose, flags, debits_posted, credits_posted, debits_pending, "
             "credits_pending FROM ledger_accounts "
             "WHERE owner_id = $1::bigint AND currency = $2::varchar AND purpose = $3::varchar")
_FIND_MANY = ("SELECT id, owner_id, currency, purpose, flags, debits_posted, credits_posted, debits_pending, "
              "credits_pending FROM ledger_accounts "
              "WHERE owner_id = ANY($1::bigint[]) AND currency = $2::varchar AND purpose = $3::varchar")

_CAS_PARAMS = 46
_RIDING_JOBS = 20  # more than this many buffered jobs wait for the commit's own INSERT
_WITH_JOBS: dict[int, str] = {}


def _with_jobs(rows: int) -> str:
    """The optimistic write with ``rows`` job inserts as a leading data-modifying CTE (parameters after its own)."""
    statement = _WITH_JOBS.get(rows)
    if statement is None:
        head, rest = _CAS_WRITE.split("WITH ", 1)
        statement = _WITH_JOBS[rows] = f"{head}WITH j AS ({job_rows_sql(_CAS_PARAMS + 1, rows)}), {rest}"
    return statement


_FIND_KEYS = ("SELECT a.id, a.owner_id, a.currency, a.purpose, a.flags, a.debits_posted, a.credits_posted, "
              "a.debits_pending, a.credits_pending FROM ledger_accounts AS a "
              "JOIN unnest($1::bigint[], $2::varchar[], $3::varchar[]) AS k (owner_id, currency, purpose) "
              "ON a.owner_id = k.owner_id AND a.currency = k.currency AND a.purpose = k.purpose")

_RESOLVE = (", r AS (UPDATE ledger_transfers SET pending_status = :r_status "
            "WHERE id = :r_id AND EXISTS (SELECT 1 FROM t) RETURNING id)")
_WRITE_ALL = sa.text(_WRITE_ALL_TEMPLATE.replace("/*resolve*/", ""))
_WRITE_ALL_RESOLVING = sa.text(_WRITE_ALL_TEMPLATE.replace("/*resolve*/", _RESOLVE))


def _dialect_insert(conn: AsyncConnection) -> Any:
    """INSERT with ON CONFLICT support for the connection's dialect."""
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


class SqlLedger:
    """The ``Ledger`` port on one connection of a unit of work. Never commits."""

    def __init__(self, conn: AsyncConnection, *, now: Any = None, driver: Any = None,
                 pending_jobs: list[PendingJob] | None = None) -> None:
        self._c = conn
        self._pending_jobs = pending_jobs  # the unit of work's buffered job inserts (jobs/sql.py SqlJobOutbox)
        self._now = now or (lambda: datetime.now(UTC))
        self._locking = conn.dialect.name == "postgresql"
        # Entries this ledger wrote in the current transaction, so reading them back costs no round trip.
        self._written: dict[str, list[Entry]] = {}
        # The last snapshot of each account read or written in this transaction. Only a hint for the optimistic
        # write, which re-checks the counters under the row locks: a stale snapshot costs a retry, never money.
        self._seen: dict[int, LedgerAccount] = {}
        # The asyncpg connection under ``conn`` (PostgreSQL): the hot write goes to it directly, skipping
        # SQLAlchemy's per-statement work. Resolved on first use unless the unit of work hands it over.
        self._optimistic = self._locking and conn.dialect.driver == "asyncpg"
        self._driver = self._given = driver
        # Accounts another repository of this unit of work read along with its own rows (the buyer's wallet and
        # revenue, read with the SMM service): the next open_accounts of them costs no query. Dropped by any
        # transfer; only ever snapshots (the optimistic write re-checks the counters under the row locks).
        self._primed: dict[tuple[int, str, str], LedgerAccount] = {}

    def prime(self, accounts: Sequence[LedgerAccount]) -> None:
        """Hand over account rows read in this transaction by another query (see ``_primed``)."""
        for account in accounts:
            self._seen[account.id] = account
            self._primed[(account.owner_id or 0, account.currency.value, account.purpose.value)] = account

    def _saw(self, row: Any) -> LedgerAccount:
        account = _account(row)
        self._seen[account.id] = account
        return account

    def _saw_record(self, r: Any) -> LedgerAccount:
        account = LedgerAccount(id=r[0], owner_id=r[1] or None, currency=Currency(r[2]), purpose=AccountPurpose(r[3]),
                                flags=AccountFlags(r[4]), debits_posted=r[5], credits_posted=r[6],
                                debits_pending=r[7], credits_pending=r[8])
        self._seen[account.id] = account
        return account

    # -- accounts --------------------------------------------------------------------------------
    async def open_account(self, owner_id: int | None, currency: Currency, purpose: AccountPurpose) -> LedgerAccount:
        found = await self.find_account(owner_id, currency, purpose)
        if found is not None:
            return found
        template = LedgerAccount.open(1, owner_id, currency, purpose)  # validates the triple
        values = {"owner_id": owner_id or 0, "currency": template.currency.value, "purpose": template.purpose.value,
                  "flags": template.flags.value}
        await self._c.execute(_dialect_insert(self._c)(ledger_accounts).values(**values).on_conflict_do_nothing())
        opened = await self.find_account(owner_id, currency, purpose)
        if opened is None:  # pragma: no cover - the insert or a concurrent one created it
            raise RuntimeError("ledger account vanished after insert")
        return opened

    async def get_account(self, account_id: int) -> LedgerAccount | None:
        row = (await self._c.execute(sa.select(ledger_accounts).where(ledger_accounts.c.id == account_id))).first()
        return self._saw(row) if row else None

    async def find_account(self, owner_id: int | None, currency: Currency,
                           purpose: AccountPurpose) -> LedgerAccount | None:
        driver = await self._reader() if self._optimistic else None
        if driver is not None:  # a hot lookup (every charge): straight to asyncpg, a prepared statement
            record = await driver.fetchrow(_FIND_ONE, owner_id or 0, Currency.parse(currency).value,
                                           AccountPurpose.parse(purpose).value)
            return self._saw_record(record) if record is not None else None
        row = (await self._c.execute(sa.select(ledger_accounts).where(
            ledger_accounts.c.owner_id == (owner_id or 0), ledger_accounts.c.currency == Currency.parse(currency).value,
            ledger_accounts.c.purpose == AccountPurpose.parse(purpose).value))).first()
        return self._saw(row) if row else None

    async def find_accounts(self, owner_ids: Sequence[int | None], currency: Currency,
                            purpose: AccountPurpose) -> Mapping[int | None, LedgerAccount]:
        keys = sorted({owner_id or 0 for owner_id in owner_ids})
        driver = await self._reader() if self._optimistic else None
        if driver is not None:
            records = await driver.fetch(_FIND_MANY, keys, Currency.parse(currency).value,
                                         AccountPurpose.parse(purpose).value)
            return {r[1] or None: self._saw_record(r) for r in records}
        rows = await self._c.execute(sa.select(ledger_accounts).where(
            ledger_accounts.c.owner_id.in_(keys), ledger_accounts.c.currency == Currency.parse(currency).value,
            ledger_accounts.c.purpose == AccountPurpose.parse(purpose).value))
        return {row.owner_id or None: self._saw(row) for row in rows}

    async def open_accounts(self, keys: Sequence[tuple[int | None, Currency, AccountPurpose]]
                            ) -> Sequence[LedgerAccount]:
        wanted = [(owner_id or 0, Currency.parse(currency).value, AccountPurpose.parse(purpose).value)
                  for owner_id, currency, purpose in keys]
        if wanted and all(key in self._primed for key in wanted):  # read a moment ago with another query
            primed = [self._primed[key] for key in wanted]
            for key in wanted:
                self._primed.pop(key, None)
            return primed
        driver = await self._reader() if self._optimistic else None
        found: dict[tuple[int, str, str], LedgerAccount] = {}
        if driver is not None and wanted:  # one prepared statement for the lot
            owners, currencies, purposes = (list(column) for column in zip(*wanted, strict=True))
            for record in await driver.fetch(_FIND_KEYS, owners, currencies, purposes):
                found[(record[1], record[2], record[3])] = self._saw_record(record)
        elif wanted:
            rows = await self._c.execute(sa.select(ledger_accounts).where(sa.tuple_(
                ledger_accounts.c.owner_id, ledger_accounts.c.currency, ledger_accounts.c.purpose).in_(wanted)))
            for row in rows:
                found[(row.owner_id, row.currency, row.purpose)] = self._saw(row)
        out = []
        for (owner_id, currency, purpose), key in zip(keys, wanted, strict=True):
            account = found.get(key)
            out.append(account if account is not None else await self.open_account(owner_id, currency, purpose))
        return out

    async def accounts_of(self, owner_id: int | None) -> Sequence[LedgerAccount]:
        rows = await self._c.execute(sa.select(ledger_accounts).where(ledger_accounts.c.owner_id == (owner_id or 0))
                                     .order_by(ledger_accounts.c.id))
        return [self._saw(r) for r in rows]

    async def _lock(self, ids: Sequence[int]) -> dict[int, LedgerAccount]:
        query = sa.select(ledger_accounts).where(ledger_accounts.c.id.in_(sorted(set(ids)))) \
            .order_by(ledger_accounts.c.id)
        if self._locking:
            query = query.with_for_update()
        return {row.id: self._saw(row) for row in await self._c.execute(query)}

    # -- transfers -------------------------------------------------------------------------------
    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        row = (await self._c.execute(sa.select(ledger_transfers).where(ledger_transfers.c.id == transfer_id))).first()
        return _transfer(row) if row else None

    async def pending_status(self, pending_id: str) -> PendingStatus | None:
        value = (await self._c.execute(sa.select(ledger_transfers.c.pending_status)
                                       .where(ledger_transfers.c.id == pending_id))).scalar_one_or_none()
        return PendingStatus(value) if value else None

    async def _hold_of(self, transfer: Transfer) -> Transfer | None:
        return await self.get_transfer(transfer.pending_id) if transfer.pending_id is not None else None

    async def execute(self, request: TransferRequest) -> Transfer:
        if not isinstance(request, TransferRequest):
            raise ValidationError("execute takes a TransferRequest", field="request")
        self._primed.clear()
        async with translated():
            return await self._apply(request, self._now())

    async def execute_linked(self, requests: Sequence[TransferRequest]) -> Sequence[Transfer]:
        batch = check_linked_batch(requests)
        self._primed.clear()
        existing = [await self.get_transfer(r.id) for r in batch]
        if any(t is not None for t in existing):
            replayed = [check_replay(t, r, await self._hold_of(t)) for r, t in zip(batch, existing, strict=True)
                        if t is not None]
            if len(replayed) == len(batch):
                return replayed
            raise partial_replay_error([r.id for r, t in zip(batch, existing, strict=True) if t is not None],
                                       [r.id for r, t in zip(batch, existing, strict=True) if t is None])
        # All-or-nothing inside the caller's transaction: a savepoint undoes the earlier legs on failure.
        timestamp = self._now()
        async with translated():
            savepoint = await self._c.begin_nested()
            try:
                done = [await self._apply(r, timestamp) for r in batch]
            except BaseException:
                await savepoint.rollback()
                self._seen.clear()  # the snapshots of the undone legs are gone with them
                raise
            await savepoint.commit()
        return done

    async def _apply(self, request: TransferRequest, timestamp: datetime) -> Transfer:
        hold = None
        if request.pending_id is not None:
            # A replay (or a conflicting reuse of the id) is answered before the hold is even looked at.
            existing = await self.get_transfer(request.id)
            if existing is not None:
                return check_replay(existing, request, await self._hold_of(existing))
            hold = await self.get_transfer(request.pending_id)
        debit_id, credit_id = involved_account_ids(request, hold)
        locked: dict[int, LedgerAccount] | None = None
        if hold is None and self._optimistic:
            done = await self._apply_optimistic(request, debit_id, credit_id, timestamp)
            if isinstance(done, Transfer):
                return done
            locked = done
        if locked is None:
            locked = await self._lock([debit_id, credit_id])
        try:
            debit, credit = locked.get(debit_id), locked.get(credit_id)
            if debit is None:
                raise account_not_found(debit_id)
            if credit is None:
                raise account_not_found(credit_id)
            status = await self.pending_status(hold.id) if hold is not None else None
            outcome = plan_transfer(request, debit=debit, credit=credit, pending=hold, pending_status=status,
                                    timestamp=timestamp)
        except VpnsmmError:
            # Refused now -- but a committed twin may have spent the money: then this is its replay.
            existing = await self.get_transfer(request.id)
            if existing is not None:
                return check_replay(existing, request, await self._hold_of(existing))
            raise
        # The transfer row goes first: its primary key is the idempotency check. A concurrent twin that committed
        # while we waited for the locks makes the insert a no-op, and we answer with its stored result.
        if self._locking:
            written = await self._write_locked(outcome, debit, credit)
        elif await self._insert_transfer(outcome.transfer):
            await self._store(outcome)
            written = True
        else:
            written = False
        if not written:
            existing = await self.get_transfer(request.id)
            assert existing is not None
            return check_replay(existing, request, await self._hold_of(existing))
        self._seen[outcome.debit_account.id] = outcome.debit_account
        self._seen[outcome.credit_account.id] = outcome.credit_account
        return outcome.transfer

    async def _apply_optimistic(self, request: TransferRequest, debit_id: int, credit_id: int,
                                timestamp: datetime) -> Transfer | dict[int, LedgerAccount] | None:
        """One round trip for a transfer between accounts already read in this transaction.

        Returns the stored transfer, or the two accounts as they are now, locked by this transaction (their
        counters moved since the snapshot: the caller re-plans on them), or None: take the locking path (an
        account not read yet, a refusal on the unlocked snapshot that the current counters might not confirm,
        no asyncpg transaction to write on). Nothing is written unless a transfer is returned.
        """
        debit, credit = self._seen.get(debit_id), self._seen.get(credit_id)
        if debit is None or credit is None or debit_id == credit_id:
            return None
        try:
            outcome = plan_transfer(request, debit=debit, credit=credit, pending=None, pending_status=None,
                                    timestamp=timestamp)
        except VpnsmmError:
            return None
        driver = await self._raw()
        if driver is None:
            return None
        row = await self._cas(driver, debit, credit, outcome)
        if not row["ok"]:  # moved since the snapshot; both rows are locked by us now, at these counters
            current = {}
            for account_id, dp, cp, dpe, cpe in row["locked"] or ():
                seen = debit if account_id == debit.id else credit
                current[account_id] = evolve(seen, debits_posted=dp, credits_posted=cp, debits_pending=dpe,
                                             credits_pending=cpe)
                self._seen[account_id] = current[account_id]
            return current if len(current) == 2 else None
        if not row["inserted"]:  # a twin with this id committed first: answer with what it stored
            existing = await self.get_transfer(request.id)
            assert existing is not None
            return check_replay(existing, request, await self._hold_of(existing))
        self._kept(outcome, row)
        return outcome.transfer

    def _kept(self, outcome: TransferOutcome, row: Any) -> None:
        """Remember what an optimistic write stored: the accounts' new snapshots and the two entries."""
        t = outcome.transfer
        self._seen[outcome.debit_account.id] = outcome.debit_account
        self._seen[outcome.credit_account.id] = outcome.credit_account
        low, high = row["entry_ids"]  # inserted in debit, credit order: the debit got the lower id
        self._written[t.id] = [Entry.record(low, t, outcome.debit_change), Entry.record(high, t, outcome.credit_change)]

    async def _cas(self, driver: Any, debit: LedgerAccount, credit: LedgerAccount, outcome: TransferOutcome) -> Any:
        """Run the optimistic write for ``outcome``, planned on ``debit`` and ``credit`` as they were."""
        t, d, c = outcome.transfer, outcome.debit_change, outcome.credit_change
        new_d, new_c = outcome.debit_account, outcome.credit_account
        statement, riding = _CAS_WRITE, ()
        pending = self._pending_jobs if self._pending_jobs and len(self._pending_jobs) <= _RIDING_JOBS else None
        if pending:  # buffered job inserts of this transaction ride along (they run once, whatever the check says)
            statement = _with_jobs(len(pending))
            riding = tuple(value for row in pending for value in row)
        async with translated():
            row = await driver.fetchrow(
                statement, [debit.id, credit.id],
                debit.id, debit.debits_posted, debit.credits_posted, debit.debits_pending, debit.credits_pending,
                credit.id, credit.debits_posted, credit.credits_posted, credit.debits_pending, credit.credits_pending,
                t.id, t.kind.value, t.amount, t.currency.value, t.code,
                PendingStatus.PENDING.value if t.kind is TransferKind.PENDING else None, t.reference, t.memo,
                t.rate.source.value if t.rate else None, t.rate.target.value if t.rate else None,
                t.rate.numerator if t.rate else None, t.rate.denominator if t.rate else None, t.timestamp,
                new_d.debits_posted, new_d.credits_posted, new_d.debits_pending, new_d.credits_pending,
                new_c.debits_posted, new_c.credits_posted, new_c.debits_pending, new_c.credits_pending,
                d.side.value, d.delta, d.pending_delta, d.balance_before, d.balance_after, d.available_before,
                d.available_after,
                c.side.value, c.delta, c.pending_delta, c.balance_before, c.balance_after, c.available_before,
                c.available_after, *riding)
        if pending:
            pending.clear()
        return row

    async def _reader(self) -> Any:
        """The asyncpg connection for a plain SELECT: the unit of work's own (in its transaction, or a read-only
        unit of work's autocommit connection), else one with a transaction open (None: use SQLAlchemy)."""
        return self._given if self._given is not None else await self._raw()

    async def _raw(self) -> Any:
        """The asyncpg connection, if a transaction is open on it (else None: SQLAlchemy has not begun yet)."""
        if self._driver is None:
            self._driver = (await self._c.get_raw_connection()).driver_connection
        return self._driver if self._driver.is_in_transaction() else None

    async def _write_locked(self, outcome: TransferOutcome, debit: LedgerAccount, credit: LedgerAccount) -> bool:
        """PostgreSQL, both accounts locked by this transaction at ``debit`` / ``credit``: write the outcome.

        Through asyncpg with the optimistic statement when it applies (its check passes: nobody else can move
        locked rows), else the SQLAlchemy statement (holds: it resolves a pending transfer too).
        """
        driver = await self._raw() if self._optimistic and outcome.resolution is None else None
        if driver is not None:
            row = await self._cas(driver, debit, credit, outcome)
            if row["ok"]:
                if row["inserted"]:
                    self._kept(outcome, row)
                return bool(row["inserted"])
        return await self._write_all_postgres(outcome)

    async def _write_all_postgres(self, outcome: TransferOutcome) -> bool:
        """PostgreSQL: the transfer, both counters, both entries (and a hold's resolution) in one round trip.

        Every later part is gated on the transfer insert having happened, so a conflicting id writes nothing.
        """
        t, d, c = outcome.transfer, outcome.debit_change, outcome.credit_change
        params: dict[str, Any] = {f"t_{k}": v for k, v in self._transfer_values(t).items()}
        for prefix, account, change in (("d", outcome.debit_account, d), ("c", outcome.credit_account, c)):
            params.update({f"{prefix}_id": account.id, f"{prefix}_dp": account.debits_posted,
                           f"{prefix}_cp": account.credits_posted, f"{prefix}_dpe": account.debits_pending,
                           f"{prefix}_cpe": account.credits_pending, f"{prefix}_side": change.side.value,
                           f"{prefix}_delta": change.delta, f"{prefix}_pdelta": change.pending_delta,
                           f"{prefix}_bb": change.balance_before, f"{prefix}_ba": change.balance_after,
                           f"{prefix}_ab": change.available_before, f"{prefix}_aa": change.available_after})
        statement = _WRITE_ALL
        if outcome.resolution is not None:
            params["r_id"], params["r_status"] = outcome.resolution.pending_id, outcome.resolution.status.value
            statement = _WRITE_ALL_RESOLVING
        row = (await self._c.execute(statement, params)).first()
        if not (row and row.inserted):
            return False
        if row.entry_ids and len(row.entry_ids) == 2:
            low, high = sorted(row.entry_ids)  # inserted in debit, credit order: the debit got the lower id
            self._written[t.id] = [Entry.record(low, t, d), Entry.record(high, t, c)]
        return True

    @staticmethod
    def _transfer_values(t: Transfer) -> dict[str, Any]:
        return {
            "id": t.id, "kind": t.kind.value, "debit_account_id": t.debit_account_id,
            "credit_account_id": t.credit_account_id, "amount": t.amount, "currency": t.currency.value,
            "code": t.code, "pending_id": t.pending_id,
            "pending_status": PendingStatus.PENDING.value if t.kind is TransferKind.PENDING else None,
            "reference": t.reference, "memo": t.memo,
            "rate_source": t.rate.source.value if t.rate else None,
            "rate_target": t.rate.target.value if t.rate else None,
            "rate_numerator": t.rate.numerator if t.rate else None,
            "rate_denominator": t.rate.denominator if t.rate else None, "created_at": t.timestamp}

    async def _insert_transfer(self, t: Transfer) -> bool:
        values = self._transfer_values(t)
        insert = _dialect_insert(self._c)(ledger_transfers).values(**values).on_conflict_do_nothing(
            index_elements=[ledger_transfers.c.id]).returning(ledger_transfers.c.id)
        return (await self._c.execute(insert)).first() is not None

    async def _store(self, outcome: TransferOutcome) -> None:
        t = outcome.transfer
        for account in (outcome.debit_account, outcome.credit_account):
            await self._c.execute(ledger_accounts.update().where(ledger_accounts.c.id == account.id).values(
                debits_posted=account.debits_posted, credits_posted=account.credits_posted,
                debits_pending=account.debits_pending, credits_pending=account.credits_pending))
        await self._c.execute(ledger_entries.insert(), [
            {"transfer_id": t.id, "account_id": ch.account_id, "side": ch.side.value, "delta": ch.delta,
             "pending_delta": ch.pending_delta, "balance_before": ch.balance_before,
             "balance_after": ch.balance_after, "available_before": ch.available_before,
             "available_after": ch.available_after}
            for ch in (outcome.debit_change, outcome.credit_change)])
        if outcome.resolution is not None:
            await self._c.execute(ledger_transfers.update()
                                  .where(ledger_transfers.c.id == outcome.resolution.pending_id)
                                  .values(pending_status=outcome.resolution.status.value))

    # -- history ---------------------------------------------------------------------------------
    async def entries(self, account_id: int, *, before_id: int | None = None, limit: int = 50) -> Sequence[Entry]:
        if type(limit) is not int or not 1 <= limit <= MAX_ENTRIES_PAGE:
            raise ValidationError(f"limit must be in 1..{MAX_ENTRIES_PAGE}", field="limit")
        if before_id is not None and type(before_id) is not int:
            raise ValidationError("before_id must be an integer", field="before_id")
        if await self.get_account(account_id) is None:
            raise account_not_found(account_id)
        query = _ENTRY_QUERY.where(ledger_entries.c.account_id == account_id)
        if before_id is not None:
            query = query.where(ledger_entries.c.id < before_id)
        rows = await self._c.execute(query.order_by(ledger_entries.c.id.desc()).limit(limit))
        return [_entry(r) for r in rows]

    async def transfer_entries(self, transfer_id: str) -> Sequence[Entry]:
        if transfer_id in self._written:
            return list(self._written[transfer_id])
        rows = await self._c.execute(_ENTRY_QUERY.where(ledger_entries.c.transfer_id == transfer_id)
                                     .order_by(ledger_entries.c.id))
        return [_entry(r) for r in rows]

    async def totals(self) -> Mapping[Currency, LedgerTotals]:
        rows = await self._c.execute(sa.select(ledger_accounts))
        return totals_of(_account(r) for r in rows)
