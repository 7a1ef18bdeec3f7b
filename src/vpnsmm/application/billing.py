"""Money use cases: wallets, invoices, payments through gateways, card-to-card review, fulfilment.

Every movement of value is a ledger transfer whose id is derived from the business object, so each
step may be retried or replayed and still moves money at most once:

* a paid payment credits the wallet (``payment:<id>:credit``: gateway clearing -> wallet), decided by a
  compare-and-set on the payment row, so duplicate callbacks, webhooks and admin clicks credit once;
* a paid purchase is charged to the wallet (``invoice:<id>:charge``: wallet -> revenue) in the same
  transaction;
* a purchase whose fulfilment fails for good is refunded (``invoice:<id>:refund``: refunds -> wallet).

No transaction stays open while a gateway or fulfiller is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import frozen

from vpnsmm.application.events import record_payment_completed
from vpnsmm.application.jobs import JobContext, RetryPolicy, Schedule, TaskRegistry
from vpnsmm.application.ports.fulfilment import Fulfiller
from vpnsmm.application.ports.payments import (
    CallbackParser,
    PaymentGateway,
    StartPayment,
    UnverifiedLister,
    VerificationResult,
    WebhookVerifier,
)
from vpnsmm.application.ports.persistence import AuditRecord, PaymentFilter, UnitOfWork, UnitOfWorkFactory
from vpnsmm.application.ports.system import Clock
from vpnsmm.domain.billing import (
    Gateway,
    Invoice,
    InvoicePurpose,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    invoice_charge_id,
    invoice_refund_id,
    payment_credit_id,
)
from vpnsmm.domain.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.ledger import AccountPurpose, Entry, LedgerAccount, TransferRequest
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import CardAccount, CardTransferClaim, CardTransferInstructions, PaymentOutcome

#: After this many retryable failures a purchase is refunded instead of retried again.
MAX_FULFILMENT_ATTEMPTS = 8
FULFIL_TASK = "invoices.fulfil"
EXPIRE_TASK = "invoices.expire"
RECONCILE_TASK = "payments.reconcile"
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


# ------------------------------------------------------------------------------------------ helpers
async def wallet_of(uow: UnitOfWork, user_id: int, currency: Currency) -> LedgerAccount:
    return await uow.ledger.open_account(user_id, currency, AccountPurpose.WALLET)


async def system_account(uow: UnitOfWork, currency: Currency, purpose: AccountPurpose) -> LedgerAccount:
    return await uow.ledger.open_account(None, currency, purpose)


async def wallet_and_revenue(uow: UnitOfWork, user_id: int, currency: Currency
                             ) -> tuple[LedgerAccount, LedgerAccount]:
    """The buyer's wallet and the revenue account in ``currency`` (opened if missing), read together."""
    wallet, revenue = await uow.ledger.open_accounts([(user_id, currency, AccountPurpose.WALLET),
                                                      (None, currency, AccountPurpose.REVENUE)])
    return wallet, revenue


async def charge_wallet(uow: UnitOfWork, invoice: Invoice) -> None:
    """Move the invoice amount from the buyer's wallet to revenue. Idempotent per invoice.

    Raises InsufficientFundsError (nothing written) when the wallet cannot cover it.
    """
    wallet, revenue = await wallet_and_revenue(uow, invoice.user_id, invoice.amount.currency)
    await uow.ledger.execute(TransferRequest(
        id=invoice_charge_id(invoice.id), code="invoice_charge", debit_account_id=wallet.id,
        credit_account_id=revenue.id, amount=invoice.amount.amount, reference=f"invoice:{invoice.id}",
        memo=invoice.description[:200]))


async def audit(uow: UnitOfWork, *, actor_id: int | None, action: str, target: str, now: datetime,
                **details: Any) -> None:
    await uow.audit.record(AuditRecord(actor_id=actor_id, action=action, target=target, details=details, at=now))


