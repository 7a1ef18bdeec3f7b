"""Recurring SMM orders: create, list, pause, resume, cancel (owner-scoped) and the job that places due runs.

Every run is a normal order placed through :class:`~vpnsmm.application.smm.PlaceOrder` (catalogue price, the
wallet charged atomically with the order, then submitted to the provider outside the transaction). The run is
recorded -- ``smm_subscription_runs`` row plus the subscription's next run -- inside that same charging
transaction (PlaceOrder's ``on_record`` hook), with the subscription row locked. So:

* a run index is charged at most once: a retried, duplicated or concurrent attempt at run ``n`` finds the
  subscription already waiting for a later run (or the run row present) and rolls back without charging;
* creating a subscription places run 0 at once, atomically: if the wallet cannot pay for it, nothing is
  written and the caller gets INSUFFICIENT_BALANCE;
* a due run the wallet cannot pay for (or whose service has gone, or whose quantity no longer fits the
  service) pauses the subscription with that error's code; the customer resumes it after fixing the cause.
"""

from __future__ import annotations

from enum import StrEnum

from attrs import frozen

from vpnsmm.application.jobs import JobContext, Schedule, TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from vpnsmm.application.ports.system import Clock
from vpnsmm.application.smm import NewOrder, PlaceOrder, service_not_found
from vpnsmm.domain.errors import (
    ConflictError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from vpnsmm.domain.smm_orders import SmmOrder, check_link
from vpnsmm.domain.smm_subscriptions import (
    RecurrenceInterval,
    RunNotDueError,
    SmmSubscription,
    SubscriptionRun,
    SubscriptionStatus,
    recurring_capable,
    subscription_not_found,
)

MAX_PAGE = 100


@frozen(kw_only=True)
class NewSubscription:
    """A recurring order as a customer states it; ``interval`` is ``hourly|daily|weekly|monthly``."""

    user_id: int
    service_id: int
    link: str | None
    quantity: int | None
    interval: RecurrenceInterval | str
    dripfeed_runs: int | None = None  # each run a drip-feed of this many runs ...
    dripfeed_interval: int | None = None  # ... this many minutes apart (both or neither)


@frozen
class SubscriptionStarted:
    subscription: SmmSubscription
    first_order: SmmOrder


async def _record_run(uow: UnitOfWork, subscription: SmmSubscription, run: int, order: SmmOrder) -> None:
    now = order.created_at
    subscription.placed(run, order.id, now)  # RunNotDueError unless ``run`` is the one it waits for
    await uow.smm_subscriptions.update(subscription)
    await uow.smm_subscriptions.add_run(SubscriptionRun(subscription_id=subscription.id, run=run,
                                                        order_id=order.id, created_at=now))


class SmmSubscriptions:
    """The caller's recurring orders. Another user's subscription is SUBSCRIPTION_NOT_FOUND."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, place: PlaceOrder) -> None:
        self._uow, self._clock, self._place = uow, clock, place

    async def create(self, cmd: NewSubscription) -> SubscriptionStarted:
        """Start a subscription and place its first run now (charged like any order).

        Raises ValidationError (INVALID_INTERVAL, NOT_RECURRING for a service type that cannot recur,
        INVALID_QUANTITY, INVALID_LINK; DRIPFEED_NOT_ALLOWED, only one of the drip-feed settings, or one
        out of range as for a one-off drip-feed order), NotFoundError (SERVICE_NOT_FOUND),
        InsufficientFundsError (INSUFFICIENT_BALANCE). On any error nothing is written.
        """
        interval = cmd.interval if isinstance(cmd.interval, RecurrenceInterval) \
            else RecurrenceInterval.parse(cmd.interval)
        async with self._uow(read_only=True) as uow:
            service = await uow.smm_catalogue.get_service(cmd.service_id)
        if service is None or not service.active:
            raise service_not_found()
        if not recurring_capable(service.type):
            raise ValidationError(f"{service.type.value} services cannot be ordered on a schedule",
                                  field="service_id", code="NOT_RECURRING")
        link = check_link(cmd.link)
        quantity = cmd.quantity if "quantity" in service.type.allowed_fields else None
        started: list[SmmSubscription] = []

        dripfeed = (cmd.dripfeed_runs, cmd.dripfeed_interval)
        if dripfeed != (None, None):
            if not service.dripfeed:
                raise ValidationError(f"{service.name} does not take drip-feed orders", field="dripfeed_runs",
                                      code="DRIPFEED_NOT_ALLOWED")
            if None in dripfeed:
                raise ValidationError("give both dripfeed_runs and dripfeed_interval, or neither",
                                      field="dripfeed_runs" if cmd.dripfeed_runs is None else "dripfeed_interval")

        async def record(uow: UnitOfWork, order: SmmOrder) -> None:
            subscription = SmmSubscription.start(user_id=cmd.user_id, service_id=service.id, link=link,
                                                 quantity=quantity, interval=interval, now=order.created_at,
                                                 dripfeed_runs=cmd.dripfeed_runs,
                                                 dripfeed_interval=cmd.dripfeed_interval)
            await uow.smm_subscriptions.add(subscription)
            await _record_run(uow, subscription, 0, order)
            started.append(subscription)

        order = await self._place(NewOrder(user_id=cmd.user_id, service_id=service.id, link=link,
                                           quantity=quantity, runs=cmd.dripfeed_runs,
                                           interval=cmd.dripfeed_interval), on_record=record)
        return SubscriptionStarted(started[0], order)

    async def get(self, user_id: int, subscription_id: int) -> SmmSubscription:
        async with self._uow(read_only=True) as uow:
            found = await uow.smm_subscriptions.get_for_user(subscription_id, user_id)
        if found is None:
            raise subscription_not_found()
        return found

    async def search(self, user_id: int, *, status: SubscriptionStatus | None = None, limit: int = 20,
                   offset: int = 0) -> tuple[list[SmmSubscription], int]:
        """The caller's subscriptions, newest first, and how many there are in all."""
        limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
        async with self._uow(read_only=True) as uow:
            items = await uow.smm_subscriptions.list_for_user(user_id, status=status, limit=limit, offset=offset)
            total = await uow.smm_subscriptions.count_for_user(user_id, status=status)
        return list(items), total

    async def runs(self, user_id: int, subscription_id: int) -> list[SubscriptionRun]:
        """The runs placed so far (newest first, at most 100), each with its order id."""
        async with self._uow(read_only=True) as uow:
            if await uow.smm_subscriptions.get_for_user(subscription_id, user_id) is None:
                raise subscription_not_found()
            return list(await uow.smm_subscriptions.runs(subscription_id))

    async def cancel(self, user_id: int, subscription_id: int) -> SmmSubscription:
        """Stop for good (orders already placed run on). Idempotent: canceling twice is not an error."""
        return await self._change(user_id, subscription_id, "cancel")

    async def pause(self, user_id: int, subscription_id: int) -> SmmSubscription:
        """Stop placing runs until resumed (code PAUSED_BY_USER). InvalidTransitionError once canceled."""
        return await self._change(user_id, subscription_id, "pause")

    async def resume(self, user_id: int, subscription_id: int) -> SmmSubscription:
        """Active again from the next slot after now (missed runs are not caught up, so no surprise charges)."""
        return await self._change(user_id, subscription_id, "resume")

    async def _change(self, user_id: int, subscription_id: int, action: str) -> SmmSubscription:
        now = self._clock.now()
        async with self._uow() as uow:
            found = await uow.smm_subscriptions.get_for_user(subscription_id, user_id, for_update=True)
            if found is None:
                raise subscription_not_found()
            if action == "cancel":
                found.cancel(now)
            elif action == "pause":
                if found.status is SubscriptionStatus.ACTIVE:
                    found.pause(now, code="PAUSED_BY_USER", reason="paused by the customer")
                elif found.status is SubscriptionStatus.CANCELED:
                    raise InvalidTransitionError("subscription is canceled", code="SUBSCRIPTION_CANCELED")
            else:
                found.resume(now)
            await uow.smm_subscriptions.update(found)
            await uow.commit()
        return found


class RunOutcome(StrEnum):
    PLACED = "placed"  # the run became an order (charged)
    PAUSED = "paused"  # it could not be placed (balance, service gone ...): the subscription is paused
    SKIPPED = "skipped"  # not due (already placed, paused, canceled): nothing happened


@frozen
class RunReport:
    placed: int = 0
    paused: int = 0
    skipped: int = 0


#: Errors that pause a subscription instead of failing the job: retrying cannot help until the customer acts.
_PAUSING = (InsufficientFundsError, NotFoundError, ValidationError, InvalidTransitionError)


class RunSubscriptions:
    """Place every due run (the ``smm.subscriptions`` job). Safe to run twice, or on two workers at once."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, place: PlaceOrder) -> None:
        self._uow, self._clock, self._place = uow, clock, place

    async def __call__(self, *, limit: int = 500) -> RunReport:
        async with self._uow(read_only=True) as uow:
            due = list(await uow.smm_subscriptions.due(self._clock.now(), limit=limit))
        counts = dict.fromkeys(RunOutcome, 0)
        for subscription in due:
            counts[await self.run(subscription.id, subscription.next_run)] += 1
        return RunReport(placed=counts[RunOutcome.PLACED], paused=counts[RunOutcome.PAUSED],
                         skipped=counts[RunOutcome.SKIPPED])

    async def run(self, subscription_id: int, run: int) -> RunOutcome:
        """Place run ``run`` of the subscription if it is the one due now; idempotent per (subscription, run).

        The subscription row is locked and re-checked inside the charging transaction, so of any number of
        attempts at the same run exactly one charges. Raises only unexpected errors (the job then retries).
        """
        async with self._uow(read_only=True) as uow:
            subscription = await uow.smm_subscriptions.get(subscription_id)
        now = self._clock.now()
        if subscription is None or not subscription.due(now) or subscription.next_run != run:
            return RunOutcome.SKIPPED

        async def record(uow: UnitOfWork, order: SmmOrder) -> None:
            fresh = await uow.smm_subscriptions.get(subscription_id, for_update=True)
            if fresh is None or not fresh.due(order.created_at):
                raise RunNotDueError(f"subscription {subscription_id} is not due")
            await _record_run(uow, fresh, run, order)

        try:
            await self._place(NewOrder(user_id=subscription.user_id, service_id=subscription.service_id,
                                       link=subscription.link, quantity=subscription.quantity,
                                       runs=subscription.dripfeed_runs, interval=subscription.dripfeed_interval),
                              on_record=record)
        except ConflictError as exc:  # RunNotDueError, or the run row already there (RUN_ALREADY_PLACED)
            if isinstance(exc, RunNotDueError) or exc.code == "RUN_ALREADY_PLACED":
                return RunOutcome.SKIPPED
            raise
        except _PAUSING as exc:
            return await self._pause(subscription_id, run, exc.code, exc.message)
        return RunOutcome.PLACED

    async def _pause(self, subscription_id: int, run: int, code: str, reason: str) -> RunOutcome:
        now = self._clock.now()
        async with self._uow() as uow:
            fresh = await uow.smm_subscriptions.get(subscription_id, for_update=True)
            if fresh is None or fresh.status is not SubscriptionStatus.ACTIVE or fresh.next_run != run:
                return RunOutcome.SKIPPED
            fresh.pause(now, code=code, reason=reason)
            await uow.smm_subscriptions.update(fresh)
            await uow.commit()
        return RunOutcome.PAUSED


SUBSCRIPTIONS_TASK = "smm.subscriptions"


def register_subscription_tasks(registry: TaskRegistry, *, run: RunSubscriptions) -> None:
    """Place due recurring-order runs every 60 s (a run is placed at most a minute after its slot; the
    schedule itself never drifts, see domain/smm_subscriptions.py). Idempotent per run, so a re-run or two
    workers at once charge nothing twice. Registering twice is a no-op."""
    if SUBSCRIPTIONS_TASK in registry:
        return

    async def job(ctx: JobContext) -> None:
        await run()

    registry.register(SUBSCRIPTIONS_TASK, job, schedule=Schedule.every(60))
