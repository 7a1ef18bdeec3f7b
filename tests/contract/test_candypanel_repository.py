"""One contract for the CandyPanel repository (``uow.candypanel``), on the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from vpnsmm.application.ports.candypanel import (
    ApiTokenRecord,
    CandyPanelUnitOfWorkFactory,
    CardOrder,
    ClientName,
    OutboxMessage,
)
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose, Payment
from vpnsmm.domain.errors import ConflictError
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn_sales import Plan, Server, ServerKind, VpnAccount

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _candy(factory: UnitOfWorkFactory) -> CandyPanelUnitOfWorkFactory:
    return cast(CandyPanelUnitOfWorkFactory, factory)


async def _fixtures(factory: CandyPanelUnitOfWorkFactory) -> dict[str, Any]:
    """A user, two accounts and a card payment the records can point at."""
    async with factory() as uow:
        user = User.register(username="tg_1", password_hash="$argon2id$fake", joined_at=T0, telegram_id=1)
        await uow.users.add(user)
        plan = Plan(name="p", prices={Currency.IRT: Money(10, Currency.IRT)}, duration_days=30, traffic_bytes=None,
                    created_at=T0)
        await uow.vpn_plans.add(plan)
        server = Server(kind=ServerKind.FAKE, name="s", address="fake.local", credentials="x", created_at=T0)
        await uow.vpn_servers.add(server)
        accounts = []
        for token in ("t1", "t2"):
            account = VpnAccount.open(user_id=user.id, plan=plan, server=server, now=T0, token=token)
            await uow.vpn_accounts.add(account)
            accounts.append(account)
        invoice = Invoice.open(user_id=user.id, purpose=InvoicePurpose.VPN_PURCHASE,
                               amount=Money(10, Currency.IRT), description="d", now=T0)
        await uow.invoices.add(invoice)
        payment = Payment(invoice_id=invoice.id, user_id=user.id, gateway=Gateway.CARD,
                          amount=Money(10, Currency.IRT), created_at=T0)
        await uow.payments.add(payment)
        await uow.commit()
    return {"user": user, "accounts": accounts, "invoice": invoice, "payment": payment}


async def test_settings_put_replaces_and_claim_wins_once(uow_factory: UnitOfWorkFactory) -> None:
    factory = _candy(uow_factory)
    async with factory() as uow:
        assert await uow.candypanel.claim_setting("install", "1", now=T0) is True
        assert await uow.candypanel.claim_setting("install", "2", now=T0) is False
        await uow.candypanel.put_setting("dns", "8.8.8.8", now=T0)
        await uow.candypanel.put_setting("dns", "1.1.1.1", now=T0)
        await uow.commit()
    async with factory() as uow:
        assert await uow.candypanel.claim_setting("install", "3", now=T0) is False
        await uow.candypanel.put_setting("uncommitted", "x", now=T0)  # rolled back
    async with factory(read_only=True) as uow:
        assert dict(await uow.candypanel.settings()) == {"install": "1", "dns": "1.1.1.1"}


async def test_client_names_are_unique_per_name_and_per_account(uow_factory: UnitOfWorkFactory) -> None:
    factory = _candy(uow_factory)
    f = await _fixtures(factory)
    first, second = f["accounts"]
    async with factory() as uow:
        await uow.candypanel.add_client(ClientName("alice", first.id, 0, T0, "n"))
        await uow.commit()
    for clash in (ClientName("alice", second.id, 0, T0), ClientName("bob", first.id, 0, T0)):
        with pytest.raises(ConflictError):
            async with factory() as uow:
                await uow.candypanel.add_client(clash)
                await uow.commit()
    async with factory() as uow:
        await uow.candypanel.add_client(ClientName("bob", second.id, 1, T0 + timedelta(seconds=1)))
        await uow.candypanel.update_client(ClientName("alice", first.id, 0, T0, "changed"))
        await uow.commit()
    async with factory() as uow:
        assert [c.name for c in await uow.candypanel.clients()] == ["alice", "bob"]
        assert (await uow.candypanel.client("alice")) == ClientName("alice", first.id, 0, T0, "changed")
        assert (await uow.candypanel.client_of_account(second.id)) == ClientName(
            "bob", second.id, 1, T0 + timedelta(seconds=1))
        assert await uow.candypanel.remove_client("alice") is True
        assert await uow.candypanel.remove_client("alice") is False
        await uow.commit()
    async with factory(read_only=True) as uow:
        assert await uow.candypanel.client("alice") is None


async def test_orders_tokens_and_outbox(uow_factory: UnitOfWorkFactory) -> None:
    factory = _candy(uow_factory)
    f = await _fixtures(factory)
    order = CardOrder(order_id="O-1", user_id=f["user"].id, telegram_id=1, invoice_id=f["invoice"].id,
                      payment_id=f["payment"].id, purchase_type="gb", quantity=2, amount=8000,
                      card_number_sent="sent ✓", requested_at=T0)
    async with factory() as uow:
        await uow.candypanel.add_order(order)
        await uow.commit()
    with pytest.raises(ConflictError):
        async with factory() as uow:
            await uow.candypanel.add_order(order)
            await uow.commit()
    user_id = f["user"].id
    async with factory() as uow:
        await uow.candypanel.set_admin_note("O-1", "ok")
        await uow.candypanel.put_token(ApiTokenRecord("app", "a" * 64, user_id, T0))
        await uow.candypanel.put_token(ApiTokenRecord("app", "b" * 64, user_id, T0))  # replaced by name
        stored = await uow.candypanel.add_message(OutboxMessage("broadcast", 9, [1, 2], "hi", T0))
        await uow.commit()
    with pytest.raises(ConflictError):
        async with factory() as uow:
            await uow.candypanel.put_token(ApiTokenRecord("other", "b" * 64, user_id, T0))
            await uow.commit()
    async with factory() as uow:
        got = await uow.candypanel.order("O-1")
        assert got is not None and got.admin_note == "ok" and got.card_number_sent == "sent ✓"
        assert [o.order_id for o in await uow.candypanel.orders()] == ["O-1"]
        assert await uow.candypanel.token_by_hash("a" * 64) is None
        token = await uow.candypanel.token_by_hash("b" * 64)
        assert token is not None and token.name == "app"
        assert [t.name for t in await uow.candypanel.tokens()] == ["app"]
        assert await uow.candypanel.remove_token("app") is True and await uow.candypanel.remove_token("app") is False
        messages = await uow.candypanel.messages()
        assert stored.id > 0 and [(m.id, list(m.recipients), m.message) for m in messages] == [(stored.id, [1, 2],
                                                                                                   "hi")]