@frozen
class GatewaySet:
    """The payment gateways this installation is configured with, and the card for card-to-card."""

    gateways: Mapping[Gateway, PaymentGateway]
    card_account: CardAccount | None = None

    def get(self, gateway: Gateway) -> PaymentGateway:
        found = self.gateways.get(gateway)
        if found is None:
            raise ValidationError(f"payment method {gateway.value} is not configured here", field="gateway",
                                  code="GATEWAY_NOT_CONFIGURED")
        return found

    @property
    def available(self) -> list[Gateway]:
        methods = [*self.gateways, Gateway.WALLET]
        if self.card_account is not None:
            methods.append(Gateway.CARD)
        return methods


# ------------------------------------------------------------------------------------------ invoices
@frozen
class NewInvoice:
    user_id: int
    purpose: InvoicePurpose
    amount: Money
    description: str = ""
    item: Mapping[str, Any] | None = None
    idempotency_key: str | None = None


class CreateInvoice:
    """Open a pending invoice. Idempotent with ``idempotency_key``: the same key returns the same invoice,
    and a different body under the same key raises ConflictError (IDEMPOTENCY_KEY_REUSED)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: NewInvoice) -> Invoice:
        if cmd.idempotency_key is not None and not _KEY.match(cmd.idempotency_key):
            raise ValidationError("idempotency key must be 1-100 characters of [A-Za-z0-9_.:-]",
                                  field="idempotency_key")
        invoice = Invoice.open(user_id=cmd.user_id, purpose=cmd.purpose, amount=cmd.amount,
                               description=cmd.description, now=self._clock.now(), item=dict(cmd.item or {}),
                               idempotency_key=cmd.idempotency_key)
        async with self._uow() as uow:
            if cmd.idempotency_key is not None:
                existing = await uow.invoices.get_by_idempotency_key(cmd.user_id, cmd.idempotency_key)
                if existing is not None:
                    # "result" is what fulfilment added later: a replay after delivery is still the same request
                    asked = {k: v for k, v in existing.item.items() if k != "result"}
                    same = (existing.purpose, existing.amount, asked) == (invoice.purpose, invoice.amount, invoice.item)
                    if not same:
                        raise ConflictError("this idempotency key was used for a different invoice",
                                            code="IDEMPOTENCY_KEY_REUSED", details={"invoice_id": existing.id})
                    return existing
            await uow.invoices.add(invoice)
            await uow.commit()
        return invoice


class GetInvoice:
    """The caller's invoice with its payments. Another user's invoice is NotFoundError."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: int, invoice_id: int) -> tuple[Invoice, Sequence[Payment]]:
        async with self._uow(read_only=True) as uow:
            invoice = await uow.invoices.get_for_user(invoice_id, user_id)
            if invoice is None:
                raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")
            return invoice, await uow.payments.for_invoice(invoice.id)

    async def list(self, user_id: int, *, status: InvoiceStatus | None = None, limit: int = 50,
                   before_id: int | None = None) -> Sequence[Invoice]:
        async with self._uow(read_only=True) as uow:
            return await uow.invoices.list_for_user(user_id, status=status, limit=max(1, min(limit, 200)),
                                                    before_id=before_id)


class CancelInvoice:
    """Cancel an unpaid invoice of the caller. Idempotent. A payment that still arrives is credited to the wallet."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: int, invoice_id: int) -> Invoice:
        async with self._uow() as uow:
            invoice = await uow.invoices.get_for_user(invoice_id, user_id)
            if invoice is None:
                raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")
            invoice.cancel()
            await uow.invoices.update(invoice)
            await uow.commit()
        return invoice


class ExpireInvoices:
    """Mark pending invoices past their expiry as expired (a late payment is still accepted). Returns how many."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, *, batch: int = 500) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.invoices.due_for_expiry(now, limit=batch)
            for invoice in due:
                if invoice.expire(now):
                    await uow.invoices.update(invoice)
            await uow.commit()
        return len(due)


# ------------------------------------------------------------------------------------------ settlement
@frozen
class Settlement:
    """What settling a payment did. ``credited`` is True only for the one call that moved the money."""

    payment: Payment
    invoice: Invoice
    credited: bool


