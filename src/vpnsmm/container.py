"""The one composition root: builds every adapter and use case from Settings.

HTTP, the CLI, background jobs, tests and library users all get their objects here. Nothing inside
domain/, application/ or adapters/ imports this module (import-linter checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import structlog
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from vpnsmm.adapters.events.local import InMemoryEventBus
from vpnsmm.adapters.events.redis import RedisEventBus
from vpnsmm.adapters.jobs.runner import JobRunner
from vpnsmm.adapters.jobs.sql import SqlJobStore
from vpnsmm.adapters.monitoring import SqlSystemProbe
from vpnsmm.adapters.panels.registry import CustomPanelFactory, FernetSecretBox, PanelRegistry
from vpnsmm.adapters.payments.cryptomus import CryptomusGateway
from vpnsmm.adapters.payments.zarinpal import ZarinpalGateway
from vpnsmm.adapters.ratelimit.stores import InMemoryRateLimitStore, RedisRateLimitStore
from vpnsmm.adapters.security import Argon2PasswordHasher, JwtAccessTokens, SystemClock
from vpnsmm.adapters.smm.registry import FernetSecretCipher, ProviderRegistry
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.repositories.vpn import SqlWireGuardPeerStore
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.adapters.webhooks.http import HttpWebhookSender
from vpnsmm.application.billing import (
    CancelInvoice,
    ConfirmPayment,
    CreateInvoice,
    ExpireInvoices,
    FulfilInvoice,
    GatewaySet,
    GetInvoice,
    HandleGatewayNotice,
    ListPayments,
    PayInvoice,
    ReconcilePayments,
    ReviewCardPayment,
    SubmitCardReceipt,
    Wallets,
    register_billing_tasks,
)
from vpnsmm.application.candypanel import (
    CandyPanelBot,
    CandyPanelClients,
    CandyPanelInterfaces,
    CandyPanelSetup,
    CandyPanelSync,
    CandyPanelTokens,
)
from vpnsmm.application.demo import LoadDemoData
from vpnsmm.application.events import DispatchEvent, EventSubscriptions, register_event_tasks
from vpnsmm.application.identity import (
    Authenticate,
    AuthPolicy,
    ChangePassword,
    FindUser,
    GetUser,
    ListUsers,
    Login,
    Logout,
    LogoutAll,
    ManageApiKeys,
    RefreshSession,
    RegisterUser,
    SetPassword,
    SetUserRole,
    SetUserStatus,
    UpdateProfile,
)
from vpnsmm.application.jobs import RetryPolicy, TaskRegistry, parse_schedule_overrides
from vpnsmm.application.operations import (
    CountUsers,
    ManageYoutubeAccounts,
    OperatorLog,
    ServiceCoefficients,
    StartDeposit,
    SystemStatus,
    WalletStatement,
)
from vpnsmm.application.ports.payments import PaymentGateway
from vpnsmm.application.smm import (
    AdminOrders,
    LoadSmmDemo,
    ManageProviders,
    ManageServices,
    OrderForwarder,
    OrderStatistics,
    PlaceOrder,
    SmmCatalogue,
    SmmOrders,
    SubmitOrders,
    SyncOrders,
    register_smm_tasks,
)
from vpnsmm.application.smm_subscriptions import RunSubscriptions, SmmSubscriptions, register_subscription_tasks
from vpnsmm.application.vpn import (
    AdminAccounts,
    BuyAddOn,
    BuyPlan,
    EnforceLimits,
    LoadVpnDemo,
    ManagePlans,
    ManageServers,
    RenewAccount,
    RevokeAccount,
    ScheduleUsageSync,
    SyncUsage,
    VpnAccounts,
    VpnFulfiller,
    register_vpn_tasks,
)
from vpnsmm.application.vpn_dialects import LoginByIdentifier, PaymentMethods, VerifyCardPayment, VpnBillingViews
from vpnsmm.application.vpn_prices import ManagePriceLists
from vpnsmm.application.webhooks import DeliverWebhook, ManageWebhooks
from vpnsmm.config import Settings
from vpnsmm.domain.billing import Gateway, InvoicePurpose
from vpnsmm.domain.money import Currency
from vpnsmm.domain.payments import CardAccount
from vpnsmm.domain.vpn_sales import UsageThresholds


def _log_forwarding_error(exc: BaseException) -> None:
    """A failed forwarding batch: its orders stay queued for the periodic sweep; say why, without secrets."""
    structlog.get_logger("vpnsmm.smm").warning("forwarding batch failed", error=type(exc).__name__,
                                               detail=str(exc)[:200])


def _engine(settings: Settings) -> AsyncEngine:
    # Creating an engine does no I/O; connections open lazily. stop() disposes it.
    return make_engine(settings.effective_database_url, pool_size=settings.db_pool_size)


def _http_client() -> httpx.AsyncClient:
    # One pooled client for every outside API; stop() closes it.
    return httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0),
                             limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))


def _gateways(settings: Settings, http: httpx.AsyncClient) -> GatewaySet:
    gateways: dict[Gateway, PaymentGateway] = {}
    if settings.zarinpal_merchant_id:
        gateways[Gateway.ZARINPAL] = ZarinpalGateway(
            http, settings.zarinpal_merchant_id, sandbox=settings.zarinpal_sandbox,
            api_base=settings.zarinpal_api_base or None, startpay_base=settings.zarinpal_startpay_base or None)
    if settings.cryptomus_merchant and settings.cryptomus_api_key:
        options: dict[str, Any] = {"allowed_ips": frozenset(settings.cryptomus_allowed_ips) or None}
        if settings.cryptomus_base_url:
            options["base_url"] = settings.cryptomus_base_url
        gateways[Gateway.CRYPTOMUS] = CryptomusGateway(http, settings.cryptomus_merchant, settings.cryptomus_api_key,
                                                       **options)
    card = None
    if settings.card_number:
        card = CardAccount(holder=settings.card_holder or "vpnsmm", card_number=settings.card_number,
                           bank=settings.card_bank or "bank")
    return GatewaySet(gateways=gateways, card_account=card)


def _candypanel_gateways(gateways: GatewaySet) -> GatewaySet:
    # The CandyPanel bot shows its own admin_card_number setting; card-to-card review works without
    # VPNSMM_CARD_NUMBER, with a stand-in account that is never shown (docs/dialects/candypanel.md).
    card = gateways.card_account or CardAccount(holder="CandyPanel admin", card_number="0" * 16, bank="CandyPanel")
    return GatewaySet(gateways=gateways.gateways, card_account=card)


def _rate_limit_store(settings: Settings) -> InMemoryRateLimitStore | RedisRateLimitStore:
    # Redis shares counters across processes; without it each process counts alone (one-process setups).
    return RedisRateLimitStore.from_url(settings.redis_url) if settings.redis_url else InMemoryRateLimitStore()


def _shop_currency(settings: Settings) -> Currency:
    return Currency.parse(settings.default_currency)


def _event_bus(settings: Settings) -> InMemoryEventBus | RedisEventBus:
    return RedisEventBus.from_url(settings.redis_url) if settings.redis_url else InMemoryEventBus()


def _webhook_retry(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.webhooks_max_attempts, base_delay=settings.webhooks_retry_base_ms / 1000,
                       factor=2.0, max_delay=6 * 3600.0)


def _usage_thresholds(settings: Settings) -> UsageThresholds:
    return UsageThresholds(traffic_percent=settings.vpn_traffic_thresholds,
                           days_left=settings.vpn_days_left_thresholds)


def _panel_registry(engine: AsyncEngine, box: FernetSecretBox, clock: SystemClock,
                    custom: Mapping[str, CustomPanelFactory] | None = None) -> PanelRegistry:
    # WireGuard peers live in the database (sealed keys); panels are cached per server row.
    return PanelRegistry(box, peer_store_for=lambda server_id: SqlWireGuardPeerStore(engine, server_id, box),
                         now=clock.now, custom=custom)


class Container(containers.DeclarativeContainer):
    """Every long-lived object of a running vpnsmm, wired once."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    engine = providers.Singleton(_engine, settings)
    vpn_box = providers.Singleton(FernetSecretBox, settings.provided.secret_key)  # seals panel secrets at rest
    uow = providers.Singleton(SqlUnitOfWorkFactory, engine, secret_box=vpn_box)
    password_hasher = providers.Singleton(Argon2PasswordHasher)
    access_tokens = providers.Singleton(
        JwtAccessTokens, secret=settings.provided.secret_key,
        ttl=providers.Factory(timedelta, seconds=settings.provided.access_token_ttl),
        issuer=settings.provided.jwt_issuer)
    auth_policy = providers.Singleton(
        AuthPolicy, refresh_ttl=providers.Factory(timedelta, seconds=settings.provided.refresh_token_ttl),
        api_key_prefix=settings.provided.api_key_prefix)

    # identity
    register_user = providers.Singleton(RegisterUser, uow, password_hasher, clock)
    login = providers.Singleton(Login, uow, password_hasher, access_tokens, clock, auth_policy)
    refresh_session = providers.Singleton(RefreshSession, uow, access_tokens, clock, auth_policy)
    logout = providers.Singleton(Logout, uow, clock)
    logout_all = providers.Singleton(LogoutAll, uow, clock)
    authenticate = providers.Singleton(Authenticate, uow, access_tokens, clock)
    get_user = providers.Singleton(GetUser, uow)
    find_user = providers.Singleton(FindUser, uow)
    update_profile = providers.Singleton(UpdateProfile, uow)
    change_password = providers.Singleton(ChangePassword, uow, password_hasher, clock)
    list_users = providers.Singleton(ListUsers, uow)
    set_user_status = providers.Singleton(SetUserStatus, uow, clock)
    set_user_role = providers.Singleton(SetUserRole, uow, clock)
    set_password = providers.Singleton(SetPassword, uow, password_hasher, clock)
    api_keys = providers.Singleton(ManageApiKeys, uow, clock, auth_policy)


    # money
    http_client = providers.Singleton(_http_client)
    gateways = providers.Singleton(_gateways, settings, http_client)
    # vpn (fulfiller first: the fulfillers Dict below refers to it)
    # adapter name -> CustomPanelFactory for servers of kind "custom" (library users override this provider)
    custom_panels: providers.Object[dict[str, CustomPanelFactory]] = providers.Object({})
    panel_registry = providers.Singleton(_panel_registry, engine, vpn_box, clock, custom_panels)
    vpn_fulfiller = providers.Singleton(VpnFulfiller, uow, clock, panel_registry)

    fulfillers = providers.Dict({  # InvoicePurpose -> Fulfiller; VPN and SMM register theirs
        InvoicePurpose.VPN_PURCHASE: vpn_fulfiller, InvoicePurpose.VPN_RENEWAL: vpn_fulfiller,
        InvoicePurpose.VPN_ADDON: vpn_fulfiller,
    })
    fulfil_invoice = providers.Singleton(FulfilInvoice, uow, clock, fulfillers)
    create_invoice = providers.Singleton(CreateInvoice, uow, clock)
    get_invoice = providers.Singleton(GetInvoice, uow)
    cancel_invoice = providers.Singleton(CancelInvoice, uow)
    expire_invoices = providers.Singleton(ExpireInvoices, uow, clock)
    pay_invoice = providers.Singleton(PayInvoice, uow, clock, gateways, fulfil_invoice,
                                      settings.provided.effective_public_url)
    confirm_payment = providers.Singleton(ConfirmPayment, uow, clock, gateways, fulfil_invoice)
    gateway_notices = providers.Singleton(HandleGatewayNotice, gateways, confirm_payment)
    reconcile_payments = providers.Singleton(ReconcilePayments, uow, gateways, confirm_payment)
    submit_card_receipt = providers.Singleton(SubmitCardReceipt, uow, clock, gateways)
    review_card_payment = providers.Singleton(ReviewCardPayment, uow, clock, gateways, fulfil_invoice)
    list_payments = providers.Singleton(ListPayments, uow)
    wallets = providers.Singleton(Wallets, uow, clock)

    # vpn use cases
    manage_plans = providers.Singleton(ManagePlans, uow, clock)
    manage_servers = providers.Singleton(ManageServers, uow, clock, panel_registry, vpn_box)
    buy_plan = providers.Singleton(BuyPlan, uow, create_invoice, pay_invoice)
    renew_account = providers.Singleton(RenewAccount, uow, create_invoice, pay_invoice)
    buy_addon = providers.Singleton(BuyAddOn, uow, create_invoice, pay_invoice)
    vpn_accounts = providers.Singleton(VpnAccounts, uow, settings.provided.effective_public_url)
    revoke_account = providers.Singleton(RevokeAccount, uow, clock, panel_registry)
    admin_accounts = providers.Singleton(AdminAccounts, uow, clock, panel_registry)
    sync_usage = providers.Singleton(SyncUsage, uow, clock, panel_registry,
                                     providers.Factory(_usage_thresholds, settings))
    enforce_limits = providers.Singleton(EnforceLimits, uow, clock, panel_registry)
    vpn_demo = providers.Singleton(LoadVpnDemo, manage_plans, manage_servers)
    # the VPN dialects' extra views (v2ray, ru-vpn): no new rules, see application/vpn_dialects.py
    login_by_identifier = providers.Singleton(LoginByIdentifier, uow, login)
    payment_methods = providers.Singleton(PaymentMethods, gateways)
    verify_card_payment = providers.Singleton(VerifyCardPayment, uow, submit_card_receipt, review_card_payment)
    vpn_billing_views = providers.Singleton(VpnBillingViews, uow)
    vpn_price_lists = providers.Singleton(ManagePriceLists, uow, clock)

    # SMM: catalogue, orders forwarded to upstream panels, our own Perfect Panel API v2
    smm_cipher = providers.Singleton(FernetSecretCipher, settings.provided.secret_key)
    smm_providers = providers.Singleton(ProviderRegistry, http_client, smm_cipher, auto_tick=True)
    smm_submit = providers.Singleton(SubmitOrders, uow, clock, smm_providers)
    # Deferred /api/v2 adds are forwarded by this in-process batcher (started by the HTTP app's lifespan).
    smm_forwarder = providers.Singleton(OrderForwarder, smm_submit, on_error=_log_forwarding_error)
    place_smm_order = providers.Singleton(PlaceOrder, uow, clock, smm_submit, smm_forwarder)
    sync_smm_orders = providers.Singleton(SyncOrders, uow, clock, smm_providers)
    smm_catalogue = providers.Singleton(SmmCatalogue, uow)
    smm_orders = providers.Singleton(SmmOrders, uow, clock, smm_providers)
    smm_admin_orders = providers.Singleton(AdminOrders, uow, clock, smm_submit, smm_orders)
    smm_manage_providers = providers.Singleton(ManageProviders, uow, clock, smm_providers, smm_cipher,
                                               providers.Factory(_shop_currency, settings))
    smm_manage_services = providers.Singleton(ManageServices, uow, clock)
    smm_stats = providers.Singleton(OrderStatistics, uow, clock)
    smm_demo = providers.Singleton(LoadSmmDemo, uow, smm_manage_providers)
    smm_subscriptions = providers.Singleton(SmmSubscriptions, uow, clock, place_smm_order)  # recurring orders
    run_smm_subscriptions = providers.Singleton(RunSubscriptions, uow, clock, place_smm_order)

    # the CandyPanel dialect (application/candypanel.py); card-to-card works there with its admin_card_number setting
    candypanel_gateways = providers.Singleton(_candypanel_gateways, gateways)
    candypanel_setup = providers.Singleton(CandyPanelSetup, uow, clock, password_hasher, panel_registry, vpn_box,
                                           default_admin_telegram_id=settings.provided.telegram_admin_id)
    candypanel_clients = providers.Singleton(CandyPanelClients, uow, clock, panel_registry, revoke_account)
    candypanel_interfaces = providers.Singleton(CandyPanelInterfaces, uow, clock, panel_registry, vpn_box,
                                                revoke_account)
    candypanel_tokens = providers.Singleton(CandyPanelTokens, uow, clock)
    candypanel_sync = providers.Singleton(CandyPanelSync, uow, sync_usage, enforce_limits)
    candypanel_bot = providers.Singleton(
        CandyPanelBot, uow, clock, candypanel_setup, candypanel_clients, register_user, set_user_status,
        create_invoice,
        providers.Singleton(PayInvoice, uow, clock, candypanel_gateways, fulfil_invoice,
                            settings.provided.effective_public_url),
        providers.Singleton(SubmitCardReceipt, uow, clock, candypanel_gateways),
        providers.Singleton(ReviewCardPayment, uow, clock, candypanel_gateways, fulfil_invoice),
        fulfil_invoice)

    load_demo_data = providers.Singleton(LoadDemoData, uow, register_user, set_password, wallets, vpn_demo,
                                         smm_demo)

    # background work and scale-out (tasks register on task_registry; see build_job_runner)
    task_registry = providers.Singleton(TaskRegistry)
    job_store = providers.Singleton(SqlJobStore, engine)
    rate_limit_store = providers.Singleton(_rate_limit_store, settings)
    event_bus = providers.Singleton(_event_bus, settings)

    # domain events after commit: dispatch job, outgoing webhooks, live streams (docs/webhooks.md)
    dispatch_event = providers.Singleton(DispatchEvent, uow, event_bus, clock)
    event_subscriptions = providers.Singleton(EventSubscriptions, event_bus)
    webhook_sender = providers.Singleton(HttpWebhookSender, http_client,
                                         allow_private=settings.provided.webhooks_allow_private,
                                         timeout=settings.provided.webhooks_timeout_seconds)
    manage_webhooks = providers.Singleton(ManageWebhooks, uow, clock, smm_cipher,
                                          allow_private=settings.provided.webhooks_allow_private)
    deliver_webhook = providers.Singleton(DeliverWebhook, uow, clock, smm_cipher, webhook_sender,
                                          retry=providers.Factory(_webhook_retry, settings))
    # operator capabilities of the SMM admin APIs (application/operations.py; used by the smm-spring dialect)
    system_probe = providers.Singleton(SqlSystemProbe, engine, redis_url=settings.provided.redis_url)
    system_status = providers.Singleton(SystemStatus, uow, system_probe, clock)
    manage_youtube_accounts = providers.Singleton(ManageYoutubeAccounts, uow, clock)
    service_coefficients = providers.Singleton(ServiceCoefficients, uow, clock)
    operator_log = providers.Singleton(OperatorLog, uow)
    start_deposit = providers.Singleton(StartDeposit, create_invoice, pay_invoice, gateways)
    wallet_statement = providers.Singleton(WalletStatement, uow)
    count_users = providers.Singleton(CountUsers, uow)


