"""The SmmProvider contract: the guarantees every upstream SMM adapter gives the order use cases.

The harness gives a fresh provider (with some balance) and the panel-side hooks: ``order(n)`` builds the n-th
distinct order the provider accepts (distinct links, so no duplicate-link refusal), ``complete(order_id)`` makes
the provider finish an order, ``unknown_service`` is an order for a service it does not sell, and
``set_outage(True/False)`` (optional) makes it unreachable. Hooks may be plain or async functions.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import define

from vpnsmm.application.ports.smm_provider import (
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderErrorKind,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
    ProviderService,
    SmmProvider,
)
from vpnsmm.domain.errors import UpstreamRejectedError, UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.testing.contracts._base import (
    Check,
    ContractReport,
    HarnessFactory,
    expect,
    expect_equal,
    expect_raises,
    maybe_await,
    run_contract,
)


@define
class ProviderHarness:
    """A provider under test and the panel-side hooks (see the module doc). ``unknown_order_id`` must be an id
    the provider never issued."""

    provider: SmmProvider
    order: Callable[[int], AddOrder]
    complete: Callable[[str], object]
    unknown_service: AddOrder
    set_outage: Callable[[bool], object] | None = None
    unknown_order_id: str = "987654321"


async def services_are_well_formed(h: ProviderHarness) -> None:
    services = await h.provider.services()
    expect(services, "the catalogue must not be empty")
    expect(all(isinstance(s, ProviderService) for s in services), "services() returns ProviderService values")
    ids = [s.service_id for s in services]
    expect_equal(len(set(ids)), len(ids), "number of distinct service ids")
    for s in services:
        expect(isinstance(s.rate, Money) and not s.rate.is_negative, f"service {s.service_id}: rate is Money >= 0")
        expect(0 <= s.min <= s.max, f"service {s.service_id}: 0 <= min <= max ({s.min}, {s.max})")


async def add_gives_distinct_ids_and_a_running_order(h: ProviderHarness) -> None:
    first = await h.provider.add(h.order(1))
    second = await h.provider.add(h.order(2))
    expect(isinstance(first, str) and first, "add returns the provider's order id as text")
    expect(first != second, "two orders get two ids")
    state = (await h.provider.status([first]))[first]
    expect(isinstance(state, ProviderOrderStatus), f"status of a new order: {state!r}")
    assert isinstance(state, ProviderOrderStatus)
    expect(state.status is not None and not state.status.is_terminal,
           f"a new order is not settled yet: {state.status}")


async def completed_order_reports_completed(h: ProviderHarness) -> None:
    order_id = await h.provider.add(h.order(1))
    await maybe_await(h.complete(order_id))
    state = (await h.provider.status([order_id]))[order_id]
    expect(isinstance(state, ProviderOrderStatus) and state.status is OrderStatus.COMPLETED,
           f"status after completion: {state!r}")


async def unknown_service_is_rejected(h: ProviderHarness) -> None:
    caught = await expect_raises(ProviderRejectedError, h.provider.add(h.unknown_service), "add of an unknown service")
    assert isinstance(caught, ProviderRejectedError)
    expect_equal(caught.kind, ProviderErrorKind.SERVICE, "rejection kind")
    expect(isinstance(caught, UpstreamRejectedError), "ProviderRejectedError is an UpstreamRejectedError")


async def status_keeps_the_requested_order_and_maps_unknown_ids(h: ProviderHarness) -> None:
    placed = await h.provider.add(h.order(1))
    unknown = h.unknown_order_id
    result = await h.provider.status([unknown, placed])
    expect_equal(list(result), [unknown, placed], "result keys, in the requested order")
    expect(isinstance(result[placed], ProviderOrderStatus), f"status of a placed order: {result[placed]!r}")
    missing = result[unknown]
    expect(isinstance(missing, ProviderError) and missing.kind is ProviderErrorKind.NOT_FOUND,
           f"an unknown id is a per-id NOT_FOUND error, not a failure of the request: {missing!r}")


async def status_of_no_ids_is_empty(h: ProviderHarness) -> None:
    expect_equal(await h.provider.status([]), {}, "status([])")


async def status_refuses_ids_that_cannot_be_sent(h: ProviderHarness) -> None:
    for bad in ("", "  ", "1,2"):
        await expect_raises(ValidationError, h.provider.status(["1", bad]), f"status with the id {bad!r}")


async def cancel_and_refill_status_map_unknown_ids(h: ProviderHarness) -> None:
    unknown = h.unknown_order_id
    cancel = (await h.provider.cancel([unknown]))[unknown]
    expect(isinstance(cancel, ProviderError | CancelAccepted), f"cancel result: {cancel!r}")
    expect(isinstance(cancel, ProviderError) and cancel.kind is ProviderErrorKind.NOT_FOUND,
           f"cancel of an unknown id is a per-id NOT_FOUND error: {cancel!r}")
    refill = (await h.provider.refill_status([unknown]))[unknown]
    expect(isinstance(refill, ProviderError | ProviderRefill), f"refill_status result: {refill!r}")
    expect(isinstance(refill, ProviderError) and refill.kind is ProviderErrorKind.NOT_FOUND,
           f"refill_status of an unknown id is a per-id NOT_FOUND error: {refill!r}")


async def balance_is_money(h: ProviderHarness) -> None:
    balance = await h.provider.balance()
    expect(isinstance(balance, Money), f"balance() returns Money: {balance!r}")


async def outage_is_unavailable_and_add_outcome_unknown(h: ProviderHarness) -> None:
    if h.set_outage is None:
        return  # the harness cannot take the provider down: nothing to check
    await maybe_await(h.set_outage(True))
    try:
        for name, call in (("services", h.provider.services()), ("status", h.provider.status(["1"])),
                           ("balance", h.provider.balance())):
            caught = await expect_raises(UpstreamUnavailableError, call, f"{name} during an outage")
            expect(type(caught) is not ProviderOutcomeUnknownError, f"{name}: outcome-unknown is only for add")
        await expect_raises(ProviderOutcomeUnknownError, h.provider.add(h.order(1)),
                            "add during an outage (the order may or may not exist)")
    finally:
        await maybe_await(h.set_outage(False))


SMM_PROVIDER_CHECKS: dict[str, Check[ProviderHarness]] = {
    fn.__name__: fn for fn in (
        services_are_well_formed,
        add_gives_distinct_ids_and_a_running_order,
        completed_order_reports_completed,
        unknown_service_is_rejected,
        status_keeps_the_requested_order_and_maps_unknown_ids,
        status_of_no_ids_is_empty,
        status_refuses_ids_that_cannot_be_sent,
        cancel_and_refill_status_map_unknown_ids,
        balance_is_money,
        outage_is_unavailable_and_add_outcome_unknown,
    )
}


async def check_smm_provider(make: HarnessFactory[ProviderHarness], *,
                             only: list[str] | None = None) -> ContractReport:
    """Run every SmmProvider check (or ``only`` those) against fresh harnesses from ``make()``."""
    return await run_contract("SmmProvider", SMM_PROVIDER_CHECKS, make, only=only)


__all__ = ["SMM_PROVIDER_CHECKS", "ProviderHarness", "check_smm_provider"]
