"""Operator capabilities the SMM admin APIs need beyond the core use cases: the managed YouTube account list,
service price coefficients, the operator log, deposits through an online gateway, paged wallet statements,
dashboard counts and live system figures. Each class owns its transactions; changes are audited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from attrs import frozen

from vpnsmm.application.billing import (
    CreateInvoice,
    GatewaySet,
    NewInvoice,
    PayInvoice,
    PaymentInstructions,
    audit,
)
from vpnsmm.application.ports.monitoring import (
    CacheFigures,
    FailedJob,
    JobOutcomes,
    OrderPipeline,
    PoolFigures,
    QueueFigures,
    SystemProbe,
)
from vpnsmm.application.ports.persistence import AuditFilter, AuditRecord, UnitOfWork, UnitOfWorkFactory, UserFilter
from vpnsmm.application.ports.system import Clock
from vpnsmm.application.smm import service_not_found
from vpnsmm.domain.billing import Gateway, InvoicePurpose
from vpnsmm.domain.errors import NotFoundError, UpstreamUnavailableError, ValidationError
from vpnsmm.domain.identity import UserStatus, normalise_username
from vpnsmm.domain.ledger import AccountPurpose, Entry
from vpnsmm.domain.money import Currency, ExchangeRate, Money
from vpnsmm.domain.smm import ExactAmount, Markup, price_for
from vpnsmm.domain.smm_orders import Provider, Service
from vpnsmm.domain.youtube_accounts import (
    YoutubeAccount,
    YoutubeAccountStatus,
    check_daily_limit,
    check_email,
)

MAX_PAGE = 100
_COEFFICIENT = re.compile(r"^\d{1,3}(?:\.\d{1,4})?$")


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE)), max(0, offset)


# ------------------------------------------------------------------------------------------ YouTube accounts
def youtube_account_not_found() -> NotFoundError:
    return NotFoundError("YouTube account not found", code="YOUTUBE_ACCOUNT_NOT_FOUND")


class ManageYoutubeAccounts:
    """The YouTube accounts an operator keeps for delivery: list, add, reset today's quota, change status.
    Changes are audited (target ``youtube_account:<id>``). Unknown ids raise NotFoundError."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def page(self, *, limit: int, offset: int) -> tuple[list[YoutubeAccount], int]:
        limit, offset = _page(limit, offset)
        async with self._uow(read_only=True) as uow:
            return list(await uow.youtube_accounts.list(limit=limit, offset=offset)), \
                await uow.youtube_accounts.count()

    async def add(self, email: str, *, daily_limit: int = 100, actor_id: int | None = None) -> YoutubeAccount:
        """Raises ValidationError (email, dailyLimit) and ConflictError EMAIL_TAKEN for a listed email."""
        now = self._clock.now()
        account = YoutubeAccount(email=check_email(email), daily_limit=check_daily_limit(daily_limit),
                                 created_at=now)
        async with self._uow() as uow:
            await uow.youtube_accounts.add(account)
            await audit(uow, actor_id=actor_id, action="youtube_account.add", target=f"youtube_account:{account.id}",
                        now=now, email=account.email, daily_limit=account.daily_limit)
            await uow.commit()
        return account

    async def reset_daily_limit(self, account_id: int, *, actor_id: int | None) -> YoutubeAccount:
        """Start today's quota again. Idempotent (a second reset clears nothing)."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.youtube_accounts.get(account_id, for_update=True)
            if account is None:
                raise youtube_account_not_found()
            cleared = account.reset_daily_limit(now)
            await uow.youtube_accounts.update(account)
            await audit(uow, actor_id=actor_id, action="youtube_account.reset_daily_limit",
                        target=f"youtube_account:{account.id}", now=now, cleared=cleared)
            await uow.commit()
        return account

    async def set_status(self, account_id: int, status: YoutubeAccountStatus, *,
                         actor_id: int | None) -> YoutubeAccount:
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.youtube_accounts.get(account_id, for_update=True)
            if account is None:
                raise youtube_account_not_found()
            before = account.set_status(status, now)
            await uow.youtube_accounts.update(account)
            await audit(uow, actor_id=actor_id, action="youtube_account.status",
                        target=f"youtube_account:{account.id}", now=now, status_before=before.value,
                        status_after=status.value)
            await uow.commit()
        return account


# ------------------------------------------------------------------------------------------ price coefficients
@frozen
class Coefficient:
    """A service's price over its provider's cost: ``1 + markup/100``; ``updated_at`` from the audit log."""

    service: Service
    coefficient: str
    updated_at: datetime | None


def coefficient_of(markup: str) -> str:
    """``"20"`` (percent) -> ``"1.2"``."""
    value = (Decimal(1) + Decimal(markup) / 100).normalize()
    return f"{value:f}"


def markup_of(coefficient: str) -> str:
    """``"1.5"`` -> ``"50"``. Raises ValidationError unless a plain decimal 1-100 with at most 4 decimals."""
    text = coefficient.strip() if isinstance(coefficient, str) else ""
    if not _COEFFICIENT.match(text) or not Decimal(1) <= Decimal(text) <= Decimal(100):
        raise ValidationError("coefficient must be a decimal from 1 to 100 with at most 4 decimals "
                              "(a price never goes below the provider's cost)", field="coefficient")
    return f"{((Decimal(text) - 1) * 100).normalize():f}"


def _shop_rate(provider: Provider, provider_rate: str, markup: Markup, shop: Currency) -> Money:
    """The per-1000 price for a provider rate: converted to the shop currency exactly, marked up, rounded UP
    (the same rule as a catalogue sync)."""
    exact = ExactAmount.parse(provider_rate, provider.currency, field_name="provider_rate")
    if exact.currency is not shop:
        fx = ExchangeRate.parse(exact.currency, shop, provider.exchange_rate)
        num = exact.units * fx.numerator * 10**shop.exponent
        den = 10**exact.scale * fx.denominator
        exact = ExactAmount.of(-(-num // den), shop.exponent, shop)
    return price_for(exact, 1000, markup)


class ServiceCoefficients:
    """Read and set each service's coefficient (its markup over the provider rate). Setting one reprices the
    service from its provider rate at once (audited as ``smm_service.coefficient``)."""

    _ACTIONS = ("smm_service.coefficient", "smm_service.update", "smm_provider.sync")

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    @staticmethod
    async def _updated_at(uow: UnitOfWork, service: Service) -> datetime | None:
        entries = await uow.audit.for_target(f"smm_service:{service.id}", limit=1)
        return entries[0].at if entries else None

    async def all(self) -> list[Coefficient]:
        async with self._uow(read_only=True) as uow:
            services = await uow.smm_catalogue.list_services()
            return [Coefficient(s, coefficient_of(s.markup), await self._updated_at(uow, s)) for s in services]

    async def set(self, service_id: int, coefficient: str, *, actor_id: int | None, reason: str = "") -> Coefficient:
        """Raises NotFoundError (SERVICE_NOT_FOUND), ValidationError (coefficient)."""
        markup = markup_of(coefficient)
        now = self._clock.now()
        async with self._uow() as uow:
            service = await uow.smm_catalogue.get_service(service_id)
            if service is None:
                raise service_not_found()
            provider = await uow.smm_catalogue.get_provider(service.provider_id)
            if provider is None:
                raise service_not_found()
            before_rate, before_markup = service.rate.format(), service.markup
            service.rate = _shop_rate(provider, service.provider_rate, Markup.percent(markup), service.rate.currency)
            service.markup = markup
            await uow.smm_catalogue.update_service(service)
            await audit(uow, actor_id=actor_id, action="smm_service.coefficient", target=f"smm_service:{service.id}",
                        now=now, markup_before=before_markup, markup_after=markup, rate_before=before_rate,
                        rate_after=service.rate.format(), reason=(reason or "")[:500])
            await uow.commit()
        return Coefficient(service, coefficient_of(markup), now)


# ------------------------------------------------------------------------------------------ operator log
@frozen
class OperatorLogEntry:
    record: AuditRecord
    operator_username: str | None


class OperatorLog:
    """The audit log as seen by operators: entries made by a person (not background jobs), newest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def search(self, *, operator_username: str | None = None, actions: Sequence[str] | None = None,
                     since: datetime | None = None, before: datetime | None = None, limit: int = 20,
                     offset: int = 0) -> tuple[list[OperatorLogEntry], int]:
        """An unknown operator name matches nothing (it is not an error)."""
        limit, offset = _page(limit, offset)
        async with self._uow(read_only=True) as uow:
            actor_id = None
            if operator_username and operator_username.strip():
                try:
                    user = await uow.users.get_by_username(normalise_username(operator_username))
                except ValidationError:
                    user = None
                if user is None:
                    return [], 0
                actor_id = user.id
            records, total = await uow.audit.search(AuditFilter(
                actor_id=actor_id, actions=tuple(actions) if actions is not None else None, at_from=since,
                at_before=before, operators_only=True), limit=limit, offset=offset)
            names: dict[int, str | None] = {}
            for record in records:
                if record.actor_id is not None and record.actor_id not in names:
                    user = await uow.users.get(record.actor_id)
                    names[record.actor_id] = user.username if user else None
        return [OperatorLogEntry(r, names.get(r.actor_id) if r.actor_id is not None else None)
                for r in records], total