async def settle_paid(uow: UnitOfWork, payment: Payment, now: datetime, *, provider_ref: str | None = None,
                      card_pan: str | None = None, raw_status: str = "", actor_id: int | None = None) -> Settlement:
    """Inside the caller's transaction: mark the payment paid (compare-and-set) and, if this call won, credit
    the wallet, pay the invoice and charge a purchase. Exactly one caller ever gets ``credited=True``."""
    invoice = await uow.invoices.get(payment.invoice_id, for_update=True)
    if invoice is None:  # pragma: no cover - foreign key
        raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")
    won = await uow.payments.mark_paid(payment.id, now=now, provider_ref=provider_ref, card_pan=card_pan,
                                       raw_status=raw_status)
    if not won:
        fresh = await uow.payments.get(payment.id)
        return Settlement(payment=fresh or payment, invoice=invoice, credited=False)
    await record_payment_completed(uow, payment, now)
    currency = payment.amount.currency
    if payment.gateway is not Gateway.WALLET:
        wallet = await wallet_of(uow, payment.user_id, currency)
        clearing = await system_account(uow, currency, AccountPurpose.GATEWAY_CLEARING)
        await uow.ledger.execute(TransferRequest(
            id=payment_credit_id(payment.id), code="payment", debit_account_id=clearing.id,
            credit_account_id=wallet.id, amount=payment.amount.amount, reference=f"payment:{payment.id}",
            memo=f"{payment.gateway.value} {provider_ref or ''}".strip()))
    if invoice.status.is_open:
        invoice.mark_paid(payment.id, now)
        if invoice.purpose.charges_wallet:
            await charge_wallet(uow, invoice)
            # The safety net: whatever happens to the caller after commit, a worker delivers it.
            await uow.jobs.enqueue(FULFIL_TASK, {"invoice_id": invoice.id}, key=f"invoice:{invoice.id}")
        else:
            invoice.mark_fulfilled(now)  # a top-up is delivered by the credit itself
        await uow.invoices.update(invoice)
    await audit(uow, actor_id=actor_id, action="payment.paid", target=f"payment:{payment.id}", now=now,
                gateway=payment.gateway.value, amount=payment.amount.format(), currency=currency.value,
                invoice_id=invoice.id, invoice_status=invoice.status.value)
    paid = await uow.payments.get(payment.id)
    return Settlement(payment=paid or payment, invoice=invoice, credited=True)


# ------------------------------------------------------------------------------------------ paying
@frozen
class PaymentInstructions:
    """How to complete a payment: follow ``redirect_url``, or transfer per ``card``; ``invoice`` may already be paid."""

    payment: Payment
    invoice: Invoice
    redirect_url: str | None = None
    card: CardTransferInstructions | None = None


