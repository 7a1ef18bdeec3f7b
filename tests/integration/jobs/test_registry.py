"""TaskRegistry, RetryPolicy, schedules and cron (application/jobs.py): pure logic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vpnsmm.application.jobs import (
    Cron,
    JobContext,
    RetryPolicy,
    Schedule,
    TaskRegistry,
    parse_schedule_overrides,
)
from vpnsmm.domain.errors import (
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)


async def _handler(job: JobContext) -> None:
    return None


def test_retry_policy_backs_off_exponentially_up_to_a_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=2, factor=3, max_delay=50)
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [2, 6, 18, 50, 50]


def test_retry_policy_retries_transient_errors_only_while_attempts_remain() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(1, UpstreamUnavailableError("down"))
    assert policy.should_retry(2, RuntimeError("bug or blip"))
    assert not policy.should_retry(3, UpstreamUnavailableError("down"))
    assert not policy.should_retry(1, UpstreamRejectedError("no"))
    assert not policy.should_retry(1, ValidationError("bad", field="x"))
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("*/5 * * * *", datetime(2026, 3, 1, 10, 2, 30, tzinfo=UTC), datetime(2026, 3, 1, 10, 5, tzinfo=UTC)),
    ("*/5 * * * *", datetime(2026, 3, 1, 10, 5, tzinfo=UTC), datetime(2026, 3, 1, 10, 10, tzinfo=UTC)),
    ("0 3 * * *", datetime(2026, 3, 1, 3, 0, tzinfo=UTC), datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
    ("30 9 * * 1", datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),  # Monday
    ("0 0 1 1 *", datetime(2026, 6, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("0,30 8-9 * * *", datetime(2026, 3, 1, 8, 30, tzinfo=UTC), datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
    ("0 0 13 * 5", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)),  # 13th OR Friday
    ("0 12 * * 7", datetime(2026, 3, 1, 12, 0, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),  # 7=Sunday
])
def test_cron_next_after(expression: str, after: datetime, expected: datetime) -> None:
    assert Cron(expression).next_after(after) == expected


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *",
                                        "0 0 31 2 *"])
def test_bad_or_impossible_cron_is_refused(expression: str) -> None:
    with pytest.raises(ValidationError):
        Cron(expression).next_after(datetime(2026, 1, 1, tzinfo=UTC))


def test_every_n_seconds_slots_are_aligned_to_the_epoch() -> None:
    every = Schedule.every(300)
    assert every.next_after(datetime(2026, 1, 1, 0, 4, 59, tzinfo=UTC)) == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert every.next_after(datetime(2026, 1, 1, 0, 5, tzinfo=UTC)) == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert Schedule.parse("cron:0 * * * *").cron == Cron("0 * * * *")
    for bad in ("every:", "every:0", "hourly", "cron:bad"):
        with pytest.raises(ValidationError):
            Schedule.parse(bad)


def test_registry_registers_finds_and_reschedules() -> None:
    registry = TaskRegistry()
    spec = registry.register("usage.sync", _handler, lock="sync:{panel}", schedule=Schedule.every(60))
    assert spec.key_for({"panel": 4}) == "sync:4"
    with pytest.raises(ValidationError):
        spec.key_for({})
    with pytest.raises(ValidationError):
        registry.register("usage.sync", _handler)
    with pytest.raises(NotFoundError):
        registry.get("nope")
    registry.configure_schedules(parse_schedule_overrides("usage.sync = cron:*/2 * * * *"))
    assert registry.get("usage.sync").schedule == Schedule(cron=Cron("*/2 * * * *"))
    registry.configure_schedules({"usage.sync": "off"})
    assert registry.periodic() == []
    with pytest.raises(NotFoundError):
        registry.configure_schedules({"unknown": "every:5"})


def test_schedule_overrides_parse_with_semicolons_and_reject_garbage() -> None:
    assert parse_schedule_overrides("a=every:5; b=cron:0,30 * * * *;c=off;") == {
        "a": "every:5", "b": "cron:0,30 * * * *", "c": "off"}
    for bad in ("a", "a=", "=every:5", "a=every:x"):
        with pytest.raises(ValidationError):
            parse_schedule_overrides(bad)
