"""Using vpnsmm as a library: ``vpnsmm.open`` with the same use cases and guarantees as over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

import vpnsmm
from vpnsmm.application import RegisterUserCommand
from vpnsmm.domain import Currency, InsufficientFundsError, Money


async def test_open_registers_funds_and_reads_history(tmp_path: Path) -> None:
    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": str(tmp_path)})
    async with vpnsmm.open(settings) as app:
        alice = await app.register_user(RegisterUserCommand(username="alice", password="library password"))
        bob = await app.register_user(RegisterUserCommand(username="bob", password="library password"))
        tokens = await app.login("alice", "library password")
        assert (await app.authenticate.access_token(tokens.access.token)).user.id == alice.id
        await app.wallets.adjust(actor_id=None, user_id=alice.id, amount=Money.parse("10.00", Currency.USD),
                                 reason="welcome", idempotency_key="w-1")
        await app.wallets.transfer(from_user_id=alice.id, to_user_id=bob.id, amount=Money(250, Currency.USD),
                                   idempotency_key="gift")
        with pytest.raises(InsufficientFundsError):
            await app.wallets.transfer(from_user_id=alice.id, to_user_id=bob.id, amount=Money(10_000, Currency.USD),
                                       idempotency_key="too-much")
        history = await app.wallets.history(alice.id, Currency.USD)
    assert [(e.code, e.balance_after) for e in history] == [("wallet_transfer", 750), ("adjustment", 1000)]
    # The data is in the database, not in the process: a second open sees it.
    async with vpnsmm.open(settings) as again:
        assert (await again.wallets.balance(bob.id, Currency.USD)).balance == Money(250, Currency.USD)


async def test_overrides_replace_a_provider_and_unknown_names_are_refused(tmp_path: Path) -> None:
    class FixedClock:
        def now(self):  # type: ignore[no-untyped-def]
            from datetime import UTC, datetime

            return datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": str(tmp_path)})
    async with vpnsmm.open(settings, overrides={"clock": FixedClock()}) as app:
        user = await app.register_user(RegisterUserCommand(username="carol", password="library password"))
    assert user.joined_at.year == 2030
    with pytest.raises(ValueError, match="no provider named 'nope'"):
        async with vpnsmm.open(settings, overrides={"nope": object()}):
            pass
