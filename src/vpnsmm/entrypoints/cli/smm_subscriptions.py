"""``vpnsmm subscriptions``: recurring SMM orders from a shell (list a user's, cancel one, place due runs now)."""

from __future__ import annotations

from typing import Any

import typer

from vpnsmm.application.smm_subscriptions import RunReport
from vpnsmm.container import Container
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.smm_subscriptions import SmmSubscription, SubscriptionStatus
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, out, run

subscriptions_app = typer.Typer(help="SMM recurring orders: list, cancel, place due runs now.", no_args_is_help=True)


def _dict(s: SmmSubscription) -> dict[str, Any]:
    return {"id": s.id, "user_id": s.user_id, "service_id": s.service_id, "link": s.link, "quantity": s.quantity,
            "interval": s.interval.value, "status": s.status.value, "next_run": s.next_run,
            "next_run_at": s.next_run_at.isoformat(), "runs_placed": s.runs_placed,
            "last_order_id": s.last_order_id, "pause_code": s.pause_code, "dripfeed_runs": s.dripfeed_runs,
            "dripfeed_interval": s.dripfeed_interval}


def _status(raw: str | None) -> SubscriptionStatus | None:
    if not raw:
        return None
    try:
        return SubscriptionStatus(raw.strip().lower())
    except ValueError:
        raise ValidationError(f"unknown status {raw!r} (active, paused, canceled)", field="status") from None


@subscriptions_app.command("list")
def subscriptions_list(user: str = typer.Option(..., help="The owner (username or id)."),
                       status: str | None = typer.Option(None, help="active, paused or canceled."),
                       limit: int = typer.Option(50, min=1, max=100), offset: int = typer.Option(0, min=0),
                       as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> tuple[list[SmmSubscription], int]:
        owner = await c.find_user()(user)
        return await c.smm_subscriptions().search(owner.id, status=_status(status), limit=limit, offset=offset)

    items, total = run(action)
    if as_json:
        emit_json({"items": [_dict(s) for s in items], "total": total})
        return
    emit_table(f"subscriptions ({total} in all)", ["id", "service", "interval", "status", "next run", "runs", "link"],
               [[s.id, s.service_id, s.interval.value, s.status.value, s.next_run_at.isoformat(), s.runs_placed,
                 s.link] for s in items])


@subscriptions_app.command("cancel")
def subscriptions_cancel(subscription_id: int = typer.Argument(...),
                         user: str = typer.Option(..., help="The owner (username or id)."),
                         as_json: bool = JsonOption) -> None:
    """Cancel for good (orders already placed are not affected). Idempotent."""
    async def action(c: Container) -> SmmSubscription:
        owner = await c.find_user()(user)
        return await c.smm_subscriptions().cancel(owner.id, subscription_id)

    data = _dict(run(action))
    if as_json:
        emit_json(data)
    else:
        out.print(f"subscription {data['id']} is {data['status']}")


@subscriptions_app.command("run")
def subscriptions_run(as_json: bool = JsonOption) -> None:
    """Place every due run now (what the smm.subscriptions job does every minute). Safe to repeat."""
    async def action(c: Container) -> RunReport:
        return await c.run_smm_subscriptions()()

    report = run(action)
    data = {"placed": report.placed, "paused": report.paused, "skipped": report.skipped}
    if as_json:
        emit_json(data)
    else:
        out.print(", ".join(f"{k} {v}" for k, v in data.items()))
