"""SMM use cases: the catalogue, placing orders, forwarding them to providers, polling, refunds.

Money rules (every balance change is a ledger transfer with an id derived from the order):

* placing an order charges the wallet in the same transaction that records it
  (``smm:<order_id>:charge``: wallet -> revenue). InsufficientFundsError writes nothing;
* the provider is called only after that commit (the order is stored in ``sending`` state first, an
  outbox), and the provider order id is recorded in a second transaction. A submit rejected for good is
  refunded (``smm:<order_id>:refund``: refunds -> wallet);
* a terminal provider status settles once per status reached (``smm:<id>:refund:partial`` /
  ``...:canceled`` / ``...:refunded``); the order row is locked while a report is applied and an
  already-applied status settles nothing, so polling twice never refunds twice;
* a prepaid Subscriptions order is charged per post at placement; each child order the provider reports is
  adopted once with its share and no charge of its own, and settles like any order; the parent's terminal
  status refunds only the posts that never came (docs/smm.md "Subscriptions").
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from attrs import evolve, field, frozen

from vpnsmm.application.billing import audit, system_account, wallet_and_revenue, wallet_of
from vpnsmm.application.events import record_order_event
from vpnsmm.application.jobs import JobContext, Schedule, TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from vpnsmm.application.ports.smm_provider import (
    MAX_IDS_PER_REQUEST,
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
    ProviderService,
    SmmProvider,
)
from vpnsmm.application.ports.system import Clock
from vpnsmm.domain.errors import (
    InvalidTransitionError,
    NotFoundError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.ledger import AccountPurpose, TransferRequest
from vpnsmm.domain.money import Currency, ExchangeRate, Money
from vpnsmm.domain.smm import (
    ExactAmount,
    Markup,
    OrderStatus,
    QuantityRule,
    ServiceType,
    billable_units,
    price_for,
    subscription_price,
)
from vpnsmm.domain.smm_orders import (
    Category,
    OrderFilter,
    OrderStatsRow,
    Provider,
    ProviderKind,
    Refill,
    Service,
    Settlement,
    SmmOrder,
    SubmitState,
    SubscriptionTerms,
    UserRate,
    check_api_url,
    check_link,
    check_name,
    discounted,
    order_charge_id,
)

MAX_BULK = 100
#: Retryable submit failures (provider balance short, outage) are retried this many times, then refunded.
MAX_SUBMIT_ATTEMPTS = 20


# ------------------------------------------------------------------------------------------ ports
class SecretCipher(Protocol):
    """Symmetric encryption of secrets at rest (provider API keys)."""

    def encrypt(self, plain: str) -> str: ...

    def decrypt(self, token: str) -> str:
        """Raises ValidationError when the token was not made with this key."""
        ...


class ProviderFactory(Protocol):
    """Builds the SmmProvider port for a provider row (decrypting its key)."""

    def for_provider(self, provider: Provider) -> SmmProvider: ...


# ------------------------------------------------------------------------------------------ errors
def service_not_found() -> NotFoundError:
    return NotFoundError("service not found", code="SERVICE_NOT_FOUND")


def order_not_found() -> NotFoundError:
    return NotFoundError("order not found", code="ORDER_NOT_FOUND")


def _quantity_error(message: str, **details: int) -> ValidationError:
    return ValidationError(message, field="quantity", code="INVALID_QUANTITY", details=details)


# ------------------------------------------------------------------------------------------ pricing
@frozen
class PricedService:
    """A catalogue service with the price a given user pays per 1000 (custom rate / discount applied)."""

    service: Service
    category: str
    rate: Money


def user_rate_for(service: Service, rates: Sequence[UserRate]) -> Money:
    """The per-1000 rate ``rates`` (one user's) give ``service``: a custom rate beats a discount;
    a service discount beats the all-services one."""
    own = next((r for r in rates if r.service_id == service.id), None)
    if own is not None and own.rate is not None and own.rate.currency is service.rate.currency:
        return own.rate
    general = next((r for r in rates if r.service_id is None), None)
    bp = own.discount_bp if own is not None and own.discount_bp else (general.discount_bp if general else 0)
    return discounted(service.rate, bp)


def order_price(service: Service, rate: Money, units: int) -> Money:
    """What ``units`` cost at ``rate`` per 1000; a package (flat) costs the rate itself."""
    if service.type.quantity_rule is QuantityRule.FLAT:
        return rate
    return price_for(rate, units)


# ------------------------------------------------------------------------------------------ catalogue
class SmmCatalogue:
    """Read the catalogue, priced for a user."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def services(self, *, user_id: int | None = None, category: str | None = None,
                       active: bool | None = True) -> list[PricedService]:
        async with self._uow(read_only=True) as uow:
            categories = {c.id: c.name for c in await uow.smm_catalogue.list_categories()}
            category_id = None
            if category:
                found = next((cid for cid, name in categories.items() if name.casefold() == category.casefold()),
                             None)
                if found is None:
                    return []
                category_id = found
            services = await uow.smm_catalogue.list_services(category_id=category_id, active=active)
            rates = await uow.smm_catalogue.user_rates(user_id) if user_id else []
        return [PricedService(s, categories.get(s.category_id, ""), user_rate_for(s, rates)) for s in services]

    async def service(self, service_id: int, *, user_id: int | None = None) -> PricedService:
        async with self._uow(read_only=True) as uow:
            service = await uow.smm_catalogue.get_service(service_id)
            if service is None:
                raise service_not_found()
            categories = {c.id: c.name for c in await uow.smm_catalogue.list_categories()}
            rates = await uow.smm_catalogue.user_rates(user_id) if user_id else []
        return PricedService(service, categories.get(service.category_id, ""), user_rate_for(service, rates))


# ------------------------------------------------------------------------------------------ placing
@frozen(kw_only=True)
class NewOrder:
    """An order as a customer states it (the Perfect Panel ``add`` parameters, ``service`` = our id)."""

    user_id: int
    service_id: int
    link: str | None = None
    quantity: int | None = None
    runs: int | None = None
    interval: int | None = None
    comments: Sequence[str] | str | None = None
    usernames: Sequence[str] | str | None = None
    hashtags: Sequence[str] | str | None = None
    keywords: Sequence[str] | str | None = None
    groups: Sequence[str] | str | None = None
    hashtag: str | None = None
    username: str | None = None
    media: str | None = None
    answer_number: int | None = None
    # Subscriptions (prepaid): ``username`` plus these; ``posts`` is required here (see SubscriptionTerms.check)
    min: int | None = None
    max: int | None = None
    posts: int | None = None
    old_posts: int | None = None
    delay: int | None = None
    expiry: date | None = None


_SUBSCRIPTION_FIELDS = ("min", "max", "posts", "old_posts", "delay", "expiry")
_PASSED = ("link", "quantity", "runs", "interval", "comments", "usernames", "hashtags", "keywords", "groups",
           "hashtag", "username", "media", "answer_number")


def _check_subscription(cmd: NewOrder, service: Service, today: date) -> SubscriptionTerms:
    """The prepaid terms of a Subscriptions order. Raises ValidationError (no link/quantity/other fields,
    then SubscriptionTerms.check)."""
    extra = sorted(name for name in _PASSED if name != "username" and getattr(cmd, name) not in (None, "", ()))
    if extra:
        raise ValidationError(f"Subscriptions orders do not take {', '.join(extra)}", field=extra[0])
    return SubscriptionTerms.check(username=cmd.username, min=cmd.min, max=cmd.max, delay=cmd.delay,
                                   posts=cmd.posts, old_posts=cmd.old_posts, expiry=cmd.expiry,
                                   service_min=service.min, service_max=service.max, today=today)


