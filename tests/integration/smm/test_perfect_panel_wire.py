"""PerfectPanelProvider against hand-written panel answers: the shapes real panels and clones send (smm.md §1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from urllib.parse import parse_qs

import httpx
import pytest

from vpnsmm.adapters.smm import PerfectPanelProvider
from vpnsmm.adapters.smm.perfect_panel import decimal_text, int_or_none
from vpnsmm.application.ports.smm_provider import (
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderErrorKind,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
)
from vpnsmm.domain.errors import UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import ExactAmount, OrderStatus, RefillStatus

URL = "https://panel.test/api/v2"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers with a scripted response."""

    def __init__(self, answer: Handler | httpx.Response | object):
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        if isinstance(self.answer, httpx.Response):
            return self.answer
        return httpx.Response(200, json=self.answer)

    def form(self, index: int = -1) -> dict[str, str]:
        parsed = parse_qs(self.requests[index].content.decode(), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}


def provider_for(answer: object, **kwargs: object) -> tuple[PerfectPanelProvider, Recorder]:
    recorder = Recorder(answer)
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return PerfectPanelProvider(client, URL, "secret-key", **kwargs), recorder  # type: ignore[arg-type]


def raw(body: bytes, status: int = 200, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type})


# -- request shape ---------------------------------------------------------------------------------
async def test_requests_are_form_posts_with_key_and_action() -> None:
    provider, recorder = provider_for({"balance": "1.00", "currency": "USD"})

    await provider.balance()

    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert recorder.form() == {"key": "secret-key", "action": "balance"}


async def test_add_sends_exactly_the_type_fields() -> None:
    provider, recorder = provider_for({"order": 23501})

    order_id = await provider.add(AddOrder(service=2, link="https://x.com/p", comments=["first, ok", "second"]))
    await provider.add(AddOrder(service="11", username="bob", min=10, max=20, delay=0, old_posts=5,
                                expiry=date(2022, 11, 1)))
    await provider.add(AddOrder(service="1", link="https://x.com/q", quantity=100, runs=3, interval=15))

    assert order_id == "23501"
    assert recorder.form(0) == {"key": "secret-key", "action": "add", "service": "2", "link": "https://x.com/p",
                                "comments": "first, ok\nsecond"}
    assert recorder.form(1) == {"key": "secret-key", "action": "add", "service": "11", "username": "bob",
                                "min": "10", "max": "20", "delay": "0", "old_posts": "5", "expiry": "01/11/2022"}
    assert recorder.form(2) == {"key": "secret-key", "action": "add", "service": "1", "link": "https://x.com/q",
                                "quantity": "100", "runs": "3", "interval": "15"}


async def test_add_reads_string_ids_and_ignores_extra_fields() -> None:
    provider, _ = provider_for({"status": "success", "order": "23501 "})
    assert await provider.add(AddOrder(service="1", link="https://x.com", quantity=10)) == "23501"


@pytest.mark.parametrize("body", [{"status": "success"}, {"order": None}, {"order": True}, [], {"order": ""}])
async def test_add_without_an_order_id_is_an_unknown_outcome(body: object) -> None:
    provider, _ = provider_for(body)
    with pytest.raises(ProviderOutcomeUnknownError):
        await provider.add(AddOrder(service="1", link="https://x.com", quantity=10))


# -- numbers ---------------------------------------------------------------------------------------
async def test_numbers_as_strings_or_json_numbers_are_read_exactly() -> None:
    provider, _ = provider_for(raw(
        b'[{"service":1,"name":"A","type":"Default","category":"C","rate":"0.90","min":"50","max":"10000",'
        b'"refill":true,"cancel":true},'
        b'{"service":"2","name":"B","type":"Custom Comments","category":"C","rate":0.9,"min":10,"max":1500},'
        b'{"service":3,"name":"C","rate":1e-2,"min":"1","max":"5","dripfeed":"1","desc":" hi "},'
        b'{"service":4,"name":"D","rate":0.1,"min":1,"max":2,"refill":1,"cancel":0,"description":"d"},'
        b'{"service":5,"name":"E","rate":8,"min":1,"max":2}]'))

    services = await provider.services()

    assert [s.rate_exact for s in services] == [ExactAmount.parse(t, "USD") for t in ("0.9", "0.9", "0.01", "0.1", "8")]
    assert [s.rate for s in services] == [Money.parse(t, "USD") for t in ("0.90", "0.90", "0.01", "0.10", "8")]
    assert [(s.min, s.max) for s in services] == [(50, 10000), (10, 1500), (1, 5), (1, 2), (1, 2)]
    assert [(s.refill, s.cancel, s.dripfeed) for s in services] == [
        (True, True, False), (False, False, False), (False, False, True), (True, False, False),
        (False, False, False)]
    assert services[1].service_id == "2"
    assert services[2].type_name == "Default"  # omitted type reads as Default
    assert (services[2].description, services[3].description) == ("hi", "d")


