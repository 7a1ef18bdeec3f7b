"""Wallet transfers per second through the application use case vs pgbench doing the same transfer in SQL.

Both run on the same PostgreSQL server, in the same run, with the same number of concurrent clients over TCP
(127.0.0.1), against the same number of funded accounts. The pgbench script is the double-entry transfer from
ledger-reliability.md (ordered FOR UPDATE on two accounts, two balance UPDATEs under a CHECK, a transfer INSERT
with a unique idempotency key, two entry INSERTs). The app path is ``Wallets.transfer``: authorisation of the
recipient, account lookups, the ledger rules, locks, idempotency check, counters, transfer and entries.

    python benchmarks/ledger_transfers.py [--clients 8] [--seconds 15] [--rounds 3] [--processes 2] [--loop uvloop]

Needs PostgreSQL reachable at VPNSMM_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test)
and the ``pgbench`` binary. Prints a JSON summary; docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from vpnsmm.adapters.security import SystemClock
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.billing import Wallets
from vpnsmm.domain.errors import InsufficientFundsError
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money

ADMIN_URL = os.environ.get("VPNSMM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DB = "vpnsmm_bench"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
ACCOUNTS = 1_000

# The pgbench side mirrors our tables' shape, constraints and indexes (text primary key that is the idempotency
# key, the four counters under the same CHECKs, the same secondary indexes on transfers and entries), so both
# sides do the same work per transfer and the difference is what the application adds.
PGBENCH_SCHEMA = f"""
DROP TABLE IF EXISTS pgb_entries, pgb_transfers, pgb_accounts;
CREATE TABLE pgb_accounts (id bigint PRIMARY KEY, owner_id bigint NOT NULL, currency varchar(8) NOT NULL,
  purpose varchar(32) NOT NULL, flags varchar(40) NOT NULL, debits_posted bigint NOT NULL DEFAULT 0,
  credits_posted bigint NOT NULL DEFAULT 0, debits_pending bigint NOT NULL DEFAULT 0,
  credits_pending bigint NOT NULL DEFAULT 0, UNIQUE (owner_id, currency, purpose),
  CHECK (debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0),
  CHECK (flags <> 'debits_must_not_exceed_credits' OR debits_posted + debits_pending <= credits_posted),
  CHECK (flags <> 'credits_must_not_exceed_debits' OR credits_posted + credits_pending <= debits_posted));
CREATE TABLE pgb_transfers (id varchar(128) PRIMARY KEY, kind varchar(16) NOT NULL,
  debit_account_id bigint NOT NULL REFERENCES pgb_accounts, credit_account_id bigint NOT NULL REFERENCES pgb_accounts,
  amount bigint NOT NULL CHECK (amount > 0), currency varchar(8) NOT NULL, code varchar(64) NOT NULL,
  pending_id varchar(128), reference varchar(255), memo varchar(500) NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL, CHECK (debit_account_id <> credit_account_id));
CREATE INDEX ON pgb_transfers (pending_id);
CREATE INDEX ON pgb_transfers (reference);
CREATE TABLE pgb_entries (id bigserial PRIMARY KEY, transfer_id varchar(128) NOT NULL REFERENCES pgb_transfers,
  account_id bigint NOT NULL REFERENCES pgb_accounts, side varchar(8) NOT NULL, delta bigint NOT NULL,
  pending_delta bigint NOT NULL, balance_before bigint NOT NULL, balance_after bigint NOT NULL,
  available_before bigint NOT NULL, available_after bigint NOT NULL);
CREATE INDEX ON pgb_entries (transfer_id);
CREATE INDEX ON pgb_entries (account_id, id);
INSERT INTO pgb_accounts (id, owner_id, currency, purpose, flags, credits_posted)
  SELECT g, g, 'IRR', 'wallet', 'debits_must_not_exceed_credits', 1000000000000 FROM generate_series(1, {ACCOUNTS}) g;
"""

# One transfer as our use case does it: lock both wallets in id order, move the counters (the CHECK is the bound),
# claim the idempotency key with the transfer row (ON CONFLICT DO NOTHING, as ours), write the two entries with
# balances before and after.
PGBENCH_SCRIPT = r"""
\set a random(1, :naccounts)
\set b (:a % :naccounts) + 1
BEGIN;
SELECT id FROM pgb_accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE pgb_accounts SET debits_posted = debits_posted + 7 WHERE id = :a
  RETURNING credits_posted - debits_posted AS bal_a \gset
UPDATE pgb_accounts SET credits_posted = credits_posted + 7 WHERE id = :b
  RETURNING credits_posted - debits_posted AS bal_b \gset
INSERT INTO pgb_transfers (id, kind, debit_account_id, credit_account_id, amount, currency, code, reference, memo,
  created_at) VALUES ('p2p:' || :a || ':' || md5(random()::text || clock_timestamp()::text), 'posted', :a, :b, 7,
  'IRR', 'wallet_transfer', 'user:' || :b, '', now()) ON CONFLICT (id) DO NOTHING RETURNING id AS tid \gset
