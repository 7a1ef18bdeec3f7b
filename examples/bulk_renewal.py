"""Scripted renewal of many accounts: renew every live VPN account from its owner's wallet, safely re-runnable.

    python examples/bulk_renewal.py [ACCOUNTS]

Sets up a shop with one plan on an in-process fake panel and ACCOUNTS customers (default 25), then renews all
their accounts in pages. The idempotency key ``renew-<account>-<period>`` makes a second run (after a crash, or
by mistake) charge nobody twice; a customer who cannot pay is reported and skipped. Run by the test suite.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile

import vpnsmm
from vpnsmm.application import BuyPlanCommand, PlanDraft, RegisterUserCommand, ServerDraft
from vpnsmm.domain import AccountStatus, Currency, Gateway, InsufficientFundsError, Money, ServerKind, VpnAccount

IRR = Currency.IRR
PRICE = Money(1_000_000, IRR)


async def renew_all(app: vpnsmm.App, period: str) -> tuple[int, list[int]]:
    """Renew every active/limited/expired account once for ``period``. Returns (renewed, could not pay)."""
    renewed, unpaid = 0, []
    before: int | None = None
    while True:
        page: list[VpnAccount] = list(await app.vpn_accounts.list(None, limit=10, before_id=before))  # admin view
        for account in page:
            if account.status not in (AccountStatus.ACTIVE, AccountStatus.LIMITED, AccountStatus.EXPIRED):
                continue
            try:
                purchase = await app.renew_account(account.user_id, account.id, IRR, Gateway.WALLET,
                                                   idempotency_key=f"renew-{account.id}-{period}")
            except InsufficientFundsError:
                unpaid.append(account.id)
                continue
            renewed += purchase.payment is not None  # None: a replay of a renewal already paid, nothing charged
        if len(page) < 10:
            return renewed, unpaid
        before = page[-1].id


async def main(count: int) -> None:
    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": tempfile.mkdtemp(prefix="vpnsmm-example-")})
    async with vpnsmm.open(settings) as app:
        await app.manage_servers.add(ServerDraft(kind=ServerKind.FAKE, name="fake-1", address="fake.example.net",
                                                 capacity=count + 10))
        plan = await app.manage_plans.create(PlanDraft(name="Monthly", prices={IRR: PRICE}, duration_days=30,
                                                       traffic_bytes=20 * 1024**3))
        for n in range(count):
            user = await app.register_user(RegisterUserCommand(username=f"customer{n}", password="example password"))
            funds = PRICE if n == 0 else PRICE * 2  # customer0 can pay for the purchase but not the renewal
            await app.wallets.adjust(actor_id=None, user_id=user.id, amount=funds, reason="top-up",
                                     idempotency_key=f"topup-{n}")
            await app.buy_plan(BuyPlanCommand(user_id=user.id, plan_id=plan.id, currency=IRR,
                                              gateway=Gateway.WALLET, idempotency_key=f"buy-{n}"))

        first = await app.vpn_accounts.get(None, 2)
        renewed, unpaid = await renew_all(app, "2026-02")
        print(f"renewed {renewed} of {count} accounts; could not pay: {unpaid}")
        again, _ = await renew_all(app, "2026-02")  # the same run again: nothing is charged twice
        after = await app.vpn_accounts.get(None, 2)
        balance = await app.wallets.balance(after.user_id, IRR)
        assert first.expires_at is not None and after.expires_at is not None
        print(f"second run renewed {again} more; account 2 now expires {(after.expires_at - first.expires_at).days}"
              f" days later; its owner has {balance.balance} left")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