def build_job_runner(container: Container, *, concurrency: int | None = None,
                     queues: Sequence[str] | None = None) -> JobRunner:
    """A JobRunner over the database with every registered task, ``VPNSMM_JOB_MODULES`` tasks and schedules.

    Each module in ``settings.job_modules`` must define ``register_tasks(registry, container)``; it is
    imported once per registry. ``VPNSMM_JOB_SCHEDULES`` overrides the schedules afterwards.
    """
    settings = container.settings()
    registry = container.task_registry()
    register_billing_tasks(registry, fulfil=container.fulfil_invoice(), expire=container.expire_invoices(),
                           reconcile=container.reconcile_payments())
    register_smm_tasks(registry, submit=container.smm_submit(), sync=container.sync_smm_orders())
    register_subscription_tasks(registry, run=container.run_smm_subscriptions())
    register_vpn_tasks(registry, fan_out=ScheduleUsageSync(container.uow()),
                       sync=container.sync_usage(), enforce=container.enforce_limits())
    register_event_tasks(registry, dispatch=container.dispatch_event(), deliver=container.deliver_webhook())
    for name in settings.job_modules:
        if name not in registry.loaded_modules:
            importlib.import_module(name).register_tasks(registry, container)
            registry.loaded_modules.add(name)
    registry.configure_schedules(parse_schedule_overrides(settings.job_schedules))
    return JobRunner(container.job_store(), registry, now=container.clock().now,
                     concurrency=concurrency or settings.job_concurrency, queues=queues,
                     lease_seconds=settings.job_lease_seconds, poll_interval=settings.job_poll_ms / 1000)


def build_container(settings: Settings) -> Container:
    """A container for ``settings``; call :func:`start` (or use :func:`opened`) before using it."""
    return Container(settings=settings)


async def start(container: Container, *, run_migrations: bool = True) -> None:
    """Bring the schema up to date (connections themselves open lazily)."""
    if run_migrations and isinstance(container.uow(), SqlUnitOfWorkFactory):
        await migrate.upgrade(container.engine())


async def stop(container: Container) -> None:
    """Close every resource (engine pools, HTTP clients). Safe to call twice."""
    await container.rate_limit_store().close()
    await container.event_bus().close()
    await container.http_client().aclose()
    await container.panel_registry().close()
    if isinstance(container.uow(), SqlUnitOfWorkFactory):
        await container.engine().dispose()


@asynccontextmanager
async def opened(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[Container]:
    """``async with opened(settings) as c: await c.login()(...)`` -- started and always stopped."""
    container = build_container(settings)
    await start(container, run_migrations=run_migrations)
    try:
        yield container
    finally:
        await stop(container)