INSERT INTO pgb_entries (transfer_id, account_id, side, delta, pending_delta, balance_before, balance_after,
  available_before, available_after) VALUES
  (:tid, :a, 'debit', -7, 0, :bal_a::bigint + 7, :bal_a, :bal_a::bigint + 7, :bal_a),
  (:tid, :b, 'credit', 7, 0, :bal_b::bigint - 7, :bal_b, :bal_b::bigint - 7, :bal_b);
END;
"""


async def admin(sql: str) -> None:
    engine = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text(sql))
    await engine.dispose()


async def setup() -> None:
    await admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{DB}"')
    engine = make_engine(URL)
    await migrate.upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    now = datetime.now(UTC)
    async with uow() as work:
        for i in range(1, ACCOUNTS + 1):
            await work.users.add(User(username=f"bench{i}", password_hash="x", joined_at=now))
        await work.commit()
    wallets = Wallets(uow, SystemClock())
    for i in range(1, ACCOUNTS + 1):
        await wallets.adjust(actor_id=None, user_id=i, amount=Money(10**12, Currency.IRR), reason="bench",
                             idempotency_key=f"seed-{i}")
    async with engine.begin() as conn:
        for statement in PGBENCH_SCHEMA.strip().split(";\n"):
            if statement.strip():
                await conn.execute(sa.text(statement))
    await engine.dispose()


def app_worker(seconds: float, clients: int, seed: int, out: multiprocessing.Queue,  # type: ignore[type-arg]
               loop: str = "uvloop") -> None:
    async def main() -> int:
        engine = make_engine(URL, pool_size=clients)
        wallets = Wallets(SqlUnitOfWorkFactory(engine), SystemClock())
        rnd = random.Random(seed)
        # Untimed: one transfer per client opens the pool's connections and prepares the statements, as pgbench
        # reports its tps "without initial connection time".
        await asyncio.gather(*(wallets.transfer(from_user_id=n + 1, to_user_id=n + 2, amount=Money(7, Currency.IRR),
                                                idempotency_key=f"warm{seed}-{n}") for n in range(clients)))
        deadline = time.perf_counter() + seconds
        done = 0

        async def client(n: int) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < deadline:
                a = rnd.randint(1, ACCOUNTS)
                b = a % ACCOUNTS + 1
                i += 1
                try:
                    await wallets.transfer(from_user_id=a, to_user_id=b, amount=Money(7, Currency.IRR),
                                           idempotency_key=f"b{seed}-{n}-{i}")
                    done += 1
                except InsufficientFundsError:
                    pass

        await asyncio.gather(*(client(n) for n in range(clients)))
        await engine.dispose()
        return done

    if loop == "uvloop":  # what the served application runs on (uvicorn[standard] picks uvloop)
        import uvloop

        out.put(uvloop.run(main()))
    else:
        out.put(asyncio.run(main()))


def run_app(seconds: float, clients: int, processes: int, round_no: int, loop: str) -> float:
    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    procs = [multiprocessing.Process(target=app_worker, args=(seconds, n, round_no * 100 + i, queue, loop))
             for i, n in enumerate(per) if n]
    for p in procs:
        p.start()
    total = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def run_pgbench(seconds: float, clients: int) -> float:
    libpq = URL.replace("postgresql+asyncpg://", "postgresql://")
    with tempfile.NamedTemporaryFile("w", suffix=".pgb", delete=False) as handle:
        handle.write(PGBENCH_SCRIPT)
        script = handle.name
    result = subprocess.run(["pgbench", "-n", "-M", "prepared", "-f", script, "-D", f"naccounts={ACCOUNTS}",
                             "-c", str(clients), "-j", "2", "-T", str(int(seconds)), libpq],
                            capture_output=True, text=True, check=True)
    match = re.search(r"tps = ([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(result.stdout + result.stderr)
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2, help="app worker processes sharing the clients")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop",
                        help="event loop of the app workers (uvloop is what `vpnsmm serve` runs on)")
    args = parser.parse_args()
    if shutil.which("pgbench") is None:
        sys.exit("pgbench is not installed (Debian: postgresql-client)")
    asyncio.run(setup())
    app, pg = [], []
    for r in range(args.rounds):  # interleaved, so drift on this VM hits both alike
        pg.append(run_pgbench(args.seconds, args.clients))
        app.append(run_app(args.seconds, args.clients, args.processes, r, args.loop))
        print(f"round {r + 1}: pgbench {pg[-1]:.0f} tps, app {app[-1]:.0f} transfers/s", file=sys.stderr)
    summary = {"loop": args.loop, "clients": args.clients, "seconds": args.seconds, "rounds": args.rounds, "processes": args.processes,
               "pgbench_tps_median": round(statistics.median(pg)), "app_tps_median": round(statistics.median(app)),
               "ratio": round(statistics.median(app) / statistics.median(pg), 3), "pgbench_tps": pg, "app_tps": app}
    print(json.dumps(summary, indent=2))
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