class PayInvoice:
    """Start paying the caller's invoice with a gateway.

    * ``wallet``: charged at once from the balance (InsufficientFundsError -> nothing written), then fulfilled.
    * ``zarinpal`` / ``cryptomus``: a payment row is committed, the gateway is asked for a payment page
      (outside any transaction) and its id is stored; the customer follows ``redirect_url``.
    * ``card``: returns the card number and exact amount; the customer then submits the receipt.

    Raises NotFoundError for another user's invoice, InvalidTransitionError for an invoice that is no longer
    payable, ValidationError for an unconfigured gateway.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gateways: GatewaySet, fulfil: FulfilInvoice,
                 public_url: str) -> None:
        self._uow, self._clock, self._gateways, self._fulfil = uow, clock, gateways, fulfil
        self._public_url = public_url.rstrip("/")

    async def __call__(self, user_id: int, invoice_id: int, gateway: Gateway, *,
                       customer_email: str | None = None) -> PaymentInstructions:
        now = self._clock.now()
        if gateway is Gateway.WALLET:
            return await self._from_wallet(user_id, invoice_id, now)
        if gateway is Gateway.CARD and self._gateways.card_account is None:
            raise ValidationError("card-to-card is not configured here", field="gateway",
                                  code="GATEWAY_NOT_CONFIGURED")
        port = self._gateways.get(gateway) if gateway is not Gateway.CARD else None
        async with self._uow() as uow:
            invoice = await self._payable(uow, user_id, invoice_id)
            payment = Payment(invoice_id=invoice.id, user_id=user_id, gateway=gateway, amount=invoice.amount,
                              created_at=now)
            await uow.payments.add(payment)
            if gateway is Gateway.CARD:
                payment.started(None, None, now)
                await uow.payments.update(payment)
            await uow.commit()
        if port is None:
            account = self._gateways.card_account
            assert account is not None
            return PaymentInstructions(payment=payment, invoice=invoice,
                                       card=CardTransferInstructions(account, invoice.amount))
        started = await port.start(StartPayment(
            payment_id=f"vpnsmm-{payment.id}", amount=invoice.amount, description=invoice.description,
            callback_url=f"{self._public_url}/v1/payments/{gateway.value}/callback",
            webhook_url=f"{self._public_url}/v1/payments/{gateway.value}/webhook", customer_email=customer_email))
        async with self._uow() as uow:
            payment.started(started.external_id, started.redirect_url, self._clock.now())
            await uow.payments.update(payment)
            await uow.commit()
        return PaymentInstructions(payment=payment, invoice=invoice, redirect_url=started.redirect_url)

    async def _payable(self, uow: UnitOfWork, user_id: int, invoice_id: int) -> Invoice:
        invoice = await uow.invoices.get_for_user(invoice_id, user_id)
        if invoice is None:
            raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")
        if not invoice.status.is_open:
            raise InvalidTransitionError(f"invoice is {invoice.status.value}", code="INVOICE_NOT_PAYABLE")
        return invoice

    async def _from_wallet(self, user_id: int, invoice_id: int, now: datetime) -> PaymentInstructions:
        async with self._uow() as uow:
            invoice = await self._payable(uow, user_id, invoice_id)
            if not invoice.purpose.charges_wallet:
                raise ValidationError("a wallet top-up cannot be paid from the wallet", field="gateway")
            payment = Payment(invoice_id=invoice.id, user_id=user_id, gateway=Gateway.WALLET, amount=invoice.amount,
                              created_at=now)
            await uow.payments.add(payment)
            settled = await settle_paid(uow, payment, now, actor_id=user_id)
            await uow.commit()
        invoice = await self._fulfil(settled.invoice.id)
        return PaymentInstructions(payment=settled.payment, invoice=invoice)


class ConfirmPayment:
    """Ask the gateway what happened to a payment and settle it; the only path from a gateway to a credit.

    Called from the browser callback, a webhook, reconciliation or an operator. It always verifies with the
    amount *we* stored. Idempotent: repeated and concurrent calls credit once. A final non-paid outcome
    (canceled, failed) is recorded; ``wrong_amount`` is kept pending for an operator and never credited.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gateways: GatewaySet, fulfil: FulfilInvoice) -> None:
        self._uow, self._clock, self._gateways, self._fulfil = uow, clock, gateways, fulfil

    async def __call__(self, gateway: Gateway, external_id: str) -> Payment:
        port = self._gateways.get(gateway)
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get_by_external_id(gateway, external_id)
        if payment is None:
            raise NotFoundError("no such payment", code="PAYMENT_NOT_FOUND")
        if payment.status is PaymentStatus.PAID:
            return payment
        result = await port.verify(external_id, payment.amount)
        return await self._record(payment, result)

    async def _record(self, payment: Payment, result: VerificationResult) -> Payment:
        now = self._clock.now()
        async with self._uow() as uow:
            if result.credits:
                settled = await settle_paid(uow, payment, now, provider_ref=result.provider_ref,
                                            card_pan=result.card_pan, raw_status=result.raw_status)
                await uow.commit()
                if settled.credited and settled.invoice.status is InvoiceStatus.PAID:
                    await self._fulfil(settled.invoice.id)
                return settled.payment
            fresh = await uow.payments.get(payment.id)
            if fresh is None:  # pragma: no cover
                raise NotFoundError("no such payment", code="PAYMENT_NOT_FOUND")
            final = {PaymentOutcome.CANCELED: PaymentStatus.CANCELED, PaymentOutcome.FAILED: PaymentStatus.FAILED}
            if result.status in final:
                fresh.settle(final[result.status], now, raw_status=result.raw_status)
            else:
                fresh.raw_status = result.raw_status[:64]
            await uow.payments.update(fresh)
            if result.status is PaymentOutcome.WRONG_AMOUNT:
                await audit(uow, actor_id=None, action="payment.wrong_amount", target=f"payment:{payment.id}",
                            now=now, detail=result.detail, paid_amount=result.paid_amount,
                            paid_currency=result.paid_currency)
            await uow.commit()
            return fresh


