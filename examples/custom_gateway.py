"""Plug in your own payment gateway without touching vpnsmm: override the container's ``gateways`` provider.

    python examples/custom_gateway.py

A customer tops up through "my-bank" (here an in-memory gateway standing in for your adapter), pays, and the
wallet is credited exactly once even when the confirmation arrives twice. Run by the test suite.
"""

from __future__ import annotations

import asyncio
import tempfile

import vpnsmm
from vpnsmm.application import GatewaySet, NewInvoice, RegisterUserCommand
from vpnsmm.domain import Currency, Gateway, InvoicePurpose, Money
from vpnsmm.testing import InMemoryPaymentGateway


async def main() -> None:
    my_bank = InMemoryPaymentGateway("zarinpal")  # your adapter: any object with the PaymentGateway methods
    gateways = GatewaySet(gateways={Gateway.ZARINPAL: my_bank})
    settings = vpnsmm.load_settings({"VPNSMM_DATA_DIR": tempfile.mkdtemp(prefix="vpnsmm-example-")})
    async with vpnsmm.open(settings, overrides={"gateways": gateways}) as app:
        user = await app.register_user(RegisterUserCommand(username="payer", password="example password"))
        invoice = await app.create_invoice(NewInvoice(user_id=user.id, purpose=InvoicePurpose.WALLET_TOPUP,
                                                      amount=Money(500_000, Currency.IRR)))
        started = await app.pay_invoice(user.id, invoice.id, Gateway.ZARINPAL)
        assert started.payment.external_id is not None
        my_bank.pay(started.payment.external_id)  # the customer pays at the bank
        for _ in range(2):  # the bank tells us twice
            await app.confirm_payment(Gateway.ZARINPAL, started.payment.external_id)
        print(f"balance after paying: {(await app.wallets.balance(user.id, Currency.IRR)).balance}")


if __name__ == "__main__":
    asyncio.run(main())
