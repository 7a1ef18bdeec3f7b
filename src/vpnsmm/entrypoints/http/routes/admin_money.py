"""/v1/admin/payments and /v1/admin/wallets: card-to-card review and manual wallet adjustments (admin)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vpnsmm.application.billing import ListPayments, ReconcilePayments, ReviewCardPayment, Wallets
from vpnsmm.application.identity import Principal
from vpnsmm.application.ports.persistence import PaymentFilter
from vpnsmm.domain.billing import Gateway, PaymentStatus
from vpnsmm.domain.errors import ValidationError
from vpnsmm.entrypoints.http.money_schemas import (
    AdjustIn,
    BalanceOut,
    DecisionIn,
    EntryOut,
    PaymentOut,
    RejectIn,
    parse_money,
)


class AdminPaymentsController(Controller):
    path = "/v1/admin"
    tags = ["admin"]

    @get("/payments", operation_id="AdminListPayments")
    async def list_payments(self, admin: Principal, list_payments: ListPayments,
                            status: Annotated[str | None, Parameter(max_length=16)] = None,
                            gateway: Annotated[str | None, Parameter(max_length=16)] = None,
                            user_id: Annotated[int | None, Parameter(ge=1, le=2**62)] = None,
                            limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
                            before_id: Annotated[int | None, Parameter(ge=1, le=2**62)] = None) -> list[PaymentOut]:
        """Payments, newest first. ``status=submitted&gateway=card`` lists card transfers waiting for review."""
        try:
            flt = PaymentFilter(gateway=Gateway(gateway) if gateway else None,
                                status=PaymentStatus(status) if status else None, user_id=user_id)
        except ValueError as exc:
            raise ValidationError(str(exc), field="status" if status else "gateway") from None
        return [PaymentOut.of(p) for p in await list_payments(flt, limit=limit, before_id=before_id)]

    @post("/payments/{payment_id:int}/approve", operation_id="AdminApproveCardPayment", status_code=HTTP_200_OK)
    async def approve(self, payment_id: int, admin: Principal, review_card_payment: ReviewCardPayment,
                      data: DecisionIn | None = None) -> PaymentOut:
        """Approve a submitted card transfer: the wallet is credited once, however often this is called."""
        return PaymentOut.of(await review_card_payment(admin.user_id, payment_id, approve=True,
                                                       text=data.note if data else ""))

    @post("/payments/{payment_id:int}/reject", operation_id="AdminRejectCardPayment", status_code=HTTP_200_OK)
    async def reject(self, payment_id: int, data: RejectIn, admin: Principal,
                     review_card_payment: ReviewCardPayment) -> PaymentOut:
        return PaymentOut.of(await review_card_payment(admin.user_id, payment_id, approve=False, text=data.reason))

    @post("/payments/reconcile", operation_id="AdminReconcilePayments", status_code=HTTP_200_OK)
    async def reconcile(self, admin: Principal, reconcile_payments: ReconcilePayments) -> dict[str, int]:
        """Verify every payment still pending at a gateway; returns how many turned out paid."""
        return {"paid": await reconcile_payments()}

    @get("/wallets/{user_id:int}", operation_id="AdminGetWallets")
    async def wallets_of(self, user_id: int, admin: Principal, wallets: Wallets) -> list[BalanceOut]:
        return [BalanceOut.of(b) for b in await wallets.balances(user_id)]

    @post("/wallets/{user_id:int}/adjust", operation_id="AdminAdjustWallet", status_code=HTTP_201_CREATED)
    async def adjust(self, user_id: int, data: AdjustIn, admin: Principal, wallets: Wallets) -> EntryOut:
        """Credit (positive amount) or debit (negative) a wallet with a reason; audited; idempotent per key."""
        entry = await wallets.adjust(actor_id=admin.user_id, user_id=user_id,
                                     amount=parse_money(data.amount, data.currency), reason=data.reason,
                                     idempotency_key=data.idempotency_key)
        return EntryOut.of(entry)
