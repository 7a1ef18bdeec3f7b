"""Embedding vpnsmm in your own program: ``async with vpnsmm.open(settings) as app: ...``.

The same container, use cases, transactions and guarantees as the HTTP API and the CLI, without HTTP.
Replace any provider of the container with your own object (a custom panel registry, payment gateway set,
SMM provider factory, a fake clock) through ``overrides``; nothing in vpnsmm has to change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from dependency_injector import providers

from vpnsmm.adapters.jobs.runner import JobRunner
from vpnsmm.application.billing import (
    ConfirmPayment,
    CreateInvoice,
    FulfilInvoice,
    PayInvoice,
    ReviewCardPayment,
    Wallets,
)
from vpnsmm.application.demo import LoadDemoData
from vpnsmm.application.identity import Authenticate, FindUser, Login, ManageApiKeys, RegisterUser
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.smm import PlaceOrder, SmmCatalogue, SmmOrders, SyncOrders
from vpnsmm.application.vpn import (
    AdminAccounts,
    BuyAddOn,
    BuyPlan,
    EnforceLimits,
    ManagePlans,
    ManageServers,
    RenewAccount,
    RevokeAccount,
    SyncUsage,
    VpnAccounts,
)
from vpnsmm.application.vpn_prices import ManagePriceLists
from vpnsmm.config import Settings, load_settings
from vpnsmm.container import Container, build_container, build_job_runner, start, stop


class App:
    """A started vpnsmm inside your process. Every attribute is a use case object; call it and await the result.

    Each use case opens and commits its own transactions, exactly as over HTTP. The objects are safe to share
    between concurrent tasks. ``container`` gives every other provider (see ``vpnsmm/container.py``).
    """

    def __init__(self, container: Container) -> None:
        self.container = container

    @property
    def settings(self) -> Settings:
        return self.container.settings()

    @property
    def uow(self) -> UnitOfWorkFactory:
        """Units of work, for reading state directly (``async with app.uow(read_only=True) as uow``)."""
        return self.container.uow()

    # identity
    @property
    def register_user(self) -> RegisterUser:
        return self.container.register_user()

    @property
    def login(self) -> Login:
        return self.container.login()

    @property
    def authenticate(self) -> Authenticate:
        return self.container.authenticate()

    @property
    def find_user(self) -> FindUser:
        return self.container.find_user()

    @property
    def api_keys(self) -> ManageApiKeys:
        return self.container.api_keys()

    # money
    @property
    def wallets(self) -> Wallets:
        return self.container.wallets()

    @property
    def create_invoice(self) -> CreateInvoice:
        return self.container.create_invoice()

    @property
    def pay_invoice(self) -> PayInvoice:
        return self.container.pay_invoice()

    @property
    def confirm_payment(self) -> ConfirmPayment:
        return self.container.confirm_payment()

    @property
    def review_card_payment(self) -> ReviewCardPayment:
        return self.container.review_card_payment()

    @property
    def fulfil_invoice(self) -> FulfilInvoice:
        return self.container.fulfil_invoice()

    # vpn
    @property
    def manage_plans(self) -> ManagePlans:
        return self.container.manage_plans()

    @property
    def manage_servers(self) -> ManageServers:
        return self.container.manage_servers()

    @property
    def buy_plan(self) -> BuyPlan:
        return self.container.buy_plan()

    @property
    def vpn_accounts(self) -> VpnAccounts:
        return self.container.vpn_accounts()

    @property
    def renew_account(self) -> RenewAccount:
        return self.container.renew_account()

    @property
    def buy_addon(self) -> BuyAddOn:
        return self.container.buy_addon()

    @property
    def revoke_account(self) -> RevokeAccount:
        return self.container.revoke_account()

    @property
    def admin_accounts(self) -> AdminAccounts:
        return self.container.admin_accounts()

    @property
    def enforce_limits(self) -> EnforceLimits:
        return self.container.enforce_limits()

    @property
    def vpn_price_lists(self) -> ManagePriceLists:
        return self.container.vpn_price_lists()

    @property
    def sync_usage(self) -> SyncUsage:
        return self.container.sync_usage()

    # smm
    @property
    def smm_catalogue(self) -> SmmCatalogue:
        return self.container.smm_catalogue()

    @property
    def place_smm_order(self) -> PlaceOrder:
        return self.container.place_smm_order()

    @property
    def smm_orders(self) -> SmmOrders:
        return self.container.smm_orders()

    @property
    def sync_smm_orders(self) -> SyncOrders:
        return self.container.sync_smm_orders()

    @property
    def load_demo_data(self) -> LoadDemoData:
        return self.container.load_demo_data()

    def job_runner(self, *, concurrency: int | None = None) -> JobRunner:
        """A runner for the background jobs (``await runner.run_once()`` or ``run(stop_event)``)."""
        return build_job_runner(self.container, concurrency=concurrency)


@asynccontextmanager
async def open(settings: Settings | None = None, *, overrides: Mapping[str, Any] | None = None,
               run_migrations: bool = True) -> AsyncIterator[App]:
    """Build, migrate and start vpnsmm; always stopped (pools and clients closed) when the block exits.

    ``settings`` defaults to :func:`vpnsmm.config.load_settings` (``VPNSMM_*`` variables). ``overrides`` maps a
    container provider name (``"gateways"``, ``"custom_panels"``, ``"panel_registry"``, ``"smm_providers"``,
    ``"clock"``, ...) to the object to use instead. Raises ValueError for an unknown provider name and
    ConfigError for bad settings.
    """
    container = build_container(settings if settings is not None else load_settings())
    for name, replacement in (overrides or {}).items():
        provider = getattr(container, name, None)
        if not isinstance(provider, providers.Provider) or name == "settings":
            raise ValueError(f"no provider named {name!r} to override")
        provider.override(providers.Object(replacement))
    await start(container, run_migrations=run_migrations)
    try:
        yield App(container)
    finally:
        await stop(container)