# ------------------------------------------------------------------------------------------ deposits
@frozen
class Deposit:
    instructions: PaymentInstructions
    gateway: Gateway


class StartDeposit:
    """Top up a wallet the only way money enters one from outside: a top-up invoice paid at an online gateway
    (Cryptomus, else Zarinpal, or the one asked for). Nothing is credited here; the gateway's verified
    confirmation credits the wallet once. Raises ValidationError GATEWAY_NOT_CONFIGURED when none is."""

    _ONLINE = (Gateway.CRYPTOMUS, Gateway.ZARINPAL)

    def __init__(self, create_invoice: CreateInvoice, pay_invoice: PayInvoice, gateways: GatewaySet) -> None:
        self._create, self._pay, self._gateways = create_invoice, pay_invoice, gateways

    async def __call__(self, user_id: int, amount: Money, *, description: str = "", gateway: Gateway | None = None,
                       customer_email: str | None = None) -> Deposit:
        if not amount.is_positive:
            raise ValidationError("amount must be positive", field="amount")
        configured = [g for g in self._ONLINE if g in self._gateways.gateways]
        if gateway is not None and gateway not in configured:
            raise ValidationError(f"payment method {gateway.value} is not configured here", field="method",
                                  code="GATEWAY_NOT_CONFIGURED")
        chosen = gateway or (configured[0] if configured else None)
        if chosen is None:
            raise ValidationError("no online payment method is configured here; ask an operator to credit you",
                                  field="amount", code="GATEWAY_NOT_CONFIGURED")
        invoice = await self._create(NewInvoice(user_id=user_id, purpose=InvoicePurpose.WALLET_TOPUP, amount=amount,
                                                description=(description or "Wallet top-up")[:255]))
        return Deposit(await self._pay(user_id, invoice.id, chosen, customer_email=customer_email), chosen)


