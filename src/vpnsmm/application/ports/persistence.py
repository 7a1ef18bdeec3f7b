"""The unit of work and the repositories it carries.

Only use cases commit. Repositories ``add``/``get``/``update`` inside the current transaction and never
commit; a unit of work that leaves its ``async with`` block without ``commit()`` rolls everything back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from attrs import frozen

from vpnsmm.application.ports.jobs import JobOutbox
from vpnsmm.application.ports.ledger import Ledger
from vpnsmm.application.ports.smm_subscriptions import SmmSubscriptionRepository
from vpnsmm.application.ports.vpn_store import (
    PlanRepository,
    PriceListRepository,
    ServerRepository,
    VpnAccountRepository,
)
from vpnsmm.application.ports.webhooks import WebhookRepository
from vpnsmm.application.ports.youtube_accounts import YoutubeAccountRepository
from vpnsmm.domain.billing import Gateway, Invoice, InvoiceStatus, Payment, PaymentStatus
from vpnsmm.domain.identity import ApiKey, AuthSession, RefreshToken, Role, User, UserStatus
from vpnsmm.domain.smm_orders import (
    Category,
    OrderFilter,
    OrderStatsRow,
    Provider,
    Refill,
    Service,
    SmmOrder,
    UserRate,
)


@frozen
class UserFilter:
    role: Role | None = None
    status: UserStatus | None = None
    search: str | None = None  # substring of username or email, case-insensitive


class UserRepository(Protocol):
    async def add(self, user: User) -> User:
        """Store a new user and assign ``user.id``.

        Raises ConflictError (``field`` = username, email or telegram_id) when a unique value is taken;
        usernames and emails are unique case-insensitively.
        """
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_by_username(self, username: str) -> User | None:
        """Case-insensitive lookup."""
        ...

    async def get_by_telegram_id(self, telegram_id: int) -> User | None: ...

    async def update(self, user: User) -> None:
        """Persist changed fields. Raises ConflictError like ``add``; NotFoundError if the user is gone."""
        ...

    async def list(self, filter: UserFilter, *, limit: int, offset: int) -> Sequence[User]:
        """Users ordered by id ascending."""
        ...

    async def count(self, filter: UserFilter) -> int: ...


class SessionRepository(Protocol):
    async def add(self, session: AuthSession) -> None: ...

    async def get(self, session_id: str) -> AuthSession | None: ...

    async def revoke(self, session_id: str, *, now: datetime, reason: str) -> None:
        """Idempotent: a revoked session stays revoked with its first reason."""
        ...

    async def revoke_all_for_user(self, user_id: int, *, now: datetime, reason: str) -> int:
        """Revoke every live session of the user; returns how many were live."""
        ...

    async def add_refresh_token(self, token: RefreshToken) -> None: ...

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    async def claim_refresh_token(self, token_id: int, *, now: datetime) -> bool:
        """Compare-and-set ``used_at`` from NULL to ``now``. True for exactly one concurrent caller."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> ApiKey:
        """Store and assign ``key.id``. Raises ConflictError if ``public_id`` collides."""
        ...

    async def get_by_public_id(self, public_id: str) -> ApiKey | None: ...

    async def get_for_user(self, key_id: int, user_id: int) -> ApiKey | None:
        """Ownership is part of the lookup: another user's key is None."""
        ...

    async def list_for_user(self, user_id: int) -> Sequence[ApiKey]: ...

    async def update(self, key: ApiKey) -> None: ...

    async def touch(self, key_id: int, *, now: datetime) -> None:
        """Record use of the key (``last_used_at``)."""
        ...


@frozen
class PaymentFilter:
    gateway: Gateway | None = None
    status: PaymentStatus | None = None
    user_id: int | None = None


