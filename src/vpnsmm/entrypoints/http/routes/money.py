"""/v1/wallet, /v1/invoices, /v1/payments: balances, history, invoices, paying, gateway callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vpnsmm.application.billing import (
    CancelInvoice,
    CreateInvoice,
    GetInvoice,
    HandleGatewayNotice,
    ListPayments,
    NewInvoice,
    PayInvoice,
    SubmitCardReceipt,
    Wallets,
)
from vpnsmm.application.identity import Principal
from vpnsmm.domain.billing import Gateway, InvoicePurpose, InvoiceStatus
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.money import Currency
from vpnsmm.domain.payments import CardTransferClaim
from vpnsmm.entrypoints.http.money_schemas import (
    BalanceOut,
    EntryOut,
    EntryPage,
    InvoiceDetailOut,
    InvoiceIn,
    InvoiceOut,
    PayIn,
    PaymentOut,
    PayOut,
    ReceiptIn,
    TransferIn,
    parse_money,
)

Limit = Annotated[int, Parameter(ge=1, le=200)]
BeforeId = Annotated[int | None, Parameter(ge=1, le=2**62)]


def _gateway(raw: str) -> Gateway:
    try:
        return Gateway(raw.strip().lower())
    except ValueError:
        raise ValidationError(f"unknown payment method {raw!r}; expected one of "
                              f"{', '.join(g.value for g in Gateway)}", field="gateway") from None


class WalletController(Controller):
    path = "/v1/wallet"
    tags = ["wallet"]

    @get("", operation_id="GetWallet")
    async def balances(self, principal: Principal, wallets: Wallets) -> list[BalanceOut]:
        """Every wallet of the caller, one per currency."""
        return [BalanceOut.of(b) for b in await wallets.balances(principal.user_id)]

    @get("/transactions", operation_id="WalletTransactions")
    async def transactions(self, principal: Principal, wallets: Wallets,
                           currency: Annotated[str, Parameter(max_length=5)], limit: Limit = 50,
                           before_id: BeforeId = None) -> EntryPage:
        """The wallet's ledger entries, newest first, each with the balance before and after.
        Page with ``before_id=<next_before_id>``."""
        entries = await wallets.history(principal.user_id, Currency.parse(currency), before_id=before_id, limit=limit)
        return EntryPage(items=[EntryOut.of(e) for e in entries],
                         next_before_id=entries[-1].id if len(entries) == limit else None)

    @post("/transfer", operation_id="WalletTransfer", status_code=HTTP_201_CREATED)
    async def transfer(self, data: TransferIn, principal: Principal, wallets: Wallets) -> EntryOut:
        """Send money to another user's wallet. Idempotent per ``idempotency_key``; 402 when the balance is short."""
        entry = await wallets.transfer(from_user_id=principal.user_id, to_user_id=data.to_user_id,
                                       amount=parse_money(data.amount, data.currency),
                                       idempotency_key=data.idempotency_key, memo=data.memo)
        return EntryOut.of(entry)


