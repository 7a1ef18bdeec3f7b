"""Ports of VPN selling: plan, server and account repositories (inside a unit of work), sealing panel
credentials, and finding the VpnPanel of a server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from attrs import frozen

from vpnsmm.application.ports.vpn_panel import VpnPanel
from vpnsmm.domain.vpn_sales import AccountStatus, Plan, PriceListEntry, Server, ServerKind, VpnAccount


class PlanRepository(Protocol):
    async def add(self, plan: Plan) -> Plan:
        """Store and assign ``plan.id``."""
        ...

    async def get(self, plan_id: int) -> Plan | None: ...

    async def update(self, plan: Plan) -> None:
        """NotFoundError if the plan is gone."""
        ...

    async def list(self, *, active_only: bool) -> Sequence[Plan]:
        """Ordered by id."""
        ...


class ServerRepository(Protocol):
    async def add(self, server: Server) -> Server:
        """Store and assign ``server.id``. ConflictError (SERVER_NAME_TAKEN) for a taken name."""
        ...

    async def get(self, server_id: int) -> Server | None: ...

    async def update(self, server: Server) -> None: ...

    async def remove(self, server_id: int) -> bool: ...

    async def list(self, *, group: str | None = None, active_only: bool = False) -> Sequence[Server]:
        """Ordered by id."""
        ...

    async def lock(self, server_id: int) -> Server | None:
        """The server, locked until the unit of work ends, so two transactions placing accounts on it take turns
        (Postgres: ``SELECT ... FOR UPDATE``; SQLite and memory write transactions are exclusive already)."""
        ...


@frozen
class AccountFilter:
    user_id: int | None = None
    server_id: int | None = None
    status: AccountStatus | None = None


class VpnAccountRepository(Protocol):
    async def add(self, account: VpnAccount) -> VpnAccount:
        """Store and assign ``account.id``. ConflictError (ACCOUNT_EXISTS) if the invoice already has one."""
        ...

    async def get(self, account_id: int) -> VpnAccount | None: ...

    async def get_for_user(self, account_id: int, user_id: int) -> VpnAccount | None:
        """Ownership is part of the lookup: another user's account is None."""
        ...

    async def get_by_invoice(self, invoice_id: int) -> VpnAccount | None: ...

    async def get_by_token(self, token: str) -> VpnAccount | None: ...

    async def get_many(self, server_id: int, account_ids: Sequence[int]) -> Sequence[VpnAccount]:
        """The accounts among ``account_ids`` that live on ``server_id`` (others are left out)."""
        ...

    async def update(self, account: VpnAccount) -> None: ...

    async def update_usage(self, accounts: Sequence[VpnAccount]) -> None:
        """Persist usage counters, status, expiry and sync time of many accounts at once (one round trip)."""
        ...

    async def list(self, filter: AccountFilter, *, limit: int, before_id: int | None) -> Sequence[VpnAccount]:
        """Newest first."""
        ...

    async def load_by_server(self) -> Mapping[int, int]:
        """server id -> accounts on it that are not revoked (what counts against capacity)."""
        ...

    async def count_on_server(self, server_id: int) -> int:
        """Accounts on ``server_id`` that are not revoked (its load against capacity)."""
        ...

    async def due_for_check(self, now: datetime, *, after_id: int, limit: int) -> Sequence[VpnAccount]:
        """Accounts with ``id > after_id`` that need enforcement: active or on hold with ``expires_at <= now``,
        active or limited with ``next_traffic_reset_at <= now`` (a quota reset is due), or flagged
        ``needs_push`` (an earlier push to the panel failed). Ordered by id."""
        ...


class PriceListRepository(Protocol):
    """Per-user VPN price lists (a reseller's own prices). At most one entry per (user, plan or every plan)."""

    async def for_user(self, user_id: int) -> Sequence[PriceListEntry]:
        """The user's entries, the every-plan entry (plan_id None) first, then by plan id."""
        ...

    async def put(self, entry: PriceListEntry) -> None:
        """Create or replace the entry for (user_id, plan_id)."""
        ...

    async def remove(self, user_id: int, plan_id: int | None) -> bool: ...


class SecretBox(Protocol):
    """Seals panel credentials at rest. The ciphertext is opaque text."""

    def seal(self, plaintext: Mapping[str, Any]) -> str: ...

    def open(self, sealed: str) -> dict[str, Any]:
        """Raises ValidationError (code CREDENTIALS_UNREADABLE) if the text was not sealed with this key."""
        ...


class PanelDirectory(Protocol):
    """Turns a server row into its VpnPanel (cached per server and version)."""

    async def panel_for(self, server: Server) -> VpnPanel: ...

    def prepare(self, kind: ServerKind, settings: Mapping[str, Any],
                credentials: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check a new server's settings and credentials for its kind and fill defaults (e.g. generate a
        WireGuard interface key). Returns (settings, credentials). Raises ValidationError."""
        ...

    async def server_config(self, server: Server) -> str | None:
        """WireGuard only: the interface's wg-quick config with its peers (others: None)."""
        ...

    def forget(self, server_id: int) -> None:
        """Drop the cached panel (after the server changed or was removed)."""
        ...
