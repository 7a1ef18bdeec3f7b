"""Recurring SMM orders ("subscriptions"): the same order placed again every hour, day, week or month.

Not to be confused with the Perfect Panel ``Subscriptions`` *service type* (auto-likes billed per future post
by the provider): that type is never prepaid and cannot be ordered here. A recurring order is ours: each run
is a normal order, charged up front through the usual PlaceOrder path.

Schedule arithmetic is exact and drift-free: run ``n`` is due at ``run_at(anchor, interval, n)`` -- the
anchor (the creation time) plus ``n`` hours / days / weeks, or ``n`` calendar months with the day clamped to
the month's length (a subscription anchored on 31 January runs on 28/29 February, then 31 March). Run 0 is
placed when the subscription is created. A run is identified by its index, so "place run n" is idempotent:
once run n is recorded, a retried or duplicated attempt at run n is refused (:meth:`SmmSubscription.placed`).
Runs missed while a subscription was paused or the workers were down are skipped, never caught up: after a
run the next one is the first slot strictly after now.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from attrs import define, frozen

from vpnsmm.domain.errors import ConflictError, InvalidTransitionError, NotFoundError, ValidationError
from vpnsmm.domain.smm import ServiceType


class RecurrenceInterval(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @classmethod
    def parse(cls, raw: object) -> RecurrenceInterval:
        """``"daily"`` (any case, surrounding blanks ignored) -> DAILY. Raises ValidationError (INVALID_INTERVAL);
        ``custom`` cron schedules are not offered (the document says "contact support")."""
        text = raw.strip().casefold() if isinstance(raw, str) else ""
        for member in cls:
            if member.value == text:
                return member
        if text == "custom":
            raise ValidationError("custom schedules are arranged with support; use hourly, daily, weekly or "
                                  "monthly", field="interval", code="INVALID_INTERVAL")
        raise ValidationError("interval must be one of hourly, daily, weekly, monthly", field="interval",
                              code="INVALID_INTERVAL")


_FIXED = {RecurrenceInterval.HOURLY: timedelta(hours=1), RecurrenceInterval.DAILY: timedelta(days=1),
          RecurrenceInterval.WEEKLY: timedelta(weeks=1)}

#: Run indexes beyond this are refused (a century of hourly runs), which keeps dates in range.
MAX_RUN_INDEX = 24 * 366 * 100


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def run_at(anchor: datetime, interval: RecurrenceInterval, index: int) -> datetime:
    """When run ``index`` (0 = the first, placed at creation) of a subscription anchored at ``anchor`` is due.

    Computed from the anchor every time (never by adding to the previous run), so months never drift: the
    day of month is the anchor's, clamped to the month's last day. UTC. Raises ValidationError for a negative
    or absurd index.
    """
    if type(index) is not int or not 0 <= index <= MAX_RUN_INDEX:
        raise ValidationError("run index out of range", field="run")
    anchor = anchor.astimezone(UTC)
    if interval is RecurrenceInterval.MONTHLY:
        return _add_months(anchor, index)
    return anchor + _FIXED[interval] * index


def first_run_after(anchor: datetime, interval: RecurrenceInterval, moment: datetime) -> int:
    """The smallest run index whose time is strictly after ``moment`` (at least 1). Pure."""
    anchor, moment = anchor.astimezone(UTC), moment.astimezone(UTC)
    if moment < anchor:
        return 1
    if interval is RecurrenceInterval.MONTHLY:
        guess = max(1, (moment.year - anchor.year) * 12 + moment.month - anchor.month)
        while guess > 1 and run_at(anchor, interval, guess - 1) > moment:
            guess -= 1
        while run_at(anchor, interval, guess) <= moment:
            guess += 1
        return guess
    return max(1, (moment - anchor) // _FIXED[interval] + 1)


def recurring_capable(service_type: ServiceType) -> bool:
    """Whether orders of this type can recur: they need nothing but a link (and a quantity), i.e. Default and
    Package. Comment lists and the like would have to be re-sent each run; Perfect Panel ``Subscriptions`` are
    billed by the provider per post and cannot be prepaid."""
    return service_type is not ServiceType.SUBSCRIPTIONS and service_type.required_fields <= {"link", "quantity"}


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"  # runs are placed when due
    PAUSED = "paused"  # no runs; see pause_code (INSUFFICIENT_BALANCE, SERVICE_NOT_FOUND, PAUSED_BY_USER ...)
    CANCELED = "canceled"  # final


def subscription_not_found() -> NotFoundError:
    return NotFoundError("subscription not found", code="SUBSCRIPTION_NOT_FOUND")


class RunNotDueError(ConflictError):
    """The run was already placed (or the subscription is not active): nothing may be charged for it."""

    code = "RUN_NOT_DUE"


@define(kw_only=True)
class SmmSubscription:
    """A recurring order of ``quantity`` units of ``service_id`` for ``link`` every ``interval``.

    ``next_run`` is the index of the run to place next and ``next_run_at`` its due time
    (``run_at(anchor_at, interval, next_run)``). ``quantity`` is None for a Package service.
    ``dripfeed_runs`` / ``dripfeed_interval`` (minutes), both set or both None: each run is itself a drip-feed
    order of ``quantity`` per drip-feed run (so it costs ``quantity * dripfeed_runs`` units).
    """

    user_id: int
    service_id: int
    link: str
    quantity: int | None
    interval: RecurrenceInterval
    anchor_at: datetime
    next_run_at: datetime
    created_at: datetime
    next_run: int = 0
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    runs_placed: int = 0
    last_order_id: int | None = None
    pause_code: str = ""
    pause_reason: str = ""
    updated_at: datetime | None = None
    canceled_at: datetime | None = None
    dripfeed_runs: int | None = None
    dripfeed_interval: int | None = None
    id: int = 0

    @classmethod
    def start(cls, *, user_id: int, service_id: int, link: str, quantity: int | None,
              interval: RecurrenceInterval, now: datetime, dripfeed_runs: int | None = None,
              dripfeed_interval: int | None = None) -> SmmSubscription:
        """A new subscription anchored at ``now``; run 0 is due at once. Drip-feed settings are checked by the
        order each run places (the service must allow drip-feed); here only that they come as a pair."""
        if (dripfeed_runs is None) != (dripfeed_interval is None):
            raise ValidationError("give both dripfeed_runs and dripfeed_interval, or neither",
                                  field="dripfeed_runs" if dripfeed_runs is None else "dripfeed_interval")
        now = now.astimezone(UTC)
        return cls(user_id=user_id, service_id=service_id, link=link, quantity=quantity, interval=interval,
                   anchor_at=now, next_run_at=now, created_at=now, updated_at=now, dripfeed_runs=dripfeed_runs,
                   dripfeed_interval=dripfeed_interval)

    def due(self, now: datetime) -> bool:
        return self.status is SubscriptionStatus.ACTIVE and self.next_run_at <= now

    def placed(self, run: int, order_id: int, now: datetime) -> None:
        """Record that run ``run`` became order ``order_id``; schedule the first slot after ``now``.

        Raises RunNotDueError unless the subscription is active and ``run`` is the run it waits for, so the
        same run can never be recorded (and charged) twice.
        """
        if self.status is not SubscriptionStatus.ACTIVE or run != self.next_run:
            raise RunNotDueError(f"run {run} of subscription {self.id} is not due")
        self.runs_placed += 1
        self.last_order_id = order_id
        self.next_run = max(run + 1, first_run_after(self.anchor_at, self.interval, now))
        self.next_run_at = run_at(self.anchor_at, self.interval, self.next_run)
        self.updated_at = now

    def pause(self, now: datetime, *, code: str, reason: str) -> None:
        """Stop placing runs (kept for resume). Raises InvalidTransitionError once canceled."""
        if self.status is SubscriptionStatus.CANCELED:
            raise InvalidTransitionError("subscription is canceled", code="SUBSCRIPTION_CANCELED")
        self.status, self.pause_code, self.pause_reason = SubscriptionStatus.PAUSED, code[:40], reason[:500]
        self.updated_at = now

    def resume(self, now: datetime) -> None:
        """Active again; the next run is the first slot strictly after ``now`` (missed runs are skipped).
        A no-op on an active subscription; raises InvalidTransitionError once canceled."""
        if self.status is SubscriptionStatus.CANCELED:
            raise InvalidTransitionError("subscription is canceled", code="SUBSCRIPTION_CANCELED")
        if self.status is SubscriptionStatus.ACTIVE:
            return
        self.status, self.pause_code, self.pause_reason = SubscriptionStatus.ACTIVE, "", ""
        self.next_run = max(self.next_run, first_run_after(self.anchor_at, self.interval, now))
        self.next_run_at = run_at(self.anchor_at, self.interval, self.next_run)
        self.updated_at = now

    def cancel(self, now: datetime) -> bool:
        """End it for good; orders already placed are unaffected. Returns False if it was already canceled."""
        if self.status is SubscriptionStatus.CANCELED:
            return False
        self.status, self.canceled_at, self.updated_at = SubscriptionStatus.CANCELED, now, now
        return True


@frozen
class SubscriptionRun:
    """Run ``run`` of subscription ``subscription_id`` became order ``order_id`` (unique per run)."""

    subscription_id: int
    run: int
    order_id: int
    created_at: datetime