async def test_services_use_the_currency_hint() -> None:
    provider, _ = provider_for([{"service": 1, "name": "A", "rate": "150.5", "min": "1", "max": "2"}],
                               currency_hint=Currency.RUB)
    (service,) = await provider.services()
    assert service.rate == Money(15050, Currency.RUB)


async def test_unreadable_services_are_skipped_not_fatal() -> None:
    provider, _ = provider_for([
        {"service": 1, "name": "ok", "rate": "1", "min": "1", "max": "2"},
        {"service": 2, "name": "no rate", "min": "1", "max": "2"},
        {"service": 3, "name": "bad rate", "rate": "cheap", "min": "1", "max": "2"},
        {"service": 4, "name": "negative", "rate": "-1", "min": "1", "max": "2"},
        {"service": 5, "name": "bad min", "rate": "1", "min": "many", "max": "2"},
        "not an object",
    ])
    assert [s.service_id for s in await provider.services()] == ["1"]


async def test_smartpanel_empty_service_list() -> None:
    provider, _ = provider_for({"status": "success", "data": "Empty Data"})
    assert await provider.services() == []


@pytest.mark.parametrize(("value", "expected"), [
    ("0.90", "0.90"), (" 8 ", "8"), (8, "8"), ("1e-5", "0.00001"), ("2.5E+2", "250"), ("-3", "-3"),
])
def test_decimal_text(value: object, expected: str) -> None:
    assert decimal_text(value) == expected


@pytest.mark.parametrize("value", [True, None, 1.5, "NaN", "inf", "1e", [1], "1_000", "1,5", "0x10", ""])
def test_decimal_text_refuses_non_numbers(value: object) -> None:
    with pytest.raises(ValueError):
        decimal_text(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("157", 157), (157, 157), ("-12", -12), ("Unknown", None), ("", None), (None, None), ("1.5", None),
    ("3.0", 3), (True, None),
])
def test_int_or_none(value: object, expected: int | None) -> None:
    assert int_or_none(value) == expected


