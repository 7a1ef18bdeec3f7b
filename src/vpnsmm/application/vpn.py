"""VPN selling use cases: plans and servers (admin), buying, renewing and topping up accounts, provisioning
on panels (the Fulfiller), revoking, usage sync and limit enforcement, the subscription feed.

Money moves only through billing: a purchase is an invoice (``vpn_purchase``/``vpn_renewal``/``vpn_addon``)
paid with PayInvoice; once paid, :class:`VpnFulfiller` delivers it. No transaction is held while a panel is
called: the intent is committed, the panel is called, the outcome is recorded in a second transaction.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import define, field, frozen

from vpnsmm.application.billing import CreateInvoice, NewInvoice, PayInvoice, PaymentInstructions, audit
from vpnsmm.application.jobs import JobContext, RetryPolicy, Schedule, TaskRegistry
from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from vpnsmm.application.ports.system import Clock
from vpnsmm.application.ports.vpn_panel import ProvisionedClient, VpnPanel
from vpnsmm.application.ports.vpn_store import AccountFilter, PanelDirectory, SecretBox
from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose, InvoiceStatus
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn import ServerStatus
from vpnsmm.domain.vpn_sales import (
    AccountStatus,
    AddOn,
    AddOnKind,
    Plan,
    Server,
    ServerKind,
    TrafficReset,
    UsageEvent,
    UsageThresholds,
    VpnAccount,
    account_id_of,
    addon_price,
    check_group,
    period_price,
    rank_servers,
)


def new_subscription_token() -> str:
    return secrets.token_urlsafe(24)


async def _plan(uow: UnitOfWork, plan_id: int, *, active: bool = False) -> Plan:
    plan = await uow.vpn_plans.get(plan_id)
    if plan is None or (active and not plan.active):
        raise NotFoundError("plan not found", code="PLAN_NOT_FOUND")
    return plan


async def _server(uow: UnitOfWork, server_id: int) -> Server:
    server = await uow.vpn_servers.get(server_id)
    if server is None:
        raise NotFoundError("server not found", code="SERVER_NOT_FOUND")
    return server


async def _account(uow: UnitOfWork, account_id: int, user_id: int | None) -> VpnAccount:
    account = (await uow.vpn_accounts.get(account_id) if user_id is None
               else await uow.vpn_accounts.get_for_user(account_id, user_id))
    if account is None:
        raise NotFoundError("VPN account not found", code="ACCOUNT_NOT_FOUND")
    return account


def _absorb(account: VpnAccount, client: ProvisionedClient, now: datetime) -> None:
    account.provisioned(remote_id=client.remote_id, links=client.links, config=client.config,
                        subscription_url=client.subscription_url, now=now)


# ------------------------------------------------------------------------------------------ plans
@frozen
class PlanDraft:
    name: str
    prices: Mapping[Currency, Money]
    duration_days: int
    traffic_bytes: int | None = None
    description: str = ""
    device_limit: int | None = None
    protocol: str = "any"
    server_group: str = "default"
    start_on_first_use: bool = False
    active: bool = True
    extra_gb_prices: Mapping[Currency, Money] = field(factory=dict)
    extra_day_prices: Mapping[Currency, Money] = field(factory=dict)
    traffic_reset: TrafficReset = TrafficReset.NO_RESET  # the quota restarts every day/week/month/year
    transport: str = "any"


_PLAN_FIELDS = ("name", "prices", "duration_days", "traffic_bytes", "description", "device_limit", "protocol",
                "server_group", "start_on_first_use", "active", "extra_gb_prices", "extra_day_prices",
                "traffic_reset", "transport")


class ManagePlans:
    """Admin: create, change, list plans. A plan is never deleted (accounts refer to it); deactivate it."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def create(self, draft: PlanDraft, *, actor_id: int | None = None) -> Plan:
        plan = Plan(name=draft.name, prices=dict(draft.prices), duration_days=draft.duration_days,
                    traffic_bytes=draft.traffic_bytes, created_at=self._clock.now(), description=draft.description,
                    device_limit=draft.device_limit, protocol=draft.protocol, server_group=draft.server_group,
                    start_on_first_use=draft.start_on_first_use, active=draft.active,
                    extra_gb_prices=dict(draft.extra_gb_prices), extra_day_prices=dict(draft.extra_day_prices),
                    traffic_reset=draft.traffic_reset, transport=draft.transport)
        async with self._uow() as uow:
            await uow.vpn_plans.add(plan)
            await audit(uow, actor_id=actor_id, action="vpn.plan_created", target=f"plan:{plan.id}",
                        now=self._clock.now(), name=plan.name)
            await uow.commit()
        return plan

    async def update(self, plan_id: int, changes: Mapping[str, Any], *, actor_id: int | None = None) -> Plan:
        unknown = set(changes) - set(_PLAN_FIELDS)
        if unknown:
            raise ValidationError(f"unknown plan fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        async with self._uow() as uow:
            plan = await _plan(uow, plan_id)
            for name, value in changes.items():
                setattr(plan, name, dict(value) if isinstance(value, Mapping) else value)
            plan.validate()
            await uow.vpn_plans.update(plan)
            await audit(uow, actor_id=actor_id, action="vpn.plan_updated", target=f"plan:{plan.id}",
                        now=self._clock.now(), fields=sorted(changes))
            await uow.commit()
        return plan

    async def get(self, plan_id: int, *, active_only: bool = False) -> Plan:
        async with self._uow(read_only=True) as uow:
            return await _plan(uow, plan_id, active=active_only)

    async def list(self, *, active_only: bool = True) -> Sequence[Plan]:
        async with self._uow(read_only=True) as uow:
            return await uow.vpn_plans.list(active_only=active_only)


# ------------------------------------------------------------------------------------------ servers
@frozen
class ServerDraft:
    kind: ServerKind
    name: str
    address: str
    credentials: Mapping[str, Any] = field(factory=dict)  # plaintext; sealed before it is stored
    settings: Mapping[str, Any] = field(factory=dict)
    group: str = "default"
    location: str = ""
    capacity: int = 1000
    weight: int = 1
    active: bool = True


_SERVER_FIELDS = ("name", "address", "group", "location", "capacity", "weight", "active", "settings",
                  "credentials")


@frozen
class ServerLoad:
    server: Server
    accounts: int


class ManageServers:
    """Admin: servers (panels) CRUD with sealed credentials, health checks, the public list."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, panels: PanelDirectory, box: SecretBox) -> None:
        self._uow, self._clock, self._panels, self._box = uow, clock, panels, box

    async def add(self, draft: ServerDraft, *, actor_id: int | None = None) -> Server:
        settings, credentials = self._panels.prepare(draft.kind, draft.settings, draft.credentials)
        now = self._clock.now()
        server = Server(kind=draft.kind, name=draft.name, address=draft.address.strip(),
                        credentials=self._box.seal(credentials), created_at=now, settings=settings,
                        group=draft.group, location=draft.location, capacity=draft.capacity, weight=draft.weight,
                        active=draft.active, updated_at=now)
        async with self._uow() as uow:
            await uow.vpn_servers.add(server)
            await audit(uow, actor_id=actor_id, action="vpn.server_added", target=f"server:{server.id}", now=now,
                        name=server.name, kind=server.kind.value)
            await uow.commit()
        return server

    async def update(self, server_id: int, changes: Mapping[str, Any], *, actor_id: int | None = None) -> Server:
        unknown = set(changes) - set(_SERVER_FIELDS)
        if unknown:
            raise ValidationError(f"unknown server fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        now = self._clock.now()
        async with self._uow() as uow:
            server = await _server(uow, server_id)
            for name, value in changes.items():
                if name not in ("settings", "credentials"):
                    setattr(server, name, value)
            if "settings" in changes or "credentials" in changes:
                current = self._box.open(server.credentials)
                settings, credentials = self._panels.prepare(
                    server.kind, {**server.settings, **dict(changes.get("settings") or {})},
                    {**current, **dict(changes.get("credentials") or {})})
                server.settings, server.credentials = settings, self._box.seal(credentials)
            server.validate()
            server.updated_at = now
            await uow.vpn_servers.update(server)
            await audit(uow, actor_id=actor_id, action="vpn.server_updated", target=f"server:{server.id}", now=now,
                        fields=sorted(changes))
            await uow.commit()
        self._panels.forget(server_id)
        return server

    async def remove(self, server_id: int, *, actor_id: int | None = None) -> None:
        """Delete a server that holds no live accounts (ConflictError SERVER_IN_USE otherwise; deactivate it)."""
        async with self._uow() as uow:
            await _server(uow, server_id)
            if (await uow.vpn_accounts.load_by_server()).get(server_id, 0):
                raise ConflictError("the server still holds accounts; deactivate it instead", code="SERVER_IN_USE")
            if await uow.vpn_accounts.list(AccountFilter(server_id=server_id), limit=1, before_id=None):
                raise ConflictError("revoked accounts still refer to the server; deactivate it instead",
                                    code="SERVER_IN_USE")
            await uow.vpn_servers.remove(server_id)
            await audit(uow, actor_id=actor_id, action="vpn.server_removed", target=f"server:{server_id}",
                        now=self._clock.now())
            await uow.commit()
        self._panels.forget(server_id)

    async def get(self, server_id: int) -> ServerLoad:
        async with self._uow(read_only=True) as uow:
            server = await _server(uow, server_id)
            loads = await uow.vpn_accounts.load_by_server()
        return ServerLoad(server, loads.get(server_id, 0))

    async def list(self, *, group: str | None = None) -> list[ServerLoad]:
        async with self._uow(read_only=True) as uow:
            servers = await uow.vpn_servers.list(group=group)
            loads = await uow.vpn_accounts.load_by_server()
        return [ServerLoad(s, loads.get(s.id, 0)) for s in servers]

    async def public(self) -> Sequence[Server]:
        """Active servers as customers see them (name, location, last known health)."""
        async with self._uow(read_only=True) as uow:
            return await uow.vpn_servers.list(active_only=True)

    async def status(self, server_id: int) -> ServerStatus:
        """Ask the panel how it is (outside any transaction) and remember whether it was online."""
        async with self._uow(read_only=True) as uow:
            server = await _server(uow, server_id)
        try:
            status = await (await self._panels.panel_for(server)).status()
        except AuthenticationError as exc:
            status = ServerStatus(online=False, detail=f"credentials refused: {exc.message}")
        async with self._uow() as uow:
            fresh = await _server(uow, server_id)
            fresh.record_health(status.online, self._clock.now())
            await uow.vpn_servers.update(fresh)
            await uow.commit()
        return status

    async def server_config(self, server_id: int) -> str:
        """WireGuard: the interface's wg-quick config listing every peer. ValidationError for other kinds."""
        async with self._uow(read_only=True) as uow:
            server = await _server(uow, server_id)
        config = await self._panels.server_config(server)
        if config is None:
            raise ValidationError("only WireGuard servers have an interface config", field="server_id",
                                  code="NOT_A_WIREGUARD_SERVER")
        return config


# ------------------------------------------------------------------------------------------ buying
@frozen
class Purchase:
    """An invoice for a VPN purchase, and how it is being paid (None when no gateway was chosen)."""

    invoice: Invoice
    payment: PaymentInstructions | None


_SETTLED = (InvoiceStatus.PAID, InvoiceStatus.FULFILLED, InvoiceStatus.REFUNDED)


async def _invoice_and_pay(create: CreateInvoice, pay: PayInvoice, new: NewInvoice, gateway: Gateway | None,
                           email: str | None) -> Purchase:
    invoice = await create(new)
    if gateway is None or (new.idempotency_key is not None and invoice.status in _SETTLED):
        # a replay (same idempotency key) of a purchase already paid: hand back the invoice, never pay twice
        return Purchase(invoice, None)
    instructions = await pay(new.user_id, invoice.id, gateway, customer_email=email)
    return Purchase(instructions.invoice, instructions)


@frozen
class BuyPlanCommand:
    user_id: int
    plan_id: int
    currency: Currency
    gateway: Gateway | None = None
    server_group: str | None = None
    location: str | None = None
    idempotency_key: str | None = None
    email: str | None = None


class BuyPlan:
    """Open a ``vpn_purchase`` invoice for a plan and (optionally) start paying it. Paying from the wallet
    charges at once and provisions the account through the fulfiller."""

    def __init__(self, uow: UnitOfWorkFactory, create_invoice: CreateInvoice, pay_invoice: PayInvoice) -> None:
        self._uow, self._create, self._pay = uow, create_invoice, pay_invoice

    async def __call__(self, cmd: BuyPlanCommand) -> Purchase:
        async with self._uow(read_only=True) as uow:
            plan = await _plan(uow, cmd.plan_id, active=True)
            price = period_price(plan, cmd.currency, await uow.vpn_prices.for_user(cmd.user_id))  # price list first
        group = check_group(cmd.server_group, "server_group") if cmd.server_group else plan.server_group
        item = {"plan_id": plan.id, "server_group": group, "location": (cmd.location or "").strip() or None,
                "duration_days": plan.duration_days, "traffic_bytes": plan.traffic_bytes}
        return await _invoice_and_pay(self._create, self._pay, NewInvoice(
            user_id=cmd.user_id, purpose=InvoicePurpose.VPN_PURCHASE, amount=price,
            description=f"VPN plan {plan.name}", item=item, idempotency_key=cmd.idempotency_key),
            cmd.gateway, cmd.email)


class RenewAccount:
    """Open a ``vpn_renewal`` invoice for another period of the account's plan (same price list)."""

    def __init__(self, uow: UnitOfWorkFactory, create_invoice: CreateInvoice, pay_invoice: PayInvoice) -> None:
        self._uow, self._create, self._pay = uow, create_invoice, pay_invoice

    async def __call__(self, user_id: int, account_id: int, currency: Currency, gateway: Gateway | None = None, *,
                       idempotency_key: str | None = None, email: str | None = None) -> Purchase:
        async with self._uow(read_only=True) as uow:
            account = await _account(uow, account_id, user_id)
            plan = await _plan(uow, account.plan_id)
            price = period_price(plan, currency, await uow.vpn_prices.for_user(user_id))  # same price list as buying
        if account.status is AccountStatus.REVOKED or account.status is AccountStatus.PENDING:
            raise ValidationError(f"a {account.status.value} account cannot be renewed", field="account_id",
                                  code="ACCOUNT_NOT_RENEWABLE")
        item = {"account_id": account.id, "plan_id": plan.id, "duration_days": plan.duration_days,
                "traffic_bytes": plan.traffic_bytes}
        return await _invoice_and_pay(self._create, self._pay, NewInvoice(
            user_id=user_id, purpose=InvoicePurpose.VPN_RENEWAL, amount=price,
            description=f"VPN renewal {plan.name} (account {account.id})", item=item,
            idempotency_key=idempotency_key), gateway, email)


class BuyAddOn:
    """Open a ``vpn_addon`` invoice for extra GiB or days on an account, priced by its plan."""

    def __init__(self, uow: UnitOfWorkFactory, create_invoice: CreateInvoice, pay_invoice: PayInvoice) -> None:
        self._uow, self._create, self._pay = uow, create_invoice, pay_invoice

    async def quote(self, user_id: int, account_id: int, kind: AddOnKind, quantity: int,
                    currency: Currency) -> AddOn:
        async with self._uow(read_only=True) as uow:
            account = await _account(uow, account_id, user_id)
            plan = await _plan(uow, account.plan_id)
            entries = await uow.vpn_prices.for_user(user_id)
        return addon_price(plan, kind, quantity, currency, entries)  # the user's price list discount applies

    async def __call__(self, user_id: int, account_id: int, kind: AddOnKind, quantity: int, currency: Currency,
                       gateway: Gateway | None = None, *, idempotency_key: str | None = None,
                       email: str | None = None) -> Purchase:
        addon = await self.quote(user_id, account_id, kind, quantity, currency)
        async with self._uow(read_only=True) as uow:
            account = await _account(uow, account_id, user_id)
        if account.status in (AccountStatus.REVOKED, AccountStatus.PENDING):
            raise ValidationError(f"a {account.status.value} account takes no add-ons", field="account_id",
                                  code="ACCOUNT_NOT_RENEWABLE")
        item = {"account_id": account_id, "kind": kind.value, "quantity": quantity,
                "traffic_bytes": addon.traffic_bytes, "days": addon.days}
        unit = "GiB" if kind is AddOnKind.TRAFFIC else "days"
        return await _invoice_and_pay(self._create, self._pay, NewInvoice(
            user_id=user_id, purpose=InvoicePurpose.VPN_ADDON, amount=addon.price,
            description=f"VPN add-on {quantity} {unit} (account {account_id})", item=item,
            idempotency_key=idempotency_key), gateway, email)


# ------------------------------------------------------------------------------------------ fulfilment
def _item_int(invoice: Invoice, name: str) -> int:
    value = invoice.item.get(name)
    if type(value) is not int:
        raise ValidationError(f"invoice {invoice.id} item has no {name}", field=name, code="BAD_INVOICE_ITEM")
    return value


class VpnFulfiller:
    """Delivers ``vpn_purchase``, ``vpn_renewal`` and ``vpn_addon`` invoices. Idempotent per invoice.

    Purchase: pick a server (group/location, capacity, weight, skipping inactive and unreachable ones), write a
    pending account (unique per invoice), ``ensure_client`` it on the panel (key ``acc-<id>``), record the
    result. A retry finds the same account and ensures the same client again. A permanent panel refusal
    revokes the pending account and raises, so billing refunds the invoice.
    Renewal/add-on: apply the change once (the invoice id is remembered on the account), then push the
    account's desired state to its panel (a retry only pushes again).
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, panels: PanelDirectory) -> None:
        self._uow, self._clock, self._panels = uow, clock, panels

    async def fulfil(self, invoice: Invoice) -> Mapping[str, Any] | None:
        if invoice.purpose is InvoicePurpose.VPN_PURCHASE:
            return await self._purchase(invoice)
        if invoice.purpose in (InvoicePurpose.VPN_RENEWAL, InvoicePurpose.VPN_ADDON):
            return await self._change(invoice)
        raise ValidationError(f"the VPN fulfiller cannot deliver {invoice.purpose.value}", code="WRONG_FULFILLER")

    async def _choose_server(self, invoice: Invoice, plan: Plan, full: frozenset[int] = frozenset()) -> Server:
        group = str(invoice.item.get("server_group") or plan.server_group)
        location = invoice.item.get("location")
        async with self._uow(read_only=True) as uow:
            servers = await uow.vpn_servers.list(group=group, active_only=True)
            loads = await uow.vpn_accounts.load_by_server()
        servers = [s for s in servers if s.id not in full]  # found full under the lock since this was ranked
        ranked = rank_servers(servers, loads, group=group, location=str(location) if location else None)
        if not ranked:
            raise UpstreamRejectedError(f"no server in group {group!r} has room for another account",
                                        code="NO_SERVER_AVAILABLE")
        for server in ranked:
            try:
                status = await (await self._panels.panel_for(server)).status()
            except VpnsmmError:
                continue
            if status.online:
                return server
        raise UpstreamUnavailableError(f"every server in group {group!r} is unreachable", code="NO_SERVER_ONLINE")

    async def _purchase(self, invoice: Invoice) -> Mapping[str, Any]:
        async with self._uow(read_only=True) as uow:
            account = await uow.vpn_accounts.get_by_invoice(invoice.id)
            plan = await _plan(uow, _item_int(invoice, "plan_id"))
        full: frozenset[int] = frozenset()
        while account is None:
            server = await self._choose_server(invoice, plan, full)
            try:
                async with self._uow() as uow:
                    account = await uow.vpn_accounts.get_by_invoice(invoice.id)
                    if account is None:
                        # Capacity is hard: the load is counted again with the server locked, so concurrent
                        # purchases take turns and the last seat goes to one of them; the others choose again.
                        locked = await uow.vpn_servers.lock(server.id)
                        if locked is None or not locked.active or \
                                await uow.vpn_accounts.count_on_server(server.id) >= locked.capacity:
                            full |= {server.id}
                            continue
                        account = VpnAccount.open(user_id=invoice.user_id, plan=plan, server=server,
                                                  now=self._clock.now(), token=new_subscription_token(),
                                                  invoice_id=invoice.id)
                        traffic = invoice.item.get("traffic_bytes", plan.traffic_bytes)
                        account.traffic_limit_bytes = traffic if type(traffic) is int else None
                        days = invoice.item.get("duration_days")
                        account.duration_days = days if type(days) is int and days > 0 else plan.duration_days
                        await uow.vpn_accounts.add(account)
                        await uow.commit()
            except ConflictError:
                # A concurrent delivery of the same invoice (the fulfil job, a repeated approval) wrote the
                # account first: continue with that one instead of failing -- and refunding -- the purchase.
                async with self._uow(read_only=True) as uow:
                    account = await uow.vpn_accounts.get_by_invoice(invoice.id)
                if account is None:
                    raise
        if account.status is AccountStatus.REVOKED:
            raise UpstreamRejectedError("provisioning failed for good", code="PROVISIONING_FAILED")
        if account.status is not AccountStatus.PENDING:
            return {"account_id": account.id, "server_id": account.server_id}
        async with self._uow(read_only=True) as uow:
            server = await _server(uow, account.server_id)
        panel = await self._panels.panel_for(server)
        try:
            client = await panel.ensure_client(account.client_spec())
        except UpstreamUnavailableError:
            raise
        except VpnsmmError as exc:
            await self._give_up(account.id, panel, exc)
            raise
        async with self._uow() as uow:
            fresh = await _account(uow, account.id, None)
            _absorb(fresh, client, self._clock.now())
            await uow.vpn_accounts.update(fresh)
            await audit(uow, actor_id=None, action="vpn.account_provisioned", target=f"account:{fresh.id}",
                        now=self._clock.now(), server_id=fresh.server_id, invoice_id=invoice.id)
            await uow.commit()
        await self._push(panel, fresh)  # now enabled, with the expiry that started with provisioning
        return {"account_id": fresh.id, "server_id": fresh.server_id}

    async def _give_up(self, account_id: int, panel: VpnPanel, exc: VpnsmmError) -> None:
        async with self._uow() as uow:
            account = await _account(uow, account_id, None)
            account.revoke(self._clock.now())
            await uow.vpn_accounts.update(account)
            await audit(uow, actor_id=None, action="vpn.provision_failed", target=f"account:{account_id}",
                        now=self._clock.now(), error=f"{exc.code}: {exc.message}")
            await uow.commit()
        with contextlib.suppress(VpnsmmError):  # best effort: the client may not exist at all
            await panel.remove_client(account.client_key)

    async def _push(self, panel: VpnPanel, account: VpnAccount) -> None:
        await push_account(self._uow, self._clock, panel, account)

    async def _change(self, invoice: Invoice) -> Mapping[str, Any]:
        account_id = _item_int(invoice, "account_id")
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _account(uow, account_id, invoice.user_id)
            if account.status is AccountStatus.REVOKED:
                raise ValidationError("the account was revoked", code="ACCOUNT_REVOKED")
            if invoice.id not in account.applied_invoices:
                if invoice.purpose is InvoicePurpose.VPN_RENEWAL:
                    traffic = invoice.item.get("traffic_bytes")
                    account.renew(days=_item_int(invoice, "duration_days"),
                                  traffic_bytes=traffic if type(traffic) is int else None, now=now)
                elif invoice.item.get("kind") == AddOnKind.TRAFFIC.value:
                    account.add_traffic(_item_int(invoice, "traffic_bytes"), now)
                else:
                    account.add_days(_item_int(invoice, "days"), now)
                account.applied_invoices.append(invoice.id)
                await uow.vpn_accounts.update(account)
                await audit(uow, actor_id=None, action=f"vpn.{invoice.purpose.value}", target=f"account:{account.id}",
                            now=now, invoice_id=invoice.id)
                await uow.commit()
            server = await _server(uow, account.server_id)
        await self._push(await self._panels.panel_for(server), account)
        return {"account_id": account.id, "expires_at": account.expires_at.isoformat() if account.expires_at else None,
                "traffic_limit_bytes": account.traffic_limit_bytes}


async def push_account(uow_factory: UnitOfWorkFactory, clock: Clock, panel: VpnPanel, account: VpnAccount) -> None:
    """Bring the panel to the account's desired state (reset counters first after a renewal), then record
    what the panel reports. Idempotent: a retry pushes the same state again."""
    if account.pending_reset:
        await panel.reset_traffic(account.client_key)
    client = await panel.ensure_client(account.client_spec())
    async with uow_factory() as uow:
        fresh = await _account(uow, account.id, None)
        if account.pending_reset:
            fresh.pending_reset = False
        fresh.needs_push = False
        fresh.remote_id, fresh.links, fresh.config = client.remote_id, list(client.links), client.config
        fresh.subscription_url = client.subscription_url
        await uow.vpn_accounts.update(fresh)
        await uow.commit()
    account.pending_reset = False


# ------------------------------------------------------------------------------------------ accounts
@frozen
class AccountConfig:
    account: VpnAccount
    subscription_url: str  # our own feed
    links: Sequence[str]
    config: str | None  # WireGuard .conf
    panel_subscription_url: str | None


@frozen
class SubscriptionFeed:
    account: VpnAccount
    kind: ServerKind
    links: Sequence[str]
    config: str | None
    userinfo: Mapping[str, int]


class VpnAccounts:
    """A customer's accounts: list, one, its config and usage, and the public subscription feed."""

    def __init__(self, uow: UnitOfWorkFactory, public_url: str) -> None:
        self._uow, self._public_url = uow, public_url.rstrip("/")

    def feed_url(self, account: VpnAccount) -> str:
        return f"{self._public_url}/sub/{account.subscription_token}"

    async def list(self, user_id: int | None, *, status: AccountStatus | None = None, server_id: int | None = None,
                   limit: int = 50, before_id: int | None = None) -> Sequence[VpnAccount]:
        """``user_id=None`` lists everyone's (admin)."""
        async with self._uow(read_only=True) as uow:
            return await uow.vpn_accounts.list(AccountFilter(user_id=user_id, server_id=server_id, status=status),
                                               limit=max(1, min(limit, 500)), before_id=before_id)

    async def get(self, user_id: int | None, account_id: int) -> VpnAccount:
        async with self._uow(read_only=True) as uow:
            return await _account(uow, account_id, user_id)

    async def config(self, user_id: int | None, account_id: int) -> AccountConfig:
        account = await self.get(user_id, account_id)
        if account.status in (AccountStatus.PENDING, AccountStatus.REVOKED):
            raise ValidationError(f"a {account.status.value} account has no config", field="account_id",
                                  code="NO_CONFIG")
        return AccountConfig(account=account, subscription_url=self.feed_url(account), links=account.links,
                             config=account.config, panel_subscription_url=account.subscription_url)

    async def subscription(self, token: str) -> SubscriptionFeed:
        """The feed behind ``/sub/<token>``. NotFoundError for an unknown token or a revoked account."""
        if not token or len(token) > 64:
            raise NotFoundError("subscription not found", code="SUBSCRIPTION_NOT_FOUND")
        async with self._uow(read_only=True) as uow:
            account = await uow.vpn_accounts.get_by_token(token)
            if account is None or account.status in (AccountStatus.REVOKED, AccountStatus.PENDING):
                raise NotFoundError("subscription not found", code="SUBSCRIPTION_NOT_FOUND")
            server = await _server(uow, account.server_id)
        return SubscriptionFeed(account=account, kind=server.kind, links=account.links, config=account.config,
                                userinfo=account.userinfo())


class RevokeAccount:
    """The owner (or an admin with ``user_id=None``) revokes an account: disabled on the panel, credentials
    rotated, status revoked (final). Retrying after a panel failure is safe."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, panels: PanelDirectory) -> None:
        self._uow, self._clock, self._panels = uow, clock, panels

    async def __call__(self, user_id: int | None, account_id: int, *, actor_id: int | None = None) -> VpnAccount:
        async with self._uow(read_only=True) as uow:
            account = await _account(uow, account_id, user_id)
            server = await _server(uow, account.server_id)
        if account.status is AccountStatus.REVOKED:
            return account
        if account.status is not AccountStatus.PENDING:
            panel = await self._panels.panel_for(server)
            try:
                await panel.disable(account.client_key)
                await panel.rotate_credentials(account.client_key)
            except NotFoundError:
                pass  # nothing left on the panel to revoke
        async with self._uow() as uow:
            fresh = await _account(uow, account_id, user_id)
            fresh.revoke(self._clock.now())
            await uow.vpn_accounts.update(fresh)
            await audit(uow, actor_id=actor_id if actor_id is not None else user_id, action="vpn.account_revoked",
                        target=f"account:{account_id}", now=self._clock.now())
            await uow.commit()
        return fresh


class AdminAccounts:
    """Admin: enable/disable an account (pushed to its panel), grant a free renewal."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, panels: PanelDirectory) -> None:
        self._uow, self._clock, self._panels = uow, clock, panels

    async def set_enabled(self, actor_id: int | None, account_id: int, enabled: bool) -> VpnAccount:
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _account(uow, account_id, None)
            if enabled:
                account.enable(now)
            else:
                account.disable(now)
            await uow.vpn_accounts.update(account)
            await audit(uow, actor_id=actor_id, action="vpn.account_" + ("enabled" if enabled else "disabled"),
                        target=f"account:{account_id}", now=now)
            await uow.commit()
            server = await _server(uow, account.server_id)
        if account.status is not AccountStatus.PENDING:
            await push_account(self._uow, self._clock, await self._panels.panel_for(server), account)
        return account

    async def renew(self, actor_id: int | None, account_id: int, *, days: int | None = None) -> VpnAccount:
        """Another period of the account's plan without payment (support gesture). Audited."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _account(uow, account_id, None)
            plan = await _plan(uow, account.plan_id)
            account.renew(days=days or plan.duration_days, traffic_bytes=plan.traffic_bytes, now=now)
            await uow.vpn_accounts.update(account)
            await audit(uow, actor_id=actor_id, action="vpn.account_renewed_free", target=f"account:{account_id}",
                        now=now, days=days or plan.duration_days)
            await uow.commit()
            server = await _server(uow, account.server_id)
        if account.status is not AccountStatus.PENDING:
            await push_account(self._uow, self._clock, await self._panels.panel_for(server), account)
        return account


# ------------------------------------------------------------------------------------------ usage
@define
class SyncReport:
    server_id: int
    seen: int = 0  # snapshots read from the panel
    updated: int = 0  # accounts whose usage or status changed
    unknown_keys: int = 0  # clients on the panel that are not our accounts there
    status_changes: list[int] = field(factory=list)  # accounts that became limited/expired/active
    events: list[UsageEvent] = field(factory=list)


class SyncUsage:
    """Read a server's counters page by page (``panel.usage()``) and fold them into the accounts, one
    transaction per page (none open while the panel is read). Returns what changed and the threshold
    events crossed (traffic percent, days left)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, panels: PanelDirectory,
                 thresholds: UsageThresholds | None = None) -> None:
        self._uow, self._clock, self._panels = uow, clock, panels
        self._thresholds = thresholds  # None: the defaults (80/100 % of the quota, 3/1 days left)

    async def __call__(self, server_id: int, *, page_size: int = 500,
                       progress: Any = None) -> SyncReport:
        async with self._uow(read_only=True) as uow:
            server = await _server(uow, server_id)
        panel = await self._panels.panel_for(server)
        report = SyncReport(server_id=server_id)
        async for page in panel.usage(None, page_size=page_size):
            ids: dict[int, Any] = {}
            for snap in page:
                account_id = account_id_of(snap.key)
                if account_id is None:
                    report.unknown_keys += 1
                else:
                    ids[account_id] = snap
            report.seen += len(page)
            if ids:
                await self._apply(server_id, ids, report)
            if progress is not None:
                progress(len(page))
        return report

    async def _apply(self, server_id: int, snaps: Mapping[int, Any], report: SyncReport) -> None:
        async with self._uow() as uow:
            accounts = await uow.vpn_accounts.get_many(server_id, list(snaps))
            report.unknown_keys += len(snaps) - len(accounts)
            changed: list[VpnAccount] = []
            for account in accounts:
                if account.status in (AccountStatus.REVOKED, AccountStatus.PENDING):
                    continue
                before = (account.used_upload, account.used_download, account.status, account.expires_at)
                report.events += account.record_usage(snaps[account.id], self._thresholds)
                changed.append(account)  # usage_synced_at moves even when nothing else did
                after = (account.used_upload, account.used_download, account.status, account.expires_at)
                if before != after:
                    report.updated += 1
                if before[2] is not account.status:
                    report.status_changes.append(account.id)
            if changed:
                await uow.vpn_accounts.update_usage(changed)
            await uow.commit()