class InvoiceRepository(Protocol):
    async def add(self, invoice: Invoice) -> Invoice:
        """Store and assign ``invoice.id``. ConflictError (INVOICE_EXISTS) for a reused (user, idempotency key)."""
        ...

    async def get(self, invoice_id: int, *, for_update: bool = False) -> Invoice | None:
        """``for_update`` locks the row until the transaction ends (PostgreSQL; SQLite is already serialised)."""
        ...

    async def get_for_user(self, invoice_id: int, user_id: int) -> Invoice | None:
        """Ownership is part of the lookup: another user's invoice is None."""
        ...

    async def get_by_idempotency_key(self, user_id: int, key: str) -> Invoice | None: ...

    async def update(self, invoice: Invoice) -> None: ...

    async def list_for_user(self, user_id: int, *, status: InvoiceStatus | None, limit: int,
                            before_id: int | None) -> Sequence[Invoice]:
        """Newest first."""
        ...

    async def due_for_expiry(self, now: datetime, *, limit: int) -> Sequence[Invoice]:
        """Pending invoices whose ``expires_at`` has passed, oldest first."""
        ...


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> Payment:
        """Store and assign ``payment.id``. ConflictError if ``(gateway, external_id)`` is taken."""
        ...

    async def get(self, payment_id: int, *, for_update: bool = False) -> Payment | None: ...

    async def get_for_user(self, payment_id: int, user_id: int) -> Payment | None: ...

    async def get_by_external_id(self, gateway: Gateway, external_id: str) -> Payment | None: ...

    async def update(self, payment: Payment) -> None:
        """Persist fields other than the paid transition (use ``mark_paid``). Never turns a paid row unpaid."""
        ...

    async def mark_paid(self, payment_id: int, *, now: datetime, provider_ref: str | None = None,
                        card_pan: str | None = None, raw_status: str = "") -> bool:
        """Compare-and-set to ``paid`` from any status but paid. True for exactly one caller ever."""
        ...

    async def list(self, filter: PaymentFilter, *, limit: int, before_id: int | None) -> Sequence[Payment]:
        """Newest first."""
        ...

    async def for_invoice(self, invoice_id: int) -> Sequence[Payment]: ...


@frozen
class AuditRecord:
    actor_id: int | None
    action: str
    target: str
    details: dict[str, object]
    at: datetime
    id: int = 0


@frozen
class AuditFilter:
    actor_id: int | None = None
    actions: tuple[str, ...] | None = None  # any of these (an empty tuple matches nothing)
    at_from: datetime | None = None  # at >= this
    at_before: datetime | None = None  # at < this
    operators_only: bool = False  # only entries with an actor (not system jobs)


class AuditLog(Protocol):
    async def record(self, entry: AuditRecord) -> None:
        """Append one line; never updated or deleted."""
        ...

    async def for_target(self, target: str, *, limit: int = 100) -> Sequence[AuditRecord]: ...

    async def search(self, filter: AuditFilter, *, limit: int, offset: int) -> tuple[Sequence[AuditRecord], int]:
        """Newest first: one page of the entries matching ``filter`` and how many match in all."""
        ...


class SmmCatalogueRepository(Protocol):
    """SMM providers, categories, services and per-user prices (see domain/smm_orders.py)."""

    async def add_provider(self, provider: Provider) -> Provider:
        """Store and assign ``provider.id``. ConflictError (PROVIDER_EXISTS) for a taken name."""
        ...

    async def get_provider(self, provider_id: int) -> Provider | None: ...

    async def list_providers(self) -> Sequence[Provider]:
        """Ordered by id."""
        ...

    async def update_provider(self, provider: Provider) -> None: ...

    async def category_by_name(self, name: str) -> Category | None: ...

    async def add_category(self, category: Category) -> Category: ...

    async def list_categories(self) -> Sequence[Category]: ...

    async def add_service(self, service: Service) -> Service:
        """Store and assign ``service.id``. ConflictError (SERVICE_EXISTS) for a taken provider service id."""
        ...

    async def get_service(self, service_id: int) -> Service | None: ...

    async def update_service(self, service: Service) -> None: ...

    async def list_services(self, *, category_id: int | None = None, active: bool | None = None,
                            provider_id: int | None = None) -> Sequence[Service]:
        """Ordered by id."""
        ...

    async def set_user_rate(self, rate: UserRate) -> None:
        """Insert or replace the rate for ``(user_id, service_id)``."""
        ...

    async def delete_user_rate(self, user_id: int, service_id: int | None) -> bool: ...

    async def user_rates(self, user_id: int) -> Sequence[UserRate]: ...

    async def service_for_user(self, service_id: int, user_id: int) -> tuple[Service, Sequence[UserRate]] | None:
        """The service and those of the user's custom rates that can apply to it (its own and the all-services
        one), read together (one query in SQL); None when there is no such service. Like ``get_service``, a
        ``get_provider`` of the service's provider right after it costs no second query."""
        ...


