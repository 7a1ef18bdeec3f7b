"""Contract suite for the SmmProvider port.

Every test runs against each implementation:
* ``perfect_panel`` -- PerfectPanelProvider over HTTP (ASGITransport) against the simulated Perfect Panel app;
* ``fake`` -- FakeSmmProvider calling the same SimulatedPanel directly.
Both sit over a fresh SimulatedPanel (``panel``) that the test drives (advance/tick) and inspects.

The port-level guarantees are the packaged suite ``vpnsmm.testing.contracts.SMM_PROVIDER_CHECKS`` (what a
third-party provider adapter runs too); the tests below it pin the Perfect Panel v2 wire details.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx
import pytest

from vpnsmm.adapters.smm import FakeSmmProvider, PerfectPanelProvider, SimulatedPanel, create_app
from vpnsmm.application.ports.smm_provider import (
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderErrorKind,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
    SmmProvider,
)
from vpnsmm.domain.errors import UpstreamRejectedError, UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import ExactAmount, OrderStatus, RefillStatus, ServiceType
from vpnsmm.testing.contracts import SMM_PROVIDER_CHECKS, Check, ProviderHarness

ProviderFactory = Callable[..., SmmProvider]


@pytest.fixture(params=["perfect_panel", "fake"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., SmmProvider]]:
    """``make(panel, api_key=None)`` -> a provider of the parametrised kind over ``panel``."""
    clients: list[httpx.AsyncClient] = []

    def build(panel: SimulatedPanel, api_key: str | None = None) -> SmmProvider:
        key = panel.api_key if api_key is None else api_key
        if request.param == "fake":
            return FakeSmmProvider(panel, api_key=key)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(panel)),  # type: ignore[arg-type]
                                   base_url="https://provider.test")
        clients.append(client)
        return PerfectPanelProvider(client, "https://provider.test/api/v2", key, currency_hint=Currency.USD)

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
def panel() -> SimulatedPanel:
    return SimulatedPanel(balance="100.00000", seed=7)


@pytest.fixture
def provider(make: ProviderFactory, panel: SimulatedPanel) -> SmmProvider:
    return make(panel)


def packaged_harness(provider: SmmProvider, panel: SimulatedPanel) -> ProviderHarness:
    return ProviderHarness(
        provider=provider,
        order=lambda n: AddOrder(service="1", link=f"https://instagram.com/contract-{n}", quantity=100),
        complete=lambda order_id: panel.advance(order_id, OrderStatus.COMPLETED),
        unknown_service=AddOrder(service="99", link="https://instagram.com/x", quantity=100),
        set_outage=lambda down: setattr(panel, "outage", down))


@pytest.mark.parametrize("check", list(SMM_PROVIDER_CHECKS.values()), ids=list(SMM_PROVIDER_CHECKS))
async def test_packaged_smm_provider_contract(provider: SmmProvider, panel: SimulatedPanel,
                                             check: Check[ProviderHarness]) -> None:
    await check(packaged_harness(provider, panel))


def usd(text: str) -> Money:
    return Money.parse(text, Currency.USD)


# -- services --------------------------------------------------------------------------------------
async def test_services_lists_the_catalogue_with_exact_rates_and_flags(provider: SmmProvider) -> None:
    services = {s.service_id: s for s in await provider.services()}

    assert list(services) == [str(i) for i in range(1, 13)]
    followers = services["1"]
    assert (followers.name, followers.type, followers.category) == (
        "Instagram Followers", ServiceType.DEFAULT, "Instagram")
    assert followers.rate == usd("0.90")
    assert (followers.min, followers.max, followers.refill, followers.cancel, followers.dripfeed) == (
        50, 10000, True, True, True)
    views = services["3"]  # sub-cent rate: Money rounds UP, the exact value is kept
    assert views.rate == usd("0.02")
    assert views.rate_exact == ExactAmount.parse("0.0125", "USD")
    assert not views.dripfeed  # flag absent on the wire reads as False
    assert services["2"].type is ServiceType.CUSTOM_COMMENTS
    assert services["11"].type is ServiceType.SUBSCRIPTIONS
    assert services["12"].type is None  # Web Traffic: not modelled, still listed
    assert services["12"].type_name == "Web Traffic"


# -- add -------------------------------------------------------------------------------------------
ADD_CASES = [
    # (order, charge at the provider in 10**-5 units, quantity the provider tracks)
    pytest.param(AddOrder(service="1", link="https://instagram.com/a", quantity=1000), 90000, 1000, id="default"),
    pytest.param(AddOrder(service="1", link="https://instagram.com/b", quantity=100, runs=3, interval=30),
                 27000, 300, id="dripfeed"),
    pytest.param(AddOrder(service="3", link="https://youtu.be/x", quantity=100), 125, 100, id="subcent"),
    pytest.param(AddOrder(service="2", link="https://instagram.com/p/1",
                          comments="nice\ncool\n\nwow\n1\n2\n3\n4\n5\n6\n7"), 8000, 10, id="custom-comments"),
    pytest.param(AddOrder(service="4", link="https://instagram.com/p/2"), 250000, 1, id="package"),
    pytest.param(AddOrder(service="5", link="https://instagram.com/p/3", comments=["a, with comma", "b"]),
                 310000, 1, id="custom-comments-package"),
    pytest.param(AddOrder(service="6", link="https://instagram.com/p/4", quantity=100, usernames=["u1", "u2"]),
                 12000, 100, id="mentions"),
    pytest.param(AddOrder(service="7", link="https://instagram.com/p/5", quantity=200, usernames=["u1"],
                          hashtags=["#a", "#b"]), 30000, 200, id="mentions-hashtags"),
    pytest.param(AddOrder(service="8", link="https://instagram.com/p/6", usernames="u1\nu2\nu3"), 600, 3,
                 id="mentions-custom-list"),
    pytest.param(AddOrder(service="9", link="https://instagram.com/p/7", quantity=20, username="owner"),
                 8000, 20, id="comment-likes"),
    pytest.param(AddOrder(service="10", link="https://t.me/c/1", quantity=100, answer_number=2), 3500, 100,
                 id="poll"),
    pytest.param(AddOrder(service="11", username="someone", min=50, max=100, delay=30, posts=5, old_posts=2,
                          expiry=date(2030, 12, 31)), 0, 0, id="subscription"),
]


@pytest.mark.parametrize(("order", "charge_units", "quantity"), ADD_CASES)
async def test_add_each_type_charges_the_balance_and_starts_pending(
        provider: SmmProvider, panel: SimulatedPanel, order: AddOrder, charge_units: int, quantity: int) -> None:
    before = panel.balance

    order_id = await provider.add(order)

    assert order_id == "1001"
    assert panel.balance == before - charge_units
    placed = panel.orders[1001]
    assert (placed.charge, placed.quantity, placed.remains) == (charge_units, quantity, quantity)
    if order.link:
        assert placed.link == order.link
    state = (await provider.status([order_id]))[order_id]
    assert isinstance(state, ProviderOrderStatus)
    assert state.status is OrderStatus.PENDING
    if order.service == "11":  # a subscription answers the smm.md §1.4 shape: no charge/remains, no posts yet
        assert (state.charge_exact, state.remains, state.child_ids, state.posts, state.expiry) == (
            None, None, (), 0, date(2030, 12, 31))
        return
    assert state.charge_exact == ExactAmount.of(charge_units, 5, "USD")
    assert state.remains == quantity


async def test_add_gives_consecutive_ids(provider: SmmProvider) -> None:
    first = await provider.add(AddOrder(service="1", link="https://x.com/1", quantity=50))
    second = await provider.add(AddOrder(service="1", link="https://x.com/2", quantity=50))
    assert (first, second) == ("1001", "1002")


@pytest.mark.parametrize(("order", "message", "kind"), [
    (AddOrder(service="99", link="https://x.com/a", quantity=100), "Incorrect service ID", ProviderErrorKind.SERVICE),
    (AddOrder(service="12", link="https://x.com/a", quantity=100), "Incorrect service ID", ProviderErrorKind.SERVICE),
    (AddOrder(service="1", link="https://x.com/a", quantity=10), "Quantity less than minimal 50",
     ProviderErrorKind.QUANTITY),
    (AddOrder(service="1", link="https://x.com/a", quantity=10001), "Quantity more than maximum 10000",
     ProviderErrorKind.QUANTITY),
    (AddOrder(service="2", link="https://x.com/a", comments=["only one"]), "Quantity less than minimal 10",
     ProviderErrorKind.QUANTITY),
    (AddOrder(service="1", link="not a link", quantity=100), "Incorrect link", ProviderErrorKind.LINK),
    (AddOrder(service="1", quantity=100), "Incorrect link", ProviderErrorKind.LINK),
    (AddOrder(service="3", link="https://x.com/a", quantity=100, runs=2, interval=5), "Incorrect request",
     ProviderErrorKind.BAD_REQUEST),
    (AddOrder(service="2", link="https://x.com/a"), "Incorrect request", ProviderErrorKind.BAD_REQUEST),
    (AddOrder(service="11", username="u", min=50, max=60, delay=7), "Incorrect request",
     ProviderErrorKind.BAD_REQUEST),
    (AddOrder(service="10", link="https://x.com/a", quantity=100), "Incorrect request",
     ProviderErrorKind.BAD_REQUEST),
])
async def test_add_rejections_carry_the_provider_message(
        provider: SmmProvider, panel: SimulatedPanel, order: AddOrder, message: str,
        kind: ProviderErrorKind) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.add(order)

    assert caught.value.provider_message == message
    assert caught.value.kind is kind
    assert isinstance(caught.value, UpstreamRejectedError)
    assert panel.orders == {}
    assert panel.balance_text() == "100.00000"


async def test_add_refuses_when_the_balance_is_short(make: ProviderFactory) -> None:
    panel = SimulatedPanel(balance="0.89999")
    provider = make(panel)

    with pytest.raises(ProviderRejectedError) as caught:
        await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=1000))

    assert caught.value.provider_message == "Not enough funds on balance"
    assert caught.value.kind is ProviderErrorKind.BALANCE
    assert caught.value.kind.retryable


async def test_add_refuses_a_second_active_order_for_the_same_link(provider: SmmProvider,
                                                                   panel: SimulatedPanel) -> None:
    await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100))
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100))
    assert caught.value.kind is ProviderErrorKind.DUPLICATE_LINK

    panel.advance(1001, OrderStatus.COMPLETED)
    assert await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100)) == "1002"


# -- status ----------------------------------------------------------------------------------------
async def test_status_of_many_ids_maps_unknown_ids_to_errors(provider: SmmProvider, panel: SimulatedPanel) -> None:
    first = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=1000))
    second = await provider.add(AddOrder(service="1", link="https://x.com/b", quantity=200))
    panel.advance(first, OrderStatus.PARTIAL, remains=157)
    panel.advance(second, OrderStatus.IN_PROGRESS, remains=10)

    result = await provider.status([first, "10", second, "abc"])

    assert list(result) == [first, "10", second, "abc"]
    partial = result[first]
    assert isinstance(partial, ProviderOrderStatus)
    assert (partial.status, partial.raw_status, partial.remains) == (OrderStatus.PARTIAL, "Partial", 157)
    # 0.90 charged, 157/1000 refunded by the provider: 0.7587 left, shown as Money 0.76 (HALF_UP)
    assert partial.charge_exact == ExactAmount.parse("0.7587", "USD")
    assert partial.charge == usd("0.76")
    assert partial.currency is Currency.USD
    assert partial.start_count is not None
    assert partial.start_count > 0
    running = result[second]
    assert isinstance(running, ProviderOrderStatus)
    assert (running.status, running.remains) == (OrderStatus.IN_PROGRESS, 10)
    for bad in ("10", "abc"):
        assert result[bad] == ProviderError("Incorrect order ID", ProviderErrorKind.NOT_FOUND)


async def test_status_of_one_unknown_id_is_a_per_id_error(provider: SmmProvider) -> None:
    assert await provider.status(["4242"]) == {
        "4242": ProviderError("Incorrect order ID", ProviderErrorKind.NOT_FOUND)}


async def test_status_splits_more_than_100_ids_into_chunks(provider: SmmProvider, panel: SimulatedPanel) -> None:
    placed = [await provider.add(AddOrder(service="3", link=f"https://youtu.be/{i}", quantity=100))
              for i in range(3)]
    ids = [str(5000 + i) for i in range(247)] + placed + placed  # 250 distinct ids, duplicates folded

    result = await provider.status(ids)

    assert len(result) == 250
    assert panel.calls == [("status", 100), ("status", 100), ("status", 50)]
    assert all(isinstance(result[i], ProviderOrderStatus) for i in placed)
    assert all(isinstance(result[str(5000 + i)], ProviderError) for i in range(247))


async def test_status_of_no_ids_asks_nothing(provider: SmmProvider, panel: SimulatedPanel) -> None:
    assert await provider.status([]) == {}
    assert panel.calls == []


@pytest.mark.parametrize("bad", ["", "  ", "1,2"])
async def test_status_refuses_ids_that_cannot_be_sent(provider: SmmProvider, bad: str) -> None:
    with pytest.raises(ValidationError):
        await provider.status(["1", bad])


@pytest.mark.parametrize(("target", "spelling", "expected"), [
    (OrderStatus.IN_PROGRESS, "Inprogress", OrderStatus.IN_PROGRESS),
    (OrderStatus.IN_PROGRESS, "in_progress", OrderStatus.IN_PROGRESS),
    (OrderStatus.CANCELED, "Cancelled", OrderStatus.CANCELED),
    (OrderStatus.PROCESSING, "Processing", OrderStatus.PROCESSING),
    (OrderStatus.IN_PROGRESS, "Awaiting moderation", None),
])
async def test_status_names_are_normalised(provider: SmmProvider, panel: SimulatedPanel, target: OrderStatus,
                                           spelling: str, expected: OrderStatus | None) -> None:
    order_id = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100))
    panel.advance(order_id, target, report_as=spelling)

    state = (await provider.status([order_id]))[order_id]

    assert isinstance(state, ProviderOrderStatus)
    assert (state.status, state.raw_status) == (expected, spelling)


async def test_canceled_order_is_refunded_in_full_at_the_provider(provider: SmmProvider,
                                                                  panel: SimulatedPanel) -> None:
    order_id = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=1000))
    assert await provider.balance() == usd("99.10")

    panel.advance(order_id, OrderStatus.CANCELED)

    state = (await provider.status([order_id]))[order_id]
    assert isinstance(state, ProviderOrderStatus)
    assert state.status is OrderStatus.CANCELED
    assert state.charge == usd("0")
    assert await provider.balance() == usd("100.00")


async def test_tick_moves_orders_along_reproducibly(make: ProviderFactory) -> None:
    outcomes = []
    for _ in range(2):
        panel = SimulatedPanel(seed=3)
        provider = make(panel)
        ids = [await provider.add(AddOrder(service="1", link=f"https://x.com/{i}", quantity=1000))
               for i in range(6)]
        seen = []
        for _ in range(40):
            panel.tick()
            states = await provider.status(ids)
            seen.append(tuple((s.status, s.remains) for s in states.values() if isinstance(s, ProviderOrderStatus)))
        outcomes.append(seen)
        final = [s.status for s in states.values() if isinstance(s, ProviderOrderStatus)]
        assert all(status is not None and status.is_terminal for status in final)
        assert seen[0] == tuple((OrderStatus.IN_PROGRESS, 1000) for _ in ids)
    assert outcomes[0] == outcomes[1]


# -- refill ----------------------------------------------------------------------------------------
async def test_refill_of_a_completed_order_and_its_status(provider: SmmProvider, panel: SimulatedPanel) -> None:
    order_id = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100))
    panel.advance(order_id, OrderStatus.COMPLETED)

    refill_id = await provider.refill(order_id)

    assert refill_id == "1"
    assert await provider.refill_status([refill_id]) == {"1": ProviderRefill(RefillStatus.PENDING, "Pending")}
    panel.tick()
    panel.tick()
    assert await provider.refill_status([refill_id, "77"]) == {
        "1": ProviderRefill(RefillStatus.COMPLETED, "Completed"),
        "77": ProviderError("Refill not found", ProviderErrorKind.NOT_FOUND),
    }
    panel.advance_refill(refill_id, RefillStatus.REJECTED)
    assert await provider.refill_status([refill_id]) == {"1": ProviderRefill(RefillStatus.REJECTED, "Rejected")}
    assert await provider.refill_status(["78"]) == {
        "78": ProviderError("Refill not found", ProviderErrorKind.NOT_FOUND)}


async def test_refill_is_refused_when_not_eligible(provider: SmmProvider, panel: SimulatedPanel) -> None:
    running = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100))
    no_refill = await provider.add(AddOrder(service="3", link="https://x.com/b", quantity=100))
    panel.advance(no_refill, OrderStatus.COMPLETED)

    for order_id in (running, no_refill):
        with pytest.raises(ProviderRejectedError) as caught:
            await provider.refill(order_id)
        assert caught.value.provider_message == "Order not eligible for refill."
        assert caught.value.kind is ProviderErrorKind.NOT_ALLOWED
    with pytest.raises(ProviderRejectedError) as unknown:
        await provider.refill("999")
    assert unknown.value.kind is ProviderErrorKind.NOT_FOUND


# -- cancel ----------------------------------------------------------------------------------------
async def test_cancel_is_accepted_then_settled_on_the_next_tick(provider: SmmProvider,
                                                                panel: SimulatedPanel) -> None:
    cancellable = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=1000))
    not_cancellable = await provider.add(AddOrder(service="3", link="https://x.com/b", quantity=100))

    result = await provider.cancel([cancellable, not_cancellable, "9"])

    assert result == {
        cancellable: CancelAccepted(cancellable),
        not_cancellable: ProviderError("Order cannot be canceled", ProviderErrorKind.NOT_ALLOWED),
        "9": ProviderError("Incorrect order ID", ProviderErrorKind.NOT_FOUND),
    }
    state = (await provider.status([cancellable]))[cancellable]
    assert isinstance(state, ProviderOrderStatus)
    assert state.status is OrderStatus.PENDING  # accepted is not canceled yet
    panel.tick()
    state = (await provider.status([cancellable]))[cancellable]
    assert isinstance(state, ProviderOrderStatus)
    assert state.status is OrderStatus.CANCELED
    assert (await provider.cancel([cancellable]))[cancellable] == ProviderError(
        "Order cannot be canceled", ProviderErrorKind.NOT_ALLOWED)


async def test_cancel_chunks_large_batches(provider: SmmProvider, panel: SimulatedPanel) -> None:
    result = await provider.cancel([str(i) for i in range(1, 202)])
    assert len(result) == 201
    assert panel.calls == [("cancel", 100), ("cancel", 100), ("cancel", 1)]


# -- balance ---------------------------------------------------------------------------------------
async def test_balance_is_rounded_down(make: ProviderFactory) -> None:
    assert await make(SimulatedPanel(balance="100.84292")).balance() == usd("100.84")
    assert await make(SimulatedPanel(balance="0.00999")).balance() == usd("0.00")


async def test_unsupported_provider_currency(make: ProviderFactory) -> None:
    panel = SimulatedPanel(currency="BDT")
    provider = make(panel)
    with pytest.raises(ProviderRejectedError, match="BDT"):
        await provider.balance()
    order_id = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=100))
    state = (await provider.status([order_id]))[order_id]
    assert isinstance(state, ProviderOrderStatus)
    assert (state.status, state.charge, state.currency) == (OrderStatus.PENDING, None, None)


# -- whole-request failures ------------------------------------------------------------------------
CALLS = {
    "services": lambda p: p.services(),
    "add": lambda p: p.add(AddOrder(service="1", link="https://x.com/a", quantity=100)),
    "status": lambda p: p.status(["1", "2"]),
    "status_one": lambda p: p.status(["1"]),
    "refill": lambda p: p.refill("1"),
    "refill_status": lambda p: p.refill_status(["1"]),
    "cancel": lambda p: p.cancel(["1"]),
    "balance": lambda p: p.balance(),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_wrong_api_key_is_rejected_everywhere(make: ProviderFactory, panel: SimulatedPanel, call: str) -> None:
    provider = make(panel, api_key="wrong")
    with pytest.raises(ProviderRejectedError) as caught:
        await CALLS[call](provider)
    assert caught.value.provider_message == "Invalid API key"
    assert caught.value.kind is ProviderErrorKind.AUTH
    assert not caught.value.kind.retryable


@pytest.mark.parametrize("call", list(CALLS))
async def test_outage_is_unavailable_and_add_outcome_unknown(provider: SmmProvider, panel: SimulatedPanel,
                                                            call: str) -> None:
    panel.outage = True
    expected = ProviderOutcomeUnknownError if call == "add" else UpstreamUnavailableError
    with pytest.raises(UpstreamUnavailableError) as caught:
        await CALLS[call](provider)
    assert type(caught.value) is expected


async def test_subscription_children_read_the_same_over_the_wire_and_in_process(
        provider: SmmProvider, panel: SimulatedPanel) -> None:
    parent = await provider.add(AddOrder(service="11", username="someone", min=50, max=60, delay=0, posts=1,
                                         old_posts=1))
    first = panel.new_post(parent)
    running = (await provider.status([parent]))[parent]
    assert isinstance(running, ProviderOrderStatus)
    assert (running.status, running.raw_status, running.child_ids, running.posts) == (
        OrderStatus.IN_PROGRESS, "Active", (str(first.id),), 1)
    assert 50 <= first.quantity <= 60 and first.subscription is None

    second = panel.new_post(parent)  # the last post ends the subscription
    done = (await provider.status([parent, str(second.id)]))
    ended, child = done[parent], done[str(second.id)]
    assert isinstance(ended, ProviderOrderStatus) and isinstance(child, ProviderOrderStatus)
    assert (ended.status, ended.child_ids, ended.posts) == (
        OrderStatus.COMPLETED, (str(first.id), str(second.id)), 2)
    assert (child.status, child.remains) == (OrderStatus.PENDING, second.quantity)  # an ordinary order
    with pytest.raises(ValueError):
        panel.new_post(parent)
