"""``vpnsmm wallet`` and ``vpnsmm payments``: balances, manual credits/debits, card-to-card review."""

from __future__ import annotations

import secrets
from typing import Any

import typer

from vpnsmm.application.billing import WalletBalance
from vpnsmm.application.ports.persistence import PaymentFilter
from vpnsmm.container import Container
from vpnsmm.domain.billing import Gateway, Payment, PaymentStatus
from vpnsmm.domain.ledger import Entry
from vpnsmm.domain.money import Currency, Money
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, fail, out, run

wallet_app = typer.Typer(help="Wallet balances and history; credit or debit a user's wallet with a reason.",
                         no_args_is_help=True)
payments_app = typer.Typer(help="Payments: list them, approve or reject card-to-card transfers.",
                           no_args_is_help=True)


def _money(amount: str, currency: str) -> Money:
    try:
        return Money.parse(amount, Currency.parse(currency))
    except Exception as exc:  # ValidationError: one clear line
        fail(str(exc), 2)


def _balance_dict(b: WalletBalance) -> dict[str, Any]:
    return {"currency": b.currency.value, "balance": b.balance.format(), "available": b.available.format(),
            "balance_minor": b.balance.amount}


def _entry_dict(e: Entry) -> dict[str, Any]:
    def fmt(v: int) -> str:
        return Money(v, e.currency).format()
    return {"id": e.id, "transfer_id": e.transfer_id, "code": e.code, "amount": fmt(e.delta),
            "balance_before": fmt(e.balance_before), "balance_after": fmt(e.balance_after),
            "currency": e.currency.value, "at": e.timestamp.isoformat()}


@wallet_app.command("show")
def show(user: str = typer.Argument(..., help="Username or numeric id."),
         history: int = typer.Option(10, min=0, max=200, help="How many recent entries to show per currency."),
         as_json: bool = JsonOption) -> None:
    """Balances of a user's wallets and their latest entries (with the balance before and after each)."""
    async def action(c: Container) -> tuple[list[WalletBalance], dict[str, list[Entry]]]:
        found = await c.find_user()(user)
        balances = await c.wallets().balances(found.id)
        entries = {b.currency.value: list(await c.wallets().history(found.id, b.currency, limit=max(history, 1)))
                   for b in balances} if history else {}
        return balances, entries

    balances, entries = run(action)
    if as_json:
        emit_json({"wallets": [_balance_dict(b) for b in balances],
                   "history": {k: [_entry_dict(e) for e in v] for k, v in entries.items()}})
        return
    if not balances:
        out.print(f"{user} has no wallet yet (balance 0)")
        return
    emit_table(f"wallets of {user}", ["currency", "balance", "available"],
               [[b.currency.value, b.balance.format(), b.available.format()] for b in balances])
    for currency, items in entries.items():
        emit_table(f"latest {currency} entries", ["id", "code", "amount", "before", "after", "at"],
                   [[d["id"], d["code"], d["amount"], d["balance_before"], d["balance_after"], d["at"][:19]]
                    for d in map(_entry_dict, items)])


def _adjust(user: str, amount: Money, reason: str, key: str | None, as_json: bool) -> None:
    async def action(c: Container) -> Entry:
        found = await c.find_user()(user)
        return await c.wallets().adjust(actor_id=None, user_id=found.id, amount=amount, reason=reason,
                                        idempotency_key=key or f"cli-{secrets.token_hex(8)}")

    entry = run(action)
    if as_json:
        emit_json(_entry_dict(entry))
    else:
        d = _entry_dict(entry)
        out.print(f"{d['amount']} {d['currency']} -> {user}: balance {d['balance_before']} -> {d['balance_after']}")


