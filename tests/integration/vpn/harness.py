"""A VPN-selling world for tests: the real use cases and billing over a unit of work, panels from PanelRegistry
(FakeVpnPanel for kind "fake", render-only WireGuard with an in-memory peer store)."""

from __future__ import annotations

from tests.conftest import FrozenClock
from vpnsmm.adapters.panels.fake import FakeVpnPanel
from vpnsmm.adapters.panels.registry import FernetSecretBox, PanelRegistry
from vpnsmm.application.billing import CreateInvoice, FulfilInvoice, GatewaySet, PayInvoice, Wallets
from vpnsmm.application.ports.fulfilment import Fulfiller
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.vpn import (
    AdminAccounts,
    BuyAddOn,
    BuyPlan,
    BuyPlanCommand,
    EnforceLimits,
    ManagePlans,
    ManageServers,
    PlanDraft,
    Purchase,
    RenewAccount,
    RevokeAccount,
    ServerDraft,
    SyncUsage,
    VpnAccounts,
    VpnFulfiller,
)
from vpnsmm.domain.billing import Gateway, InvoicePurpose
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn_sales import GIB, Plan, Server, ServerKind, VpnAccount

IRR = Currency.IRR


class VpnWorld:
    def __init__(self, uow: UnitOfWorkFactory, clock: FrozenClock) -> None:
        self.uow, self.clock = uow, clock
        self.box = FernetSecretBox("test secret key")
        self.panels = PanelRegistry(self.box, now=clock.now)
        self.fulfiller = VpnFulfiller(uow, clock, self.panels)
        purposes = (InvoicePurpose.VPN_PURCHASE, InvoicePurpose.VPN_RENEWAL, InvoicePurpose.VPN_ADDON)
        fulfillers: dict[InvoicePurpose, Fulfiller] = dict.fromkeys(purposes, self.fulfiller)
        self.fulfil = FulfilInvoice(uow, clock, fulfillers)
        self.create_invoice = CreateInvoice(uow, clock)
        self.pay = PayInvoice(uow, clock, GatewaySet(gateways={}), self.fulfil, "https://shop.test")
        self.wallets = Wallets(uow, clock)
        self.plans = ManagePlans(uow, clock)
        self.servers = ManageServers(uow, clock, self.panels, self.box)
        self.buy = BuyPlan(uow, self.create_invoice, self.pay)
        self.renew = RenewAccount(uow, self.create_invoice, self.pay)
        self.addon = BuyAddOn(uow, self.create_invoice, self.pay)
        self.accounts = VpnAccounts(uow, "https://shop.test")
        self.revoke = RevokeAccount(uow, clock, self.panels)
        self.admin = AdminAccounts(uow, clock, self.panels)
        self.sync = SyncUsage(uow, clock, self.panels)
        self.enforce = EnforceLimits(uow, clock, self.panels)

    async def close(self) -> None:
        await self.panels.close()

    async def user(self, name: str, funds: int = 10_000_000) -> User:
        async with self.uow() as uow:
            user = await uow.users.add(User.register(username=name, password_hash="x", joined_at=self.clock.now()))
            await uow.commit()
        if funds:
            await self.wallets.adjust(actor_id=None, user_id=user.id, amount=Money(funds, IRR), reason="test",
                                      idempotency_key=f"fund-{user.id}")
        return user

    async def balance(self, user: User) -> int:
        return (await self.wallets.balance(user.id, IRR)).balance.amount

    async def plan(self, name: str = "Monthly 10 GiB", *, days: int = 30, traffic: int | None = 10 * GIB,
                   price: int = 1_000_000, group: str = "default", on_hold: bool = False) -> Plan:
        return await self.plans.create(PlanDraft(
            name=name, prices={IRR: Money(price, IRR)}, duration_days=days, traffic_bytes=traffic,
            server_group=group, start_on_first_use=on_hold, extra_gb_prices={IRR: Money(10_000, IRR)},
            extra_day_prices={IRR: Money(5_000, IRR)}))

    async def fake_server(self, name: str = "fake-1", *, capacity: int = 100, weight: int = 1,
                          group: str = "default", location: str = "DE") -> Server:
        return await self.servers.add(ServerDraft(kind=ServerKind.FAKE, name=name, address=f"{name}.vpn.test",
                                                  capacity=capacity, weight=weight, group=group, location=location))

    async def wg_server(self, name: str = "wg-1") -> Server:
        return await self.servers.add(ServerDraft(kind=ServerKind.WIREGUARD, name=name, address="wg.vpn.test:51820",
                                                  settings={"render_only": True, "ipv4_network": "10.9.0.0/24"}))

    async def fake_panel(self, server: Server) -> FakeVpnPanel:
        panel = await self.panels.panel_for(server)
        assert isinstance(panel, FakeVpnPanel)
        return panel

    async def buy_with_wallet(self, user: User, plan: Plan, **options: object) -> Purchase:
        return await self.buy(BuyPlanCommand(user_id=user.id, plan_id=plan.id, currency=IRR, gateway=Gateway.WALLET,
                                             **options))  # type: ignore[arg-type]

    async def account_of(self, purchase: Purchase) -> VpnAccount:
        result = purchase.invoice.item.get("result") or {}
        account_id = result.get("account_id")
        if account_id is None:  # the returned invoice predates fulfilment: read it again
            async with self.uow(read_only=True) as uow:
                account = await uow.vpn_accounts.get_by_invoice(purchase.invoice.id)
            assert account is not None
            return account
        return await self.accounts.get(None, int(account_id))