class HandleGatewayNotice:
    """Turn a browser callback or a signed webhook into a verified settlement.

    The notice only says *which* payment to look at; the credit decision comes from :class:`ConfirmPayment`.
    Raises AuthenticationError for a forged or unsigned webhook (nothing is written).
    """

    def __init__(self, gateways: GatewaySet, confirm: ConfirmPayment) -> None:
        self._gateways, self._confirm = gateways, confirm

    async def callback(self, gateway: Gateway, query: Mapping[str, str]) -> Payment:
        port = self._gateways.get(gateway)
        if not isinstance(port, CallbackParser):
            raise ValidationError(f"{gateway.value} has no browser callback", field="gateway")
        notice = port.parse_callback(query)
        return await self._confirm(gateway, notice.external_id)

    async def webhook(self, gateway: Gateway, raw_body: bytes, headers: Mapping[str, str],
                      source_ip: str | None) -> Payment | None:
        port = self._gateways.get(gateway)
        if not isinstance(port, WebhookVerifier):
            raise ValidationError(f"{gateway.value} sends no webhooks", field="gateway")
        notice = port.parse_webhook(raw_body, headers, source_ip)
        try:
            return await self._confirm(gateway, notice.external_id)
        except NotFoundError:
            return None  # not one of ours (or not recorded yet): acknowledge, nothing to do


class ReconcilePayments:
    """Verify every payment still pending at a gateway (customers who never came back). Returns how many got paid."""

    def __init__(self, uow: UnitOfWorkFactory, gateways: GatewaySet, confirm: ConfirmPayment) -> None:
        self._uow, self._gateways, self._confirm = uow, gateways, confirm

    async def __call__(self, *, limit: int = 200) -> int:
        paid = 0
        for gateway in self._gateways.gateways:
            port = self._gateways.gateways[gateway]
            external_ids: list[str] = []
            if isinstance(port, UnverifiedLister):
                external_ids = [u.external_id for u in await port.unverified()]
            async with self._uow(read_only=True) as uow:
                pending = await uow.payments.list(PaymentFilter(gateway=gateway, status=PaymentStatus.PENDING),
                                                  limit=limit, before_id=None)
            external_ids += [p.external_id for p in pending if p.external_id and p.external_id not in external_ids]
            for external_id in external_ids:
                try:
                    if (await self._confirm(gateway, external_id)).status is PaymentStatus.PAID:
                        paid += 1
                except (NotFoundError, UpstreamUnavailableError):
                    continue
        return paid


