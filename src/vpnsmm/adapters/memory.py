"""In-memory unit of work and repositories: the fakes of the persistence ports.

They pass the same contract suite as the SQL repositories (tests/contract). Write transactions are
serialised by a lock and an uncommitted transaction is rolled back by restoring a snapshot, so the
fake has the same all-or-nothing behaviour as a database.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

from vpnsmm.adapters.jobs.memory import InMemoryJobOutbox, InMemoryJobStore
from vpnsmm.adapters.memory_candypanel import InMemoryCandyPanelRepository
from vpnsmm.adapters.memory_ledger import InMemoryLedger
from vpnsmm.adapters.memory_smm import InMemorySmmCatalogueRepository, InMemorySmmOrderRepository
from vpnsmm.adapters.memory_smm_subscriptions import InMemorySmmSubscriptionRepository
from vpnsmm.adapters.memory_vpn import (
    InMemoryPlanRepository,
    InMemoryPriceListRepository,
    InMemoryServerRepository,
    InMemoryVpnAccountRepository,
)
from vpnsmm.adapters.memory_webhooks import InMemoryWebhookRepository
from vpnsmm.adapters.memory_youtube import InMemoryYoutubeAccountRepository
from vpnsmm.application.ports.persistence import AuditFilter, AuditRecord, PaymentFilter, UserFilter
from vpnsmm.domain.billing import Gateway, Invoice, InvoiceStatus, Payment, PaymentStatus
from vpnsmm.domain.errors import ConflictError, NotFoundError
from vpnsmm.domain.identity import ApiKey, AuthSession, RefreshToken, User


class InMemoryStore:
    """The data behind every InMemoryUnitOfWork made by one factory."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.sessions: dict[str, AuthSession] = {}
        self.refresh_tokens: dict[int, RefreshToken] = {}
        self.api_keys: dict[int, ApiKey] = {}
        self.invoices: dict[int, Invoice] = {}
        self.payments: dict[int, Payment] = {}
        self.audit: list[AuditRecord] = []
        self.sequences: dict[str, int] = {}
        self.extensions: dict[str, Any] = {}  # state of repositories added by other modules

    def next_id(self, name: str) -> int:
        self.sequences[name] = self.sequences.get(name, 0) + 1
        return self.sequences[name]

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.__dict__)

    def restore(self, snap: dict[str, Any]) -> None:
        self.__dict__.clear()
        self.__dict__.update(snap)


_T = TypeVar("_T")


def _copy(obj: _T) -> _T:
    # Hand out copies so a caller mutating an entity outside update() cannot change stored state.
    return copy.copy(obj)


class InMemoryUserRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._s = store

    def _clash(self, user: User) -> None:
        for other in self._s.users.values():
            if other.id == user.id:
                continue
            if other.username.casefold() == user.username.casefold():
                raise ConflictError("username is already taken", code="USERNAME_TAKEN",
                                    details={"field": "username"})
            if user.email and other.email and other.email.casefold() == user.email.casefold():
                raise ConflictError("email is already registered", code="EMAIL_TAKEN", details={"field": "email"})
            if user.telegram_id is not None and other.telegram_id == user.telegram_id:
                raise ConflictError("telegram_id is already linked to another user", code="TELEGRAM_ID_TAKEN",
                                    details={"field": "telegram_id"})

    async def add(self, user: User) -> User:
        self._clash(user)
        user.id = self._s.next_id("users")
        self._s.users[user.id] = _copy(user)
        return user

    async def get(self, user_id: int) -> User | None:
        found = self._s.users.get(user_id)
        return _copy(found) if found else None

    async def get_by_username(self, username: str) -> User | None:
        key = username.casefold()
        return next((_copy(u) for u in self._s.users.values() if u.username.casefold() == key), None)

    async def get_by_telegram_id(self, telegram_id: int) -> User | None:
        return next((_copy(u) for u in self._s.users.values() if u.telegram_id == telegram_id), None)

    async def update(self, user: User) -> None:
        if user.id not in self._s.users:
            raise NotFoundError("user not found", code="USER_NOT_FOUND")
        self._clash(user)
        self._s.users[user.id] = _copy(user)

    def _match(self, f: UserFilter) -> list[User]:
        out = []
        needle = f.search.casefold() if f.search else None
        for user in sorted(self._s.users.values(), key=lambda u: u.id):
            if f.role is not None and user.role is not f.role:
                continue
            if f.status is not None and user.status is not f.status:
                continue
            if needle and needle not in user.username.casefold() and needle not in (user.email or "").casefold():
                continue
            out.append(user)
        return out

    async def list(self, filter: UserFilter, *, limit: int, offset: int) -> Sequence[User]:
        return [_copy(u) for u in self._match(filter)[offset:offset + limit]]

    async def count(self, filter: UserFilter) -> int:
        return len(self._match(filter))


class InMemorySessionRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._s = store

    async def add(self, session: AuthSession) -> None:
        if session.id in self._s.sessions:
            raise ConflictError("session id collision")
        self._s.sessions[session.id] = _copy(session)

    async def get(self, session_id: str) -> AuthSession | None:
        found = self._s.sessions.get(session_id)
        return _copy(found) if found else None

    async def revoke(self, session_id: str, *, now: datetime, reason: str) -> None:
        if (session := self._s.sessions.get(session_id)) is not None:
            session.revoke(now, reason)

    async def revoke_all_for_user(self, user_id: int, *, now: datetime, reason: str) -> int:
        live = [s for s in self._s.sessions.values() if s.user_id == user_id and s.revoked_at is None]
        for session in live:
            session.revoke(now, reason)
        return len(live)

    async def add_refresh_token(self, token: RefreshToken) -> None:
        if any(t.token_hash == token.token_hash for t in self._s.refresh_tokens.values()):
            raise ConflictError("refresh token collision")
        token.id = self._s.next_id("refresh_tokens")
        self._s.refresh_tokens[token.id] = _copy(token)

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        return next((_copy(t) for t in self._s.refresh_tokens.values() if t.token_hash == token_hash), None)

    async def claim_refresh_token(self, token_id: int, *, now: datetime) -> bool:
        token = self._s.refresh_tokens.get(token_id)
        if token is None or token.used_at is not None:
            return False
        token.used_at = now
        return True


class InMemoryApiKeyRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._s = store

    async def add(self, key: ApiKey) -> ApiKey:
        if any(k.public_id == key.public_id for k in self._s.api_keys.values()):
            raise ConflictError("API key id collision")
        key.id = self._s.next_id("api_keys")
        self._s.api_keys[key.id] = _copy(key)
        return key

    async def get_by_public_id(self, public_id: str) -> ApiKey | None:
        return next((_copy(k) for k in self._s.api_keys.values() if k.public_id == public_id), None)

    async def get_for_user(self, key_id: int, user_id: int) -> ApiKey | None:
        key = self._s.api_keys.get(key_id)
        return _copy(key) if key is not None and key.user_id == user_id else None

    async def list_for_user(self, user_id: int) -> Sequence[ApiKey]:
        return [_copy(k) for k in sorted(self._s.api_keys.values(), key=lambda k: k.id) if k.user_id == user_id]

    async def update(self, key: ApiKey) -> None:
        if key.id not in self._s.api_keys:
            raise NotFoundError("API key not found", code="API_KEY_NOT_FOUND")
        self._s.api_keys[key.id] = _copy(key)

    async def touch(self, key_id: int, *, now: datetime) -> None:
        if (key := self._s.api_keys.get(key_id)) is not None:
            self._s.api_keys[key_id] = attrs.evolve(key, last_used_at=now)


class InMemoryInvoiceRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._s = store

    async def add(self, invoice: Invoice) -> Invoice:
        if invoice.idempotency_key is not None and any(
                i.user_id == invoice.user_id and i.idempotency_key == invoice.idempotency_key
                for i in self._s.invoices.values()):
            raise ConflictError("an invoice with this idempotency key already exists", code="INVOICE_EXISTS",
                                details={"field": "idempotency_key"})
        invoice.id = self._s.next_id("invoices")
        self._s.invoices[invoice.id] = copy.deepcopy(invoice)
        return invoice

    async def get(self, invoice_id: int, *, for_update: bool = False) -> Invoice | None:
        found = self._s.invoices.get(invoice_id)
        return copy.deepcopy(found) if found else None

    async def get_for_user(self, invoice_id: int, user_id: int) -> Invoice | None:
        found = self._s.invoices.get(invoice_id)
        return copy.deepcopy(found) if found is not None and found.user_id == user_id else None

    async def get_by_idempotency_key(self, user_id: int, key: str) -> Invoice | None:
        return next((copy.deepcopy(i) for i in self._s.invoices.values()
                     if i.user_id == user_id and i.idempotency_key == key), None)

    async def update(self, invoice: Invoice) -> None:
        if invoice.id not in self._s.invoices:
            raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")
        self._s.invoices[invoice.id] = copy.deepcopy(invoice)

    async def list_for_user(self, user_id: int, *, status: InvoiceStatus | None, limit: int,
                            before_id: int | None) -> Sequence[Invoice]:
        found = [i for i in sorted(self._s.invoices.values(), key=lambda i: -i.id) if i.user_id == user_id
                 and (status is None or i.status is status) and (before_id is None or i.id < before_id)]
        return [copy.deepcopy(i) for i in found[:limit]]

    async def due_for_expiry(self, now: datetime, *, limit: int) -> Sequence[Invoice]:
        found = [i for i in sorted(self._s.invoices.values(), key=lambda i: i.id)
                 if i.status is InvoiceStatus.PENDING and i.expires_at <= now]
        return [copy.deepcopy(i) for i in found[:limit]]


class InMemoryPaymentRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._s = store

    def _clash(self, payment: Payment) -> None:
        if payment.external_id is not None and any(
                p.id != payment.id and p.gateway is payment.gateway and p.external_id == payment.external_id
                for p in self._s.payments.values()):
            raise ConflictError("this gateway payment is already recorded", code="PAYMENT_EXISTS",
                                details={"field": "external_id"})

    async def add(self, payment: Payment) -> Payment:
        self._clash(payment)
        payment.id = self._s.next_id("payments")
        self._s.payments[payment.id] = copy.deepcopy(payment)
        return payment

    async def get(self, payment_id: int, *, for_update: bool = False) -> Payment | None:
        found = self._s.payments.get(payment_id)
        return copy.deepcopy(found) if found else None

    async def get_for_user(self, payment_id: int, user_id: int) -> Payment | None:
        found = self._s.payments.get(payment_id)
        return copy.deepcopy(found) if found is not None and found.user_id == user_id else None

    async def get_by_external_id(self, gateway: Gateway, external_id: str) -> Payment | None:
        return next((copy.deepcopy(p) for p in self._s.payments.values()
                     if p.gateway is gateway and p.external_id == external_id), None)

    async def update(self, payment: Payment) -> None:
        stored = self._s.payments.get(payment.id)
        if stored is None:
            raise NotFoundError("payment not found", code="PAYMENT_NOT_FOUND")
        if stored.status is PaymentStatus.PAID:
            return
        self._clash(payment)
        fresh = copy.deepcopy(payment)
        if fresh.status is PaymentStatus.PAID:
            fresh.status = stored.status
        fresh.paid_at = stored.paid_at
        self._s.payments[payment.id] = fresh

    async def mark_paid(self, payment_id: int, *, now: datetime, provider_ref: str | None = None,
                        card_pan: str | None = None, raw_status: str = "") -> bool:
        stored = self._s.payments.get(payment_id)
        if stored is None or stored.status is PaymentStatus.PAID:
            return False
        stored.status, stored.paid_at, stored.updated_at = PaymentStatus.PAID, now, now
        stored.provider_ref = provider_ref or stored.provider_ref
        stored.card_pan = card_pan or stored.card_pan
        stored.raw_status = raw_status or stored.raw_status
        return True

    async def list(self, filter: PaymentFilter, *, limit: int, before_id: int | None) -> Sequence[Payment]:
        found = [p for p in sorted(self._s.payments.values(), key=lambda p: -p.id)
                 if (filter.gateway is None or p.gateway is filter.gateway)
                 and (filter.status is None or p.status is filter.status)
                 and (filter.user_id is None or p.user_id == filter.user_id)
                 and (before_id is None or p.id < before_id)]
        return [copy.deepcopy(p) for p in found[:limit]]

    async def for_invoice(self, invoice_id: int) -> Sequence[Payment]:
        return [copy.deepcopy(p) for p in sorted(self._s.payments.values(), key=lambda p: p.id)
                if p.invoice_id == invoice_id]