def _check_order(cmd: NewOrder, service: Service) -> tuple[AddOrder, int, int]:
    """The provider AddOrder, the stored quantity and the billable units of ``cmd`` for ``service``
    (any type but Subscriptions, see :func:`_check_subscription`)."""
    extra = sorted(name for name in _SUBSCRIPTION_FIELDS if getattr(cmd, name) is not None)
    if extra:
        raise ValidationError(f"{service.type.value} orders do not take {', '.join(extra)}", field=extra[0])
    values = {name: getattr(cmd, name) for name in _PASSED}
    order = AddOrder(service=service.provider_service_id, **values)
    missing = service.type.required_fields - order.present_fields()
    if "link" in missing:
        raise ValidationError("link is required", field="link", code="INVALID_LINK")
    if missing & {"quantity", "comments", "usernames"}:
        raise _quantity_error(f"{service.type.value} orders need {', '.join(sorted(missing))}")
    try:
        order.check_for(service.type, dripfeed_allowed=service.dripfeed)
    except ValidationError as exc:
        if exc.field == "quantity":
            raise _quantity_error(exc.message) from None
        raise
    if "link" in service.type.required_fields:
        order = evolve(order, link=check_link(order.link))
    rule = service.type.quantity_rule
    if rule is QuantityRule.FLAT:
        return order, 1, 1000
    count = {QuantityRule.GIVEN: order.quantity or 0, QuantityRule.COMMENT_LINES: len(order.comments or ()),
             QuantityRule.USERNAME_LINES: len(order.usernames or ())}[rule]
    if count < service.min:
        raise _quantity_error(f"Quantity less than minimal {service.min}", min=service.min)
    if count > service.max:
        raise _quantity_error(f"Quantity more than maximum {service.max}", max=service.max)
    try:
        units = billable_units(service.type, quantity=order.quantity, comments=order.comments or (),
                               usernames=order.usernames or (), runs=order.runs)
    except ValidationError as exc:
        raise _quantity_error(exc.message) from None
    return order, units, units


def _fields_of(order: AddOrder) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _PASSED:
        value = getattr(order, name)
        if value is None or value == "" or value == () or name == "link":
            continue
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _add_order_of(order: SmmOrder, service: Service) -> AddOrder:
    """The provider ``add`` of a stored order. A subscription goes as ``username/min/max/delay/posts``
    (+ ``old_posts``, ``expiry`` when set), with no link or quantity (smm.md §1.3)."""
    terms = order.subscription
    if terms is not None:
        return AddOrder(service=service.provider_service_id, username=terms.username, min=terms.min,
                        max=terms.max, delay=terms.delay, posts=terms.posts, old_posts=terms.old_posts or None,
                        expiry=terms.expiry)
    return AddOrder(service=service.provider_service_id, link=order.link or None, **order.fields)


def _subscription_order(cmd: NewOrder, service: Service, provider: Provider, rate: Money, now: datetime,
                        state: SubmitState) -> SmmOrder:
    """A prepaid subscription parent: each of its posts + old_posts is charged ``price_for(rate, max)`` (the
    most one post can get), so the charge is that share times the posts; ``quantity`` = posts x max and
    ``remains`` = the posts still to come. Raises ValidationError (see :func:`_check_subscription`)."""
    terms = _check_subscription(cmd, service, now.date())
    per_post = price_for(rate, billable_units(service.type, quantity=terms.max))
    return SmmOrder(user_id=cmd.user_id, service_id=service.id, provider_id=provider.id,
                    charge=subscription_price(per_post, terms.total_posts),
                    quantity=terms.total_posts * terms.max, remains=terms.total_posts, created_at=now,
                    updated_at=now, fields=terms.fields(), submit_state=state)


@frozen
class BulkItem:
    """One line of a bulk order: the order, or why it failed (``code``/``message``)."""

    index: int
    order: SmmOrder | None = None
    code: str | None = None
    message: str | None = None


@frozen
class _Outcome:
    """What one forward attempt gave: a provider order id, or why not (exactly one field is set)."""

    provider_order_id: str | None = None
    retry: str | None = None
    permanent: str | None = None
    unknown: str | None = None


