"""The task registry: every kind of background work, by name, with its retry policy, lock and schedule.

Handlers are ``async def handler(job: JobContext) -> None``. The queue delivers **at least once**: a job
whose worker died, lost its lease or timed out runs again, and a handler that raised is retried. So every
handler must be idempotent -- doing its effect twice must be the same as doing it once (upsert keyed by
``job.job_id`` or a business id, compare-and-set state transitions, idempotency keys towards upstreams).

What ``vpnsmm worker`` and the in-process runner guarantee on top:

* a job becomes visible only after the transaction that enqueued it commits (``uow.jobs``);
* at most one running job per ``key`` (``lock`` template below, or an explicit key at enqueue time);
* failures are retried with exponential backoff up to ``RetryPolicy.max_attempts`` attempts, except
  errors that cannot succeed on retry (``RetryPolicy.should_retry``), which fail the job at once;
* a job whose worker stopped heartbeating is handed to another worker once its lease expires;
* periodic tasks are enqueued once per slot however many workers run (slots are aligned to the clock).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from attrs import field, frozen

from vpnsmm.application.ports.jobs import JSON
from vpnsmm.domain.errors import (
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamRejectedError,
    ValidationError,
)

#: Errors that fail deterministically: retrying the same payload cannot help.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    ValidationError, NotFoundError, PermissionDeniedError, InvalidTransitionError, UpstreamRejectedError)


@frozen
class JobContext:
    """What a handler gets: the payload plus enough identity to make its effect idempotent."""

    job_id: int
    task: str
    payload: Mapping[str, JSON]
    attempt: int  # 1 for the first run
    key: str | None = None
    queue: str = "default"


Handler = Callable[[JobContext], Awaitable[None]]


@frozen
class RetryPolicy:
    """``max_attempts`` runs in total; the n-th retry waits ``min(max_delay, base_delay * factor**(n-1))`` s."""

    max_attempts: int = 5
    base_delay: float = 2.0
    factor: float = 2.0
    max_delay: float = 600.0

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.factor < 1 or self.max_delay < 0:
            raise ValidationError("retry policy out of range", field="retry")

    def delay(self, attempt: int) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based) before the next one."""
        seconds = min(self.max_delay, self.base_delay * self.factor ** max(0, attempt - 1))
        return timedelta(seconds=seconds)

    def should_retry(self, attempt: int, error: BaseException) -> bool:
        return attempt < self.max_attempts and not isinstance(error, PERMANENT_ERRORS)


