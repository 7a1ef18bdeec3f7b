"""``vpnsmm``: run the server, migrate the database, manage users, load demo data.

Every command reads the same settings as the server (``VPNSMM_*`` environment variables or the TOML
file) and goes through the same use cases. ``--json`` prints machine-readable output for scripts.
"""

from __future__ import annotations

import os

import typer

from vpnsmm import __version__
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.config import ConfigError, Settings
from vpnsmm.container import Container
from vpnsmm.entrypoints.cli import money, smm, users, vpn, worker, youtube
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, fail, out, run, settings_or_exit
from vpnsmm.entrypoints.cli.smm_subscriptions import subscriptions_app

app = typer.Typer(
    name="vpnsmm",
    help="Sell VPN subscriptions and SMM services from one double-entry ledger.\n\n"
         "Start with `vpnsmm demo` then `vpnsmm serve`, and open http://127.0.0.1:8000/schema for the API docs.\n"
         "Configuration comes from VPNSMM_* environment variables (see the README).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema: apply migrations, show the current revision.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(money.wallet_app, name="wallet")
app.add_typer(money.payments_app, name="payments")
app.add_typer(smm.providers_app, name="providers")
app.add_typer(smm.services_app, name="services")
app.add_typer(smm.orders_app, name="orders")
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(vpn.servers_app, name="servers")
app.add_typer(vpn.plans_app, name="plans")
app.add_typer(vpn.accounts_app, name="accounts")
app.add_typer(youtube.app, name="youtube-accounts")
app.command("worker")(worker.worker)


@app.command()
def version(as_json: bool = JsonOption) -> None:
    """Print the vpnsmm version."""
    if as_json:
        emit_json({"version": __version__})
    else:
        out.print(f"vpnsmm {__version__}")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Interface to listen on (default 127.0.0.1, or VPNSMM_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="TCP port (default 8000, or VPNSMM_PORT)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes; use about one per CPU core."),
    reload: bool = typer.Option(False, help="Restart on code changes (development only)."),
) -> None:
    """Run the HTTP API: native /v1, the seed APIs' dialects, /health, /metrics and OpenAPI docs at /schema.

    Migrations are applied before the workers start, so a fresh data dir just works.
    """
    import uvicorn

    if host:
        os.environ["VPNSMM_HOST"] = host
    if port:
        os.environ["VPNSMM_PORT"] = str(port)
    settings = settings_or_exit()  # also creates the data dir and persists the secret before workers fork
    _check_dialect_mounts(settings)

    async def upgrade(c: Container) -> None:
        return None

    run(upgrade)  # opening the container applies pending migrations
    out.print(f"vpnsmm {__version__} serving on http://{settings.host}:{settings.port} "
              f"(docs at /schema, database {settings.effective_database_url.split('://')[0]})")
    uvicorn.run("vpnsmm.entrypoints.http.asgi:create_app_from_env", factory=True, host=settings.host,
                port=settings.port, workers=workers if not reload else None, reload=reload,
                log_level=settings.log_level.lower(), access_log=False, proxy_headers=True)


def _check_dialect_mounts(settings: Settings) -> None:
    """Refuse to start when VPNSMM_DIALECTS names an unknown dialect or two mounts collide (one line, exit 2)."""
    from vpnsmm.entrypoints.http.app import native_route_handlers
    from vpnsmm.entrypoints.http.dialects import mount_dialects

    try:
        mount_dialects(settings.dialects, native=native_route_handlers())
    except ConfigError as exc:
        fail(str(exc), 2)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision (default: newest).")) -> None:
    """Apply pending migrations. Safe on a live database and when several processes run it at once."""
    async def action(c: Container) -> str | None:
        await migrate.upgrade(c.engine(), revision)
        return await migrate.current_revision(c.engine())

    current = run(action, migrate=False)
    out.print(f"database at revision {current}")


@db_app.command("current")
def db_current(as_json: bool = JsonOption) -> None:
    """Show the database's revision and the newest one this version knows."""
    async def action(c: Container) -> str | None:
        return await migrate.current_revision(c.engine())

    current = run(action, migrate=False)
    head = migrate.head_revision()
    if as_json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        state = "up to date" if current == head else "run `vpnsmm db upgrade`"
        out.print(f"current {current or '(empty database)'}, newest {head}: {state}")


@app.command()
def demo(as_json: bool = JsonOption) -> None:
    """Load demo data into the current database and print what was created, passwords included.

    Safe to run again: demo users keep their data and get fresh passwords.
    """
    async def action(c: Container) -> object:
        return await c.load_demo_data()()

    from vpnsmm.application.demo import DemoReport

    report = run(action)
    assert isinstance(report, DemoReport)
    creds = [{"username": c.username, "password": c.password, "role": c.role.value, "created": c.created}
             for c in report.credentials]
    if as_json:
        emit_json({"users": creds, "notes": report.notes})
        return
    emit_table("demo users (passwords are shown once)", ["username", "password", "role", "new?"],
               [[c["username"], c["password"], c["role"], "yes" if c["created"] else "password reset"]
                for c in creds])
    for note in report.notes:
        out.print(f"- {note}")
    out.print("Next: `vpnsmm serve`, then POST /v1/auth/login with one of these users.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted", 130)


if __name__ == "__main__":  # pragma: no cover
    main()
