"""Invoices, payments and the audit log in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import register_unique, translated
from vpnsmm.adapters.sqlalchemy.tables import audit_log, invoices, payments
from vpnsmm.application.ports.persistence import AuditFilter, AuditRecord, PaymentFilter
from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose, InvoiceStatus, Payment, PaymentStatus
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import CardReviewStatus, CardTransferClaim, ReviewDecision

register_unique("idempotency_key", "idempotency_key", "INVOICE_EXISTS",
                "an invoice with this idempotency key already exists")
register_unique("payments.gateway", "external_id", "PAYMENT_EXISTS", "this gateway payment is already recorded")
register_unique("uq_payments_gateway_external_id", "external_id", "PAYMENT_EXISTS",
                "this gateway payment is already recorded")


def _invoice_values(inv: Invoice) -> dict[str, Any]:
    return {"user_id": inv.user_id, "purpose": inv.purpose.value, "amount": inv.amount.amount,
            "currency": inv.amount.currency.value, "description": inv.description, "item": inv.item,
            "status": inv.status.value, "idempotency_key": inv.idempotency_key, "created_at": inv.created_at,
            "expires_at": inv.expires_at, "paid_at": inv.paid_at, "fulfilled_at": inv.fulfilled_at,
            "paid_by_payment_id": inv.paid_by_payment_id, "fulfilment_attempts": inv.fulfilment_attempts,
            "last_error": inv.last_error}


def _invoice(row: Any) -> Invoice:
    return Invoice(id=row.id, user_id=row.user_id, purpose=InvoicePurpose(row.purpose),
                   amount=Money(row.amount, Currency(row.currency)), description=row.description,
                   item=dict(row.item or {}), status=InvoiceStatus(row.status), idempotency_key=row.idempotency_key,
                   created_at=row.created_at, expires_at=row.expires_at, paid_at=row.paid_at,
                   fulfilled_at=row.fulfilled_at, paid_by_payment_id=row.paid_by_payment_id,
                   fulfilment_attempts=row.fulfilment_attempts, last_error=row.last_error)


class SqlInvoiceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, invoice: Invoice) -> Invoice:
        async with translated():
            stmt = invoices.insert().values(**_invoice_values(invoice)).returning(invoices.c.id)
            result = await self._c.execute(stmt)
        invoice.id = int(result.scalar_one())
        return invoice

    async def get(self, invoice_id: int, *, for_update: bool = False) -> Invoice | None:
        query = sa.select(invoices).where(invoices.c.id == invoice_id)
        if for_update and self._c.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self._c.execute(query)).first()
        return _invoice(row) if row else None

    async def get_for_user(self, invoice_id: int, user_id: int) -> Invoice | None:
        row = (await self._c.execute(sa.select(invoices).where(invoices.c.id == invoice_id,
                                                               invoices.c.user_id == user_id))).first()
        return _invoice(row) if row else None

    async def get_by_idempotency_key(self, user_id: int, key: str) -> Invoice | None:
        row = (await self._c.execute(sa.select(invoices).where(invoices.c.user_id == user_id,
                                                               invoices.c.idempotency_key == key))).first()
        return _invoice(row) if row else None

    async def update(self, invoice: Invoice) -> None:
        result = await self._c.execute(invoices.update().where(invoices.c.id == invoice.id)
                                       .values(**_invoice_values(invoice)))
        if result.rowcount == 0:
            raise NotFoundError("invoice not found", code="INVOICE_NOT_FOUND")

    async def list_for_user(self, user_id: int, *, status: InvoiceStatus | None, limit: int,
                            before_id: int | None) -> Sequence[Invoice]:
        query = sa.select(invoices).where(invoices.c.user_id == user_id)
        if status is not None:
            query = query.where(invoices.c.status == status.value)
        if before_id is not None:
            query = query.where(invoices.c.id < before_id)
        return [_invoice(r) for r in await self._c.execute(query.order_by(invoices.c.id.desc()).limit(limit))]

    async def due_for_expiry(self, now: datetime, *, limit: int) -> Sequence[Invoice]:
        query = sa.select(invoices).where(invoices.c.status == InvoiceStatus.PENDING.value,
                                          invoices.c.expires_at <= now).order_by(invoices.c.id).limit(limit)
        return [_invoice(r) for r in await self._c.execute(query)]


def _claim_json(claim: CardTransferClaim | None) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {"transaction_id": claim.transaction_id, "card_last4": claim.card_last4, "receipt_ref": claim.receipt_ref}


def _decision_json(decision: ReviewDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"status": decision.status.value, "decided_by": decision.decided_by,
            "decided_at": decision.decided_at.isoformat(), "text": decision.text}


def _payment_values(p: Payment) -> dict[str, Any]:
    return {"invoice_id": p.invoice_id, "user_id": p.user_id, "gateway": p.gateway.value, "amount": p.amount.amount,
            "currency": p.amount.currency.value, "status": p.status.value, "external_id": p.external_id,
            "redirect_url": p.redirect_url, "provider_ref": p.provider_ref, "card_pan": p.card_pan,
            "raw_status": p.raw_status, "claim": _claim_json(p.claim), "decision": _decision_json(p.decision),
            "created_at": p.created_at, "updated_at": p.updated_at, "paid_at": p.paid_at}


def _payment(row: Any) -> Payment:
    claim = CardTransferClaim(**row.claim) if row.claim else None
    decision = None
    if row.decision:
        d = row.decision
        decision = ReviewDecision(CardReviewStatus(d["status"]), d["decided_by"],
                                  datetime.fromisoformat(d["decided_at"]), d["text"])
    return Payment(id=row.id, invoice_id=row.invoice_id, user_id=row.user_id, gateway=Gateway(row.gateway),
                   amount=Money(row.amount, Currency(row.currency)), status=PaymentStatus(row.status),
                   external_id=row.external_id, redirect_url=row.redirect_url, provider_ref=row.provider_ref,
                   card_pan=row.card_pan, raw_status=row.raw_status, claim=claim, decision=decision,
                   created_at=row.created_at, updated_at=row.updated_at, paid_at=row.paid_at)


class SqlPaymentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, payment: Payment) -> Payment:
        async with translated():
            result = await self._c.execute(payments.insert().values(**_payment_values(payment))
                                           .returning(payments.c.id))
        payment.id = int(result.scalar_one())
        return payment

    async def get(self, payment_id: int, *, for_update: bool = False) -> Payment | None:
        query = sa.select(payments).where(payments.c.id == payment_id)
        if for_update and self._c.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self._c.execute(query)).first()
        return _payment(row) if row else None

    async def get_for_user(self, payment_id: int, user_id: int) -> Payment | None:
        row = (await self._c.execute(sa.select(payments).where(payments.c.id == payment_id,
                                                               payments.c.user_id == user_id))).first()
        return _payment(row) if row else None

    async def get_by_external_id(self, gateway: Gateway, external_id: str) -> Payment | None:
        row = (await self._c.execute(sa.select(payments).where(payments.c.gateway == gateway.value,
                                                               payments.c.external_id == external_id))).first()
        return _payment(row) if row else None

    async def update(self, payment: Payment) -> None:
        values = _payment_values(payment)
        values.pop("paid_at")
        if payment.status is PaymentStatus.PAID:
            values.pop("status")  # only mark_paid moves a row to paid
        async with translated():
            result = await self._c.execute(payments.update().where(
                payments.c.id == payment.id, payments.c.status != PaymentStatus.PAID.value).values(**values))
        if result.rowcount == 0 and payment.status is not PaymentStatus.PAID:
            raise NotFoundError("payment not found or already paid", code="PAYMENT_NOT_FOUND")

    async def mark_paid(self, payment_id: int, *, now: datetime, provider_ref: str | None = None,
                        card_pan: str | None = None, raw_status: str = "") -> bool:
        values: dict[str, Any] = {"status": PaymentStatus.PAID.value, "paid_at": now, "updated_at": now}
        if provider_ref:
            values["provider_ref"] = provider_ref
        if card_pan:
            values["card_pan"] = card_pan
        if raw_status:
            values["raw_status"] = raw_status
        result = await self._c.execute(payments.update().where(
            payments.c.id == payment_id, payments.c.status != PaymentStatus.PAID.value).values(**values))
        return bool(result.rowcount == 1)

    async def list(self, filter: PaymentFilter, *, limit: int, before_id: int | None) -> Sequence[Payment]:
        query = sa.select(payments)
        if filter.gateway is not None:
            query = query.where(payments.c.gateway == filter.gateway.value)
        if filter.status is not None:
            query = query.where(payments.c.status == filter.status.value)
        if filter.user_id is not None:
            query = query.where(payments.c.user_id == filter.user_id)
        if before_id is not None:
            query = query.where(payments.c.id < before_id)
        return [_payment(r) for r in await self._c.execute(query.order_by(payments.c.id.desc()).limit(limit))]

    async def for_invoice(self, invoice_id: int) -> Sequence[Payment]:
        rows = await self._c.execute(sa.select(payments).where(payments.c.invoice_id == invoice_id)
                                     .order_by(payments.c.id))
        return [_payment(r) for r in rows]


class SqlAuditLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def record(self, entry: AuditRecord) -> None:
        await self._c.execute(audit_log.insert().values(actor_id=entry.actor_id, action=entry.action,
                                                        target=entry.target, details=entry.details, at=entry.at))

    async def for_target(self, target: str, *, limit: int = 100) -> Sequence[AuditRecord]:
        rows = await self._c.execute(sa.select(audit_log).where(audit_log.c.target == target)
                                     .order_by(audit_log.c.id.desc()).limit(limit))
        return [AuditRecord(id=r.id, actor_id=r.actor_id, action=r.action, target=r.target,
                            details=dict(r.details), at=r.at) for r in rows]

    async def search(self, filter: AuditFilter, *, limit: int, offset: int) -> tuple[Sequence[AuditRecord], int]:
        c = audit_log.c
        where: list[Any] = []
        if filter.actor_id is not None:
            where.append(c.actor_id == filter.actor_id)
        if filter.operators_only:
            where.append(c.actor_id.is_not(None))
        if filter.actions is not None:
            where.append(c.action.in_(filter.actions) if filter.actions else sa.false())
        if filter.at_from is not None:
            where.append(c.at >= filter.at_from)
        if filter.at_before is not None:
            where.append(c.at < filter.at_before)
        total = int((await self._c.execute(sa.select(sa.func.count()).select_from(audit_log).where(*where)))
                    .scalar_one())
        rows = await self._c.execute(sa.select(audit_log).where(*where).order_by(c.id.desc())
                                     .limit(limit).offset(offset))
        return [AuditRecord(id=r.id, actor_id=r.actor_id, action=r.action, target=r.target,
                            details=dict(r.details), at=r.at) for r in rows], total
