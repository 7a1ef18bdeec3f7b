"""Embed vpnsmm, move some money and print a user's ledger history with balances before and after.

    python examples/ledger_history.py [DATA_DIR]

Uses a throw-away SQLite data dir unless one is given. Run by the test suite so it never rots.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile

import vpnsmm
from vpnsmm.application import RegisterUserCommand
from vpnsmm.domain import Currency, InsufficientFundsError, Money


async def main(data_dir: str) -> None:
    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": data_dir})
    async with vpnsmm.open(settings) as app:
        shop = await app.register_user(RegisterUserCommand(username="reseller", password="example password"))
        customer = await app.register_user(RegisterUserCommand(username="customer", password="example password"))
        await app.wallets.adjust(actor_id=None, user_id=shop.id, amount=Money.parse("100.00", Currency.USD),
                                 reason="opening balance", idempotency_key="open-1")
        for n in range(3):  # fund the customer three times; the idempotency key makes retries safe
            await app.wallets.transfer(from_user_id=shop.id, to_user_id=customer.id,
                                       amount=Money.parse("12.50", Currency.USD), idempotency_key=f"fund-{n}")
        try:
            await app.wallets.transfer(from_user_id=customer.id, to_user_id=shop.id,
                                       amount=Money.parse("1000.00", Currency.USD), idempotency_key="too-much")
        except InsufficientFundsError as exc:
            print(f"refused as expected: {exc.code}")
        for entry in reversed(await app.wallets.history(shop.id, Currency.USD)):
            before = Money(entry.balance_before, entry.currency)
            after = Money(entry.balance_after, entry.currency)
            change = Money(entry.delta, entry.currency)
            print(f"{entry.code:16} {change!s:>12}  {before.format():>8} -> {after.format()}")
        balance = await app.wallets.balance(customer.id, Currency.USD)
        print(f"customer balance: {balance.balance}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="vpnsmm-example-")))