# -- status ----------------------------------------------------------------------------------------
async def test_single_status_uses_order_and_reads_the_pp_example() -> None:
    provider, recorder = provider_for(
        {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"})

    result = await provider.status([" 23501 "])

    assert recorder.form() == {"key": "secret-key", "action": "status", "order": "23501"}
    assert result == {"23501": ProviderOrderStatus(
        status=OrderStatus.PARTIAL, raw_status="Partial", charge=Money(28, Currency.USD),
        charge_exact=ExactAmount.parse("0.27819", "USD"), start_count=3572, remains=157, currency=Currency.USD)}


async def test_multi_status_reads_the_pp_example_and_clone_variants() -> None:
    provider, recorder = provider_for({
        "1": {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"},
        "10": {"error": "Incorrect order ID"},
        "100": {"charge": 1.44219, "start_count": 234, "status": "In progress", "remains": "10", "currency": "USD"},
        "2": "Incorrect order ID",  # SmartPanel: bare string
        "3": {"order": "3", "charge": "1", "status": "Inprogress", "remains": "Unknown", "start_count": ""},
        "4": {"charge": "0.5", "status": "Completed", "remains": "-20", "currency": "RUB"},
        "5": {"charge": "x", "status": "Weird", "remains": "1", "currency": "INR"},
        "6": {"no": "status"},
    })

    result = await provider.status(["1", "10", "100", "2", "3", "4", "5", "6", "7"])

    assert recorder.form()["orders"] == "1,10,100,2,3,4,5,6,7"
    one = result["1"]
    assert isinstance(one, ProviderOrderStatus)
    assert one.remains == 157
    hundred = result["100"]
    assert isinstance(hundred, ProviderOrderStatus)
    assert (hundred.status, hundred.charge_exact, hundred.start_count) == (
        OrderStatus.IN_PROGRESS, ExactAmount.parse("1.44219", "USD"), 234)
    assert result["10"] == result["2"] == ProviderError("Incorrect order ID", ProviderErrorKind.NOT_FOUND)
    three = result["3"]
    assert isinstance(three, ProviderOrderStatus)
    assert (three.status, three.remains, three.start_count, three.currency) == (
        OrderStatus.IN_PROGRESS, None, None, Currency.USD)  # no currency: the hint
    four = result["4"]
    assert isinstance(four, ProviderOrderStatus)
    assert (four.remains, four.charge, four.currency) == (-20, Money(50, Currency.RUB), Currency.RUB)
    five = result["5"]
    assert isinstance(five, ProviderOrderStatus)
    assert (five.status, five.raw_status, five.charge, five.currency) == (None, "Weird", None, None)
    assert result["6"] == ProviderError("unreadable status", ProviderErrorKind.UNKNOWN)
    assert result["7"] == ProviderError("no answer for this id", ProviderErrorKind.UNKNOWN)


async def test_subscription_status_reads_the_boostpanel_shape() -> None:
    provider, _ = provider_for({"status": "Active", "expiry": None, "posts": "1", "orders": ["22"]})

    result = await provider.status(["7"])

    assert result["7"] == ProviderOrderStatus(status=OrderStatus.IN_PROGRESS, raw_status="Active",
                                              currency=Currency.USD, child_ids=("22",), posts=1, expiry=None)


async def test_subscription_statuses_take_ids_as_ints_or_strings_and_absent_orders() -> None:
    provider, _ = provider_for({
        "1": {"status": "Paused", "expiry": "11/11/2030", "posts": 2, "orders": [22, "23", " 23 ", True, {"x": 1}]},
        "2": {"status": "Expired", "posts": "3"},  # no orders list: no children known
        "3": {"status": "Cancelled", "expiry": "2030-11-11", "orders": "22,23"},  # unreadable parts are dropped
    })

    result = await provider.status(["1", "2", "3"])

    one, two, three = result["1"], result["2"], result["3"]
    assert isinstance(one, ProviderOrderStatus) and isinstance(two, ProviderOrderStatus)
    assert isinstance(three, ProviderOrderStatus)
    assert (one.status, one.child_ids, one.posts, one.expiry) == (OrderStatus.PAUSED, ("22", "23"), 2,
                                                                  date(2030, 11, 11))
    assert (two.status, two.child_ids, two.posts, two.expiry) == (OrderStatus.COMPLETED, (), 3, None)
    assert (three.status, three.child_ids, three.expiry) == (OrderStatus.CANCELED, (), None)


async def test_multi_status_that_is_not_an_object_is_unavailable() -> None:
    provider, _ = provider_for([1, 2])
    with pytest.raises(UpstreamUnavailableError):
        await provider.status(["1", "2"])


async def test_chunk_size_can_be_lowered() -> None:
    provider, recorder = provider_for(lambda req: httpx.Response(200, json={}), chunk_size=2)
    result = await provider.status(["1", "2", "3", "4", "5", "6"])
    assert [recorder.form(i)["orders"] for i in range(3)] == ["1,2", "3,4", "5,6"]
    assert len(result) == 6


def test_constructor_validates() -> None:
    client = httpx.AsyncClient()
    with pytest.raises(ValidationError):
        PerfectPanelProvider(client, URL, "")
    with pytest.raises(ValidationError):
        PerfectPanelProvider(client, URL, "k", chunk_size=101)


# -- refill / cancel -------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [{"refill": "1"}, {"refill": 1}])
async def test_refill_returns_the_refill_id(body: object) -> None:
    provider, recorder = provider_for(body)
    assert await provider.refill("23501") == "1"
    assert recorder.form() == {"key": "secret-key", "action": "refill", "order": "23501"}


async def test_refill_error_inside_the_value_is_a_rejection() -> None:
    provider, _ = provider_for({"refill": {"error": "Order not eligible for refill."}})
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.refill("1")
    assert caught.value.kind is ProviderErrorKind.NOT_ALLOWED


async def test_refill_status_list_form() -> None:
    provider, recorder = provider_for([
        {"refill": 1, "status": "Completed"}, {"refill": 2, "status": "Rejected"},
        {"refill": 3, "status": {"error": "Refill not found"}}, {"refill": 4, "status": "Queued"}])

    result = await provider.refill_status(["1", "2", "3", "4", "5"])

    assert recorder.form()["refills"] == "1,2,3,4,5"
    assert result == {
        "1": ProviderRefill(RefillStatus.COMPLETED, "Completed"),
        "2": ProviderRefill(RefillStatus.REJECTED, "Rejected"),
        "3": ProviderError("Refill not found", ProviderErrorKind.NOT_FOUND),
        "4": ProviderRefill(None, "Queued"),
        "5": ProviderError("no answer for this id", ProviderErrorKind.UNKNOWN),
    }


async def test_cancel_list_and_keyed_variants() -> None:
    provider, recorder = provider_for([{"order": 9, "cancel": {"error": "Incorrect order ID"}},
                                       {"order": 2, "cancel": 1}])
    assert await provider.cancel(["2", "9"]) == {
        "2": CancelAccepted("2"), "9": ProviderError("Incorrect order ID", ProviderErrorKind.NOT_FOUND)}
    assert recorder.form() == {"key": "secret-key", "action": "cancel", "orders": "2,9"}

    provider, _ = provider_for({"2": {"cancel": "requested"}, "3": {"cancel": 0}, "4": "Incorrect order ID"})
    assert await provider.cancel(["2", "3", "4", "5"]) == {
        "2": CancelAccepted("2"),
        "3": ProviderError("cancel refused", ProviderErrorKind.NOT_ALLOWED),
        "4": ProviderError("Incorrect order ID", ProviderErrorKind.NOT_FOUND),
        "5": ProviderError("no answer for this id", ProviderErrorKind.UNKNOWN),
    }


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 400, 402, 403])
async def test_error_bodies_are_rejections_whatever_the_http_status(status: int) -> None:
    provider, _ = provider_for(httpx.Response(status, json={"error": "Not enough funds on balance"}))
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.add(AddOrder(service="1", link="https://x.com", quantity=10))
    assert caught.value.provider_message == "Not enough funds on balance"
    assert caught.value.kind is ProviderErrorKind.BALANCE
    assert caught.value.details == {"provider_message": "Not enough funds on balance", "kind": "balance"}


@pytest.mark.parametrize("response", [
    raw(b"<html>502 Bad Gateway</html>", 502, "text/html"),
    httpx.Response(500, json={"error": "Internal"}),
    httpx.Response(429, json={"error": "Too many requests"}),
    raw(b"<html>maintenance</html>", 200, "text/html"),
    raw(b"", 200),
    raw(b"<html>not found</html>", 404, "text/html"),
    httpx.Response(404, json={"message": "no"}),
])
async def test_unreadable_answers_are_unavailable(response: httpx.Response) -> None:
    provider, _ = provider_for(response)
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.balance()
    assert type(caught.value) is UpstreamUnavailableError
    with pytest.raises(ProviderOutcomeUnknownError):
        await provider.add(AddOrder(service="1", link="https://x.com", quantity=10))


def _raise(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


@pytest.mark.parametrize(("exc", "add_error"), [
    (httpx.ReadTimeout("slow"), ProviderOutcomeUnknownError),
    (httpx.RemoteProtocolError("dropped"), ProviderOutcomeUnknownError),
    (httpx.ConnectError("refused"), UpstreamUnavailableError),  # never sent: safe to retry
    (httpx.ConnectTimeout("slow connect"), UpstreamUnavailableError),
])
async def test_transport_failures(exc: Exception, add_error: type[Exception]) -> None:
    provider, _ = provider_for(_raise(exc))
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.status(["1"])
    assert type(caught.value) is UpstreamUnavailableError
    with pytest.raises(UpstreamUnavailableError) as on_add:
        await provider.add(AddOrder(service="1", link="https://x.com", quantity=10))
    assert type(on_add.value) is add_error


async def test_status_auth_error_is_raised_not_mapped_per_id() -> None:
    provider, _ = provider_for({"error": "Incorrect API key"})
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.status(["1"])
    assert caught.value.kind is ProviderErrorKind.AUTH


@pytest.mark.parametrize("body", [{"balance": "lots", "currency": "USD"}, {"currency": "USD"}, [], {"balance": None}])
async def test_unreadable_balance(body: object) -> None:
    provider, _ = provider_for(body)
    with pytest.raises(UpstreamUnavailableError):
        await provider.balance()


async def test_balance_without_currency_uses_the_hint_and_json_numbers_work() -> None:
    provider, _ = provider_for(raw(b'{"balance": 100.84292}'), currency_hint=Currency.EUR)
    assert await provider.balance() == Money(10084, Currency.EUR)


async def test_the_api_key_is_not_in_error_messages() -> None:
    provider, _ = provider_for(raw(b"oops", 500, "text/plain"))
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.services()
    assert "secret-key" not in str(caught.value)
