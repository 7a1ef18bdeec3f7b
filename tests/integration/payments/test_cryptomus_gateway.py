"""CryptomusGateway against FakeCryptomus: signing, invoices, statuses, webhooks."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from vpnsmm.adapters.payments.cryptomus import CRYPTOMUS_WEBHOOK_IPS, CryptomusGateway
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.application.ports.payments import PaymentStart, StartPayment, WebhookVerifier
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome

MERCHANT = "8b03432e-385b-4670-8d06-064591096795"
KEY = "pay-key-AbC123/+="
AMOUNT = Money.parse("12.50", "USD")
CRYPTOMUS_IP = "91.227.144.54"


@pytest.fixture
def fake() -> FakeCryptomus:
    return FakeCryptomus(MERCHANT, KEY)


@pytest.fixture
async def client(fake: FakeCryptomus) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport()) as c:
        yield c


@pytest.fixture
def gateway(client: httpx.AsyncClient) -> CryptomusGateway:
    return CryptomusGateway(client, MERCHANT, KEY, allowed_ips=CRYPTOMUS_WEBHOOK_IPS)


def _req(payment_id: str = "pay-7", amount: Money = AMOUNT, webhook_url: str | None = None) -> StartPayment:
    return StartPayment(payment_id=payment_id, amount=amount, description="VPN 30 days",
                        callback_url="https://shop.example/pay/return",
                        webhook_url=webhook_url or "https://shop.example/hooks/cryptomus")


async def _paid(fake: FakeCryptomus, gateway: CryptomusGateway, status: str = "paid", **kw: Any) -> PaymentStart:
    started = await gateway.start(_req())
    fake.complete(started.external_id, status, **kw)
    return started


# -- requests ---------------------------------------------------------------------------------------
async def test_invoice_request_is_signed_over_the_exact_bytes_sent(fake: FakeCryptomus,
                                                                   gateway: CryptomusGateway) -> None:
    started = await gateway.start(_req())
    path, raw, headers = fake.raw_requests[-1]
    assert path == "/v1/payment"
    assert headers["merchant"] == MERCHANT
    assert headers["sign"] == hashlib.md5(base64.b64encode(raw) + KEY.encode()).hexdigest()
    assert json.loads(raw) == {"amount": "12.50", "currency": "USD", "order_id": "pay-7",
                               "url_return": "https://shop.example/pay/return",
                               "url_success": "https://shop.example/pay/return",
                               "url_callback": "https://shop.example/hooks/cryptomus"}
    assert b"https://shop.example" in raw  # slashes unescaped: what we sign is what we send
    assert started.redirect_url == f"https://pay.cryptomus.com/pay/{started.external_id}"
    assert started.amount == AMOUNT
    assert started.expires_at is not None


async def test_amounts_are_decimal_strings_in_major_units(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    await gateway.start(_req("usdt-1", Money.parse("7.000001", "USDT")))
    assert json.loads(fake.raw_requests[-1][1])["amount"] == "7.000001"


async def test_a_request_signed_over_other_bytes_is_refused(fake: FakeCryptomus) -> None:
    body = json.dumps({"amount": "1.00", "currency": "USD", "order_id": "x1"}).encode()  # with spaces
    resigned = json.dumps({"amount": "1.00", "currency": "USD", "order_id": "x1"}, separators=(",", ":")).encode()
    sign = hashlib.md5(base64.b64encode(resigned) + KEY.encode()).hexdigest()
    async with httpx.AsyncClient(transport=fake.transport()) as c:
        bad = await c.post("https://api.cryptomus.com/v1/payment", content=body,
                           headers={"merchant": MERCHANT, "sign": sign})
        good = await c.post("https://api.cryptomus.com/v1/payment", content=resigned,
                            headers={"merchant": MERCHANT, "sign": sign})
    assert (bad.status_code, bad.json()) == (401, {"state": 1, "message": "Invalid Sign"})
    assert good.status_code == 200
    assert good.json()["state"] == 0


async def test_wrong_key_is_an_auth_rejection_without_leaking_it(client: httpx.AsyncClient) -> None:
    gw = CryptomusGateway(client, MERCHANT, "wrong-key")
    with pytest.raises(UpstreamRejectedError) as info:
        await gw.start(_req())
    assert info.value.code == "CRYPTOMUS_AUTH_REJECTED"
    assert info.value.details["provider_code"] == 401
    assert "wrong-key" not in str(info.value)
    assert "wrong-key" not in repr(gw)


async def test_creation_is_idempotent_per_order_id(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    first = await gateway.start(_req())
    again = await gateway.start(_req())
    assert again.external_id == first.external_id
    assert len(fake.invoices) == 1
    with pytest.raises(ConflictError):
        await gateway.start(_req(amount=Money.parse("13.00", "USD")))


async def test_validation_errors_carry_the_field_rules(gateway: CryptomusGateway) -> None:
    with pytest.raises(UpstreamRejectedError) as info:
        await gateway.start(_req(webhook_url="ftp://shop.example/hook"))
    assert info.value.code == "CRYPTOMUS_VALIDATION"
    assert info.value.details["errors"] == {"url_callback": ["validation.url"]}


async def test_bad_order_id_and_lifetime_are_refused_locally(fake: FakeCryptomus, client: httpx.AsyncClient,
                                                             gateway: CryptomusGateway) -> None:
    with pytest.raises(ValidationError):
        await gateway.start(_req(payment_id="pay 7/../"))
    with pytest.raises(ValidationError):
        CryptomusGateway(client, MERCHANT, KEY, lifetime=60)
    assert fake.raw_requests == []


async def test_lifetime_is_sent(fake: FakeCryptomus, client: httpx.AsyncClient) -> None:
    await CryptomusGateway(client, MERCHANT, KEY, lifetime=900).start(_req())
    assert json.loads(fake.raw_requests[-1][1])["lifetime"] == 900


async def test_unknown_invoice_is_not_found(gateway: CryptomusGateway) -> None:
    with pytest.raises(NotFoundError) as info:
        await gateway.verify("00000000-0000-4000-8000-000000000000", AMOUNT)
    assert info.value.details["provider_message"] == "Payment not found"


@pytest.mark.parametrize(("status", "body"), [(502, b"<html>Bad Gateway</html>"), (503, b"{}"),
                                              (429, b"{}"), (200, b"not json")])
async def test_outages_are_retry_later(fake: FakeCryptomus, gateway: CryptomusGateway, status: int,
                                       body: bytes) -> None:
    fake.inject(status, body)
    with pytest.raises(UpstreamUnavailableError):
        await gateway.start(_req())


async def test_a_timeout_is_retry_later() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(UpstreamUnavailableError):
            await CryptomusGateway(c, MERCHANT, KEY).verify("u", AMOUNT)


# -- statuses and the amount policy -----------------------------------------------------------------
@pytest.mark.parametrize(("raw", "outcome"), [
    ("paid", PaymentOutcome.PAID),
    ("paid_over", PaymentOutcome.PAID_OVER),
    ("wrong_amount", PaymentOutcome.WRONG_AMOUNT),
    ("wrong_amount_waiting", PaymentOutcome.PENDING),
    ("process", PaymentOutcome.PENDING),
    ("check", PaymentOutcome.PENDING),
    ("confirm_check", PaymentOutcome.PENDING),
    ("locked", PaymentOutcome.PENDING),
    ("fail", PaymentOutcome.FAILED),
    ("system_fail", PaymentOutcome.FAILED),
    ("cancel", PaymentOutcome.CANCELED),
    ("refund_process", PaymentOutcome.FAILED),
    ("refund_paid", PaymentOutcome.FAILED),
])
async def test_every_status_maps_and_only_paid_and_paid_over_credit(
        fake: FakeCryptomus, gateway: CryptomusGateway, raw: str, outcome: PaymentOutcome) -> None:
    started = await _paid(fake, gateway, raw)
    result = await gateway.verify(started.external_id, AMOUNT)
    assert (result.status, result.raw_status) == (outcome, raw)
    assert result.credits is (raw in ("paid", "paid_over"))


async def test_paid_over_credits_the_invoice_amount_and_reports_what_arrived(
        fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway, "paid_over", payment_amount="13.90", txid="ab" * 32)
    result = await gateway.verify(started.external_id, AMOUNT)
    assert result.credits
    assert result.amount == AMOUNT
    assert (result.paid_amount, result.paid_currency, result.provider_ref) == ("13.90", "USDT", "ab" * 32)


async def test_wrong_amount_is_held_for_review_with_the_paid_amount(fake: FakeCryptomus,
                                                                    gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway, "wrong_amount", payment_amount="6.25")
    result = await gateway.verify(started.external_id, AMOUNT)
    assert not result.credits
    assert result.status.is_final
    assert result.paid_amount == "6.25"
    assert "6.25" in result.detail


async def test_an_invoice_for_another_amount_never_credits_even_when_paid(
        fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway, "paid")
    for expected in (Money.parse("12.49", "USD"), Money.parse("12.50", "EUR")):
        result = await gateway.verify(started.external_id, expected)
        assert result.status is PaymentOutcome.WRONG_AMOUNT
        assert "12.50 USD" in result.detail


async def test_paid_but_not_final_is_pending(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway, "paid")
    fake.invoices[started.external_id]["is_final"] = False
    assert (await gateway.verify(started.external_id, AMOUNT)).status is PaymentOutcome.PENDING


# -- webhooks ---------------------------------------------------------------------------------------
async def test_authentic_webhook_is_parsed(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    assert isinstance(gateway, WebhookVerifier)
    started = await _paid(fake, gateway, "paid", txid="cd" * 32)
    body, headers = fake.webhook(started.external_id)
    notice = gateway.parse_webhook(body, headers, CRYPTOMUS_IP)
    assert (notice.gateway, notice.external_id, notice.order_id) == ("cryptomus", started.external_id, "pay-7")
    assert (notice.status, notice.raw_status, notice.is_final) == (PaymentOutcome.PAID, "paid", True)
    assert notice.amount == AMOUNT
    assert notice.provider_ref == "cd" * 32


@pytest.mark.parametrize("escape_unicode", [False, True])
async def test_webhook_with_slashes_and_unicode_verifies(fake: FakeCryptomus, gateway: CryptomusGateway,
                                                         escape_unicode: bool) -> None:
    started = await _paid(fake, gateway)
    extra = {"additional_data": "سفارش 12/7 — «VPN» ✓", "from": "https://x.example/a/b"}
    body, headers = fake.webhook(started.external_id, overrides=extra, escape_unicode=escape_unicode)
    assert (b"\\u0633" in body) is escape_unicode
    assert b"https:\\/\\/x.example" in body
    assert gateway.parse_webhook(body, headers, CRYPTOMUS_IP).external_id == started.external_id


async def test_forged_webhooks_are_rejected(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway, "cancel")
    body, headers = fake.webhook(started.external_id)
    tampered = body.replace(b'"status":"cancel"', b'"status":"paid"')
    assert tampered != body
    other_key, _ = fake.webhook(started.external_id, api_key="attacker-key")
    for forged in (tampered, other_key):
        with pytest.raises(AuthenticationError) as info:
            gateway.parse_webhook(forged, headers, CRYPTOMUS_IP)
        assert info.value.code == "WEBHOOK_SIGNATURE_INVALID"


async def test_webhook_signed_without_php_escaping_is_rejected(fake: FakeCryptomus,
                                                               gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway)
    body, headers = fake.webhook(started.external_id, overrides={"from": "https://x.example/a"})
    data = json.loads(body)
    del data["sign"]
    naive = json.dumps(data, separators=(",", ":"))  # the anti-pattern: no "\/", ASCII-escaped unicode
    data["sign"] = hashlib.md5(base64.b64encode(naive.encode()) + KEY.encode()).hexdigest()
    with pytest.raises(AuthenticationError):
        gateway.parse_webhook(json.dumps(data).encode(), headers, CRYPTOMUS_IP)


@pytest.mark.parametrize("sign", [None, 12345, "", "0" * 32])
async def test_missing_or_junk_sign_is_rejected(fake: FakeCryptomus, gateway: CryptomusGateway,
                                                sign: object) -> None:
    started = await _paid(fake, gateway)
    data = json.loads(fake.webhook(started.external_id)[0])
    if sign is None:
        del data["sign"]
    else:
        data["sign"] = sign
    with pytest.raises(AuthenticationError) as info:
        gateway.parse_webhook(json.dumps(data).encode(), {}, CRYPTOMUS_IP)
    assert info.value.code == ("WEBHOOK_SIGNATURE_MISSING" if sign is None else "WEBHOOK_SIGNATURE_INVALID")


@pytest.mark.parametrize("ip", ["10.0.0.1", None, "91.227.144.55"])
async def test_source_ip_allow_list(fake: FakeCryptomus, gateway: CryptomusGateway, client: httpx.AsyncClient,
                                    ip: str | None) -> None:
    started = await _paid(fake, gateway)
    body, headers = fake.webhook(started.external_id)
    with pytest.raises(AuthenticationError) as info:
        gateway.parse_webhook(body, headers, ip)
    assert info.value.code == "WEBHOOK_SOURCE_NOT_ALLOWED"
    open_gateway = CryptomusGateway(client, MERCHANT, KEY)  # no allow-list configured
    assert open_gateway.parse_webhook(body, headers, ip).external_id == started.external_id


@pytest.mark.parametrize(("body", "error"), [
    (b"not json", ValidationError), (b"[1,2]", ValidationError), (b'{"uuid":"x"}', AuthenticationError),
    (b"\xff\xfe\x00", ValidationError),
])
def test_malformed_webhook_bodies(gateway: CryptomusGateway, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        gateway.parse_webhook(body, {}, CRYPTOMUS_IP)


async def test_authentic_webhook_of_another_type_is_refused(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    started = await _paid(fake, gateway)
    body, headers = fake.webhook(started.external_id, overrides={"type": "payout"})
    with pytest.raises(ValidationError):
        gateway.parse_webhook(body, headers, CRYPTOMUS_IP)


async def test_a_stale_webhook_is_overruled_by_the_recheck(fake: FakeCryptomus, gateway: CryptomusGateway) -> None:
    """A replayed, authentic 'paid' notice must not credit an invoice Cryptomus now reports as refunded."""
    started = await _paid(fake, gateway, "paid")
    old_body, headers = fake.webhook(started.external_id)
    fake.complete(started.external_id, "refund_paid")
    replayed = gateway.parse_webhook(old_body, headers, CRYPTOMUS_IP)
    assert replayed.status is PaymentOutcome.PAID  # authentic, but only a hint
    result = await gateway.verify(replayed.external_id, AMOUNT)
    assert (result.status, result.raw_status, result.credits) == (PaymentOutcome.FAILED, "refund_paid", False)


async def test_resend_produces_the_same_authentic_webhook(fake: FakeCryptomus, gateway: CryptomusGateway,
                                                          client: httpx.AsyncClient) -> None:
    started = await _paid(fake, gateway)
    body = json.dumps({"uuid": started.external_id}, separators=(",", ":")).encode()
    sign = hashlib.md5(base64.b64encode(body) + KEY.encode()).hexdigest()
    response = await client.post("https://api.cryptomus.com/v2/payment/resend", content=body,
                                 headers={"merchant": MERCHANT, "sign": sign})
    assert response.json() == {"state": 0, "result": []}
    (resent, headers), = fake.resent
    assert gateway.parse_webhook(resent, headers, CRYPTOMUS_IP).external_id == started.external_id