# ------------------------------------------------------------------------------------------ card-to-card
class SubmitCardReceipt:
    """The customer says they transferred the money. Idempotent for the same claim; no auto-approval ever."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gateways: GatewaySet) -> None:
        self._uow, self._clock, self._gateways = uow, clock, gateways

    async def __call__(self, user_id: int, payment_id: int, claim: CardTransferClaim) -> Payment:
        account = self._gateways.card_account
        if account is None:
            raise ValidationError("card-to-card is not configured here", field="gateway")
        now = self._clock.now()
        async with self._uow() as uow:
            payment = await uow.payments.get_for_user(payment_id, user_id)
            if payment is None or payment.gateway is not Gateway.CARD:
                raise NotFoundError("card payment not found", code="PAYMENT_NOT_FOUND")
            review = payment.card_review(account)
            if review.submit(claim, at=now):
                payment.external_id = f"card-{payment.id}-{claim.transaction_id}"
                payment.take_review(review, now)
                await uow.payments.update(payment)
                await uow.commit()
        return payment


class ReviewCardPayment:
    """An admin approves (crediting once) or rejects (with a reason) a submitted card payment.

    Idempotent: repeating the same decision returns the same result and credits nothing more; the
    opposite decision raises InvalidTransitionError. Every decision is written to the audit log.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gateways: GatewaySet, fulfil: FulfilInvoice) -> None:
        self._uow, self._clock, self._gateways, self._fulfil = uow, clock, gateways, fulfil

    async def __call__(self, admin_id: int, payment_id: int, *, approve: bool, text: str = "") -> Payment:
        account = self._gateways.card_account
        if account is None:
            raise ValidationError("card-to-card is not configured here", field="gateway")
        now = self._clock.now()
        credited_invoice: int | None = None
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id, for_update=True)
            if payment is None or payment.gateway is not Gateway.CARD:
                raise NotFoundError("card payment not found", code="PAYMENT_NOT_FOUND")
            review = payment.card_review(account)
            before = review.decision
            decision = (review.approve(by=str(admin_id), at=now, note=text) if approve
                        else review.reject(by=str(admin_id), at=now, reason=text))
            if before is None:  # a new decision
                payment.take_review(review, now)
                await uow.payments.update(payment)
                if decision.approved:
                    assert payment.claim is not None
                    settled = await settle_paid(uow, payment, now, provider_ref=payment.claim.transaction_id,
                                                raw_status="approved", actor_id=admin_id)
                    credited_invoice = settled.invoice.id if settled.credited else None
                    payment = settled.payment
                await audit(uow, actor_id=admin_id, action="payment.card_" + decision.status.value,
                            target=f"payment:{payment.id}", now=now, text=decision.text)
                await uow.commit()
        if credited_invoice is not None:
            await self._fulfil(credited_invoice)
        return payment


class ListPayments:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, filter: PaymentFilter, *, limit: int = 50,
                       before_id: int | None = None) -> Sequence[Payment]:
        async with self._uow(read_only=True) as uow:
            return await uow.payments.list(filter, limit=max(1, min(limit, 200)), before_id=before_id)

    async def one(self, payment_id: int, *, user_id: int | None = None) -> Payment:
        async with self._uow(read_only=True) as uow:
            found = (await uow.payments.get(payment_id) if user_id is None
                     else await uow.payments.get_for_user(payment_id, user_id))
        if found is None:
            raise NotFoundError("payment not found", code="PAYMENT_NOT_FOUND")
        return found


# ------------------------------------------------------------------------------------------ fulfilment
class FulfilInvoice:
    """Deliver a paid invoice exactly once in effect, retrying or refunding.

    Runs the purpose's Fulfiller outside any transaction, then records the outcome. A retryable failure
    (UpstreamUnavailableError) is counted and left for a later run; after MAX_FULFILMENT_ATTEMPTS, or on
    any permanent failure, the charge is refunded to the wallet. Safe to call for any invoice at any time.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, fulfillers: Mapping[InvoicePurpose, Fulfiller]) -> None:
        self._uow, self._clock, self._fulfillers = uow, clock, fulfillers

    async def __call__(self, invoice_id: int) -> Invoice:
        async with self._uow(read_only=True) as uow:
            invoice = await uow.invoices.get(invoice_id)
        if invoice is None:
            raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")
        if invoice.status is not InvoiceStatus.PAID:
            return invoice
        fulfiller = self._fulfillers.get(invoice.purpose)
        if fulfiller is None:
            return await self._fail(invoice_id, f"nothing can fulfil {invoice.purpose.value} here", permanent=False)
        try:
            result = await fulfiller.fulfil(invoice)
        except UpstreamUnavailableError as exc:
            return await self._fail(invoice_id, exc.message, permanent=False)
        except VpnsmmError as exc:
            return await self._fail(invoice_id, f"{exc.code}: {exc.message}", permanent=True)
        async with self._uow() as uow:
            fresh = await uow.invoices.get(invoice_id, for_update=True)
            assert fresh is not None
            if fresh.status is InvoiceStatus.PAID:
                if result:
                    fresh.item = {**fresh.item, "result": dict(result)}
                fresh.mark_fulfilled(self._clock.now())
                await uow.invoices.update(fresh)
                await uow.commit()
            return fresh

    async def _fail(self, invoice_id: int, error: str, *, permanent: bool) -> Invoice:
        now = self._clock.now()
        async with self._uow() as uow:
            invoice = await uow.invoices.get(invoice_id, for_update=True)
            assert invoice is not None
            if invoice.status is not InvoiceStatus.PAID:
                return invoice
            invoice.record_failure(error)
            if permanent or invoice.fulfilment_attempts >= MAX_FULFILMENT_ATTEMPTS:
                await refund_invoice(uow, invoice, now, reason=error)
            await uow.invoices.update(invoice)
            await uow.commit()
        return invoice


async def refund_invoice(uow: UnitOfWork, invoice: Invoice, now: datetime, *, reason: str,
                         actor_id: int | None = None) -> None:
    """Give a charged invoice's amount back to the buyer's wallet and mark it refunded. Idempotent."""
    if invoice.status is InvoiceStatus.REFUNDED:
        return
    invoice.mark_refunded()
    if invoice.purpose.charges_wallet:
        wallet = await wallet_of(uow, invoice.user_id, invoice.amount.currency)
        refunds = await system_account(uow, invoice.amount.currency, AccountPurpose.REFUNDS)
        await uow.ledger.execute(TransferRequest(
            id=invoice_refund_id(invoice.id), code="refund", debit_account_id=refunds.id,
            credit_account_id=wallet.id, amount=invoice.amount.amount, reference=f"invoice:{invoice.id}",
            memo=reason[:200]))
    await audit(uow, actor_id=actor_id, action="invoice.refunded", target=f"invoice:{invoice.id}", now=now,
                reason=reason, amount=invoice.amount.format(), currency=invoice.amount.currency.value)


# ------------------------------------------------------------------------------------------ wallets
async def _entry_of(uow: UnitOfWork, account_id: int, transfer_id: str) -> Entry:
    """The account's entry for a transfer."""
    for entry in await uow.ledger.transfer_entries(transfer_id):
        if entry.account_id == account_id:
            return entry
    raise NotFoundError("ledger entry not found", code="ENTRY_NOT_FOUND")


