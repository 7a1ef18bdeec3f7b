"""``vpnsmm servers``, ``vpnsmm plans``, ``vpnsmm accounts``: VPN panels, plans and customer accounts."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vpnsmm.application.vpn import PlanDraft, ServerDraft, ServerLoad, SyncReport
from vpnsmm.container import Container
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn import ServerStatus
from vpnsmm.domain.vpn_sales import GIB, AccountStatus, Plan, ServerKind, TrafficReset, VpnAccount
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, fail, out, run

servers_app = typer.Typer(help="VPN servers (panels): add, list, health, usage sync.", no_args_is_help=True)
plans_app = typer.Typer(help="VPN plans: add and list.", no_args_is_help=True)
accounts_app = typer.Typer(help="Customers' VPN accounts: list, show, renew, disable.", no_args_is_help=True)


def _json_option(raw: str | None, what: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        fail(f"{what} must be a JSON object", 2)
    if not isinstance(value, dict):
        fail(f"{what} must be a JSON object", 2)
    return value


def _server_dict(load: ServerLoad) -> dict[str, Any]:
    s = load.server
    return {"id": s.id, "kind": s.kind.value, "name": s.name, "address": s.address, "group": s.group,
            "location": s.location, "capacity": s.capacity, "weight": s.weight, "active": s.active,
            "online": s.online, "accounts": load.accounts, "settings": s.settings}


@servers_app.command("add")
def servers_add(
    name: str = typer.Argument(..., help="A unique name."),
    kind: str = typer.Option(..., "--kind", help="3x-ui | marzban | wireguard | fake"),
    address: str = typer.Option(..., "--address", help="Panel base URL (3x-UI, Marzban) or WireGuard endpoint "
                                                      "host:port."),
    username: str = typer.Option("", help="Panel admin username."),
    password: str = typer.Option("", help="Panel admin password (sealed at rest)."),
    settings: str = typer.Option("", help='Kind options as JSON, e.g. \'{"inbound_id": 1}\' (3x-UI) or '
                                          '\'{"ipv4_network": "10.8.0.0/24", "render_only": true}\' (WireGuard).'),
    group: str = typer.Option("default", help="Server group plans sell from."),
    location: str = typer.Option("", help="Shown to customers, e.g. 'DE'."),
    capacity: int = typer.Option(1000, min=1, help="Most accounts this server takes."),
    weight: int = typer.Option(1, min=1, help="Relative share of new accounts."),
    as_json: bool = JsonOption,
) -> None:
    """Add a panel. Credentials are sealed with a key derived from the secret key."""
    try:
        server_kind = ServerKind(kind)
    except ValueError:
        fail(f"--kind must be one of {', '.join(k.value for k in ServerKind)}", 2)
    credentials = {k: v for k, v in (("username", username), ("password", password)) if v}
    draft = ServerDraft(kind=server_kind, name=name, address=address, credentials=credentials,
                        settings=_json_option(settings, "--settings"), group=group, location=location,
                        capacity=capacity, weight=weight)

    async def action(c: Container) -> ServerLoad:
        server = await c.manage_servers().add(draft)
        return await c.manage_servers().get(server.id)

    load = run(action)
    if as_json:
        emit_json(_server_dict(load))
    else:
        out.print(f"server {load.server.id} {load.server.name} ({load.server.kind.value}) added")


@servers_app.command("list")
def servers_list(as_json: bool = JsonOption) -> None:
    """Every server with its load."""
    async def action(c: Container) -> list[ServerLoad]:
        return await c.manage_servers().list()

    loads = run(action)
    if as_json:
        emit_json([_server_dict(s) for s in loads])
        return
    emit_table("VPN servers", ["id", "name", "kind", "group", "location", "accounts", "capacity", "weight", "active",
                               "online"],
               [[s.server.id, s.server.name, s.server.kind.value, s.server.group, s.server.location, s.accounts,
                 s.server.capacity, s.server.weight, s.server.active, s.server.online] for s in loads])


@servers_app.command("status")
def servers_status(server_id: int = typer.Argument(..., help="Server id."), as_json: bool = JsonOption) -> None:
    """Ask the panel how it is now."""
    async def action(c: Container) -> ServerStatus:
        return await c.manage_servers().status(server_id)

    status = run(action)
    data = {"online": status.online, "total_clients": status.total_clients, "active_clients": status.active_clients,
            "uptime_seconds": status.uptime_seconds, "version": status.version, "detail": status.detail}
    if as_json:
        emit_json(data)
    else:
        emit_table(f"server {server_id}", ["field", "value"], [[k, v] for k, v in data.items()])


@servers_app.command("sync")
def servers_sync(server_id: int = typer.Argument(..., help="Server id."),
                 page_size: int = typer.Option(500, min=1, max=5000, help="Clients read per panel page."),
                 as_json: bool = JsonOption) -> None:
    """Read the panel's usage counters into the accounts (with a progress bar)."""
    async def action(c: Container) -> SyncReport:
        load = await c.manage_servers().get(server_id)
        with Progress(TextColumn("syncing {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=out, disable=as_json, transient=as_json) as progress:
            task = progress.add_task(load.server.name, total=load.accounts or None)
            return await c.sync_usage()(server_id, page_size=page_size,
                                        progress=lambda n: progress.advance(task, n))

    report = run(action)
    data = {"server_id": report.server_id, "seen": report.seen, "updated": report.updated,
            "unknown_keys": report.unknown_keys, "status_changes": report.status_changes,
            "events": [{"account_id": e.account_id, "user_id": e.user_id, "kind": e.kind.value,
                        "threshold": e.threshold, "value": e.value} for e in report.events]}
    if as_json:
        emit_json(data)
    else:
        out.print(f"read {report.seen} clients, updated {report.updated} accounts, "
                  f"{len(report.status_changes)} status changes, {len(report.events)} threshold events")


def _plan_dict(p: Plan) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "prices": {c.value: m.format() for c, m in p.prices.items()},
            "duration_days": p.duration_days, "traffic_bytes": p.traffic_bytes, "device_limit": p.device_limit,
            "server_group": p.server_group, "start_on_first_use": p.start_on_first_use, "active": p.active,
            "traffic_reset": p.traffic_reset.value}


def _prices(values: list[str]) -> dict[Currency, Money]:
    prices: dict[Currency, Money] = {}
    for value in values:
        amount, _, code = value.strip().partition(" ")
        try:
            currency = Currency.parse(code)
            prices[currency] = Money.parse(amount, currency)
        except ValidationError as exc:
            fail(f"price {value!r}: {exc.message} (write e.g. '1500000 IRR')", 2)
    return prices


@plans_app.command("add")
def plans_add(
    name: str = typer.Argument(...),
    price: list[str] = typer.Option(..., "--price", help="'<amount> <currency>', repeatable: --price '5.00 USD'"),
    days: int = typer.Option(30, min=1, max=3660),
    traffic_gb: int = typer.Option(0, min=0, help="GiB per period; 0 = unlimited."),
    device_limit: int = typer.Option(0, min=0, help="0 = no limit."),
    group: str = typer.Option("default", help="Server group the plan sells from."),
    start_on_first_use: bool = typer.Option(False, help="The clock starts at the first byte."),
    extra_gb_price: list[str] = typer.Option([], help="Price of 1 GiB add-on, repeatable."),
    extra_day_price: list[str] = typer.Option([], help="Price of 1 day add-on, repeatable."),
    description: str = typer.Option(""),
    traffic_reset: str = typer.Option("no_reset", help="Quota restarts: no_reset, day, week, month or year."),
    as_json: bool = JsonOption,
) -> None:
    """Add a plan."""
    try:
        reset = TrafficReset(traffic_reset)
    except ValueError:
        fail(f"--traffic-reset must be one of {', '.join(r.value for r in TrafficReset)}", 2)
    draft = PlanDraft(name=name, prices=_prices(price), duration_days=days,
                      traffic_bytes=traffic_gb * GIB or None, device_limit=device_limit or None, server_group=group,
                      start_on_first_use=start_on_first_use, description=description,
                      extra_gb_prices=_prices(extra_gb_price), extra_day_prices=_prices(extra_day_price),
                      traffic_reset=reset)

    async def action(c: Container) -> Plan:
        return await c.manage_plans().create(draft)

    plan = run(action)
    if as_json:
        emit_json(_plan_dict(plan))
    else:
        out.print(f"plan {plan.id} {plan.name} added")


@plans_app.command("list")
def plans_list(all_plans: bool = typer.Option(False, "--all", help="Include plans off sale."),
               as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> list[Plan]:
        return list(await c.manage_plans().list(active_only=not all_plans))

    plans = run(action)
    if as_json:
        emit_json([_plan_dict(p) for p in plans])
        return
    emit_table("VPN plans", ["id", "name", "prices", "days", "traffic", "group", "active"],
               [[p.id, p.name, ", ".join(str(m) for m in p.prices.values()), p.duration_days,
                 f"{p.traffic_bytes // GIB} GiB" if p.traffic_bytes else "unlimited", p.server_group, p.active]
                for p in plans])


def _account_dict(a: VpnAccount) -> dict[str, Any]:
    return {"id": a.id, "key": f"acc-{a.id}", "user_id": a.user_id, "plan_id": a.plan_id, "server_id": a.server_id,
            "status": a.status.value, "expires_at": a.expires_at, "traffic_limit_bytes": a.traffic_limit_bytes,
            "period_used_bytes": a.period_used_bytes, "lifetime_bytes": a.used_bytes,
            "subscription_token": a.subscription_token, "links": a.links, "synced_at": a.usage_synced_at}


@accounts_app.command("list")
def accounts_list(user: str = typer.Option("", help="Only this user's (username or id)."),
                  server_id: int = typer.Option(0, help="Only accounts on this server."),
                  status: str = typer.Option("", help="Only this status."),
                  limit: int = typer.Option(50, min=1, max=500), as_json: bool = JsonOption) -> None:
    wanted: AccountStatus | None = None
    if status:
        try:
            wanted = AccountStatus(status)
        except ValueError:
            fail(f"--status must be one of {', '.join(s.value for s in AccountStatus)}", 2)

    async def action(c: Container) -> list[VpnAccount]:
        user_id = (await c.find_user()(user)).id if user else None
        return list(await c.vpn_accounts().list(user_id, status=wanted, server_id=server_id or None, limit=limit))

    accounts = run(action)
    if as_json:
        emit_json([_account_dict(a) for a in accounts])
        return
    emit_table("VPN accounts", ["id", "user", "plan", "server", "status", "expires", "used / limit"],
               [[a.id, a.user_id, a.plan_id, a.server_id, a.status.value,
                 a.expires_at.isoformat()[:16] if a.expires_at else "-",
                 f"{a.period_used_bytes / GIB:.2f} / "
                 + (f"{a.traffic_limit_bytes / GIB:.0f} GiB" if a.traffic_limit_bytes else "unlimited")]
                for a in accounts])


@accounts_app.command("show")
def accounts_show(account_id: int = typer.Argument(...), as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> VpnAccount:
        return await c.vpn_accounts().get(None, account_id)

    account = run(action)
    data = _account_dict(account)
    if as_json:
        emit_json(data)
    else:
        emit_table(f"account {account_id}", ["field", "value"], [[k, v] for k, v in data.items()])


@accounts_app.command("renew")
def accounts_renew(account_id: int = typer.Argument(...),
                   days: int = typer.Option(0, min=0, help="Days to add (default: the plan's period)."),
                   as_json: bool = JsonOption) -> None:
    """Grant another period without payment (audited); pushed to the panel."""
    async def action(c: Container) -> VpnAccount:
        return await c.admin_accounts().renew(None, account_id, days=days or None)

    account = run(action)
    if as_json:
        emit_json(_account_dict(account))
    else:
        out.print(f"account {account_id} renewed until {account.expires_at}")


@accounts_app.command("disable")
def accounts_disable(account_id: int = typer.Argument(...),
                     enable: bool = typer.Option(False, "--enable", help="Enable it again instead."),
                     as_json: bool = JsonOption) -> None:
    """Disable (or --enable) an account on its panel."""
    async def action(c: Container) -> VpnAccount:
        return await c.admin_accounts().set_enabled(None, account_id, enable)

    account = run(action)
    if as_json:
        emit_json(_account_dict(account))
    else:
        out.print(f"account {account_id} is {account.status.value}")