def _parse_cron_field(text: str, lo: int, hi: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, step_text = part.partition("/")
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValidationError(f"cron {name}: bad step {step_text!r}", field="schedule")
            step = int(step_text)
        if part == "*":
            start, end = lo, hi
        elif "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()):
                raise ValidationError(f"cron {name}: bad range {part!r}", field="schedule")
            start, end = int(a), int(b)
        elif part.isdigit():
            start = int(part)
            end = hi if step > 1 else start
        else:
            raise ValidationError(f"cron {name}: bad value {part!r}", field="schedule")
        if not lo <= start <= end <= hi:
            raise ValidationError(f"cron {name}: {part!r} outside {lo}-{hi}", field="schedule")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@frozen
class Cron:
    """Five-field cron (minute hour day-of-month month day-of-week, UTC; 0 or 7 = Sunday).

    Supports ``*``, numbers, ``a-b`` ranges, ``/n`` steps and comma lists. As in classic cron, when both
    day fields are restricted a day matching either one fires.
    """

    expression: str
    minutes: frozenset[int] = field(init=False)
    hours: frozenset[int] = field(init=False)
    days: frozenset[int] = field(init=False)
    months: frozenset[int] = field(init=False)
    weekdays: frozenset[int] = field(init=False)
    any_day: bool = field(init=False)
    any_weekday: bool = field(init=False)

    def __attrs_post_init__(self) -> None:
        parts = self.expression.split()
        if len(parts) != 5:
            raise ValidationError("cron needs 5 fields: minute hour day month weekday", field="schedule")
        object.__setattr__(self, "minutes", _parse_cron_field(parts[0], 0, 59, "minute"))
        object.__setattr__(self, "hours", _parse_cron_field(parts[1], 0, 23, "hour"))
        object.__setattr__(self, "days", _parse_cron_field(parts[2], 1, 31, "day"))
        object.__setattr__(self, "months", _parse_cron_field(parts[3], 1, 12, "month"))
        object.__setattr__(self, "weekdays",
                           frozenset(d % 7 for d in _parse_cron_field(parts[4], 0, 7, "weekday")))
        object.__setattr__(self, "any_day", parts[2] == "*")
        object.__setattr__(self, "any_weekday", parts[4] == "*")

    def _day_matches(self, moment: datetime) -> bool:
        cron_weekday = (moment.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        in_days, in_weekdays = moment.day in self.days, cron_weekday in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_after(self, moment: datetime) -> datetime:
        """The first firing time strictly after ``moment`` (UTC, whole minutes)."""
        t = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months or not self._day_matches(t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
            elif t.hour not in self.hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValidationError(f"cron {self.expression!r} never fires", field="schedule")


@frozen
class Schedule:
    """Either every ``every_seconds`` (slots aligned to the Unix epoch, so all workers agree) or a cron."""

    every_seconds: int | None = None
    cron: Cron | None = None

    def __attrs_post_init__(self) -> None:
        if (self.every_seconds is None) == (self.cron is None):
            raise ValidationError("a schedule is either every N seconds or a cron expression", field="schedule")
        if self.every_seconds is not None and self.every_seconds < 1:
            raise ValidationError("every N seconds needs N >= 1", field="schedule")

    @classmethod
    def every(cls, seconds: int) -> Schedule:
        return cls(every_seconds=seconds)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``every:300`` or ``cron:*/5 * * * *``. Raises ValidationError."""
        kind, _, rest = text.strip().partition(":")
        if kind == "every" and rest.strip().isdigit():
            return cls(every_seconds=int(rest))
        if kind == "cron":
            return cls(cron=Cron(rest.strip()))
        raise ValidationError(f"schedule {text!r}: expected every:SECONDS or cron:EXPRESSION", field="schedule")

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``."""
        if self.cron is not None:
            return self.cron.next_after(moment)
        assert self.every_seconds is not None
        epoch = int(moment.timestamp())
        return datetime.fromtimestamp((epoch // self.every_seconds + 1) * self.every_seconds, UTC)


@frozen
class TaskSpec:
    name: str
    handler: Handler
    retry: RetryPolicy = RetryPolicy()
    lock: str | None = None  # str.format template over the payload, e.g. "sync:panel:{panel_id}"
    schedule: Schedule | None = None
    queue: str = "default"
    timeout: float = 600.0  # seconds; a run taking longer is cancelled and counts as a failed attempt

    def key_for(self, payload: Mapping[str, JSON]) -> str | None:
        """The lock key for ``payload``: the template filled in, or None. Raises ValidationError."""
        if self.lock is None:
            return None
        try:
            return self.lock.format(**payload)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValidationError(f"task {self.name}: lock {self.lock!r} needs {exc}", field="payload") from None


class TaskRegistry:
    """Task name -> :class:`TaskSpec`. Built once at start-up; read by workers and outboxes."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskSpec] = {}
        self.loaded_modules: set[str] = set()  # task modules already registered (see container.build_job_runner)

    def register(self, name: str, handler: Handler, *, retry: RetryPolicy | None = None, lock: str | None = None,
                 schedule: Schedule | None = None, queue: str = "default", timeout: float = 600.0) -> TaskSpec:
        """Add a task. Raises ConflictError-like ValidationError when the name is taken or empty."""
        if not name or len(name) > 128:
            raise ValidationError("task names are 1-128 characters", field="task")
        if name in self._tasks:
            raise ValidationError(f"task {name!r} is already registered", field="task")
        spec = TaskSpec(name=name, handler=handler, retry=retry or RetryPolicy(), lock=lock, schedule=schedule,
                        queue=queue, timeout=timeout)
        self._tasks[name] = spec
        return spec

    def task(self, name: str, **options: object) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""
        def decorate(handler: Handler) -> Handler:
            self.register(name, handler, **options)  # type: ignore[arg-type]
            return handler
        return decorate

    def get(self, name: str) -> TaskSpec:
        try:
            return self._tasks[name]
        except KeyError:
            raise NotFoundError(f"no task named {name!r}", code="TASK_NOT_FOUND") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tasks))

    def periodic(self) -> list[TaskSpec]:
        return [spec for spec in self._tasks.values() if spec.schedule is not None]

    def set_schedule(self, name: str, schedule: Schedule | None) -> None:
        """Change (or with None, switch off) the schedule of a registered task."""
        spec = self.get(name)
        self._tasks[name] = TaskSpec(name=spec.name, handler=spec.handler, retry=spec.retry, lock=spec.lock,
                                     schedule=schedule, queue=spec.queue, timeout=spec.timeout)

    def configure_schedules(self, overrides: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Apply ``{task: "every:300" | "cron:0 3 * * *" | "off"}``; unknown tasks raise NotFoundError."""
        items = overrides.items() if isinstance(overrides, Mapping) else overrides
        for name, text in items:
            self.set_schedule(name, None if text.strip().lower() == "off" else Schedule.parse(text))


def parse_schedule_overrides(text: str) -> dict[str, str]:
    """``"usage.sync=every:300; expiry.enforce=cron:*/5 * * * *; smm.poll=off"`` -> dict.

    Entries are separated by ``;`` (cron lists use commas). Raises ValidationError on a malformed entry;
    each value is checked with :meth:`Schedule.parse`.
    """
    result: dict[str, str] = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValidationError(f"schedule entry {entry.strip()!r}: expected task=every:N|cron:EXPR|off",
                                  field="schedule")
        if value.strip().lower() != "off":
            Schedule.parse(value)
        result[name.strip()] = value.strip()
    return result
