"""``vpnsmm subscriptions list|cancel|run`` as an operator uses them: real process, real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import vpnsmm
from vpnsmm.application.smm_subscriptions import NewSubscription
from vpnsmm.container import opened
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money


def vpnsmm_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    env.update({"VPNSMM_DATA_DIR": str(data_dir), "VPNSMM_DEFAULT_CURRENCY": "USD", "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "vpnsmm", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


class TwoDaysAgo:
    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(days=2)


async def test_list_run_and_cancel(tmp_path: Path) -> None:
    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_DEFAULT_CURRENCY": "USD"})
    async with opened(settings) as c:
        c.clock.override(TwoDaysAgo())  # the subscription starts two days ago, so a run is due now
        await c.smm_demo()()
        async with c.uow()() as uow:
            alice = await uow.users.add(User.register(username="alice", password_hash="x", joined_at=c.clock().now()))
            await uow.commit()
        await c.wallets().adjust(actor_id=None, user_id=alice.id, amount=Money.parse("10.00", Currency.USD),
                                 reason="cli test", idempotency_key="cli-sub")
        service = next(p.service for p in await c.smm_catalogue().services() if p.service.name == "Instagram Followers")
        started = await c.smm_subscriptions().create(NewSubscription(
            user_id=alice.id, service_id=service.id, link="https://instagram.com/cli", quantity=100,
            interval="daily"))
    sub_id = started.subscription.id

    listed = vpnsmm_cli(tmp_path, "subscriptions", "list", "--user", "alice", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert [(s["id"], s["status"], s["runs_placed"]) for s in items] == [(sub_id, "active", 1)]
    ran = vpnsmm_cli(tmp_path, "subscriptions", "run", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"placed": 1, "paused": 0, "skipped": 0}  # run 1 was due a day ago
    canceled = vpnsmm_cli(tmp_path, "subscriptions", "cancel", str(sub_id), "--user", "alice", "--json")
    assert canceled.returncode == 0 and json.loads(canceled.stdout)["runs_placed"] == 2
    assert json.loads(canceled.stdout)["status"] == "canceled"
    missing = vpnsmm_cli(tmp_path, "subscriptions", "cancel", "99999", "--user", "alice")
    assert missing.returncode == 2 and "subscription not found" in missing.stderr
