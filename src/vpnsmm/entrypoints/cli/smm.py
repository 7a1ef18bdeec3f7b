"""``vpnsmm providers``, ``vpnsmm services`` and ``vpnsmm orders``: the SMM catalogue and orders from a shell."""

from __future__ import annotations

import sys
from typing import Any

import typer

from vpnsmm.application.smm import NewProvider, PricedService, SyncReport, SyncResult
from vpnsmm.container import Container
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import OrderFilter, Provider, ProviderKind, SmmOrder
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, fail, out, run

providers_app = typer.Typer(help="SMM providers (upstream panels): add, list, check balance, import services.",
                            no_args_is_help=True)
services_app = typer.Typer(help="The SMM catalogue: list services, set prices.", no_args_is_help=True)
orders_app = typer.Typer(help="SMM orders: list, inspect, poll providers now.", no_args_is_help=True)


def _provider_dict(p: Provider) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "kind": p.kind.value, "api_url": p.api_url, "currency": p.currency.value,
            "exchange_rate": p.exchange_rate, "active": p.active}


def _service_dict(p: PricedService) -> dict[str, Any]:
    s = p.service
    return {"id": s.id, "name": s.name, "type": s.type.value, "category": p.category, "rate": p.rate.format(),
            "currency": p.rate.currency.value, "min": s.min, "max": s.max, "provider_id": s.provider_id,
            "provider_service_id": s.provider_service_id, "provider_rate": s.provider_rate, "markup": s.markup,
            "active": s.active}


def _order_dict(o: SmmOrder) -> dict[str, Any]:
    return {"id": o.id, "user_id": o.user_id, "service_id": o.service_id, "status": o.status.value,
            "link": o.link, "quantity": o.quantity, "charge": o.charge.format(),
            "refunded": o.refunded.format() if o.refunded else "0", "currency": o.charge.currency.value,
            "start_count": o.start_count, "remains": o.remains, "provider_order_id": o.provider_order_id,
            "submit_state": o.submit_state.value, "error": o.error, "created_at": o.created_at.isoformat()}


# ------------------------------------------------------------------------------------------ providers
@providers_app.command("add")
def providers_add(
    name: str = typer.Argument(..., help="A name for the provider."),
    url: str = typer.Option(..., "--url", help="Its API v2 endpoint, e.g. https://panel.example/api/v2."),
    key_stdin: bool = typer.Option(False, "--key-stdin", help="Read the API key from stdin (recommended)."),
    key: str = typer.Option("", "--key", help="The API key (visible in the process list; prefer --key-stdin)."),
    kind: str = typer.Option("perfect_panel", help="perfect_panel or simulated (in-process, for demos)."),
    currency: str = typer.Option("USD", help="The provider account currency."),
    exchange_rate: str = typer.Option("1", help="Shop-currency units per provider-currency unit."),
    as_json: bool = JsonOption,
) -> None:
    """Add a provider; its key is stored encrypted with the installation's secret key."""
    secret = sys.stdin.readline().strip() if key_stdin else key
    if not secret:
        fail("give the API key with --key-stdin (or --key)", 2)
    try:
        provider_kind = ProviderKind(kind)
    except ValueError:
        fail(f"unknown kind {kind!r}; expected perfect_panel or simulated", 2)

    async def action(c: Container) -> Provider:
        return await c.smm_manage_providers().add(NewProvider(
            name=name, api_url=url, api_key=secret, kind=provider_kind, currency=Currency.parse(currency),
            exchange_rate=exchange_rate))

    provider = run(action)
    if as_json:
        emit_json(_provider_dict(provider))
    else:
        out.print(f"provider {provider.id} ({provider.name}) added; import its services with "
                  f"`vpnsmm providers sync {provider.id} --markup 20`")


