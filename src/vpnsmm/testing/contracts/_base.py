"""Machinery shared by the packaged contract suites: checks are plain async functions (no pytest needed)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from attrs import frozen

H = TypeVar("H")
#: One contract check: an async function that takes a fresh harness and raises ContractViolation on failure.
Check = Callable[[H], Awaitable[None]]
#: Builds one fresh harness per check: ``make()`` is an async context manager yielding the harness.
HarnessFactory = Callable[[], AbstractAsyncContextManager[H]]


class ContractViolation(AssertionError):
    """A port guarantee does not hold for the implementation under test. (An AssertionError, so test runners
    report it as an ordinary failure; raised explicitly, so it works under ``python -O`` too.)"""


def expect(condition: object, message: str) -> None:
    """Raise ContractViolation(message) unless ``condition`` is truthy."""
    if not condition:
        raise ContractViolation(message)


def expect_equal(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise ContractViolation(f"{what}: expected {expected!r}, got {actual!r}")


async def expect_raises(error: type[BaseException] | tuple[type[BaseException], ...], call: Awaitable[Any],
                        what: str) -> BaseException:
    """Await ``call`` and return the exception it raised; ContractViolation if it raised nothing or another type."""
    try:
        await call
    except error as exc:
        return exc
    except Exception as exc:  # another error: report what was raised instead
        raise ContractViolation(f"{what}: expected {_names(error)}, got {type(exc).__name__}: {exc}") from exc
    raise ContractViolation(f"{what}: expected {_names(error)}, nothing was raised")


def _names(error: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    return " or ".join(e.__name__ for e in (error if isinstance(error, tuple) else (error,)))


async def maybe_await(value: object) -> object:
    """Harness hooks may be plain or async functions: await the result when it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


@frozen
class CheckResult:
    name: str
    error: BaseException | None

    @property
    def passed(self) -> bool:
        return self.error is None


@frozen
class ContractReport:
    """What :func:`run_contract` found. ``raise_for_failures()`` turns failures into one ContractViolation."""

    suite: str
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def raise_for_failures(self) -> None:
        if self.failures:
            lines = [f"{r.name}: {type(r.error).__name__}: {r.error}" for r in self.failures]
            raise ContractViolation(f"{self.suite}: {len(lines)} of {len(self.results)} checks failed\n"
                                    + "\n".join(lines))


async def run_contract(suite: str, checks: Mapping[str, Check[H]], make: HarnessFactory[H], *,
                       only: Iterable[str] | None = None) -> ContractReport:
    """Run each check against a fresh harness from ``make()`` and collect the results (never stops early).

    Any exception a check raises counts as a failure of that check (a ContractViolation, or the adapter's own
    unexpected error). ``only`` restricts the run to the named checks (KeyError for an unknown name).
    """
    names = list(checks) if only is None else list(only)
    results: list[CheckResult] = []
    for name in names:
        check = checks[name]
        try:
            async with make() as harness:
                await check(harness)
        except Exception as exc:  # every failure is reported, not raised
            results.append(CheckResult(name, exc))
        else:
            results.append(CheckResult(name, None))
    return ContractReport(suite, tuple(results))
