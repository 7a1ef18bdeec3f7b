"""Both fakes served by uvicorn on 127.0.0.1 (random free port), driven by the real adapters over TCP."""

from __future__ import annotations

import httpx

from tests.support.asgi_server import serve
from vpnsmm.adapters.payments.cryptomus import CryptomusGateway
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal
from vpnsmm.adapters.payments.zarinpal import ZarinpalGateway
from vpnsmm.application.ports.payments import StartPayment
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import PaymentOutcome

ZP_MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"


async def test_both_gateways_over_a_real_socket() -> None:
    zp, cm = FakeZarinpal([ZP_MERCHANT]), FakeCryptomus("merchant-uuid", "pay-key")
    async with serve(zp.app) as zp_url, serve(cm.app) as cm_url, httpx.AsyncClient(timeout=5) as client:
        zarinpal = ZarinpalGateway(client, ZP_MERCHANT, api_base=zp_url, startpay_base=zp_url)
        request = StartPayment("pay-1", Money(500_000, "IRR"), "VPN", "https://shop.example/return")
        started = await zarinpal.start(request)
        assert started.redirect_url == f"{zp_url}/pg/StartPay/{started.external_id}"
        back = await client.get(f"{started.redirect_url}/pay")  # the customer pays on the StartPay page
        assert back.status_code == 302
        notice = zarinpal.parse_callback(dict(httpx.URL(back.headers["location"]).params))
        assert notice.reported_ok
        assert (await zarinpal.verify(notice.external_id, request.amount)).status is PaymentOutcome.PAID
        assert (await zarinpal.verify(notice.external_id, request.amount)).status is PaymentOutcome.ALREADY_VERIFIED

        cryptomus = CryptomusGateway(client, "merchant-uuid", "pay-key", base_url=cm_url)
        invoice = await cryptomus.start(StartPayment("pay-2", Money.parse("9.99", "USD"), "VPN",
                                                     "https://shop.example/return"))
        cm.complete(invoice.external_id, "paid")
        body, headers = cm.webhook(invoice.external_id)
        webhook = cryptomus.parse_webhook(body, headers, "91.227.144.54")
        result = await cryptomus.verify(webhook.external_id, Money.parse("9.99", "USD"))
        assert result.credits
        assert result.amount == Money(999, "USD")