@providers_app.command("list")
def providers_list(as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> list[Provider]:
        return await c.smm_manage_providers().all()

    found = run(action)
    if as_json:
        emit_json([_provider_dict(p) for p in found])
        return
    emit_table("SMM providers", ["id", "name", "kind", "url", "currency", "rate", "active"],
               [[p.id, p.name, p.kind.value, p.api_url, p.currency.value, p.exchange_rate, p.active] for p in found])


@providers_app.command("balance")
def providers_balance(provider_id: int = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """Our balance at the provider (asks the provider)."""
    async def action(c: Container) -> Money:
        return await c.smm_manage_providers().balance(provider_id)

    money = run(action)
    if as_json:
        emit_json({"provider_id": provider_id, "balance": money.format(), "currency": money.currency.value})
    else:
        out.print(f"{money.format()} {money.currency.value}")


@providers_app.command("sync")
def providers_sync(provider_id: int = typer.Argument(...),
                   markup: str = typer.Option("0", help="Percent added to the provider's rates, e.g. 20."),
                   update_prices: bool = typer.Option(True, help="Re-price services already imported."),
                   as_json: bool = JsonOption) -> None:
    """Import or refresh the provider's services (vanished ones are disabled)."""
    async def action(c: Container) -> SyncResult:
        return await c.smm_manage_providers().sync_services(provider_id, markup=markup, update_prices=update_prices)

    result = run(action)
    data = {"created": result.created, "updated": result.updated, "disabled": result.disabled,
            "skipped": list(result.skipped)}
    if as_json:
        emit_json(data)
    else:
        out.print(f"created {result.created}, updated {result.updated}, disabled {result.disabled}, "
                  f"skipped {len(result.skipped)} (types we cannot sell)")


# ------------------------------------------------------------------------------------------ services
@services_app.command("list")
def services_list(category: str | None = typer.Option(None, help="Only this category."),
                  all_: bool = typer.Option(False, "--all", help="Include disabled services."),
                  as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> list[PricedService]:
        return await c.smm_catalogue().services(category=category, active=None if all_ else True)

    found = run(action)
    if as_json:
        emit_json([_service_dict(p) for p in found])
        return
    emit_table("SMM services (rate per 1000)", ["id", "name", "type", "category", "rate", "min", "max", "active"],
               [[p.service.id, p.service.name, p.service.type.value, p.category,
                 f"{p.rate.format()} {p.rate.currency.value}", p.service.min, p.service.max, p.service.active]
                for p in found])


@services_app.command("set-rate")
def services_set_rate(service_id: int = typer.Argument(...),
                      rate: str = typer.Argument(..., help="Price per 1000 units in the service currency."),
                      user: str | None = typer.Option(None, help="Only for this user (username or id)."),
                      as_json: bool = JsonOption) -> None:
    """Set a service's price per 1000, for everyone or (with --user) as one user's custom rate."""
    async def action(c: Container) -> dict[str, Any]:
        current = (await c.smm_catalogue().service(service_id)).service
        money = Money.parse(rate, current.rate.currency, field_name="rate")
        if user is None:
            updated = await c.smm_manage_services().update(service_id, rate=money)
            return {"service_id": updated.id, "rate": updated.rate.format(), "user_id": None}
        found = await c.find_user()(user)
        await c.smm_manage_services().set_user_rate(actor_id=None, user_id=found.id, service_id=service_id,
                                                    rate=money)
        return {"service_id": service_id, "rate": money.format(), "user_id": found.id}

    result = run(action)
    if as_json:
        emit_json(result)
    else:
        who = f" for user {result['user_id']}" if result["user_id"] else ""
        out.print(f"service {service_id} now costs {result['rate']} per 1000{who}")


# ------------------------------------------------------------------------------------------ orders
def _status(raw: str | None) -> OrderStatus | None:
    if not raw:
        return None
    found = next((status for status in OrderStatus
                  if raw.strip().casefold() in (status.value.casefold(), status.name.casefold())), None)
    if found is None:
        fail(f"unknown status {raw!r}", 2)
    return found


@orders_app.command("list")
def orders_list(user: str | None = typer.Option(None, help="Only this user's orders (username or id)."),
                status: str | None = typer.Option(None, help="Pending, In progress, Partial, ..."),
                limit: int = typer.Option(50, min=1, max=200), offset: int = typer.Option(0, min=0),
                as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> tuple[list[SmmOrder], int]:
        user_id = (await c.find_user()(user)).id if user else None
        return await c.smm_orders().search(OrderFilter(user_id=user_id, status=_status(status)), limit=limit,
                                           offset=offset)

    items, total = run(action)
    if as_json:
        emit_json({"items": [_order_dict(o) for o in items], "total": total})
        return
    emit_table(f"SMM orders ({total} in all)", ["id", "user", "service", "status", "qty", "charge", "refunded",
                                                "sent"],
               [[o.id, o.user_id, o.service_id, o.status.value, o.quantity, o.charge.format(),
                 o.refunded.format() if o.refunded else "0", o.submit_state.value] for o in items])


@orders_app.command("show")
def orders_show(order_id: int = typer.Argument(...), as_json: bool = JsonOption) -> None:
    async def action(c: Container) -> SmmOrder:
        return await c.smm_admin_orders().get(order_id)

    data = _order_dict(run(action))
    if as_json:
        emit_json(data)
        return
    emit_table(f"order {order_id}", ["field", "value"], [[k, v] for k, v in data.items()])


@orders_app.command("sync")
def orders_sync(as_json: bool = JsonOption) -> None:
    """Send queued orders, then poll providers for every open order and settle terminal ones."""
    async def action(c: Container) -> tuple[int, SyncReport]:
        sent = await c.smm_submit()()
        return sent, await c.sync_smm_orders()()

    sent, report = run(action)
    data = {"sent": sent, "polled": report.polled, "changed": report.changed, "settled": report.settled,
            "errors": report.errors, "refills_polled": report.refills_polled}
    if as_json:
        emit_json(data)
    else:
        out.print(", ".join(f"{k} {v}" for k, v in data.items()))
