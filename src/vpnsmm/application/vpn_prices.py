"""Reseller price lists for VPN: a user's own price per plan (or a discount on every plan), used by buying,
renewing and add-ons alike (BuyPlan, RenewAccount and BuyAddOn read the same list through ``period_price`` and
``addon_price``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from attrs import frozen

from vpnsmm.application.billing import audit
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.ports.system import Clock
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn_sales import AddOn, AddOnKind, PriceListEntry, addon_price, period_price


@frozen
class PriceQuote:
    """What a plan costs one user: a period (purchase or renewal), and a unit of each add-on where offered."""

    plan_id: int
    currency: Currency
    period: Money
    public_period: Money | None  # the plan's own price, for comparison (None: sold to this user only)
    extra_gb: AddOn | None
    extra_day: AddOn | None


class ManagePriceLists:
    """Admin: set, remove and show a user's VPN price list. Audited; idempotent (setting an entry again replaces
    it). Raises NotFoundError for an unknown user or plan, ValidationError for a bad discount or price."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def set(self, *, actor_id: int | None, user_id: int, plan_id: int | None, discount_bp: int = 0,
                  prices: Mapping[Currency, Money] | None = None) -> PriceListEntry:
        entry = PriceListEntry(user_id=user_id, plan_id=plan_id, discount_bp=discount_bp, prices=dict(prices or {}))
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            if plan_id is not None and await uow.vpn_plans.get(plan_id) is None:
                raise NotFoundError("plan not found", code="PLAN_NOT_FOUND")
            await uow.vpn_prices.put(entry)
            await audit(uow, actor_id=actor_id, action="vpn.price_list_set", target=f"user:{user_id}",
                        now=self._clock.now(), plan_id=plan_id, discount_bp=discount_bp,
                        prices={c.value: m.amount for c, m in entry.prices.items()})
            await uow.commit()
        return entry

    async def remove(self, *, actor_id: int | None, user_id: int, plan_id: int | None) -> bool:
        async with self._uow() as uow:
            removed = await uow.vpn_prices.remove(user_id, plan_id)
            if removed:
                await audit(uow, actor_id=actor_id, action="vpn.price_list_removed", target=f"user:{user_id}",
                            now=self._clock.now(), plan_id=plan_id)
                await uow.commit()
        return removed

    async def list(self, user_id: int) -> Sequence[PriceListEntry]:
        async with self._uow(read_only=True) as uow:
            return await uow.vpn_prices.for_user(user_id)

    async def quote(self, user_id: int, plan_id: int, currency: Currency) -> PriceQuote:
        """The prices BuyPlan, RenewAccount and BuyAddOn will charge this user. ValidationError
        (CURRENCY_NOT_OFFERED) when the plan is not sold to them in ``currency``."""
        async with self._uow(read_only=True) as uow:
            plan = await uow.vpn_plans.get(plan_id)
            if plan is None or not plan.active:
                raise NotFoundError("plan not found", code="PLAN_NOT_FOUND")
            entries = await uow.vpn_prices.for_user(user_id)
        extras = {}
        for kind in AddOnKind:
            table = plan.extra_gb_prices if kind is AddOnKind.TRAFFIC else plan.extra_day_prices
            extras[kind] = addon_price(plan, kind, 1, currency, entries) if currency in table else None
        return PriceQuote(plan_id=plan.id, currency=currency, period=period_price(plan, currency, entries),
                          public_period=plan.prices.get(currency), extra_gb=extras[AddOnKind.TRAFFIC],
                          extra_day=extras[AddOnKind.DAYS])