class SubmitOrders:
    """Forward orders to their providers, outside any transaction, and record what happened.

    ``submit(order_id)`` sends an order in ``sending`` state (PlaceOrder leaves it so); ``forward(ids)`` claims
    ``queued`` orders (deferred ones, retryable failures) in one statement and sends them as a batch;
    ``__call__`` (the periodic sweep) forwards every ``queued`` order. Outcomes: provider order id -> ``sent``;
    rejected for good, or retryable failures past MAX_SUBMIT_ATTEMPTS -> refunded, ``failed``;
    retryable (provider balance short, outage) -> back to ``queued``; outcome unknown -> ``unknown``
    (never retried automatically: Perfect Panel has no idempotency key; an admin resumes or cancels).
    Claims make each order go out once however many sweepers and forwarders run.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, providers: ProviderFactory, *,
                 concurrency: int = 16) -> None:
        self._uow, self._clock, self._providers = uow, clock, providers
        self._concurrency = max(1, concurrency)

    async def __call__(self, *, limit: int = 100) -> int:
        async with self._uow(read_only=True) as uow:
            queued = await uow.smm_orders.to_submit(limit=limit)
        return await self.forward([order.id for order in queued])

    async def forward(self, order_ids: Sequence[int]) -> int:
        """Claim those of ``order_ids`` still ``queued`` and send them (up to ``concurrency`` provider calls at
        once); how many the providers accepted. Idempotent: an order already claimed elsewhere is skipped."""
        if not order_ids:
            return 0
        async with self._uow() as uow:
            claimed = await uow.smm_orders.claim_for_submit(order_ids, self._clock.now())
            services: dict[int, Service | None] = {}
            providers: dict[int, Provider | None] = {}
            for order in claimed:
                if order.service_id not in services:
                    services[order.service_id] = await uow.smm_catalogue.get_service(order.service_id)
                if order.provider_id not in providers:
                    providers[order.provider_id] = await uow.smm_catalogue.get_provider(order.provider_id)
            await uow.commit()
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def attempt(order: SmmOrder) -> _Outcome:
            service, provider = services.get(order.service_id), providers.get(order.provider_id)
            if service is None or provider is None:
                return _Outcome(permanent="the service or its provider no longer exists")
            async with gate:
                return await self._send(order, service, provider)

        outcomes = await asyncio.gather(*(attempt(order) for order in claimed))
        accepted = [(order.id, outcome.provider_order_id) for order, outcome in zip(claimed, outcomes, strict=True)
                    if outcome.provider_order_id is not None]
        if accepted:
            async with self._uow() as uow:
                await uow.smm_orders.record_sent_many(accepted, self._clock.now())
                await uow.commit()
        for order, outcome in zip(claimed, outcomes, strict=True):
            if outcome.provider_order_id is None:
                await self._record(order.id, None, retry=outcome.retry, permanent=outcome.permanent,
                                   unknown=outcome.unknown)
        return len(accepted)

    async def submit(self, order_id: int, *, placed: tuple[SmmOrder, Service, Provider] | None = None) -> SmmOrder:
        """``placed``: the order, service and provider PlaceOrder just committed (saves re-reading them; the
        outcome is still recorded only if the order is in ``sending`` state under its row lock)."""
        if placed is not None and placed[0].id == order_id:
            order, service, provider = placed
        else:
            async with self._uow(read_only=True) as uow:
                found = await uow.smm_orders.get(order_id)
                if found is None:
                    raise order_not_found()
                if found.submit_state is not SubmitState.SENDING:
                    return found
                order = found
                maybe_service = await uow.smm_catalogue.get_service(order.service_id)
                maybe_provider = await uow.smm_catalogue.get_provider(order.provider_id)
            assert maybe_service is not None and maybe_provider is not None
            service, provider = maybe_service, maybe_provider
        outcome = await self._send(order, service, provider)
        return await self._record(order_id, outcome.provider_order_id, retry=outcome.retry,
                                  permanent=outcome.permanent, unknown=outcome.unknown)

    async def _send(self, order: SmmOrder, service: Service, provider: Provider) -> _Outcome:
        """One provider call, its failure classified (never raises for a provider's answer)."""
        try:
            return _Outcome(provider_order_id=await self._providers.for_provider(provider).add(
                _add_order_of(order, service)))
        except ProviderOutcomeUnknownError as exc:
            return _Outcome(unknown=exc.message)
        except ProviderRejectedError as exc:
            if exc.kind.retryable:
                return _Outcome(retry=exc.provider_message)
            return _Outcome(permanent=exc.provider_message)
        except UpstreamUnavailableError as exc:
            return _Outcome(retry=exc.message)
        except VpnsmmError as exc:
            return _Outcome(permanent=f"{exc.code}: {exc.message}")

    async def _record(self, order_id: int, provider_order_id: str | None, *, retry: str | None,
                      permanent: str | None, unknown: str | None) -> SmmOrder:
        now = self._clock.now()
        if provider_order_id is not None:  # the common case: one conditional write, no row lock first
            async with self._uow() as uow:
                sent = await uow.smm_orders.record_sent(order_id, provider_order_id, now)
                if sent is None:  # no longer ``sending`` (an admin acted meanwhile): leave it as it is
                    current = await uow.smm_orders.get(order_id)
                    assert current is not None
                    return current
                await uow.commit()
            return sent
        async with self._uow() as uow:
            order = await uow.smm_orders.get(order_id, for_update=True)
            assert order is not None
            if order.submit_state is not SubmitState.SENDING:
                return order
            if unknown is not None:
                order.submit_state, order.error, order.updated_at = SubmitState.UNKNOWN, unknown[:500], now
            else:
                order.submit_attempts += 1
                if permanent is None and order.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
                    permanent = f"gave up after {order.submit_attempts} attempts: {retry}"
                if permanent is not None:
                    order.submit_state = SubmitState.FAILED
                    await apply_settlement(uow, order, order.void(now, reason=permanent))
                else:
                    order.submit_state, order.error, order.updated_at = SubmitState.QUEUED, (retry or "")[:500], now
            await uow.smm_orders.update(order)
            await uow.commit()
        return order


async def apply_settlement(uow: UnitOfWork, order: SmmOrder, settlement: Settlement) -> None:
    """Give back ``settlement.refund`` to the order's owner (refunds -> wallet), idempotent by transfer id.
    Records the order event of the status change (if any) in the same transaction."""
    await record_order_event(uow, order, settlement.before, order.updated_at or order.created_at)
    if settlement.transfer_id is None or not settlement.refund.is_positive:
        return
    currency = settlement.refund.currency
    wallet = await wallet_of(uow, order.user_id, currency)
    refunds = await system_account(uow, currency, AccountPurpose.REFUNDS)
    await uow.ledger.execute(TransferRequest(
        id=settlement.transfer_id, code="smm_refund", debit_account_id=refunds.id, credit_account_id=wallet.id,
        amount=settlement.refund.amount, reference=f"smm_order:{order.id}",
        memo=f"{settlement.before.value} -> {settlement.after.value}"))


class OrderForwarder:
    """Forwards deferred orders (``PlaceOrder(..., defer=True)``) from a background task, in batches.

    A request that places an order hands its id over (:meth:`push`, never blocks) and answers at once; the
    task waits ``linger`` seconds for more to gather, claims up to ``batch`` of them and forwards them through
    :meth:`SubmitOrders.forward` -- one claim statement and one "sent" statement for the lot, the provider
    calls concurrent -- which is how Perfect Panel panels work (an order is accepted, then forwarded) and
    keeps a slow provider out of the caller's response time.

    Nothing is lost if the process stops: the orders are ``queued`` in the database and the periodic
    ``smm.submit`` sweep (``vpnsmm worker``, or the in-process runner) forwards what a forwarder did not;
    claims make sure each order goes out once. Not thread-safe: one event loop.
    """

    def __init__(self, submitter: SubmitOrders, *, batch: int = 100, linger: float = 0.05,
                 queue_limit: int = 10_000, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._submitter, self._batch, self._on_error = submitter, max(1, batch), on_error
        self._linger = max(0.0, linger)
        self._ids: asyncio.Queue[int] = asyncio.Queue(maxsize=queue_limit)
        self._running = False
        self._busy = 0

    @property
    def running(self) -> bool:
        return self._running

    def push(self, order_id: int) -> bool:
        """Queue ``order_id`` for forwarding. False when no forwarder runs or its queue is full (the order
        then waits for the periodic sweep)."""
        if not self._running:
            return False
        try:
            self._ids.put_nowait(order_id)
        except asyncio.QueueFull:
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Forward batches until ``stop`` is set, then forward what is still queued and return."""
        self._running = True
        stopping = asyncio.create_task(stop.wait())
        try:
            while not (stop.is_set() and self._ids.empty()):
                if self._ids.empty():
                    getting = asyncio.create_task(self._ids.get())
                    await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if not getting.done():
                        getting.cancel()
                        continue
                    ids = [getting.result()]
                else:
                    ids = [self._ids.get_nowait()]
                if self._linger and self._ids.qsize() < self._batch - 1 and not stop.is_set():
                    # Let a batch gather: under load this turns one claim and one "sent" statement per order
                    # into one per batch; an order waits at most ``linger`` seconds more for its forward.
                    await asyncio.sleep(self._linger)
                while len(ids) < self._batch and not self._ids.empty():
                    ids.append(self._ids.get_nowait())
                self._busy = len(ids)
                try:
                    await self._submitter.forward(ids)
                except Exception as exc:  # the sweep retries what a failed batch left queued
                    if self._on_error is not None:
                        self._on_error(exc)
                    await asyncio.sleep(0.5)
                finally:
                    self._busy = 0
        finally:
            self._running = False
            stopping.cancel()

    async def idle(self, *, within: float = 10.0) -> bool:
        """Wait until nothing is queued or being forwarded (tests, graceful shutdown); False after ``within``
        seconds if still busy."""
        deadline = asyncio.get_running_loop().time() + within
        while not self._ids.empty() or self._busy:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True


#: A hook PlaceOrder runs inside its transaction (see ``PlaceOrder.__call__``).
OnRecord = Callable[[UnitOfWork, SmmOrder], Awaitable[None]]


class PlaceOrder:
    """Validate, price from the catalogue, charge the wallet and record the order atomically, then submit.

    Raises NotFoundError (SERVICE_NOT_FOUND), ValidationError (INVALID_QUANTITY with ``min``/``max``
    details, INVALID_LINK, field errors), InsufficientFundsError (INSUFFICIENT_BALANCE; nothing written).
    The returned order is as recorded after the submit (``sent``, ``queued``, ``failed`` ...).
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, submitter: SubmitOrders,
                 forwarder: OrderForwarder | None = None) -> None:
        self._uow, self._clock, self._submitter, self._forwarder = uow, clock, submitter, forwarder

    async def __call__(self, cmd: NewOrder, *, submit: bool = True, defer: bool = False,
                       on_record: OnRecord | None = None) -> SmmOrder:
        """``on_record(uow, order)`` runs inside the charging transaction right after the order row exists and
        before the wallet is charged; if it raises, nothing is written (recurring orders use it to record
        "run n became this order" atomically with the charge, see application/smm_subscriptions.py).

        ``defer``: when an :class:`OrderForwarder` runs, record the order ``queued`` and return right after the
        charge commits; the forwarder sends it moments later (the periodic sweep if it cannot). Without a
        running forwarder the order is submitted inline as usual.
        """
        now = self._clock.now()
        deferred = submit and defer and self._forwarder is not None and self._forwarder.running
        async with self._uow() as uow:
            found = await uow.smm_catalogue.service_for_user(cmd.service_id, cmd.user_id)
            if found is None or not found[0].active:
                raise service_not_found()
            service, rates = found
            provider = await uow.smm_catalogue.get_provider(service.provider_id)
            if provider is None or not provider.active:
                raise service_not_found()
            rate = user_rate_for(service, rates)
            state = SubmitState.QUEUED if deferred else SubmitState.SENDING
            if service.type is ServiceType.SUBSCRIPTIONS:
                order = _subscription_order(cmd, service, provider, rate, now, state)
                quantity = order.quantity
            else:
                add, quantity, units = _check_order(cmd, service)
                order = SmmOrder(user_id=cmd.user_id, service_id=service.id, provider_id=provider.id,
                                 charge=order_price(service, rate, units), quantity=quantity, created_at=now,
                                 updated_at=now, link=add.link or "", fields=_fields_of(add), runs=add.runs,
                                 interval=add.interval, submit_state=state)
            charge = order.charge
            await uow.smm_orders.add(order)
            await record_order_event(uow, order, None, now)
            if on_record is not None:
                await on_record(uow, order)
            if charge.is_positive:
                wallet, revenue = await wallet_and_revenue(uow, cmd.user_id, charge.currency)
                await uow.ledger.execute(TransferRequest(
                    id=order_charge_id(order.id), code="smm_charge", debit_account_id=wallet.id,
                    credit_account_id=revenue.id, amount=charge.amount, reference=f"smm_order:{order.id}",
                    memo=f"{service.name} x{quantity}"[:200]))
            await uow.commit()
        if not submit:
            return order
        if deferred:
            assert self._forwarder is not None
            self._forwarder.push(order.id)  # if refused (queue full), the sweep forwards it
            return order
        return await self._submitter.submit(order.id, placed=(order, service, provider))

    async def bulk(self, user_id: int, items: Sequence[NewOrder]) -> list[BulkItem]:
        """Place each item in turn (each its own transaction); report per item. At most MAX_BULK items."""
        if not items or len(items) > MAX_BULK:
            raise ValidationError(f"send 1-{MAX_BULK} orders", field="orders")
        out = []
        for index, item in enumerate(items):
            try:
                out.append(BulkItem(index, order=await self(evolve(item, user_id=user_id))))
            except VpnsmmError as exc:
                out.append(BulkItem(index, code=exc.code, message=exc.message))
        return out


# ------------------------------------------------------------------------------------------ polling
@frozen
class SyncReport:
    polled: int = 0
    changed: int = 0
    settled: int = 0
    errors: int = 0
    refills_polled: int = 0


class SyncOrders:
    """Poll providers for order (and refill) statuses and settle terminal ones, grouped by provider,
    at most MAX_IDS_PER_REQUEST ids per provider call. ``order_ids`` polls exactly those orders (even
    terminal ones: a repeated terminal status changes nothing and refunds nothing)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, providers: ProviderFactory) -> None:
        self._uow, self._clock, self._providers = uow, clock, providers

    async def __call__(self, *, order_ids: Sequence[int] | None = None, limit: int = 1000,
                       refills: bool = True) -> SyncReport:
        async with self._uow(read_only=True) as uow:
            if order_ids is None:
                orders = list(await uow.smm_orders.to_poll(limit=limit))
            else:
                found = [await uow.smm_orders.get(i) for i in order_ids]
                orders = [o for o in found if o is not None and o.provider_order_id is not None]
            providers = {p.id: p for p in await uow.smm_catalogue.list_providers()}
            open_refills = list(await uow.smm_orders.refills_to_poll(limit=limit)) if refills else []
        by_provider: dict[int, list[SmmOrder]] = defaultdict(list)
        for order in orders:
            by_provider[order.provider_id].append(order)
        polled = changed = settled = errors = 0
        for provider_id, group in by_provider.items():
            port = self._providers.for_provider(providers[provider_id])
            for start in range(0, len(group), MAX_IDS_PER_REQUEST):
                chunk = group[start:start + MAX_IDS_PER_REQUEST]
                try:
                    answers = await port.status([o.provider_order_id or "" for o in chunk])
                except (UpstreamUnavailableError, ProviderRejectedError):
                    errors += len(chunk)
                    continue
                polled += len(chunk)
                c, s, e = await self._apply(chunk, answers)
                changed, settled, errors = changed + c, settled + s, errors + e
        refills_polled = await self._poll_refills(open_refills, providers) if open_refills else 0
        return SyncReport(polled=polled, changed=changed, settled=settled, errors=errors,
                          refills_polled=refills_polled)

    async def _apply(self, chunk: Sequence[SmmOrder],
                     answers: Mapping[str, ProviderOrderStatus | ProviderError]) -> tuple[int, int, int]:
        changed = settled = errors = 0
        now = self._clock.now()
        async with self._uow() as uow:
            for stale in chunk:
                answer = answers.get(stale.provider_order_id or "")
                if not isinstance(answer, ProviderOrderStatus):
                    errors += 1
                    continue
                order = await uow.smm_orders.get(stale.id, for_update=True)
                assert order is not None
                if order.subscription is not None:
                    settlement = await _apply_subscription_report(uow, order, answer, now)
                else:
                    settlement = order.apply_report(answer.status, start_count=answer.start_count,
                                                    remains=answer.remains, now=now)
                await apply_settlement(uow, order, settlement)
                if settlement.transfer_id is not None:
                    settled += 1
                if settlement.changed:
                    changed += 1
                order.updated_at = now  # polled: goes to the back of the polling queue
                await uow.smm_orders.update(order)
            await uow.commit()
        return changed, settled, errors

    async def _poll_refills(self, refills: Sequence[Refill], providers: Mapping[int, Provider]) -> int:
        async with self._uow(read_only=True) as uow:
            owners = {r.id: await uow.smm_orders.get(r.order_id) for r in refills}
        by_provider: dict[int, list[Refill]] = defaultdict(list)
        for refill in refills:
            owner = owners[refill.id]
            if owner is not None:
                by_provider[owner.provider_id].append(refill)
        polled = 0
        now = self._clock.now()
        for provider_id, group in by_provider.items():
            port = self._providers.for_provider(providers[provider_id])
            try:
                answers = await port.refill_status([r.provider_refill_id for r in group])
            except (UpstreamUnavailableError, ProviderRejectedError):
                continue
            async with self._uow() as uow:
                for refill in group:
                    answer = answers.get(refill.provider_refill_id)
                    if isinstance(answer, ProviderRefill) and answer.status is not None \
                            and answer.status is not refill.status:
                        refill.status, refill.updated_at = answer.status, now
                        await uow.smm_orders.update_refill(refill)
                    polled += 1
                await uow.commit()
        return polled


async def _apply_subscription_report(uow: UnitOfWork, parent: SmmOrder, answer: ProviderOrderStatus,
                                     now: datetime) -> Settlement:
    """A subscription parent's report, its row locked by the caller: first every child id not seen before
    becomes a child order (no wallet charge: the parent prepaid its share; at most the posts paid for, see
    ``SmmOrder.adopt_children``), then the status is applied, refunding the posts that never came if it is
    terminal. Idempotent: known child ids are skipped (the lock serialises pollers; the unique
    (parent_order_id, provider_order_id) index backs it), an applied status refunds nothing again."""
    if answer.child_ids and not parent.status.is_terminal:
        known = {child.provider_order_id for child in await uow.smm_orders.children_of(parent.id)}
        fresh = [child_id for child_id in answer.child_ids if child_id not in known]
        if fresh:
            adoption = parent.adopt_children(fresh, now)
            for child in adoption.children:
                await uow.smm_orders.add(child)
                await record_order_event(uow, child, None, now)
    return parent.apply_subscription_report(answer.status, now=now)


# ------------------------------------------------------------------------------------------ customer actions
@frozen
class CancelResult:
    order_id: int
    accepted: bool
    code: str | None = None
    message: str | None = None


class SmmOrders:
    """The caller's orders: read, list, refill, cancel. Another user's order is ORDER_NOT_FOUND."""

    #: How long a cancel waits for an order that is being forwarded right now (``sending``) to come back from
    #: its provider before answering "cannot be canceled": with deferred forwarding a customer may cancel an
    #: order while the forwarder holds it, and would otherwise be refused for a few milliseconds' bad luck.
    sending_wait = 3.0

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, providers: ProviderFactory) -> None:
        self._uow, self._clock, self._providers = uow, clock, providers

    async def _settled(self, user_id: int, order_ids: Sequence[int]) -> None:
        """Return once none of the caller's ``order_ids`` is ``sending`` (or ``sending_wait`` has passed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.sending_wait
        while True:
            async with self._uow(read_only=True) as uow:
                found = await uow.smm_orders.many_for_user(user_id, order_ids)
            if not any(o.submit_state is SubmitState.SENDING for o in found) or loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def get(self, user_id: int, order_id: int) -> SmmOrder:
        async with self._uow(read_only=True) as uow:
            order = await uow.smm_orders.get_for_user(order_id, user_id)
        if order is None:
            raise order_not_found()
        return order

    async def many(self, user_id: int, order_ids: Sequence[int]) -> dict[int, SmmOrder]:
        """The caller's orders among ``order_ids`` (at most MAX_IDS_PER_REQUEST), by id; others are absent."""
        if len(order_ids) > MAX_IDS_PER_REQUEST:
            raise ValidationError(f"at most {MAX_IDS_PER_REQUEST} ids", field="orders")
        async with self._uow(read_only=True) as uow:
            return {o.id: o for o in await uow.smm_orders.many_for_user(user_id, order_ids)}

    async def child_ids(self, user_id: int, parent_ids: Sequence[int]) -> dict[int, list[int]]:
        """Our ids of the child orders (one per post) of the caller's subscription orders among
        ``parent_ids``, ascending; a parent without children (or not the caller's) is absent. Read-only."""
        if not parent_ids:
            return {}
        async with self._uow(read_only=True) as uow:
            found = await uow.smm_orders.child_ids_of(user_id, parent_ids)
        return {parent: list(children) for parent, children in found.items()}

    async def search(self, filter: OrderFilter, *, limit: int = 50, offset: int = 0, sort: str = "id",
                     descending: bool = True) -> tuple[list[SmmOrder], int]:
        """A page of matching orders sorted by ``sort`` (ORDER_SORT_KEYS) and the total. ValidationError for
        another sort key."""
        async with self._uow(read_only=True) as uow:
            items = await uow.smm_orders.list(filter, limit=max(1, min(limit, 200)), offset=max(0, offset),
                                              sort=sort, descending=descending)
            total = await uow.smm_orders.count(filter)
        return list(items), total

    async def refill(self, user_id: int, order_id: int) -> Refill:
        """Ask the provider to refill a Completed/Partial order of a refill-enabled service.

        Raises ORDER_NOT_FOUND, InvalidTransitionError (REFILL_NOT_ALLOWED), or the provider's rejection.
        """
        async with self._uow(read_only=True) as uow:
            order = await uow.smm_orders.get_for_user(order_id, user_id)
            if order is None:
                raise order_not_found()
            service = await uow.smm_catalogue.get_service(order.service_id)
            provider = await uow.smm_catalogue.get_provider(order.provider_id)
        assert service is not None and provider is not None
        if not service.refill or not order.can_refill:
            raise InvalidTransitionError("Order not eligible for refill.", code="REFILL_NOT_ALLOWED")
        assert order.provider_order_id is not None
        refill_id = await self._providers.for_provider(provider).refill(order.provider_order_id)
        now = self._clock.now()
        async with self._uow() as uow:
            refill = await uow.smm_orders.add_refill(Refill(order_id=order.id, user_id=user_id,
                                                            provider_refill_id=refill_id, created_at=now))
            await uow.commit()
        return refill

    async def refill_status(self, user_id: int, refill_id: int) -> Refill:
        async with self._uow(read_only=True) as uow:
            refill = await uow.smm_orders.get_refill_for_user(refill_id, user_id)
        if refill is None:
            raise NotFoundError("Refill not found", code="REFILL_NOT_FOUND")
        return refill

    async def cancel(self, user_id: int, order_ids: Sequence[int]) -> list[CancelResult]:
        """Request cancellation. An order not yet at the provider is canceled and refunded at once; one at
        the provider is asked to cancel (the refund follows when a poll reports Canceled)."""
        order_ids = list(dict.fromkeys(order_ids))
        if not order_ids or len(order_ids) > MAX_IDS_PER_REQUEST:
            raise ValidationError(f"send 1-{MAX_IDS_PER_REQUEST} ids", field="orders")
        await self._settled(user_id, order_ids)
        now = self._clock.now()
        results: dict[int, CancelResult] = {}
        upstream: dict[int, list[SmmOrder]] = defaultdict(list)
        async with self._uow() as uow:
            for order_id in order_ids:
                order = await uow.smm_orders.get_for_user(order_id, user_id, for_update=True)
                if order is None:
                    results[order_id] = CancelResult(order_id, False, "ORDER_NOT_FOUND", "Incorrect order ID")
                    continue
                service = await uow.smm_catalogue.get_service(order.service_id)
                if service is None or not service.cancel or order.status.is_terminal:
                    results[order_id] = CancelResult(order_id, False, "CANCEL_NOT_ALLOWED",
                                                     "Order cannot be canceled")
                elif order.submit_state in (SubmitState.QUEUED, SubmitState.HELD):
                    order.submit_state = SubmitState.LOCAL
                    await apply_settlement(uow, order, order.void(now, reason="canceled by the customer"))
                    await uow.smm_orders.update(order)
                    results[order_id] = CancelResult(order_id, True)
                elif order.submit_state is SubmitState.SENT:
                    upstream[order.provider_id].append(order)
                else:
                    results[order_id] = CancelResult(order_id, False, "CANCEL_NOT_ALLOWED",
                                                     "Order cannot be canceled")
            providers = {p.id: p for p in await uow.smm_catalogue.list_providers()}
            await uow.commit()
        for provider_id, group in upstream.items():
            try:
                answers = await self._providers.for_provider(providers[provider_id]).cancel(
                    [o.provider_order_id or "" for o in group])
            except (UpstreamUnavailableError, ProviderRejectedError) as exc:
                for o in group:
                    results[o.id] = CancelResult(o.id, False, exc.code, exc.message)
                continue
            accepted = [o for o in group if isinstance(answers.get(o.provider_order_id or ""), CancelAccepted)]
            for o in group:
                answer = answers.get(o.provider_order_id or "")
                results[o.id] = CancelResult(o.id, True) if isinstance(answer, CancelAccepted) else CancelResult(
                    o.id, False, "CANCEL_NOT_ALLOWED",
                    answer.message if isinstance(answer, ProviderError) else "Order cannot be canceled")
            if accepted:
                async with self._uow() as uow:
                    for o in accepted:
                        fresh = await uow.smm_orders.get(o.id, for_update=True)
                        if fresh is not None and not fresh.status.is_terminal:
                            fresh.cancel_requested, fresh.updated_at = True, now
                            await uow.smm_orders.update(fresh)
                    await uow.commit()
        return [results[i] for i in order_ids]


# ------------------------------------------------------------------------------------------ admin: orders
@frozen
class AdminActionResult:
    """One order of a bulk admin action: the order as it is now, or why the action was refused."""

    order_id: int
    order: SmmOrder | None = None
    code: str | None = None
    message: str | None = None


#: Admin order actions (``AdminOrders.bulk`` names); the seed smm-spring document's ``start`` = ``resume``.
ADMIN_ACTIONS = ("stop", "resume", "refill", "cancel", "set_start_count", "complete")


class AdminOrders:
    """Operator actions on any order, each written to the audit log (target ``smm_order:<id>``).

    ``stop`` holds an order that has not reached its provider yet (status Paused, submit state ``held``: no
    forwarder or sweep sends it); Perfect Panel API v2 has no pause, so an order already at the provider
    cannot be stopped (ORDER_AT_PROVIDER: cancel it instead). ``resume`` sends a held, queued or unknown order.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, submitter: SubmitOrders,
                 orders: SmmOrders | None = None) -> None:
        self._uow, self._clock, self._submitter, self._orders = uow, clock, submitter, orders

    async def get(self, order_id: int) -> SmmOrder:
        async with self._uow(read_only=True) as uow:
            order = await uow.smm_orders.get(order_id)
        if order is None:
            raise order_not_found()
        return order

    async def _act(self, admin_id: int | None, order_id: int, action: str, **details: Any) -> SmmOrder:
        now = self._clock.now()
        async with self._uow() as uow:
            order = await uow.smm_orders.get(order_id, for_update=True)
            if order is None:
                raise order_not_found()
            before = order.status.value
            if action == "complete":
                order.complete(now)
                await record_order_event(uow, order, OrderStatus(before), now)
            elif action == "cancel":
                settlement = order.void(now, reason=str(details.get("reason") or "canceled by an operator"))
                if order.submit_state in (SubmitState.QUEUED, SubmitState.SENDING, SubmitState.UNKNOWN,
                                          SubmitState.HELD):
                    order.submit_state = SubmitState.LOCAL
                await apply_settlement(uow, order, settlement)
                details["refund"] = settlement.refund.format()
            elif action == "set_start_count":
                count = details["start_count"]
                if type(count) is not int or count < 0:
                    raise ValidationError("start_count must be a non-negative integer", field="start_count")
                order.start_count, order.updated_at = count, now
            elif action == "stop":
                if order.status.is_terminal or order.submit_state in (SubmitState.LOCAL, SubmitState.FAILED):
                    raise InvalidTransitionError("the order is over", code="ORDER_NOT_STOPPABLE")
                if order.submit_state is SubmitState.HELD:
                    raise InvalidTransitionError("the order is already stopped", code="ORDER_NOT_STOPPABLE")
                if order.submit_state in (SubmitState.SENT, SubmitState.SENDING):
                    raise InvalidTransitionError(
                        "the order is already with its provider, and Perfect Panel providers cannot pause an "
                        "order: cancel it instead", code="ORDER_AT_PROVIDER")
                order.submit_state, order.status, order.updated_at = SubmitState.HELD, OrderStatus.PAUSED, now
                await record_order_event(uow, order, OrderStatus(before), now)
            elif action == "resume":
                if order.submit_state not in (SubmitState.UNKNOWN, SubmitState.QUEUED, SubmitState.SENDING,
                                              SubmitState.HELD) or order.status.is_terminal:
                    raise InvalidTransitionError("only an unsent order can be resumed", code="ORDER_NOT_RESUMABLE")
                if order.submit_state is SubmitState.HELD:
                    order.status = OrderStatus.PENDING
                order.submit_state, order.error, order.updated_at = SubmitState.SENDING, "", now
            await uow.smm_orders.update(order)
            await audit(uow, actor_id=admin_id, action=f"smm_order.{action}", target=f"smm_order:{order.id}",
                        now=now, status_before=before, status_after=order.status.value, **details)
            await uow.commit()
        if action == "resume":
            return await self._submitter.submit(order_id)
        return order

    async def complete(self, admin_id: int | None, order_id: int) -> SmmOrder:
        return await self._act(admin_id, order_id, "complete")

    async def cancel_and_refund(self, admin_id: int | None, order_id: int, reason: str = "") -> SmmOrder:
        return await self._act(admin_id, order_id, "cancel", reason=reason)

    async def set_start_count(self, admin_id: int | None, order_id: int, start_count: int) -> SmmOrder:
        return await self._act(admin_id, order_id, "set_start_count", start_count=start_count)

    async def resume(self, admin_id: int | None, order_id: int) -> SmmOrder:
        """Send an order that was stopped, or whose submit outcome was unknown (the operator checked the
        provider). Raises ORDER_NOT_RESUMABLE for an order at the provider or over."""
        return await self._act(admin_id, order_id, "resume")

    async def stop(self, admin_id: int | None, order_id: int, reason: str = "") -> SmmOrder:
        """Hold an order that has not reached its provider (see the class docstring). Raises ORDER_AT_PROVIDER,
        ORDER_NOT_STOPPABLE (over, or already stopped), ORDER_NOT_FOUND."""
        return await self._act(admin_id, order_id, "stop", reason=reason[:200])

    async def refill(self, admin_id: int | None, order_id: int) -> Refill:
        """Ask the provider to refill any customer's order (same rules as the customer's refill), audited."""
        if self._orders is None:  # pragma: no cover - wiring error
            raise RuntimeError("AdminOrders was built without SmmOrders")
        order = await self.get(order_id)
        refill = await self._orders.refill(order.user_id, order_id)
        async with self._uow() as uow:
            await audit(uow, actor_id=admin_id, action="smm_order.refill", target=f"smm_order:{order_id}",
                        now=self._clock.now(), refill_id=refill.id, provider_refill_id=refill.provider_refill_id)
            await uow.commit()
        return refill

    async def bulk(self, admin_id: int | None, action: str, order_ids: Sequence[int], *, reason: str = "",
                   start_count: int | None = None) -> list[AdminActionResult]:
        """``action`` (one of ADMIN_ACTIONS; ``start`` = ``resume``) on each of up to MAX_BULK orders, each on
        its own (one refused does not stop the others) and audited like the single action. A refill's result
        carries the order. Raises ValidationError for an unknown action, no ids or too many."""
        name = action.strip().lower()
        name = "resume" if name == "start" else ("set_start_count" if name == "update_start_count" else name)
        if name not in ADMIN_ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(ADMIN_ACTIONS)}", field="action")
        ids = list(dict.fromkeys(order_ids))
        if not ids or len(ids) > MAX_BULK:
            raise ValidationError(f"send 1-{MAX_BULK} order ids", field="order_ids")
        if name == "set_start_count" and start_count is None:
            raise ValidationError("start_count is required for set_start_count", field="start_count")
        out = []
        for order_id in ids:
            try:
                if name == "refill":
                    await self.refill(admin_id, order_id)
                    order = await self.get(order_id)
                elif name == "set_start_count":
                    assert start_count is not None
                    order = await self.set_start_count(admin_id, order_id, start_count)
                elif name == "cancel":
                    order = await self.cancel_and_refund(admin_id, order_id, reason)
                elif name == "stop":
                    order = await self.stop(admin_id, order_id, reason)
                else:  # complete, resume
                    order = await self._act(admin_id, order_id, name)
                out.append(AdminActionResult(order_id, order=order))
            except VpnsmmError as exc:
                out.append(AdminActionResult(order_id, code=exc.code, message=exc.message))
        return out


# ------------------------------------------------------------------------------------------ admin: providers
@frozen(kw_only=True)
class NewProvider:
    name: str
    api_url: str
    api_key: str
    kind: ProviderKind = ProviderKind.PERFECT_PANEL
    currency: Currency = Currency.USD
    exchange_rate: str = "1"


@frozen
class SyncResult:
    created: int = 0
    updated: int = 0
    disabled: int = 0
    skipped: list[str] = field(factory=list)  # provider service ids of types we cannot sell


class ManageProviders:
    """Add, list, change providers; check their balance; import/sync their services with a markup."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, providers: ProviderFactory, cipher: SecretCipher,
                 shop_currency: Currency) -> None:
        self._uow, self._clock, self._providers, self._cipher = uow, clock, providers, cipher
        self._shop = shop_currency

    @property
    def shop_currency(self) -> Currency:
        return self._shop

    def _check_rate(self, currency: Currency, rate: str) -> str:
        if currency is not self._shop:
            ExchangeRate.parse(currency, self._shop, rate)  # validates
        elif ExactAmount.parse(rate, currency, field_name="exchange_rate") != ExactAmount.of(1, 0, currency):
            raise ValidationError("exchange_rate must be 1 for a provider in the shop currency",
                                  field="exchange_rate")
        return rate.strip()

    async def add(self, cmd: NewProvider, *, actor_id: int | None = None) -> Provider:
        if not cmd.api_key.strip():
            raise ValidationError("api_key is required", field="api_key")
        provider = Provider(name=check_name(cmd.name), kind=cmd.kind, api_url=check_api_url(cmd.api_url),
                            api_key_encrypted=self._cipher.encrypt(cmd.api_key.strip()), currency=cmd.currency,
                            exchange_rate=self._check_rate(cmd.currency, cmd.exchange_rate),
                            created_at=self._clock.now())
        async with self._uow() as uow:
            await uow.smm_catalogue.add_provider(provider)
            await audit(uow, actor_id=actor_id, action="smm_provider.add", target=f"smm_provider:{provider.id}",
                        now=provider.created_at, name=provider.name, api_url=provider.api_url)
            await uow.commit()
        return provider

    async def all(self) -> list[Provider]:
        async with self._uow(read_only=True) as uow:
            return list(await uow.smm_catalogue.list_providers())

    async def get(self, provider_id: int) -> Provider:
        async with self._uow(read_only=True) as uow:
            found = await uow.smm_catalogue.get_provider(provider_id)
        if found is None:
            raise NotFoundError("provider not found", code="PROVIDER_NOT_FOUND")
        return found

    async def update(self, provider_id: int, *, actor_id: int | None = None, name: str | None = None,
                     api_url: str | None = None, api_key: str | None = None, active: bool | None = None,
                     exchange_rate: str | None = None) -> Provider:
        async with self._uow() as uow:
            provider = await uow.smm_catalogue.get_provider(provider_id)
            if provider is None:
                raise NotFoundError("provider not found", code="PROVIDER_NOT_FOUND")
            if name is not None:
                provider.name = check_name(name)
            if api_url is not None:
                provider.api_url = check_api_url(api_url)
            if api_key:
                provider.api_key_encrypted = self._cipher.encrypt(api_key.strip())
            if active is not None:
                provider.active = active
            if exchange_rate is not None:
                provider.exchange_rate = self._check_rate(provider.currency, exchange_rate)
            await uow.smm_catalogue.update_provider(provider)
            await audit(uow, actor_id=actor_id, action="smm_provider.update", target=f"smm_provider:{provider.id}",
                        now=self._clock.now(), name=provider.name, active=provider.active,
                        key_changed=bool(api_key))
            await uow.commit()
        return provider

    async def balance(self, provider_id: int) -> Money:
        return await self._providers.for_provider(await self.get(provider_id)).balance()

    def _shop_rate(self, provider: Provider, entry: ProviderService, markup: Markup) -> Money:
        """Our per-1000 rate for a provider rate: converted to the shop currency, then marked up, rounded UP."""
        exact = entry.rate_exact
        if exact.currency is not self._shop:
            fx = ExchangeRate.parse(exact.currency, self._shop, provider.exchange_rate)
            # exact * fx in shop units, kept exact: units * num / (10**scale * den)
            num = exact.units * fx.numerator * 10**self._shop.exponent
            den = 10**exact.scale * fx.denominator
            minor = -(-num // den)
            exact = ExactAmount.of(minor, self._shop.exponent, self._shop)
        return price_for(exact, 1000, markup)

    async def sync_services(self, provider_id: int, *, markup: str = "0", update_prices: bool = True,
                            actor_id: int | None = None) -> SyncResult:
        """Import the provider's catalogue: new services are created (categories by name), known ones get
        the provider's name/limits/flags (and prices with ``update_prices``), vanished ones are disabled."""
        provider = await self.get(provider_id)
        factor = Markup.percent(markup)
        entries = await self._providers.for_provider(provider).services()
        created = updated = disabled = 0
        skipped: list[str] = []
        async with self._uow() as uow:
            existing = {s.provider_service_id: s
                        for s in await uow.smm_catalogue.list_services(provider_id=provider.id)}
            seen = set()
            for entry in entries:
                if entry.type is None or entry.min <= 0 \
                        or entry.max < entry.min:
                    skipped.append(entry.service_id)
                    continue
                seen.add(entry.service_id)
                category = await uow.smm_catalogue.category_by_name(entry.category[:100] or "Other")
                if category is None:
                    category = await uow.smm_catalogue.add_category(Category(name=entry.category[:100] or "Other"))
                rate = self._shop_rate(provider, entry, factor)
                found = existing.get(entry.service_id)
                if found is None:
                    await uow.smm_catalogue.add_service(Service(
                        name=entry.name[:255], type=entry.type, category_id=category.id, rate=rate, min=entry.min,
                        max=entry.max, provider_id=provider.id, provider_service_id=entry.service_id,
                        refill=entry.refill, cancel=entry.cancel, dripfeed=entry.dripfeed, markup=markup,
                        provider_rate=entry.rate_exact.format(), description=entry.description))
                    created += 1
                    continue
                found.name, found.type, found.category_id = entry.name[:255], entry.type, category.id
                found.min, found.max = entry.min, entry.max
                found.refill, found.cancel, found.dripfeed = entry.refill, entry.cancel, entry.dripfeed
                found.provider_rate = entry.rate_exact.format()
                if update_prices:
                    found.rate, found.markup = rate, markup
                await uow.smm_catalogue.update_service(found)
                updated += 1
            for provider_service_id, service in existing.items():
                if provider_service_id not in seen and service.active:
                    service.active = False
                    await uow.smm_catalogue.update_service(service)
                    disabled += 1
            await audit(uow, actor_id=actor_id, action="smm_provider.sync", target=f"smm_provider:{provider.id}",
                        now=self._clock.now(), created=created, updated=updated, disabled=disabled, markup=markup)
            await uow.commit()
        return SyncResult(created=created, updated=updated, disabled=disabled, skipped=skipped)


# ------------------------------------------------------------------------------------------ admin: services
class ManageServices:
    """Edit catalogue services and per-user prices (audited)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def update(self, service_id: int, *, actor_id: int | None = None, rate: Money | None = None,
                     name: str | None = None, active: bool | None = None, min: int | None = None,
                     max: int | None = None, category: str | None = None,
                     description: str | None = None) -> Service:
        async with self._uow() as uow:
            service = await uow.smm_catalogue.get_service(service_id)
            if service is None:
                raise service_not_found()
            before = service.rate.format()
            if rate is not None:
                if rate.currency is not service.rate.currency or rate.is_negative:
                    raise ValidationError(f"rate must be a non-negative {service.rate.currency.value} amount",
                                          field="rate")
                service.rate = rate
            if name is not None:
                service.name = check_name(name, max_length=255)
            if active is not None:
                service.active = active
            new_min = service.min if min is None else min
            new_max = service.max if max is None else max
            if new_min <= 0 or new_max < new_min:
                raise ValidationError("a service needs 0 < min <= max", field="min")
            service.min, service.max = new_min, new_max
            if description is not None:
                service.description = description[:5000]
            if category is not None:
                name_ = check_name(category, "category", 100)
                found = await uow.smm_catalogue.category_by_name(name_)
                if found is None:
                    found = await uow.smm_catalogue.add_category(Category(name=name_))
                service.category_id = found.id
            await uow.smm_catalogue.update_service(service)
            await audit(uow, actor_id=actor_id, action="smm_service.update", target=f"smm_service:{service.id}",
                        now=self._clock.now(), rate_before=before, rate_after=service.rate.format(),
                        active=service.active)
            await uow.commit()
        return service

    async def set_user_rate(self, *, actor_id: int | None, user_id: int, service_id: int | None,
                            rate: Money | None = None, discount_bp: int = 0) -> UserRate:
        """A custom per-1000 rate for one service, or a discount on one (or, with ``service_id`` None, every)
        service. A zero discount and no rate removes the entry."""
        entry = UserRate(user_id=user_id, service_id=service_id, rate=rate, discount_bp=discount_bp)
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            if service_id is not None:
                service = await uow.smm_catalogue.get_service(service_id)
                if service is None:
                    raise service_not_found()
                if rate is not None and rate.currency is not service.rate.currency:
                    raise ValidationError(f"rate must be in {service.rate.currency.value}", field="rate")
            if rate is None and discount_bp == 0:
                await uow.smm_catalogue.delete_user_rate(user_id, service_id)
            else:
                await uow.smm_catalogue.set_user_rate(entry)
            await audit(uow, actor_id=actor_id, action="smm_user_rate.set", target=f"user:{user_id}",
                        now=self._clock.now(), service_id=service_id, rate=rate.format() if rate else None,
                        discount_bp=discount_bp)
            await uow.commit()
        return entry


# ------------------------------------------------------------------------------------------ stats
@frozen
class SmmStats:
    """Totals per currency, counts by status and net revenue (charged - refunded) by day."""

    orders: int
    by_status: dict[str, int]
    charged: dict[str, Money]
    refunded: dict[str, Money]
    revenue_by_day: list[tuple[str, Money]]
    orders_by_day: list[tuple[str, int]] = field(factory=list)  # orders created per UTC day


class OrderStatistics:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, *, days: int | None = 30) -> SmmStats:
        since = self._clock.now() - timedelta(days=days) if days else None
        async with self._uow(read_only=True) as uow:
            rows: Sequence[OrderStatsRow] = await uow.smm_orders.stats(since=since)
        by_status: dict[str, int] = defaultdict(int)
        charged: dict[Currency, int] = defaultdict(int)
        refunded: dict[Currency, int] = defaultdict(int)
        per_day: dict[tuple[str, Currency], int] = defaultdict(int)
        count_by_day: dict[str, int] = defaultdict(int)
        for r in rows:
            count_by_day[r.day.isoformat()] += r.count
            by_status[r.status.value] += r.count
            charged[r.currency] += r.charged
            refunded[r.currency] += r.refunded
            per_day[(r.day.isoformat(), r.currency)] += r.charged - r.refunded
        return SmmStats(
            orders=sum(by_status.values()), by_status=dict(by_status),
            charged={c.value: Money(v, c) for c, v in charged.items()},
            refunded={c.value: Money(v, c) for c, v in refunded.items()},
            revenue_by_day=[(day, Money(v, c)) for (day, c), v in sorted(per_day.items())],
            orders_by_day=sorted(count_by_day.items()))


# ------------------------------------------------------------------------------------------ background tasks
SUBMIT_TASK = "smm.submit"
POLL_TASK = "smm.poll"


def register_smm_tasks(registry: TaskRegistry, *, submit: SubmitOrders, sync: SyncOrders) -> None:
    """SMM's background work: forwarding ``queued`` orders to their providers (every 30 s) and polling
    providers for statuses, settling terminal ones (every 60 s). Both are idempotent: an order is claimed
    ``queued`` -> ``sending`` with a row lock before it is sent, and a terminal status already applied
    refunds nothing, so a re-run or two workers at once move no money twice. Periodic jobs carry the key
    ``periodic:<task>``, so at most one of each runs at a time. Registering twice is a no-op."""
    if SUBMIT_TASK in registry:
        return

    async def submit_job(ctx: JobContext) -> None:
        await submit()

    async def poll_job(ctx: JobContext) -> None:
        await sync()

    registry.register(SUBMIT_TASK, submit_job, schedule=Schedule.every(30))
    registry.register(POLL_TASK, poll_job, schedule=Schedule.every(60))


# ------------------------------------------------------------------------------------------ demo
#: Shop-currency units per USD for the demo's simulated provider (a plausible rate; demo only).
DEMO_USD_RATES = {Currency.USD: "1", Currency.USDT: "1", Currency.EUR: "0.92", Currency.RUB: "90",
                  Currency.IRR: "600000", Currency.IRT: "60000"}


class LoadSmmDemo:
    """The SMM step of ``vpnsmm demo``: a ``simulated`` provider (in-process, no network) and its services
    imported with a 20 % markup. Idempotent: an existing provider of that name is only re-synced."""

    NAME = "demo-simulated"

    def __init__(self, uow: UnitOfWorkFactory, providers: ManageProviders) -> None:
        self._uow, self._providers = uow, providers

    async def __call__(self) -> list[str]:
        existing = next((p for p in await self._providers.all() if p.name == self.NAME), None)
        if existing is None:
            existing = await self._providers.add(NewProvider(
                name=self.NAME, api_url="http://simulated.invalid/api/v2", api_key="demo-simulated-key",
                kind=ProviderKind.SIMULATED, currency=Currency.USD,
                exchange_rate=DEMO_USD_RATES[self._providers.shop_currency]))
        result = await self._providers.sync_services(existing.id, markup="20")
        return [f"SMM: simulated provider {existing.id} with {result.created + result.updated} services "
                f"(20 % markup); orders progress each time `vpnsmm orders sync` polls"]