class SmmOrderRepository(Protocol):
    """SMM orders and refills. Ownership is part of every ``*_for_user`` lookup."""

    async def add(self, order: SmmOrder) -> SmmOrder:
        """Store and assign ``order.id``."""
        ...

    async def get(self, order_id: int, *, for_update: bool = False) -> SmmOrder | None: ...

    async def get_for_user(self, order_id: int, user_id: int, *, for_update: bool = False) -> SmmOrder | None: ...

    async def many_for_user(self, user_id: int, order_ids: Sequence[int]) -> Sequence[SmmOrder]:
        """The caller's orders among ``order_ids`` (others' ids are silently absent)."""
        ...

    async def update(self, order: SmmOrder) -> None: ...

    async def children_of(self, parent_order_id: int) -> Sequence[SmmOrder]:
        """The child orders of a subscription parent, by id. Adding a second child with the same
        ``(parent_order_id, provider_order_id)`` raises ConflictError (a unique index in SQL)."""
        ...

    async def child_ids_of(self, user_id: int, parent_order_ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        """``user_id``'s child order ids per parent among ``parent_order_ids``, ascending; parents without
        children are absent."""
        ...

    async def record_sent(self, order_id: int, provider_order_id: str, now: datetime) -> SmmOrder | None:
        """If the order is in ``sending`` state: mark it ``sent`` with ``provider_order_id`` (error cleared,
        ``updated_at`` = ``now``) and return it as stored. Otherwise change nothing and return None.

        Atomic by itself (one conditional UPDATE in SQL), so no row lock is taken first; safe against a
        concurrent admin action or a second submitter: only one of them finds the order still ``sending``.
        """
        ...

    async def claim_for_submit(self, order_ids: Sequence[int], now: datetime) -> Sequence[SmmOrder]:
        """Move those of ``order_ids`` still ``queued`` to ``sending`` (``updated_at`` = ``now``) and return
        them, ordered by id. Atomic by itself (one conditional UPDATE in SQL): of two claimers racing for an
        order, exactly one gets it. Unknown ids and orders in any other state are left alone."""
        ...

    async def record_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> Sequence[int]:
        """:meth:`record_sent` for each ``(order_id, provider_order_id)``, at once (one statement in SQL);
        the ids actually marked ``sent`` (those still ``sending``)."""
        ...

    async def list(self, filter: OrderFilter, *, limit: int, offset: int, sort: str = "id",
                   descending: bool = True) -> Sequence[SmmOrder]:
        """Newest first by default; ``sort`` is one of ORDER_SORT_KEYS (ties by id, same direction).
        Raises ValidationError for another sort key."""
        ...

    async def count(self, filter: OrderFilter) -> int: ...

    async def to_poll(self, *, limit: int) -> Sequence[SmmOrder]:
        """Orders sent to a provider whose status is not terminal, least recently updated first."""
        ...

    async def to_submit(self, *, limit: int) -> Sequence[SmmOrder]:
        """Queued orders waiting to be (re)sent, oldest first."""
        ...

    async def add_refill(self, refill: Refill) -> Refill: ...

    async def get_refill_for_user(self, refill_id: int, user_id: int) -> Refill | None: ...

    async def refills_to_poll(self, *, limit: int) -> Sequence[Refill]: ...

    async def update_refill(self, refill: Refill) -> None: ...

    async def stats(self, *, since: datetime | None = None) -> Sequence[OrderStatsRow]:
        """Orders grouped by UTC creation day, status and currency."""
        ...


class UnitOfWork(Protocol):
    """One business transaction. Rolls back on exit unless ``commit()`` was awaited."""

    # Read-only properties (covariant), so implementations may hold their concrete repository types.
    @property
    def users(self) -> UserRepository:
        ...

    @property
    def sessions(self) -> SessionRepository:
        ...

    @property
    def api_keys(self) -> ApiKeyRepository:
        ...

    @property
    def ledger(self) -> Ledger:
        ...

    @property
    def jobs(self) -> JobOutbox:
        """Jobs enqueued here exist if and only if this transaction commits."""
        ...

    @property
    def invoices(self) -> InvoiceRepository:
        ...

    @property
    def payments(self) -> PaymentRepository:
        ...

    @property
    def audit(self) -> AuditLog:
        ...

    @property
    def smm_catalogue(self) -> SmmCatalogueRepository:
        ...

    @property
    def smm_orders(self) -> SmmOrderRepository:
        ...

    @property
    def smm_subscriptions(self) -> SmmSubscriptionRepository:
        ...

    @property
    def vpn_plans(self) -> PlanRepository:
        ...

    @property
    def vpn_servers(self) -> ServerRepository:
        ...

    @property
    def vpn_accounts(self) -> VpnAccountRepository:
        ...

    @property
    def webhooks(self) -> WebhookRepository:
        ...

    @property
    def vpn_prices(self) -> PriceListRepository:
        ...

    @property
    def youtube_accounts(self) -> YoutubeAccountRepository:
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def commit(self) -> None:
        """Make every change durable at once. May raise ConflictError (unique clash found at commit)."""
        ...


@runtime_checkable
class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per business transaction (safe to share between concurrent requests)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """``read_only`` transactions may not write; on SQLite they do not take the write lock."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be reached (used by readiness checks)."""
        ...