@define
class EnforceReport:
    checked: int = 0
    changed: list[int] = field(factory=list)
    failed: dict[int, str] = field(factory=dict)


class EnforceLimits:
    """Move accounts past their expiry or quota to expired/limited and push that to their panels (WireGuard
    and any panel that does not enforce by itself then drops the client). Safe to run at any time."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, panels: PanelDirectory) -> None:
        self._uow, self._clock, self._panels = uow, clock, panels

    async def __call__(self, *, batch: int = 500) -> EnforceReport:
        report = EnforceReport()
        after = 0
        while True:
            now = self._clock.now()
            async with self._uow() as uow:
                due = await uow.vpn_accounts.due_for_check(now, after_id=after, limit=batch)
                # a due quota reset (plan traffic_reset) starts a fresh period; push_account zeroes the panel
                moved = [a for a in due if a.apply_traffic_reset(now) | a.check_expiry(now) or a.needs_push]
                for account in moved:
                    account.needs_push = True
                    await uow.vpn_accounts.update(account)
                servers = {s.id: s for s in await uow.vpn_servers.list()}
                await uow.commit()
            report.checked += len(due)
            for account in moved:
                try:
                    await push_account(self._uow, self._clock,
                                       await self._panels.panel_for(servers[account.server_id]), account)
                    report.changed.append(account.id)
                except UpstreamError as exc:
                    report.failed[account.id] = exc.message  # the status is stored; the next run pushes again
            if len(due) < batch:
                return report
            after = due[-1].id


# ------------------------------------------------------------------------------------------ background tasks
USAGE_SYNC_TASK = "vpn.usage_sync"
USAGE_SYNC_SERVER_TASK = "vpn.usage_sync.server"
ENFORCE_TASK = "vpn.enforce"
USAGE_SYNC_LOCK = "vpn:usage:{server_id}"


class ScheduleUsageSync:
    """Enqueue one ``vpn.usage_sync.server`` job per active server (in one transaction). Each job carries the
    lock key ``vpn:usage:<server_id>``, so a server is never synced by two workers at once. Returns the ids."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self) -> list[int]:
        async with self._uow() as uow:
            servers = await uow.vpn_servers.list(active_only=True)
            for server in servers:
                await uow.jobs.enqueue(USAGE_SYNC_SERVER_TASK, {"server_id": server.id},
                                       key=USAGE_SYNC_LOCK.format(server_id=server.id))
            await uow.commit()
        return [s.id for s in servers]


