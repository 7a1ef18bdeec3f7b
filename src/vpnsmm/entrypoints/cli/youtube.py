"""``vpnsmm youtube-accounts``: the managed YouTube account list the smm-spring admin API shows and updates."""

from __future__ import annotations

from typing import Any

import typer

from vpnsmm.container import Container
from vpnsmm.domain.youtube_accounts import YoutubeAccount, YoutubeAccountStatus
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, out, run

app = typer.Typer(help="YouTube accounts used for delivery: add, list, set status, reset today's quota.",
                  no_args_is_help=True)


def _dict(a: YoutubeAccount) -> dict[str, Any]:
    return {"id": a.id, "email": a.email, "status": a.status.value, "daily_limit": a.daily_limit,
            "daily_used": a.daily_used, "total_processed": a.total_processed,
            "last_used_at": a.last_used_at.isoformat() if a.last_used_at else None}


@app.command("add")
def add(email: str = typer.Argument(..., help="The account's email address."),
        daily_limit: int = typer.Option(100, "--daily-limit", help="Uses allowed per day."),
        as_json: bool = JsonOption) -> None:
    """List a YouTube account (ACTIVE). Refused when the email is already listed."""
    async def action(c: Container) -> YoutubeAccount:
        return await c.manage_youtube_accounts().add(email, daily_limit=daily_limit)
    account = run(action)
    emit_json(_dict(account)) if as_json else out.print(f"YouTube account {account.id} added: {account.email}")


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> list[YoutubeAccount]:
        items, _ = await c.manage_youtube_accounts().page(limit=100, offset=0)
        return items
    items = run(action)
    if as_json:
        emit_json([_dict(a) for a in items])
        return
    emit_table("YouTube accounts", ["id", "email", "status", "daily", "total"],
               [(a.id, a.email, a.status.value, f"{a.daily_used}/{a.daily_limit}", a.total_processed) for a in items])


@app.command("status")
def status(account_id: int = typer.Argument(...), value: str = typer.Argument(..., help="ACTIVE, INACTIVE, ..."),
           as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> YoutubeAccount:
        return await c.manage_youtube_accounts().set_status(account_id, YoutubeAccountStatus.parse(value),
                                                            actor_id=None)
    account = run(action)
    emit_json(_dict(account)) if as_json else out.print(f"YouTube account {account.id} is {account.status.value}")