@wallet_app.command("credit")
def credit(user: str = typer.Argument(..., help="Username or numeric id."),
           amount: str = typer.Argument(..., help="Amount in major units, e.g. 12.50 (USD) or 150000 (IRR)."),
           currency: str = typer.Option(..., "--currency", "-c", help="IRR, IRT, RUB, USD, EUR or USDT."),
           reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the audit log."),
           idempotency_key: str | None = typer.Option(None, "--key", help="Repeat-safe key (default: a new one)."),
           as_json: bool = JsonOption) -> None:
    """Credit a wallet from the owner's equity (audited).

    Example: vpnsmm wallet credit alice 12.50 --currency USD --reason "refund for ticket 42"
    """
    money = _money(amount, currency)
    if not money.is_positive:
        fail("amount must be positive; use `wallet debit` to take money", 2)
    _adjust(user, money, reason, idempotency_key, as_json)


@wallet_app.command("debit")
def debit(user: str = typer.Argument(..., help="Username or numeric id."),
          amount: str = typer.Argument(..., help="Amount in major units."),
          currency: str = typer.Option(..., "--currency", "-c", help="IRR, IRT, RUB, USD, EUR or USDT."),
          reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the audit log."),
          idempotency_key: str | None = typer.Option(None, "--key", help="Repeat-safe key (default: a new one)."),
          as_json: bool = JsonOption) -> None:
    """Debit a wallet (never below zero; exit 1 with INSUFFICIENT_BALANCE otherwise)."""
    money = _money(amount, currency)
    if not money.is_positive:
        fail("amount must be positive", 2)
    _adjust(user, -money, reason, idempotency_key, as_json)


def _payment_dict(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "invoice_id": p.invoice_id, "user_id": p.user_id, "gateway": p.gateway.value,
            "status": p.status.value, "amount": p.amount.format(), "currency": p.amount.currency.value,
            "external_id": p.external_id, "transaction_id": p.claim.transaction_id if p.claim else None,
            "card_last4": p.claim.card_last4 if p.claim else None, "created_at": p.created_at.isoformat()}


@payments_app.command("list")
def list_payments(status: str | None = typer.Option(None, help="created, pending, submitted, paid, failed, ..."),
                  gateway: str | None = typer.Option(None, help="zarinpal, cryptomus, card or wallet."),
                  limit: int = typer.Option(50, min=1, max=200), as_json: bool = JsonOption) -> None:
    """Payments, newest first. `--status submitted --gateway card` is the card-to-card review queue."""
    try:
        flt = PaymentFilter(status=PaymentStatus(status) if status else None,
                            gateway=Gateway(gateway) if gateway else None)
    except ValueError as exc:
        fail(str(exc), 2)

    async def action(c: Container) -> list[Payment]:
        return list(await c.list_payments()(flt, limit=limit))

    found = run(action)
    if as_json:
        emit_json([_payment_dict(p) for p in found])
        return
    emit_table(f"payments ({len(found)})", ["id", "user", "gateway", "status", "amount", "txn", "created"],
               [[p.id, p.user_id, p.gateway.value, p.status.value, str(p.amount),
                 p.claim.transaction_id if p.claim else "", p.created_at.strftime("%Y-%m-%d %H:%M")] for p in found])


def _review(payment_id: int, approve: bool, text: str, admin: str, as_json: bool) -> None:
    async def action(c: Container) -> Payment:
        actor = await c.find_user()(admin)
        return await c.review_card_payment()(actor.id, payment_id, approve=approve, text=text)

    payment = run(action)
    if as_json:
        emit_json(_payment_dict(payment))
    else:
        out.print(f"payment {payment.id}: {payment.status.value}")


@payments_app.command("approve")
def approve(payment_id: int = typer.Argument(..., help="Payment id (see `payments list`)."),
            admin: str = typer.Option(..., "--as", help="The admin making the decision (username or id)."),
            note: str = typer.Option("", help="Note kept with the decision."), as_json: bool = JsonOption) -> None:
    """Approve a submitted card-to-card transfer: the wallet is credited once, however often this runs."""
    _review(payment_id, True, note, admin, as_json)


@payments_app.command("reject")
def reject(payment_id: int = typer.Argument(..., help="Payment id."),
           admin: str = typer.Option(..., "--as", help="The admin making the decision (username or id)."),
           reason: str = typer.Option(..., help="Shown to the customer."), as_json: bool = JsonOption) -> None:
    """Reject a submitted card-to-card transfer with a reason. Final."""
    _review(payment_id, False, reason, admin, as_json)