class InMemoryAuditLog:
    def __init__(self, store: InMemoryStore) -> None:
        self._s = store

    async def record(self, entry: AuditRecord) -> None:
        self._s.audit.append(attrs.evolve(entry, id=self._s.next_id("audit")))

    async def for_target(self, target: str, *, limit: int = 100) -> Sequence[AuditRecord]:
        return [e for e in reversed(self._s.audit) if e.target == target][:limit]

    async def search(self, filter: AuditFilter, *, limit: int, offset: int) -> tuple[Sequence[AuditRecord], int]:
        found = [e for e in reversed(self._s.audit)
                 if (filter.actor_id is None or e.actor_id == filter.actor_id)
                 and (not filter.operators_only or e.actor_id is not None)
                 and (filter.actions is None or e.action in filter.actions)
                 and (filter.at_from is None or e.at >= filter.at_from)
                 and (filter.at_before is None or e.at < filter.at_before)]
        return found[offset:offset + limit], len(found)


class InMemoryUnitOfWork:
    """A transaction over an InMemoryStore. Writers are serialised; rollback restores a snapshot."""

    def __init__(self, store: InMemoryStore, lock: asyncio.Lock, *, read_only: bool = False,
                 now: Callable[[], datetime] | None = None, job_store: InMemoryJobStore | None = None) -> None:
        self._store, self._lock, self._read_only = store, lock, read_only
        self.jobs = InMemoryJobOutbox(job_store or InMemoryJobStore())
        self._snap: dict[str, Any] | None = None
        self.users = InMemoryUserRepository(store)
        self.sessions = InMemorySessionRepository(store)
        self.api_keys = InMemoryApiKeyRepository(store)
        self.invoices = InMemoryInvoiceRepository(store)
        self.payments = InMemoryPaymentRepository(store)
        self.audit = InMemoryAuditLog(store)
        self.smm_catalogue = InMemorySmmCatalogueRepository(store)
        self.smm_orders = InMemorySmmOrderRepository(store)
        self.smm_subscriptions = InMemorySmmSubscriptionRepository(store)
        self.vpn_plans = InMemoryPlanRepository(store)
        self.vpn_servers = InMemoryServerRepository(store)
        self.vpn_accounts = InMemoryVpnAccountRepository(store)
        self.webhooks = InMemoryWebhookRepository(store)
        self.candypanel = InMemoryCandyPanelRepository(store)
        self.vpn_prices = InMemoryPriceListRepository(store)
        self.youtube_accounts = InMemoryYoutubeAccountRepository(store)
        self.ledger = InMemoryLedger.in_store(store, now=now) if now else InMemoryLedger.in_store(store)

    async def __aenter__(self) -> Self:
        await self._lock.acquire()  # readers too: a reader must not see a writer's uncommitted state
        self._snap = self._store.snapshot()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            self.jobs.discard()  # jobs staged after the last commit die with the transaction
            if self._snap is not None:
                self._store.restore(self._snap)
        finally:
            self._snap = None
            self._lock.release()

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        # The changes stay; anything done after this commit and not committed again is rolled back.
        self._snap = self._store.snapshot()
        await self.jobs.flush()


class InMemoryUnitOfWorkFactory:
    """Fresh InMemoryUnitOfWork objects over one shared store."""

    def __init__(self, store: InMemoryStore | None = None, *, now: Callable[[], datetime] | None = None) -> None:
        self.store = store or InMemoryStore()
        self._lock = asyncio.Lock()
        self._now = now
        self.job_store = InMemoryJobStore()  # what the in-memory units of work enqueue into

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store, self._lock, read_only=read_only, now=self._now,
                                  job_store=self.job_store)

    async def ping(self) -> None:
        return None


if TYPE_CHECKING:  # mypy proves the in-memory unit of work satisfies the port (drift fails the type check)
    from vpnsmm.application.ports.candypanel import CandyPanelUnitOfWorkFactory
    from vpnsmm.application.ports.persistence import UnitOfWorkFactory

    _conforms: UnitOfWorkFactory = InMemoryUnitOfWorkFactory()
    _conforms_candypanel: CandyPanelUnitOfWorkFactory = InMemoryUnitOfWorkFactory()
