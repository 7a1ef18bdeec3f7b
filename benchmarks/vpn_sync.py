"""SyncUsage throughput: 50,000 accounts spread over in-process fake panels, synced into a real database.

Setup (not timed): a migrated database (SQLite file by default, or ``--db-url`` / ``--postgres``), one user,
one plan, ``--servers`` fake servers (FakeVpnPanel through the real PanelRegistry) and ``--accounts`` accounts
inserted in bulk, each with a client on its panel that has used some traffic. Timed: ``SyncUsage`` over every
server (panel pages of ``--page-size``, one transaction per page, bulk usage updates), run twice so the second
pass also exercises counter deltas (and a panel-side counter reset on every 10th client).

    python benchmarks/vpn_sync.py [--accounts 50000] [--servers 10] [--page-size 1000] [--postgres]

Prints accounts/s and total seconds as JSON (target: < 30 s for 50,000 accounts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vpnsmm.adapters.panels.fake import FakeVpnPanel, _Client
from vpnsmm.adapters.panels.registry import FernetSecretBox, PanelRegistry
from vpnsmm.adapters.security import SystemClock
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.tables import vpn_accounts
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.vpn import ManagePlans, ManageServers, PlanDraft, ServerDraft, SyncUsage
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn import ClientLimits
from vpnsmm.domain.vpn_sales import GIB, ServerKind


async def bench(db_url: str, accounts: int, servers: int, page_size: int) -> dict[str, object]:
    engine = make_engine(db_url)
    await migrate.upgrade(engine)
    clock = SystemClock()
    uow = SqlUnitOfWorkFactory(engine)
    box = FernetSecretBox("benchmark secret")
    registry = PanelRegistry(box, now=clock.now)
    try:
        async with uow() as tx:
            user = await tx.users.add(User.register(username=f"bench{secrets.token_hex(3)}", password_hash="x",
                                                    joined_at=clock.now()))
            await tx.commit()
        plan = await ManagePlans(uow, clock).create(PlanDraft(
            name=f"Bench {secrets.token_hex(3)}", prices={Currency.IRR: Money(1, Currency.IRR)}, duration_days=30,
            traffic_bytes=10 * GIB))
        manage = ManageServers(uow, clock, registry, box)
        rows = []
        now = clock.now()
        server_ids = []
        for n in range(servers):
            server = await manage.add(ServerDraft(kind=ServerKind.FAKE, name=f"bench-{secrets.token_hex(3)}-{n}",
                                                  address=f"b{n}.bench.test", capacity=accounts))
            server_ids.append(server.id)
        for i in range(accounts):
            rows.append({"user_id": user.id, "plan_id": plan.id, "server_id": server_ids[i % servers],
                         "status": "active", "subscription_token": secrets.token_urlsafe(24), "duration_days": 30,
                         "expires_at": now + timedelta(days=30), "traffic_limit_bytes": 10 * GIB,
                         "start_on_first_use": False, "links": [], "applied_invoices": [], "pending_reset": False,
                         "needs_push": False, "created_at": now})
        async with engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                await conn.execute(vpn_accounts.insert(), rows[start:start + 5000])
            ids = [r[0] for r in await conn.execute(
                vpn_accounts.select().with_only_columns(vpn_accounts.c.id, vpn_accounts.c.server_id)
                .where(vpn_accounts.c.user_id == user.id).order_by(vpn_accounts.c.id))]
        servers_by_id = {s.server.id: s.server for s in await manage.list()}
        for index, account_id in enumerate(ids):
            server_id = server_ids[index % servers]
            panel = await registry.panel_for(servers_by_id[server_id])
            assert isinstance(panel, FakeVpnPanel)
            key = f"acc-{account_id}"
            panel.clients[key] = _Client(key, secrets.token_hex(16), ClientLimits(10 * GIB), True, "",
                                         upload=index * 1000, download=index * 5000)

        sync = SyncUsage(uow, clock, registry)
        passes = []
        for round_ in range(2):
            if round_:
                for panel in registry.fakes.values():
                    for i, client in enumerate(panel.clients.values()):
                        if i % 10 == 0:
                            client.upload = client.download = 0  # a panel-side reset
                        client.download += 1_000_000
            started = time.perf_counter()
            seen = updated = 0
            for server_id in server_ids:
                report = await sync(server_id, page_size=page_size)
                seen += report.seen
                updated += report.updated
            elapsed = time.perf_counter() - started
            passes.append({"seconds": round(elapsed, 2), "accounts": seen, "updated": updated,
                           "accounts_per_second": round(seen / elapsed)})
        return {"database": db_url.split("://")[0], "accounts": accounts, "servers": servers, "page_size": page_size,
                "passes": passes, "total_seconds": round(sum(float(str(p["seconds"])) for p in passes), 2),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    finally:
        await registry.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--db-url", default="")
    parser.add_argument("--postgres", action="store_true", help="a throw-away database on the local PostgreSQL")
    args = parser.parse_args()
    if args.postgres:
        from tests.support.databases import temporary_postgres_database

        with temporary_postgres_database() as url:
            result = asyncio.run(bench(url, args.accounts, args.servers, args.page_size))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.db_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
            result = asyncio.run(bench(url, args.accounts, args.servers, args.page_size))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