def register_vpn_tasks(registry: TaskRegistry, *, fan_out: ScheduleUsageSync, sync: SyncUsage,
                       enforce: EnforceLimits) -> None:
    """VPN's background work: usage sync for every active server (every 5 minutes: ``vpn.usage_sync`` fans out
    one ``vpn.usage_sync.server`` job per server, locked per server) and limit enforcement (every 5 minutes).
    Both are idempotent: usage counters are folded as absolute snapshots (a replayed page changes nothing) and
    enforcement only moves accounts whose state is due, pushing until the panel has it. Registering twice is a
    no-op."""
    if USAGE_SYNC_TASK in registry:
        return

    async def fan_out_job(ctx: JobContext) -> None:
        await fan_out()

    async def sync_job(ctx: JobContext) -> None:
        try:
            await sync(int(str(ctx.payload["server_id"])))
        except NotFoundError:
            return  # the server was deleted since the job was enqueued: nothing to do

    async def enforce_job(ctx: JobContext) -> None:
        await enforce()

    registry.register(USAGE_SYNC_TASK, fan_out_job, schedule=Schedule.every(300))
    registry.register(USAGE_SYNC_SERVER_TASK, sync_job, lock=USAGE_SYNC_LOCK,
                      retry=RetryPolicy(max_attempts=3, base_delay=30.0, max_delay=120.0))
    registry.register(ENFORCE_TASK, enforce_job, schedule=Schedule.every(300))