@frozen
class WalletBalance:
    currency: Currency
    balance: Money
    available: Money  # balance minus holds
    account_id: int


class Wallets:
    """Read a user's balances and history, and move money between wallets or by an operator."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def balances(self, user_id: int) -> list[WalletBalance]:
        async with self._uow(read_only=True) as uow:
            accounts = await uow.ledger.accounts_of(user_id)
        return [WalletBalance(currency=a.currency, balance=Money(a.balance, a.currency),
                              available=Money(a.available, a.currency), account_id=a.id)
                for a in accounts if a.purpose is AccountPurpose.WALLET]

    async def balance(self, user_id: int, currency: Currency) -> WalletBalance:
        async with self._uow(read_only=True) as uow:
            account = await uow.ledger.find_account(user_id, currency, AccountPurpose.WALLET)
        if account is None:
            return WalletBalance(currency=currency, balance=Money.zero(currency), available=Money.zero(currency),
                                 account_id=0)
        return WalletBalance(currency=currency, balance=Money(account.balance, currency),
                             available=Money(account.available, currency), account_id=account.id)

    async def history(self, user_id: int, currency: Currency, *, before_id: int | None = None,
                      limit: int = 50) -> Sequence[Entry]:
        """The wallet's entries, newest first, each with the balance before and after."""
        async with self._uow(read_only=True) as uow:
            account = await uow.ledger.find_account(user_id, currency, AccountPurpose.WALLET)
            if account is None:
                return []
            return await uow.ledger.entries(account.id, before_id=before_id, limit=max(1, min(limit, 200)))

    async def adjust(self, *, actor_id: int | None, user_id: int, amount: Money, reason: str,
                     idempotency_key: str) -> Entry:
        """An operator credits (positive) or debits (negative) a wallet against equity, with a reason.

        Idempotent per ``idempotency_key``; audited. A debit beyond the balance raises InsufficientFundsError.
        """
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError("a reason is required", field="reason", code="REASON_REQUIRED")
        if amount.is_zero:
            raise ValidationError("amount must not be zero", field="amount")
        if not _KEY.match(idempotency_key):
            raise ValidationError("idempotency key must be 1-100 characters of [A-Za-z0-9_.:-]",
                                  field="idempotency_key")
        now = self._clock.now()
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            wallet = await wallet_of(uow, user_id, amount.currency)
            equity = await system_account(uow, amount.currency, AccountPurpose.EQUITY)
            credit = amount.is_positive
            replay = await uow.ledger.get_transfer(f"adjust:{idempotency_key}") is not None
            transfer = await uow.ledger.execute(TransferRequest(
                id=f"adjust:{idempotency_key}", code="adjustment",
                debit_account_id=equity.id if credit else wallet.id,
                credit_account_id=wallet.id if credit else equity.id, amount=abs(amount.amount),
                reference=f"user:{user_id}", memo=reason[:500]))
            entry = await _entry_of(uow, wallet.id, transfer.id)
            if replay:  # same key and body: the stored result, nothing new written or audited
                return entry
            await audit(uow, actor_id=actor_id, action="wallet.credit" if credit else "wallet.debit",
                        target=f"user:{user_id}", now=now, amount=amount.format(), currency=amount.currency.value,
                        reason=reason, transfer_id=transfer.id)
            await uow.commit()
        return entry

    async def transfer(self, *, from_user_id: int, to_user_id: int, amount: Money, idempotency_key: str,
                       memo: str = "") -> Entry:
        """Move money between two users' wallets (a reseller funding a customer). Idempotent per key.

        Raises InsufficientFundsError (nothing written), NotFoundError for an unknown recipient.
        """
        if not amount.is_positive:
            raise ValidationError("amount must be positive", field="amount")
        if from_user_id == to_user_id:
            raise ValidationError("cannot transfer to yourself", field="to_user_id")
        if not _KEY.match(idempotency_key):
            raise ValidationError("idempotency key must be 1-100 characters of [A-Za-z0-9_.:-]",
                                  field="idempotency_key")
        async with self._uow() as uow:
            # One lookup for both wallets; the recipient itself is only checked when it has no wallet yet.
            found = await uow.ledger.find_accounts([from_user_id, to_user_id], amount.currency, AccountPurpose.WALLET)
            source = found.get(from_user_id) or await wallet_of(uow, from_user_id, amount.currency)
            target = found.get(to_user_id)
            if target is None:
                if await uow.users.get(to_user_id) is None:
                    raise NotFoundError("recipient not found", code="USER_NOT_FOUND")
                target = await wallet_of(uow, to_user_id, amount.currency)
            transfer = await uow.ledger.execute(TransferRequest(
                id=f"p2p:{from_user_id}:{idempotency_key}", code="wallet_transfer", debit_account_id=source.id,
                credit_account_id=target.id, amount=amount.amount, reference=f"user:{to_user_id}",
                memo=memo[:500]))
            entry = await _entry_of(uow, source.id, transfer.id)
            await uow.commit()
        return entry


