"""Small read/orchestration use cases the VPN dialects (``v2ray``, ``ru-vpn``) need and the native API does not.

They add no new rule: login by email resolves the user and then runs :class:`Login`; card verification runs
:class:`SubmitCardReceipt` and :class:`ReviewCardPayment` (only an admin approves); the billing views read
invoices and accounts. Ownership is checked in every query: another user's id is NotFoundError.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from vpnsmm.application.billing import GatewaySet, ReviewCardPayment, SubmitCardReceipt
from vpnsmm.application.identity import Login, Principal, TokenPair
from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory, UserFilter
from vpnsmm.domain.billing import Gateway, Invoice, Payment, PaymentStatus
from vpnsmm.domain.errors import ConflictError, NotFoundError, ValidationError
from vpnsmm.domain.identity import Role
from vpnsmm.domain.money import Money
from vpnsmm.domain.payments import CardTransferClaim
from vpnsmm.domain.vpn_sales import Plan, VpnAccount

#: Invoices scanned at most per query (a customer with more has older ones left out of the views).
SCAN_LIMIT = 2000
_PAGE = 200


# ------------------------------------------------------------------------------------------ login
class LoginByIdentifier:
    """Log in with a username *or* an email address (the ru-vpn frontend sends ``email``).

    An identifier containing ``@`` that is not itself a username is looked up by email (case-insensitive);
    then :class:`Login` decides, so an unknown email, an unknown username and a wrong password all raise the
    same AuthenticationError (INVALID_CREDENTIALS) after the same password-hash work.
    """

    def __init__(self, uow: UnitOfWorkFactory, login: Login) -> None:
        self._uow, self._login = uow, login

    async def __call__(self, identifier: str, password: str) -> TokenPair:
        name = identifier.strip() if isinstance(identifier, str) else ""
        if "@" in name and len(name) <= 254:
            async with self._uow(read_only=True) as uow:
                if await uow.users.get_by_username(name) is None:
                    wanted = name.casefold()
                    found = await uow.users.list(UserFilter(search=name), limit=20, offset=0)
                    match = next((u for u in found if u.email and u.email.casefold() == wanted), None)
                    if match is not None:
                        name = match.username
        return await self._login(name, password)


# ------------------------------------------------------------------------------------------ payment methods
class PaymentMethods:
    """Which payment methods this installation takes, and the default a dialect falls back to."""

    def __init__(self, gateways: GatewaySet) -> None:
        self._gateways = gateways

    @property
    def available(self) -> list[Gateway]:
        return self._gateways.available

    def pick(self, raw: str | None, *, prefer: Sequence[Gateway], field: str = "provider") -> Gateway:
        """``raw`` parsed (ValidationError for an unknown name), or the first of ``prefer`` that is configured
        (the wallet, always available, when none is)."""
        if raw is not None and str(raw).strip():
            try:
                return Gateway(str(raw).strip().lower())
            except ValueError:
                raise ValidationError(f"unknown payment method {raw!r}; expected one of "
                                      f"{', '.join(g.value for g in self.available)}", field=field) from None
        available = self.available
        return next((g for g in prefer if g in available), Gateway.WALLET)


# ------------------------------------------------------------------------------------------ card verification
@frozen
class CardVerification:
    """Where a card-to-card payment stands after a verify call. ``verified`` means paid (credited once)."""

    payment: Payment
    invoice: Invoice
    account: VpnAccount | None
    verified: bool


def _result_account_id(invoice: Invoice) -> int | None:
    result = invoice.item.get("result")
    value = result.get("account_id") if isinstance(result, dict) else None
    return value if type(value) is int else None


class VerifyCardPayment:
    """"Verify" a card-to-card payment, the way the v2ray document's ``verify-card-payment`` asks.

    A claim (bank transaction id + payer card tail) is evidence, never proof (payments-bots.md section 3.2:
    timer auto-approval is what not to do). So:

    * the payment's **owner** records the claim (SubmitCardReceipt, idempotent for the same claim); the result
      is ``verified=False`` until an admin approves, or ``verified=True`` with the account once one has;
    * an **admin** approves it (ReviewCardPayment: credits once, provisions the plan): with a claim the owner
      already submitted, the admin's transaction id must match it (ConflictError otherwise); with none, the
      admin's claim is recorded first.

    ``amount`` (minor units), when given, must equal the payment's amount (ValidationError AMOUNT_MISMATCH).
    Another user's payment, or one that is not card-to-card, is NotFoundError. A rejected payment stays
    rejected (verified False). Repeating any call changes nothing more.
    """

    def __init__(self, uow: UnitOfWorkFactory, submit: SubmitCardReceipt, review: ReviewCardPayment) -> None:
        self._uow, self._submit, self._review = uow, submit, review

    async def __call__(self, principal: Principal, payment_id: int, claim: CardTransferClaim, *,
                       amount: int | None = None) -> CardVerification:
        is_admin = principal.role.at_least(Role.ADMIN)
        async with self._uow(read_only=True) as uow:
            payment = (await uow.payments.get(payment_id) if is_admin
                       else await uow.payments.get_for_user(payment_id, principal.user_id))
        if payment is None or payment.gateway is not Gateway.CARD:
            raise NotFoundError("card payment not found", code="PAYMENT_NOT_FOUND")
        if amount is not None and amount != payment.amount.amount:
            raise ValidationError(f"amount {amount} does not match the payment's {payment.amount.amount}",
                                  field="amount", code="AMOUNT_MISMATCH")
        if payment.status is PaymentStatus.PENDING:
            payment = await self._submit(payment.user_id, payment.id, claim)
        elif payment.status is PaymentStatus.SUBMITTED and payment.claim is not None \
                and payment.claim.transaction_id != claim.transaction_id:
            raise ConflictError("the transaction id does not match the receipt the customer submitted",
                                code="CLAIM_MISMATCH", details={"field": "transaction_id"})
        if is_admin and payment.status is PaymentStatus.SUBMITTED:
            payment = await self._review(principal.user_id, payment.id, approve=True,
                                         text="verified (verify-card-payment)")
        return await self._outcome(payment.id)

    async def _outcome(self, payment_id: int) -> CardVerification:
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
            assert payment is not None
            invoice = await uow.invoices.get(payment.invoice_id)
            assert invoice is not None
            account_id = _result_account_id(invoice)
            account = await uow.vpn_accounts.get(account_id) if account_id is not None else None
        return CardVerification(payment=payment, invoice=invoice, account=account,
                                verified=payment.status is PaymentStatus.PAID)


# ------------------------------------------------------------------------------------------ billing views
@frozen
class AccountBilling:
    """One account's billing: the account, its plan and the invoices that bought, renewed or topped it up
    (newest first)."""

    account: VpnAccount
    plan: Plan | None
    invoices: Sequence[Invoice]
    renewal_price: Money | None


@frozen
class InvoicePage:
    items: Sequence[Invoice]
    total: int


async def _invoices_of(uow: UnitOfWork, user_id: int, *, stop_after: int = SCAN_LIMIT) -> list[Invoice]:
    found: list[Invoice] = []
    before: int | None = None
    while len(found) < stop_after:
        batch = await uow.invoices.list_for_user(user_id, status=None, limit=_PAGE, before_id=before)
        found += batch
        if len(batch) < _PAGE:
            break
        before = batch[-1].id
    return found[:stop_after]


def account_of_invoice(invoice: Invoice) -> int | None:
    """The VPN account an invoice bought (once fulfilled), renewed or topped up; None for other invoices."""
    value = invoice.item.get("account_id")
    return value if type(value) is int else _result_account_id(invoice)


class VpnBillingViews:
    """Read-only billing views over a customer's invoices and accounts."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def account(self, user_id: int, account_id: int) -> AccountBilling:
        """The caller's account with its plan and invoices. NotFoundError for another user's account."""
        async with self._uow(read_only=True) as uow:
            account = await uow.vpn_accounts.get_for_user(account_id, user_id)
            if account is None:
                raise NotFoundError("VPN account not found", code="ACCOUNT_NOT_FOUND")
            plan = await uow.vpn_plans.get(account.plan_id)
            invoices = [i for i in await _invoices_of(uow, user_id)
                        if i.id == account.invoice_id or account_of_invoice(i) == account.id]
        price = None
        if plan is not None and invoices:
            price = plan.prices.get(invoices[-1].amount.currency)  # the currency it was bought in
        return AccountBilling(account=account, plan=plan, invoices=invoices, renewal_price=price)

    async def history(self, user_id: int, *, page: int, limit: int) -> InvoicePage:
        """The caller's invoices newest first, ``page`` counted from 1. ValidationError for a bad page/limit."""
        if page < 1 or page > 10_000:
            raise ValidationError("page must be 1-10000", field="page")
        if limit < 1 or limit > 100:
            raise ValidationError("limit must be 1-100", field="limit")
        async with self._uow(read_only=True) as uow:
            everything = await _invoices_of(uow, user_id)
        start = (page - 1) * limit
        return InvoicePage(items=everything[start:start + limit], total=len(everything))


__all__ = ["AccountBilling", "CardVerification", "InvoicePage", "LoginByIdentifier", "PaymentMethods",
           "VerifyCardPayment", "VpnBillingViews", "account_of_invoice"]
