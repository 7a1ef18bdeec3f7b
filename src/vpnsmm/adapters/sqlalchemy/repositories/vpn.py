"""VPN plans, servers, accounts and WireGuard peers in SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vpnsmm.adapters.panels.wireguard.store import WireGuardPeer
from vpnsmm.adapters.sqlalchemy.engine import WRITE_OPTION
from vpnsmm.adapters.sqlalchemy.errors import register_unique, translated
from vpnsmm.adapters.sqlalchemy.tables import vpn_accounts, vpn_plans, vpn_price_lists, vpn_servers, vpn_wg_peers
from vpnsmm.application.ports.vpn_store import AccountFilter, SecretBox
from vpnsmm.domain.errors import ConflictError, NotFoundError, ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn import ClientLimits
from vpnsmm.domain.vpn_sales import (
    AccountStatus,
    Plan,
    PriceListEntry,
    Server,
    ServerKind,
    TrafficReset,
    VpnAccount,
)

register_unique("vpn_servers.name", "name", "SERVER_NAME_TAKEN", "a server with this name exists")
register_unique("uq_vpn_servers_name", "name", "SERVER_NAME_TAKEN", "a server with this name exists")
register_unique("vpn_accounts.invoice_id", "invoice_id", "ACCOUNT_EXISTS", "the invoice already has an account")
register_unique("uq_vpn_accounts_invoice_id", "invoice_id", "ACCOUNT_EXISTS", "the invoice already has an account")


def _prices_json(prices: Mapping[Currency, Money]) -> dict[str, int]:
    return {c.value: m.amount for c, m in prices.items()}


def _prices(raw: Mapping[str, int] | None) -> dict[Currency, Money]:
    return {Currency(c): Money(int(a), Currency(c)) for c, a in (raw or {}).items()}


def _plan_values(p: Plan) -> dict[str, Any]:
    return {"name": p.name, "description": p.description, "prices": _prices_json(p.prices),
            "extra_gb_prices": _prices_json(p.extra_gb_prices), "extra_day_prices": _prices_json(p.extra_day_prices),
            "duration_days": p.duration_days, "traffic_bytes": p.traffic_bytes, "device_limit": p.device_limit,
            "protocol": p.protocol, "server_group": p.server_group, "start_on_first_use": p.start_on_first_use,
            "active": p.active, "created_at": p.created_at, "traffic_reset": p.traffic_reset.value,
            "transport": p.transport}


def _plan(row: Any) -> Plan:
    return Plan(id=row.id, name=row.name, description=row.description, prices=_prices(row.prices),
                extra_gb_prices=_prices(row.extra_gb_prices), extra_day_prices=_prices(row.extra_day_prices),
                duration_days=row.duration_days, traffic_bytes=row.traffic_bytes, device_limit=row.device_limit,
                protocol=row.protocol, server_group=row.server_group, start_on_first_use=row.start_on_first_use,
                active=row.active, created_at=row.created_at, traffic_reset=TrafficReset(row.traffic_reset),
                transport=row.transport)


class SqlPlanRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, plan: Plan) -> Plan:
        result = await self._c.execute(vpn_plans.insert().values(**_plan_values(plan)).returning(vpn_plans.c.id))
        plan.id = int(result.scalar_one())
        return plan

    async def get(self, plan_id: int) -> Plan | None:
        row = (await self._c.execute(sa.select(vpn_plans).where(vpn_plans.c.id == plan_id))).first()
        return _plan(row) if row else None

    async def update(self, plan: Plan) -> None:
        result = await self._c.execute(vpn_plans.update().where(vpn_plans.c.id == plan.id).values(**_plan_values(plan)))
        if result.rowcount == 0:
            raise NotFoundError("plan not found", code="PLAN_NOT_FOUND")

    async def list(self, *, active_only: bool) -> Sequence[Plan]:
        query = sa.select(vpn_plans).order_by(vpn_plans.c.id)
        if active_only:
            query = query.where(vpn_plans.c.active.is_(True))
        return [_plan(r) for r in await self._c.execute(query)]


def _server_values(s: Server) -> dict[str, Any]:
    return {"kind": s.kind.value, "name": s.name, "address": s.address, "credentials": s.credentials,
            "settings": s.settings, "server_group": s.group, "location": s.location, "capacity": s.capacity,
            "weight": s.weight, "active": s.active, "online": s.online, "checked_at": s.checked_at,
            "created_at": s.created_at, "updated_at": s.updated_at}


def _server(row: Any) -> Server:
    return Server(id=row.id, kind=ServerKind(row.kind), name=row.name, address=row.address,
                  credentials=row.credentials, settings=dict(row.settings or {}), group=row.server_group,
                  location=row.location, capacity=row.capacity, weight=row.weight, active=row.active,
                  online=row.online, checked_at=row.checked_at, created_at=row.created_at, updated_at=row.updated_at)


class SqlServerRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, server: Server) -> Server:
        async with translated():
            result = await self._c.execute(vpn_servers.insert().values(**_server_values(server))
                                           .returning(vpn_servers.c.id))
        server.id = int(result.scalar_one())
        return server

    async def get(self, server_id: int) -> Server | None:
        row = (await self._c.execute(sa.select(vpn_servers).where(vpn_servers.c.id == server_id))).first()
        return _server(row) if row else None

    async def update(self, server: Server) -> None:
        async with translated():
            result = await self._c.execute(vpn_servers.update().where(vpn_servers.c.id == server.id)
                                           .values(**_server_values(server)))
        if result.rowcount == 0:
            raise NotFoundError("server not found", code="SERVER_NOT_FOUND")

    async def remove(self, server_id: int) -> bool:
        await self._c.execute(vpn_wg_peers.delete().where(vpn_wg_peers.c.server_id == server_id))
        result = await self._c.execute(vpn_servers.delete().where(vpn_servers.c.id == server_id))
        return bool(result.rowcount)

    async def list(self, *, group: str | None = None, active_only: bool = False) -> Sequence[Server]:
        query = sa.select(vpn_servers).order_by(vpn_servers.c.id)
        if group is not None:
            query = query.where(vpn_servers.c.server_group == group)
        if active_only:
            query = query.where(vpn_servers.c.active.is_(True))
        return [_server(r) for r in await self._c.execute(query)]

    async def lock(self, server_id: int) -> Server | None:
        # FOR UPDATE on Postgres; SQLAlchemy drops it on SQLite, whose write transactions are BEGIN IMMEDIATE.
        query = sa.select(vpn_servers).where(vpn_servers.c.id == server_id).with_for_update()
        row = (await self._c.execute(query)).first()
        return _server(row) if row else None


_USAGE_FIELDS = ("used_upload", "used_download", "panel_upload", "panel_download", "status", "expires_at",
                 "usage_synced_at", "updated_at", "next_traffic_reset_at", "needs_push")


#: Marks a config sealed with the SecretBox; rows written before sealing existed are read as they are.
SEALED_PREFIX = "sealed:v1:"


def seal_config(config: str | None, box: SecretBox | None) -> str | None:
    if config is None or box is None:
        return config
    return SEALED_PREFIX + box.seal({"config": config})


def open_config(stored: str | None, box: SecretBox | None) -> str | None:
    if stored is None or not stored.startswith(SEALED_PREFIX):
        return stored
    if box is None:
        raise ValidationError("a sealed account config needs the secret key to be read", field="config",
                              code="CREDENTIALS_UNREADABLE")
    return str(box.open(stored[len(SEALED_PREFIX):])["config"])


def _account_values(a: VpnAccount, box: SecretBox | None = None) -> dict[str, Any]:
    return {"user_id": a.user_id, "plan_id": a.plan_id, "server_id": a.server_id, "invoice_id": a.invoice_id,
            "status": a.status.value, "subscription_token": a.subscription_token, "duration_days": a.duration_days,
            "expires_at": a.expires_at, "traffic_limit_bytes": a.traffic_limit_bytes, "device_limit": a.device_limit,
            "used_upload": a.used_upload, "used_download": a.used_download,
            "period_start_upload": a.period_start_upload, "period_start_download": a.period_start_download,
            "panel_upload": a.panel_upload, "panel_download": a.panel_download,
            "start_on_first_use": a.start_on_first_use, "remote_id": a.remote_id, "links": list(a.links),
            "config": seal_config(a.config, box), "subscription_url": a.subscription_url,
            "applied_invoices": list(a.applied_invoices),
            "pending_reset": a.pending_reset, "needs_push": a.needs_push, "usage_synced_at": a.usage_synced_at,
            "created_at": a.created_at, "updated_at": a.updated_at, "traffic_reset": a.traffic_reset.value,
            "next_traffic_reset_at": a.next_traffic_reset_at}


def _account(row: Any, box: SecretBox | None = None) -> VpnAccount:
    return VpnAccount(
        id=row.id, user_id=row.user_id, plan_id=row.plan_id, server_id=row.server_id, invoice_id=row.invoice_id,
        status=AccountStatus(row.status), subscription_token=row.subscription_token, duration_days=row.duration_days,
        expires_at=row.expires_at, traffic_limit_bytes=row.traffic_limit_bytes, device_limit=row.device_limit,
        used_upload=row.used_upload, used_download=row.used_download, period_start_upload=row.period_start_upload,
        period_start_download=row.period_start_download, panel_upload=row.panel_upload,
        panel_download=row.panel_download, start_on_first_use=row.start_on_first_use, remote_id=row.remote_id,
        links=list(row.links or []), config=open_config(row.config, box), subscription_url=row.subscription_url,
        applied_invoices=[int(i) for i in row.applied_invoices or []], pending_reset=row.pending_reset,
        needs_push=row.needs_push, usage_synced_at=row.usage_synced_at, created_at=row.created_at,
        updated_at=row.updated_at, traffic_reset=TrafficReset(row.traffic_reset),
        next_traffic_reset_at=row.next_traffic_reset_at)


_LIVE = (AccountStatus.ACTIVE.value, AccountStatus.ON_HOLD.value)
_RESETTABLE = (AccountStatus.ACTIVE.value, AccountStatus.LIMITED.value)


class SqlVpnAccountRepository:
    """VPN accounts in SQL. With a SecretBox the cached client config (a WireGuard ``.conf`` holds the private
    and preshared keys) is sealed at rest, like panel credentials and peer keys."""

    def __init__(self, conn: AsyncConnection, box: SecretBox | None = None) -> None:
        self._c, self._box = conn, box

    async def add(self, account: VpnAccount) -> VpnAccount:
        async with translated():
            result = await self._c.execute(vpn_accounts.insert().values(**_account_values(account, self._box))
                                           .returning(vpn_accounts.c.id))
        account.id = int(result.scalar_one())
        return account

    async def _one(self, *where: Any) -> VpnAccount | None:
        row = (await self._c.execute(sa.select(vpn_accounts).where(*where))).first()
        return _account(row, self._box) if row else None

    async def get(self, account_id: int) -> VpnAccount | None:
        return await self._one(vpn_accounts.c.id == account_id)

    async def get_for_user(self, account_id: int, user_id: int) -> VpnAccount | None:
        return await self._one(vpn_accounts.c.id == account_id, vpn_accounts.c.user_id == user_id)

    async def get_by_invoice(self, invoice_id: int) -> VpnAccount | None:
        return await self._one(vpn_accounts.c.invoice_id == invoice_id)

    async def get_by_token(self, token: str) -> VpnAccount | None:
        return await self._one(vpn_accounts.c.subscription_token == token)

    async def get_many(self, server_id: int, account_ids: Sequence[int]) -> Sequence[VpnAccount]:
        if not account_ids:
            return []
        query = sa.select(vpn_accounts).where(vpn_accounts.c.server_id == server_id,
                                              vpn_accounts.c.id.in_(list(account_ids))).order_by(vpn_accounts.c.id)
        return [_account(r, self._box) for r in await self._c.execute(query)]

    async def update(self, account: VpnAccount) -> None:
        async with translated():
            result = await self._c.execute(vpn_accounts.update().where(vpn_accounts.c.id == account.id)
                                           .values(**_account_values(account, self._box)))
        if result.rowcount == 0:
            raise NotFoundError("VPN account not found", code="ACCOUNT_NOT_FOUND")

    async def update_usage(self, accounts: Sequence[VpnAccount]) -> None:
        if not accounts:
            return
        stmt = (vpn_accounts.update().where(vpn_accounts.c.id == sa.bindparam("_id"))
                .values({name: sa.bindparam("_" + name) for name in _USAGE_FIELDS}))
        rows = [{"_id": a.id, "_used_upload": a.used_upload, "_used_download": a.used_download,
                 "_panel_upload": a.panel_upload, "_panel_download": a.panel_download, "_status": a.status.value,
                 "_expires_at": a.expires_at, "_usage_synced_at": a.usage_synced_at, "_updated_at": a.updated_at,
                 "_next_traffic_reset_at": a.next_traffic_reset_at, "_needs_push": a.needs_push}
                for a in accounts]
        await self._c.execute(stmt, rows)

    async def list(self, filter: AccountFilter, *, limit: int, before_id: int | None) -> Sequence[VpnAccount]:
        query = sa.select(vpn_accounts)
        if filter.user_id is not None:
            query = query.where(vpn_accounts.c.user_id == filter.user_id)
        if filter.server_id is not None:
            query = query.where(vpn_accounts.c.server_id == filter.server_id)
        if filter.status is not None:
            query = query.where(vpn_accounts.c.status == filter.status.value)
        if before_id is not None:
            query = query.where(vpn_accounts.c.id < before_id)
        rows = await self._c.execute(query.order_by(vpn_accounts.c.id.desc()).limit(limit))
        return [_account(r, self._box) for r in rows]

    async def load_by_server(self) -> Mapping[int, int]:
        query = (sa.select(vpn_accounts.c.server_id, sa.func.count())
                 .where(vpn_accounts.c.status != AccountStatus.REVOKED.value).group_by(vpn_accounts.c.server_id))
        return {int(server_id): int(n) for server_id, n in await self._c.execute(query)}

    async def count_on_server(self, server_id: int) -> int:
        query = sa.select(sa.func.count()).where(vpn_accounts.c.server_id == server_id,
                                                 vpn_accounts.c.status != AccountStatus.REVOKED.value)
        return int((await self._c.execute(query)).scalar_one())

    async def due_for_check(self, now: datetime, *, after_id: int, limit: int) -> Sequence[VpnAccount]:
        query = (sa.select(vpn_accounts).where(
            vpn_accounts.c.id > after_id,
            sa.or_(sa.and_(vpn_accounts.c.status.in_(_LIVE), vpn_accounts.c.expires_at <= now),
                   sa.and_(vpn_accounts.c.status.in_(_RESETTABLE), vpn_accounts.c.next_traffic_reset_at <= now),
                   vpn_accounts.c.needs_push.is_(True)))
            .order_by(vpn_accounts.c.id).limit(limit))
        return [_account(r, self._box) for r in await self._c.execute(query)]


class SqlPriceListRepository:
    """Per-user VPN price lists; ``plan_id`` 0 in the table stands for "every plan" (None in the domain)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def for_user(self, user_id: int) -> Sequence[PriceListEntry]:
        rows = await self._c.execute(sa.select(vpn_price_lists).where(vpn_price_lists.c.user_id == user_id)
                                     .order_by(vpn_price_lists.c.plan_id))
        return [PriceListEntry(user_id=r.user_id, plan_id=r.plan_id or None, discount_bp=r.discount_bp,
                               prices=_prices(r.prices)) for r in rows]

    async def put(self, entry: PriceListEntry) -> None:
        await self.remove(entry.user_id, entry.plan_id)
        await self._c.execute(vpn_price_lists.insert().values(
            user_id=entry.user_id, plan_id=entry.plan_id or 0, discount_bp=entry.discount_bp,
            prices=_prices_json(entry.prices)))

    async def remove(self, user_id: int, plan_id: int | None) -> bool:
        result = await self._c.execute(vpn_price_lists.delete().where(vpn_price_lists.c.user_id == user_id,
                                                                      vpn_price_lists.c.plan_id == (plan_id or 0)))
        return bool(result.rowcount)