# ------------------------------------------------------------------------------------------ background
def register_billing_tasks(registry: TaskRegistry, *, fulfil: FulfilInvoice, expire: ExpireInvoices,
                           reconcile: ReconcilePayments) -> None:
    """Money's background work: fulfilment retries (enqueued when a purchase is paid), the expiry sweep
    (every minute) and gateway reconciliation for customers who never came back (every 5 minutes).
    All three are idempotent, so a worker killed mid-run and a re-run move no money twice."""
    if FULFIL_TASK in registry:
        return

    async def fulfil_job(ctx: JobContext) -> None:
        invoice = await fulfil(int(str(ctx.payload["invoice_id"])))
        if invoice.status is InvoiceStatus.PAID:  # not delivered yet: let the queue retry with backoff
            raise UpstreamUnavailableError(f"invoice {invoice.id} not fulfilled yet: {invoice.last_error}")

    async def expire_job(ctx: JobContext) -> None:
        await expire()

    async def reconcile_job(ctx: JobContext) -> None:
        await reconcile()

    registry.register(FULFIL_TASK, fulfil_job, lock="invoice:{invoice_id}",
                      retry=RetryPolicy(max_attempts=MAX_FULFILMENT_ATTEMPTS, base_delay=15.0, max_delay=3600.0))
    registry.register(EXPIRE_TASK, expire_job, schedule=Schedule.every(60))
    registry.register(RECONCILE_TASK, reconcile_job, schedule=Schedule.every(300))
