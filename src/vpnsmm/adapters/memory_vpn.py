"""In-memory VPN repositories (plans, servers, accounts) over ``InMemoryStore.extensions``."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from vpnsmm.application.ports.vpn_store import AccountFilter
from vpnsmm.domain.errors import ConflictError, NotFoundError
from vpnsmm.domain.vpn_sales import AccountStatus, Plan, PriceListEntry, Server, VpnAccount


class _Store(Protocol):
    extensions: dict[str, Any]

    def next_id(self, name: str) -> int: ...


def _table(store: _Store, name: str) -> dict[int, Any]:
    table: dict[int, Any] = store.extensions.setdefault(name, {})
    return table


class InMemoryPlanRepository:
    def __init__(self, store: _Store) -> None:
        self._s = store

    @property
    def _t(self) -> dict[int, Plan]:
        return _table(self._s, "vpn_plans")

    async def add(self, plan: Plan) -> Plan:
        plan.id = self._s.next_id("vpn_plans")
        self._t[plan.id] = copy.deepcopy(plan)
        return plan

    async def get(self, plan_id: int) -> Plan | None:
        found = self._t.get(plan_id)
        return copy.deepcopy(found) if found else None

    async def update(self, plan: Plan) -> None:
        if plan.id not in self._t:
            raise NotFoundError("plan not found", code="PLAN_NOT_FOUND")
        self._t[plan.id] = copy.deepcopy(plan)

    async def list(self, *, active_only: bool) -> Sequence[Plan]:
        return [copy.deepcopy(p) for _, p in sorted(self._t.items()) if p.active or not active_only]


class InMemoryServerRepository:
    def __init__(self, store: _Store) -> None:
        self._s = store

    @property
    def _t(self) -> dict[int, Server]:
        return _table(self._s, "vpn_servers")

    def _clash(self, server: Server) -> None:
        if any(s.name == server.name and s.id != server.id for s in self._t.values()):
            raise ConflictError("a server with this name exists", code="SERVER_NAME_TAKEN", details={"field": "name"})

    async def add(self, server: Server) -> Server:
        self._clash(server)
        server.id = self._s.next_id("vpn_servers")
        self._t[server.id] = copy.deepcopy(server)
        return server

    async def get(self, server_id: int) -> Server | None:
        found = self._t.get(server_id)
        return copy.deepcopy(found) if found else None

    async def update(self, server: Server) -> None:
        if server.id not in self._t:
            raise NotFoundError("server not found", code="SERVER_NOT_FOUND")
        self._clash(server)
        self._t[server.id] = copy.deepcopy(server)

    async def remove(self, server_id: int) -> bool:
        return self._t.pop(server_id, None) is not None

    async def list(self, *, group: str | None = None, active_only: bool = False) -> Sequence[Server]:
        return [copy.deepcopy(s) for _, s in sorted(self._t.items())
                if (group is None or s.group == group) and (s.active or not active_only)]

    async def lock(self, server_id: int) -> Server | None:
        return await self.get(server_id)  # write units of work are serialised by the store's lock


class InMemoryVpnAccountRepository:
    def __init__(self, store: _Store) -> None:
        self._s = store

    @property
    def _t(self) -> dict[int, VpnAccount]:
        return _table(self._s, "vpn_accounts")

    async def add(self, account: VpnAccount) -> VpnAccount:
        if account.invoice_id is not None and any(a.invoice_id == account.invoice_id for a in self._t.values()):
            raise ConflictError("the invoice already has an account", code="ACCOUNT_EXISTS",
                                details={"field": "invoice_id"})
        account.id = self._s.next_id("vpn_accounts")
        self._t[account.id] = copy.deepcopy(account)
        return account

    def _find(self, **match: Any) -> VpnAccount | None:
        for account in self._t.values():
            if all(getattr(account, k) == v for k, v in match.items()):
                return copy.deepcopy(account)
        return None

    async def get(self, account_id: int) -> VpnAccount | None:
        found = self._t.get(account_id)
        return copy.deepcopy(found) if found else None

    async def get_for_user(self, account_id: int, user_id: int) -> VpnAccount | None:
        found = self._t.get(account_id)
        return copy.deepcopy(found) if found is not None and found.user_id == user_id else None

    async def get_by_invoice(self, invoice_id: int) -> VpnAccount | None:
        return self._find(invoice_id=invoice_id)

    async def get_by_token(self, token: str) -> VpnAccount | None:
        return self._find(subscription_token=token)

    async def get_many(self, server_id: int, account_ids: Sequence[int]) -> Sequence[VpnAccount]:
        found = (self._t.get(i) for i in sorted(set(account_ids)))
        return [copy.deepcopy(a) for a in found if a is not None and a.server_id == server_id]

    async def update(self, account: VpnAccount) -> None:
        if account.id not in self._t:
            raise NotFoundError("VPN account not found", code="ACCOUNT_NOT_FOUND")
        self._t[account.id] = copy.deepcopy(account)

    async def update_usage(self, accounts: Sequence[VpnAccount]) -> None:
        for account in accounts:
            stored = self._t.get(account.id)
            if stored is None:
                continue
            for name in ("used_upload", "used_download", "panel_upload", "panel_download", "status", "expires_at",
                         "usage_synced_at", "updated_at", "next_traffic_reset_at", "needs_push"):
                setattr(stored, name, getattr(account, name))

    async def list(self, filter: AccountFilter, *, limit: int, before_id: int | None) -> Sequence[VpnAccount]:
        found = [a for _, a in sorted(self._t.items(), reverse=True)
                 if (filter.user_id is None or a.user_id == filter.user_id)
                 and (filter.server_id is None or a.server_id == filter.server_id)
                 and (filter.status is None or a.status is filter.status)
                 and (before_id is None or a.id < before_id)]
        return [copy.deepcopy(a) for a in found[:limit]]

    async def load_by_server(self) -> Mapping[int, int]:
        loads: dict[int, int] = {}
        for account in self._t.values():
            if account.status is not AccountStatus.REVOKED:
                loads[account.server_id] = loads.get(account.server_id, 0) + 1
        return loads

    async def count_on_server(self, server_id: int) -> int:
        return sum(1 for a in self._t.values() if a.server_id == server_id and a.status is not AccountStatus.REVOKED)

    async def due_for_check(self, now: datetime, *, after_id: int, limit: int) -> Sequence[VpnAccount]:
        found = [a for _, a in sorted(self._t.items()) if a.id > after_id and (
            a.needs_push or (a.status.may_connect and a.expires_at is not None and a.expires_at <= now)
            or (a.status in (AccountStatus.ACTIVE, AccountStatus.LIMITED) and a.next_traffic_reset_at is not None
                and a.next_traffic_reset_at <= now))]
        return [copy.deepcopy(a) for a in found[:limit]]


class InMemoryPriceListRepository:
    def __init__(self, store: _Store) -> None:
        self._s = store

    @property
    def _t(self) -> dict[tuple[int, int], PriceListEntry]:
        table: dict[tuple[int, int], PriceListEntry] = self._s.extensions.setdefault("vpn_price_lists", {})
        return table

    async def for_user(self, user_id: int) -> Sequence[PriceListEntry]:
        return [e for (uid, _), e in sorted(self._t.items()) if uid == user_id]

    async def put(self, entry: PriceListEntry) -> None:
        self._t[(entry.user_id, entry.plan_id or 0)] = entry

    async def remove(self, user_id: int, plan_id: int | None) -> bool:
        return self._t.pop((user_id, plan_id or 0), None) is not None
