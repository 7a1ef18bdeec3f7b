"""Recurring-order schedule arithmetic: exact, calendar-aware, drift-free; runs recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vpnsmm.domain.errors import ConflictError, InvalidTransitionError, ValidationError
from vpnsmm.domain.smm import ServiceType
from vpnsmm.domain.smm_subscriptions import (
    RecurrenceInterval,
    SmmSubscription,
    SubscriptionStatus,
    first_run_after,
    recurring_capable,
    run_at,
)

R = RecurrenceInterval
ANCHOR = datetime(2026, 1, 31, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(("interval", "index", "expected"), [
    (R.HOURLY, 0, ANCHOR),
    (R.HOURLY, 25, ANCHOR + timedelta(hours=25)),
    (R.DAILY, 1, datetime(2026, 2, 1, 10, 30, tzinfo=UTC)),
    (R.WEEKLY, 2, datetime(2026, 2, 14, 10, 30, tzinfo=UTC)),
    (R.MONTHLY, 1, datetime(2026, 2, 28, 10, 30, tzinfo=UTC)),  # clamped
    (R.MONTHLY, 2, datetime(2026, 3, 31, 10, 30, tzinfo=UTC)),  # back to the anchor's day: no drift
    (R.MONTHLY, 11, datetime(2026, 12, 31, 10, 30, tzinfo=UTC)),
    (R.MONTHLY, 13, datetime(2027, 2, 28, 10, 30, tzinfo=UTC)),
    (R.MONTHLY, 25, datetime(2028, 2, 29, 10, 30, tzinfo=UTC)),  # leap year
])
def test_run_at(interval: RecurrenceInterval, index: int, expected: datetime) -> None:
    assert run_at(ANCHOR, interval, index) == expected


@pytest.mark.parametrize("interval", list(R))
def test_first_run_after_is_the_first_slot_strictly_later(interval: RecurrenceInterval) -> None:
    for minutes in (-5, 0, 1, 59, 60, 61, 60 * 24, 60 * 24 * 7 + 3, 60 * 24 * 31, 60 * 24 * 400):
        moment = ANCHOR + timedelta(minutes=minutes)
        n = first_run_after(ANCHOR, interval, moment)
        assert n >= 1 and run_at(ANCHOR, interval, n) > moment
        assert n == 1 or run_at(ANCHOR, interval, n - 1) <= moment


def test_interval_parsing() -> None:
    assert R.parse(" Daily ") is R.DAILY
    for bad in ("custom", "yearly", "", None, 3):
        with pytest.raises(ValidationError) as err:
            R.parse(bad)
        assert err.value.code == "INVALID_INTERVAL"
    with pytest.raises(ValidationError):
        run_at(ANCHOR, R.DAILY, -1)


def test_recurring_capable_types() -> None:
    assert recurring_capable(ServiceType.DEFAULT) and recurring_capable(ServiceType.PACKAGE)
    assert not recurring_capable(ServiceType.SUBSCRIPTIONS)
    assert not recurring_capable(ServiceType.CUSTOM_COMMENTS)
    assert not recurring_capable(ServiceType.POLL)


def test_a_run_is_recorded_once() -> None:
    sub = SmmSubscription.start(user_id=1, service_id=1, link="https://x.example", quantity=100,
                                interval=R.DAILY, now=ANCHOR)
    assert sub.due(ANCHOR)
    sub.placed(0, 10, ANCHOR)
    assert sub.next_run == 1 and sub.next_run_at == ANCHOR + timedelta(days=1) and not sub.due(ANCHOR)
    with pytest.raises(ConflictError):
        sub.placed(0, 11, ANCHOR)
    sub.pause(ANCHOR, code="X", reason="y")
    with pytest.raises(ConflictError):
        sub.placed(1, 12, ANCHOR + timedelta(days=1))
    assert sub.cancel(ANCHOR) and not sub.cancel(ANCHOR)
    assert sub.status is SubscriptionStatus.CANCELED
    with pytest.raises(InvalidTransitionError):
        sub.resume(ANCHOR)