# ------------------------------------------------------------------------------------------ demo
DEMO_SERVER = "demo-wireguard"


class LoadVpnDemo:
    """The VPN step of ``vpnsmm demo``: two plans and a render-only WireGuard server (no interface needed).
    Idempotent: existing demo plans and server are kept."""

    def __init__(self, plans: ManagePlans, servers: ManageServers) -> None:
        self._plans, self._servers = plans, servers

    async def __call__(self) -> list[str]:
        irr, usd = Currency.IRR, Currency.USD
        drafts = [
            PlanDraft(name="Demo 30 days 50 GiB", duration_days=30, traffic_bytes=50 * 1024**3,
                      prices={irr: Money(1_500_000, irr), usd: Money(500, usd)}, protocol="any",
                      description="A month with 50 GiB", device_limit=2,
                      extra_gb_prices={irr: Money(50_000, irr), usd: Money(20, usd)},
                      extra_day_prices={irr: Money(30_000, irr), usd: Money(10, usd)}),
            PlanDraft(name="Demo 90 days unlimited", duration_days=90, traffic_bytes=None,
                      prices={irr: Money(3_500_000, irr), usd: Money(1200, usd)}, start_on_first_use=True,
                      description="Three months, no quota; the clock starts at first use",
                      extra_day_prices={irr: Money(30_000, irr), usd: Money(10, usd)}),
        ]
        have = {p.name for p in await self._plans.list(active_only=False)}
        for draft in drafts:
            if draft.name not in have:
                await self._plans.create(draft)
        if not any(s.server.name == DEMO_SERVER for s in await self._servers.list()):
            await self._servers.add(ServerDraft(
                kind=ServerKind.WIREGUARD, name=DEMO_SERVER, address="vpn.demo.vpnsmm.local:51820",
                settings={"render_only": True, "interface": "wg0", "ipv4_network": "10.66.0.0/24"},
                location="Demo", capacity=250))
        return [f"VPN plans: {', '.join(d.name for d in drafts)}; server {DEMO_SERVER} (WireGuard, render-only)"]