# ------------------------------------------------------------------------------------------ WireGuard peers
def _peer(row: Any, box: SecretBox) -> WireGuardPeer:
    keys = box.open(row.secrets)
    ipv6: IPv6Address | None = IPv6Address(row.ipv6) if row.ipv6 else None
    return WireGuardPeer(key=row.key, private_key=keys["private_key"], public_key=row.public_key,
                         preshared_key=keys["preshared_key"], ipv4=IPv4Address(row.ipv4), ipv6=ipv6,
                         enabled=row.enabled, note=row.note, rx_bytes=row.rx_bytes, tx_bytes=row.tx_bytes,
                         limits=ClientLimits(row.traffic_limit_bytes, row.expires_at, row.device_limit))


class SqlWireGuardPeerStore:
    """WireGuardPeerStore of one server in SQL. The panel calls it outside any business transaction, so each
    call is its own short transaction. Private and preshared keys are sealed with the SecretBox."""

    def __init__(self, engine: AsyncEngine, server_id: int, box: SecretBox) -> None:
        self._engine, self._server_id, self._box = engine, server_id, box
        self._t = vpn_wg_peers

    def _values(self, peer: WireGuardPeer) -> dict[str, Any]:
        return {"server_id": self._server_id, "key": peer.key, "public_key": peer.public_key,
                "secrets": self._box.seal({"private_key": peer.private_key, "preshared_key": peer.preshared_key}),
                "ipv4": str(peer.ipv4), "ipv6": str(peer.ipv6) if peer.ipv6 is not None else None,
                "enabled": peer.enabled, "traffic_limit_bytes": peer.limits.traffic_limit_bytes,
                "expires_at": peer.limits.expires_at, "device_limit": peer.limits.device_limit, "note": peer.note,
                "rx_bytes": peer.rx_bytes, "tx_bytes": peer.tx_bytes}

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as conn:
            yield await conn.execution_options(**{WRITE_OPTION: False})

    def _mine(self) -> Any:
        return self._t.c.server_id == self._server_id

    async def get(self, key: str) -> WireGuardPeer | None:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(self._t).where(self._mine(), self._t.c.key == key))).first()
        return _peer(row, self._box) if row else None

    async def get_many(self, keys: Collection[str]) -> Sequence[WireGuardPeer]:
        if not keys:
            return []
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(self._t).where(self._mine(), self._t.c.key.in_(sorted(set(keys))))
                                      .order_by(self._t.c.key))
            return [_peer(r, self._box) for r in rows]

    async def add(self, peer: WireGuardPeer) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(self._t.insert().values(**self._values(peer)))
        except sa.exc.IntegrityError as exc:
            raise ConflictError(f"peer {peer.key!r} clashes with an existing peer") from exc

    async def replace(self, peer: WireGuardPeer) -> None:
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(self._t.update().where(self._mine(), self._t.c.key == peer.key)
                                            .values(**self._values(peer)))
        except sa.exc.IntegrityError as exc:
            raise ConflictError(f"peer {peer.key!r} clashes with an existing peer") from exc
        if result.rowcount == 0:
            raise NotFoundError(f"no peer {peer.key!r}")

    async def remove(self, key: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(self._t.delete().where(self._mine(), self._t.c.key == key))
        return bool(result.rowcount)

    async def address_in_use(self, address: IPv4Address | IPv6Address) -> bool:
        column = self._t.c.ipv4 if isinstance(ip_address(address), IPv4Address) else self._t.c.ipv6
        async with self._reading() as conn:
            found = (await conn.execute(sa.select(self._t.c.key).where(self._mine(), column == str(address))
                                        .limit(1))).first()
        return found is not None

    async def page(self, after_key: str | None, limit: int) -> Sequence[WireGuardPeer]:
        query = sa.select(self._t).where(self._mine())
        if after_key is not None:
            query = query.where(self._t.c.key > after_key)
        async with self._reading() as conn:
            return [_peer(r, self._box) for r in await conn.execute(query.order_by(self._t.c.key).limit(limit))]

    async def record_counters(self, counters: Mapping[str, tuple[int, int]]) -> None:
        if not counters:
            return
        stmt = (self._t.update().where(self._mine(), self._t.c.key == sa.bindparam("_key"))
                .values(rx_bytes=sa.bindparam("_rx"), tx_bytes=sa.bindparam("_tx")))
        async with self._engine.begin() as conn:
            await conn.execute(stmt, [{"_key": k, "_rx": rx, "_tx": tx} for k, (rx, tx) in counters.items()])

    async def counts(self) -> tuple[int, int]:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(sa.func.count(), sa.func.count().filter(self._t.c.enabled.is_(True)))
                                      .where(self._mine()))).one()
        return int(row[0]), int(row[1])