class InvoiceController(Controller):
    path = "/v1/invoices"
    tags = ["invoices"]

    @post("", operation_id="CreateTopUpInvoice", status_code=HTTP_201_CREATED)
    async def create(self, data: InvoiceIn, principal: Principal, create_invoice: CreateInvoice) -> InvoiceOut:
        """An invoice to top up the wallet. Purchases make their own invoices (VPN plans, SMM orders)."""
        invoice = await create_invoice(NewInvoice(
            user_id=principal.user_id, purpose=InvoicePurpose.WALLET_TOPUP,
            amount=parse_money(data.amount, data.currency), description=data.description,
            idempotency_key=data.idempotency_key))
        return InvoiceOut.of(invoice)

    @get("", operation_id="ListInvoices")
    async def list_invoices(self, principal: Principal, get_invoice: GetInvoice, limit: Limit = 50,
                            before_id: BeforeId = None,
                            status: Annotated[str | None, Parameter(max_length=16)] = None) -> list[InvoiceOut]:
        wanted = InvoiceStatus(status) if status in {s.value for s in InvoiceStatus} else None
        if status and wanted is None:
            raise ValidationError(f"unknown status {status!r}", field="status")
        found = await get_invoice.list(principal.user_id, status=wanted, limit=limit, before_id=before_id)
        return [InvoiceOut.of(i) for i in found]

    @get("/{invoice_id:int}", operation_id="GetInvoice")
    async def get_one(self, invoice_id: int, principal: Principal, get_invoice: GetInvoice) -> InvoiceDetailOut:
        invoice, payments = await get_invoice(principal.user_id, invoice_id)
        return InvoiceDetailOut(invoice=InvoiceOut.of(invoice), payments=[PaymentOut.of(p) for p in payments])

    @post("/{invoice_id:int}/cancel", operation_id="CancelInvoice", status_code=HTTP_200_OK)
    async def cancel(self, invoice_id: int, principal: Principal, cancel_invoice: CancelInvoice) -> InvoiceOut:
        return InvoiceOut.of(await cancel_invoice(principal.user_id, invoice_id))

    @post("/{invoice_id:int}/pay", operation_id="PayInvoice", status_code=HTTP_201_CREATED)
    async def pay(self, invoice_id: int, data: PayIn, principal: Principal, pay_invoice: PayInvoice) -> PayOut:
        """Pay with ``zarinpal`` or ``cryptomus`` (follow ``redirect_url``), ``card`` (transfer, then POST the
        receipt to /v1/payments/{id}/receipt) or ``wallet`` (charged at once; 402 when short)."""
        return PayOut.of(await pay_invoice(principal.user_id, invoice_id, _gateway(data.gateway),
                                           customer_email=data.email or principal.user.email))


class PaymentController(Controller):
    path = "/v1/payments"
    tags = ["payments"]

    @get("/{payment_id:int}", operation_id="GetPayment")
    async def get_one(self, payment_id: int, principal: Principal, list_payments: ListPayments) -> PaymentOut:
        return PaymentOut.of(await list_payments.one(payment_id, user_id=principal.user_id))

    @post("/{payment_id:int}/receipt", operation_id="SubmitCardReceipt", status_code=HTTP_200_OK)
    async def receipt(self, payment_id: int, data: ReceiptIn, principal: Principal,
                      submit_card_receipt: SubmitCardReceipt) -> PaymentOut:
        """Card-to-card: the bank's transaction id and the last 4 digits of the paying card. An admin reviews it."""
        claim = CardTransferClaim(transaction_id=data.transaction_id, card_last4=data.card_last4,
                                  receipt_ref=data.receipt_ref)
        return PaymentOut.of(await submit_card_receipt(principal.user_id, payment_id, claim))

    @get("/{gateway:str}/callback", operation_id="GatewayCallback", security=[], exclude_from_auth=True)
    async def callback(self, gateway: str, request: Request[Any, Any, Any],
                       gateway_notices: HandleGatewayNotice) -> PaymentOut:
        """Where the customer's browser returns from the gateway. The query only names the payment; the
        gateway is asked what really happened before anything is credited."""
        query = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        return PaymentOut.of(await gateway_notices.callback(_gateway(gateway), query))

    @post("/{gateway:str}/webhook", operation_id="GatewayWebhook", status_code=HTTP_200_OK, security=[],
          exclude_from_auth=True)
    async def webhook(self, gateway: str, request: Request[Any, Any, Any],
                      gateway_notices: HandleGatewayNotice) -> dict[str, Any]:
        """Signed gateway notifications (Cryptomus). A bad signature is 401 and writes nothing."""
        body = await request.body()
        client = request.client.host if request.client else None
        payment = await gateway_notices.webhook(_gateway(gateway), body, dict(request.headers), client)
        return {"ok": True, "payment_id": payment.id if payment else None,
                "status": payment.status.value if payment else None}
