"""ZarinpalGateway against FakeZarinpal (and a few hand-made transports for broken networks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal
from vpnsmm.adapters.payments.zarinpal import ZARINPAL_ERRORS, ZarinpalGateway
from vpnsmm.application.ports.payments import CallbackParser, StartPayment, UnverifiedLister
from vpnsmm.domain.errors import (
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome

MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
OTHER_MERCHANT = "99999999-0048-11e8-94db-005056a205be"
AMOUNT = Money(1_250_000, "IRR")


@pytest.fixture
def fake() -> FakeZarinpal:
    return FakeZarinpal([MERCHANT, OTHER_MERCHANT], fee=2_500)


@pytest.fixture
async def client(fake: FakeZarinpal) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport()) as c:
        yield c


@pytest.fixture
def gateway(client: httpx.AsyncClient) -> ZarinpalGateway:
    return ZarinpalGateway(client, MERCHANT)


def _req(amount: Money = AMOUNT, **kw: object) -> StartPayment:
    fields: dict[str, object] = {"payment_id": "pay-7", "amount": amount, "description": "VPN 30 days",
                                 "callback_url": "https://shop.example/pay/return"}
    fields.update(kw)
    return StartPayment(**fields)  # type: ignore[arg-type]


async def test_request_sends_integer_amount_with_explicit_currency_and_metadata(
        fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    started = await gateway.start(_req(customer_email="a@b.example", customer_mobile="09121234567"))
    endpoint, body = fake.requests[-1]
    assert endpoint == "request.json"
    assert body == {"merchant_id": MERCHANT, "amount": 1_250_000, "currency": "IRR", "description": "VPN 30 days",
                    "callback_url": "https://shop.example/pay/return",
                    "metadata": {"order_id": "pay-7", "mobile": "09121234567", "email": "a@b.example"}}
    assert started.redirect_url == f"https://payment.zarinpal.com/pg/StartPay/{started.external_id}"
    assert started.external_id.startswith("A")
    assert len(started.external_id) == 36
    assert started.fee == Money(2_500, "IRR")
    assert fake.hosts_seen == ["payment.zarinpal.com"]


async def test_toman_amounts_are_sent_as_irt(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    await gateway.start(_req(Money(125_000, "IRT")))
    assert fake.requests[-1][1]["currency"] == "IRT"
    assert fake.requests[-1][1]["amount"] == 125_000


async def test_other_currencies_are_refused_before_any_request(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    with pytest.raises(ValidationError) as info:
        await gateway.start(_req(Money.parse("10.00", "USD")))
    assert info.value.code == "UNSUPPORTED_CURRENCY"
    assert fake.requests == []


async def test_sandbox_switch_uses_the_sandbox_host_for_api_and_startpay(fake: FakeZarinpal,
                                                                         client: httpx.AsyncClient) -> None:
    any_merchant = "abcdefgh-ijkl-mnop-qrst-uvwxyz012345"  # sandbox takes any 36 characters
    sandbox = ZarinpalGateway(client, any_merchant, sandbox=True)
    started = await sandbox.start(_req())
    assert fake.hosts_seen == ["sandbox.zarinpal.com"]
    assert started.redirect_url == f"https://sandbox.zarinpal.com/pg/StartPay/{started.external_id}"
    assert started.external_id.startswith("S")
    fake.pay(started.external_id)
    assert (await sandbox.verify(started.external_id, AMOUNT)).status is PaymentOutcome.PAID
    # the same merchant id is not a production terminal
    with pytest.raises(UpstreamRejectedError) as info:
        await ZarinpalGateway(client, any_merchant).start(_req())
    assert info.value.code == "ZARINPAL_TERMINAL_INVALID"
    assert info.value.details["provider_code"] == -10


async def test_verify_reports_ref_id_card_and_fee(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    started = await gateway.start(_req())
    fake.pay(started.external_id, card_pan="603799******7893")
    result = await gateway.verify(started.external_id, AMOUNT)
    assert fake.requests[-1] == ("verify.json", {"merchant_id": MERCHANT, "amount": 1_250_000,
                                                 "authority": started.external_id})
    assert result.raw_status == "100"
    assert result.provider_ref is not None
    assert result.provider_ref.isdigit()
    assert result.card_pan == "603799******7893"
    assert result.card_hash is not None
    assert len(result.card_hash) == 64
    assert result.fee == Money(2_500, "IRR")
    again = await gateway.verify(started.external_id, AMOUNT)
    assert (again.status, again.raw_status, again.provider_ref) == (
        PaymentOutcome.ALREADY_VERIFIED, "101", result.provider_ref)


async def test_not_paid_is_refined_by_inquiry(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    started = await gateway.start(_req())
    pending = await gateway.verify(started.external_id, AMOUNT)
    assert (pending.status, pending.raw_status) == (PaymentOutcome.PENDING, "-51")
    assert "IN_BANK" in pending.detail
    fake.cancel(started.external_id)
    canceled = await gateway.verify(started.external_id, AMOUNT)
    assert canceled.status is PaymentOutcome.CANCELED
    assert await gateway.inquiry(started.external_id) == "FAILED"


async def test_wrong_amount_maps_code_minus_50(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    started = await gateway.start(_req())
    fake.pay(started.external_id)
    result = await gateway.verify(started.external_id, Money(1_000_000, "IRR"))
    assert (result.status, result.raw_status) == (PaymentOutcome.WRONG_AMOUNT, "-50")
    assert fake.sessions[started.external_id].status == "PAID"  # nothing was verified


async def test_session_of_another_merchant_is_not_found(fake: FakeZarinpal, client: httpx.AsyncClient,
                                                        gateway: ZarinpalGateway) -> None:
    started = await ZarinpalGateway(client, OTHER_MERCHANT).start(_req())
    fake.pay(started.external_id)
    with pytest.raises(NotFoundError) as info:
        await gateway.verify(started.external_id, AMOUNT)
    assert info.value.code == "ZARINPAL_FOREIGN_SESSION"
    assert fake.sessions[started.external_id].status == "PAID"


async def test_validation_errors_carry_code_message_and_validations(gateway: ZarinpalGateway) -> None:
    with pytest.raises(UpstreamRejectedError) as info:
        await gateway.start(_req(description="x" * 501))
    err = info.value
    assert err.code == "ZARINPAL_VALIDATION"
    assert err.details["provider"] == "zarinpal"
    assert err.details["provider_code"] == -9
    assert err.details["provider_message"] == "The input params invalid, validation error."
    assert err.details["validations"] == [{"description": "The description is required, at most 500 chars."}]
    assert MERCHANT not in str(err)
    assert MERCHANT not in repr(err.details)


async def test_amount_limits(gateway: ZarinpalGateway) -> None:
    with pytest.raises(UpstreamRejectedError) as too_big:
        await gateway.start(_req(Money(100_000_001, "IRT")))
    assert too_big.value.code == "ZARINPAL_AMOUNT_TOO_LARGE"
    with pytest.raises(UpstreamRejectedError) as too_small:
        await gateway.start(_req(Money(999, "IRR")))
    assert too_small.value.code == "ZARINPAL_VALIDATION"


async def test_callback_domain_must_match_the_terminal(client: httpx.AsyncClient) -> None:
    fake = FakeZarinpal([MERCHANT], terminal_domain="shop.example")
    async with httpx.AsyncClient(transport=fake.transport()) as c:
        with pytest.raises(UpstreamRejectedError) as info:
            await ZarinpalGateway(c, MERCHANT).start(_req(callback_url="https://evil.example/cb"))
        assert info.value.code == "ZARINPAL_CALLBACK_DOMAIN"
        assert (await ZarinpalGateway(c, MERCHANT).start(_req())).external_id


@pytest.mark.parametrize("code", sorted(ZARINPAL_ERRORS))
async def test_every_documented_code_maps_to_a_clear_error(fake: FakeZarinpal, gateway: ZarinpalGateway,
                                                           code: int) -> None:
    kind, our_code, _ = ZARINPAL_ERRORS[code]
    fake.inject(code, message=f"provider says {code}")
    with pytest.raises(kind) as info:
        await gateway.start(_req())
    assert info.value.code == our_code
    assert info.value.details["provider_code"] == code
    assert info.value.details["provider_message"] == f"provider says {code}"


async def test_too_many_attempts_is_retry_later(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    fake.inject(-12)
    with pytest.raises(UpstreamUnavailableError):
        await gateway.start(_req())


async def test_undocumented_code_is_still_a_rejection(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    fake.inject(-77, message="new")
    with pytest.raises(UpstreamRejectedError) as info:
        await gateway.start(_req())
    assert info.value.code == "ZARINPAL_ERROR"


async def test_gateway_outage_is_retry_later(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    fake.inject(None, http_status=502)
    with pytest.raises(UpstreamUnavailableError) as info:
        await gateway.start(_req())
    assert info.value.details["http_status"] == 502


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_network_failures_are_retry_later(failure: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(UpstreamUnavailableError):
            await ZarinpalGateway(c, MERCHANT).verify("A" + "0" * 35, AMOUNT)


@pytest.mark.parametrize(("status", "body"), [
    (200, b'{"unexpected": true}'),
    (200, b'{"data": {"code": 100, "message": "Success"}, "errors": []}'),  # no authority
    (200, b"not json"),
    (403, b'{"data": [], "errors": []}'),
])
async def test_unknown_answers_are_not_trusted(status: int, body: bytes) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(status, content=body))) as c:
        with pytest.raises(UpstreamUnavailableError):
            await ZarinpalGateway(c, MERCHANT).start(_req())


async def test_malformed_authority_is_refused_locally(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    with pytest.raises(ValidationError):
        await gateway.verify("A00../../x", AMOUNT)
    assert fake.requests == []


async def test_startpay_page_redirects_to_the_callback_and_callback_is_only_a_hint(
        fake: FakeZarinpal, client: httpx.AsyncClient, gateway: ZarinpalGateway) -> None:
    assert isinstance(gateway, CallbackParser)
    paid = await gateway.start(_req(callback_url="https://shop.example/pay/return?lang=fa"))
    page = await client.get(paid.redirect_url)
    assert page.status_code == 200
    assert "1250000 IRR" in page.text
    back = await client.get(f"{paid.redirect_url}/pay")
    assert back.status_code == 302
    location = urlsplit(back.headers["location"])
    assert (location.netloc, location.path) == ("shop.example", "/pay/return")
    query = dict(parse_qsl(location.query))
    assert query == {"lang": "fa", "Authority": paid.external_id, "Status": "OK"}
    notice = gateway.parse_callback(query)
    assert (notice.external_id, notice.reported_ok) == (paid.external_id, True)
    assert (await gateway.verify(notice.external_id, AMOUNT)).status is PaymentOutcome.PAID

    # a customer who cancels but edits the URL to Status=OK still gets nothing credited
    canceled = await gateway.start(_req(payment_id="pay-8"))
    back = await client.get(f"{canceled.redirect_url}/cancel")
    assert dict(parse_qsl(urlsplit(back.headers["location"]).query))["Status"] == "NOK"
    forged = gateway.parse_callback({"Authority": canceled.external_id, "Status": "OK"})
    assert forged.reported_ok
    assert not (await gateway.verify(forged.external_id, AMOUNT)).credits


@pytest.mark.parametrize("query", [{}, {"Status": "OK"}, {"Authority": "", "Status": "OK"},
                                   {"Authority": "A<script>", "Status": "OK"}])
def test_bad_callbacks_are_rejected(gateway: ZarinpalGateway, query: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        gateway.parse_callback(query)


async def test_unverified_lists_paid_sessions_until_verified(fake: FakeZarinpal, gateway: ZarinpalGateway) -> None:
    assert isinstance(gateway, UnverifiedLister)
    first = await gateway.start(_req())
    second = await gateway.start(_req(payment_id="pay-9", amount=Money(50_000, "IRR")))
    await gateway.start(_req(payment_id="pay-10"))  # never paid
    fake.pay(first.external_id)
    fake.pay(second.external_id)
    await gateway.verify(first.external_id, AMOUNT)
    listed = await gateway.unverified()
    assert [(p.external_id, p.amount, p.callback_url) for p in listed] == [
        (second.external_id, 50_000, "https://shop.example/pay/return")]
    assert listed[0].created
    await gateway.verify(second.external_id, Money(50_000, "IRR"))
    assert await gateway.unverified() == []


def test_merchant_id_is_checked_and_never_shown(client: httpx.AsyncClient) -> None:
    with pytest.raises(ValidationError):
        ZarinpalGateway(client, "short")
    gw = ZarinpalGateway(client, MERCHANT, api_base="http://127.0.0.1:9/", startpay_base="http://127.0.0.1:9")
    assert MERCHANT not in repr(gw)
    assert gw.startpay_url("A1") == "http://127.0.0.1:9/pg/StartPay/A1"