# ------------------------------------------------------------------------------------------ statements
class WalletStatement:
    """A wallet's entries, newest first, by page number (the ledger pages by cursor; this walks it)."""

    #: Pages reach at most this many entries deep (older history: the native cursor API).
    MAX_DEPTH = 10_000

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def page(self, user_id: int, currency: Currency, *, page: int, size: int) -> tuple[list[Entry], int]:
        size = max(1, min(size, MAX_PAGE))
        if page < 0 or (page + 1) * size > self.MAX_DEPTH:
            raise ValidationError(f"page must be 0-{self.MAX_DEPTH // size - 1} for size {size}", field="page")
        async with self._uow(read_only=True) as uow:
            account = await uow.ledger.find_account(user_id, currency, AccountPurpose.WALLET)
            if account is None:
                return [], 0
            seen: list[Entry] = []
            before = None
            while True:
                chunk = await uow.ledger.entries(account.id, before_id=before, limit=500)
                seen.extend(chunk)
                if len(chunk) < 500 or len(seen) >= self.MAX_DEPTH:
                    break
                before = chunk[-1].id
        return seen[page * size:(page + 1) * size], len(seen)


# ------------------------------------------------------------------------------------------ dashboard
@frozen
class UserCounts:
    total: int
    active: int


class CountUsers:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self) -> UserCounts:
        async with self._uow(read_only=True) as uow:
            return UserCounts(total=await uow.users.count(UserFilter()),
                              active=await uow.users.count(UserFilter(status=UserStatus.ACTIVE)))


# ------------------------------------------------------------------------------------------ system status
@frozen
class ComponentStatus:
    up: bool | None  # None: not configured here
    error: str = ""


@frozen
class SystemReport:
    database: ComponentStatus
    job_queue: ComponentStatus
    cache: ComponentStatus
    pool: PoolFigures
    queues: Sequence[QueueFigures]
    cache_figures: CacheFigures | None

    @property
    def up(self) -> bool:
        return bool(self.database.up) and self.job_queue.up is not False and self.cache.up is not False


def start_of_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class SystemStatus:
    """Live health and figures: database reachable, job queue readable, Redis (when configured) answering."""

    def __init__(self, uow: UnitOfWorkFactory, probe: SystemProbe, clock: Clock) -> None:
        self._uow, self._probe, self._clock = uow, probe, clock

    async def report(self) -> SystemReport:
        try:
            await self._uow.ping()
            database = ComponentStatus(True)
        except Exception as exc:  # any driver error means "down"; the name is enough (no secrets in it)
            database = ComponentStatus(False, type(exc).__name__)
        queues: Sequence[QueueFigures] = []
        try:
            queues = await self._probe.queues() if database.up else []
            job_queue = ComponentStatus(bool(database.up), "" if database.up else "database unreachable")
        except Exception as exc:  # the queue lives in the database: same reasoning
            job_queue = ComponentStatus(False, type(exc).__name__)
        figures = None
        try:
            figures = await self._probe.cache()
            cache = ComponentStatus(None if figures is None else True)
        except UpstreamUnavailableError as exc:
            cache = ComponentStatus(False, exc.message)
        return SystemReport(database=database, job_queue=job_queue, cache=cache, pool=self._probe.database(),
                            queues=queues, cache_figures=figures)

    def database(self) -> PoolFigures:
        return self._probe.database()

    async def queues(self) -> Sequence[QueueFigures]:
        return await self._probe.queues()

    async def failures(self, *, days: int, limit: int = 20) -> tuple[Sequence[FailedJob], int]:
        if type(days) is not int or not 1 <= days <= 366:
            raise ValidationError("days must be 1-366", field="days")
        return await self._probe.failed_jobs(since=self._clock.now() - timedelta(days=days), limit=limit)

    async def job_outcomes_today(self) -> JobOutcomes:
        return await self._probe.job_outcomes(since=start_of_day(self._clock.now()))

    async def order_pipeline_today(self) -> OrderPipeline:
        return await self._probe.order_pipeline(since=start_of_day(self._clock.now()))
