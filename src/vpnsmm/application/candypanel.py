"""The CandyPanel model on top of vpnsmm: one installation with WireGuard interfaces, named clients, a key/value
settings table, API tokens, and a Telegram bot whose users buy traffic or months by card-to-card.

How it maps (docs/dialects/candypanel.md):

* an interface ``wgN`` is a WireGuard :class:`Server` in group ``candypanel`` (``settings.candypanel_wg = N``);
* a client is a :class:`VpnAccount` on such a server, known by a unique name (``candypanel_clients``);
* a bot user is a :class:`User` with ``telegram_id``; a bot purchase is an invoice (``vpn_purchase`` for the first
  client, ``vpn_addon`` afterwards) paid by a card-to-card payment whose claim is submitted at once, so approving
  it (ReviewCardPayment) credits exactly once and the VPN fulfiller creates or extends the WireGuard client;
* prices are toman (``IRT``), read from the ``prices`` setting.

Every use case here owns its transactions; none is held open while a panel is called.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from attrs import frozen

from vpnsmm.application.billing import (
    CreateInvoice,
    FulfilInvoice,
    NewInvoice,
    PayInvoice,
    ReviewCardPayment,
    SubmitCardReceipt,
    audit,
)
from vpnsmm.application.identity import Principal, RegisterUser, RegisterUserCommand, SetUserStatus
from vpnsmm.application.ports.candypanel import (
    ApiTokenRecord,
    CandyPanelUnitOfWork,
    CandyPanelUnitOfWorkFactory,
    CardOrder,
    ClientName,
    OutboxMessage,
)
from vpnsmm.application.ports.persistence import UserFilter
from vpnsmm.application.ports.security import PasswordHasher
from vpnsmm.application.ports.system import Clock
from vpnsmm.application.ports.vpn_store import PanelDirectory, SecretBox
from vpnsmm.application.vpn import EnforceLimits, RevokeAccount, SyncUsage, new_subscription_token, push_account
from vpnsmm.domain.billing import Gateway, InvoicePurpose, InvoiceStatus, Payment, PaymentStatus
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamError,
    UpstreamRejectedError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.identity import Role, User, UserStatus, normalise_username
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.payments import CardTransferClaim
from vpnsmm.domain.vpn_sales import GIB, AccountStatus, AddOnKind, Plan, Server, ServerKind, VpnAccount

GROUP = "candypanel"
CURRENCY = Currency.IRT  # toman
DEFAULT_PRICES = {"1GB": 4000, "1Month": 75000}
#: A traffic purchase (``gb``) made before the user has a client is valid this long; a ``month`` is 30 days.
GB_PURCHASE_DAYS = 365
MONTH_DAYS = 30
#: A claimed order id whose payment is still missing after this long was left by a crash: the next submission
#: completes it (before that, a concurrent submission is told the order is in progress).
CLAIM_RESUME_AFTER = timedelta(seconds=60)
#: Settings /api/manage may change (the document's list, plus the bot's on/off switch).
WRITABLE_SETTINGS = ("server_ip", "dns", "mtu", "reset_time", "auto_backup", "telegram_bot_admin_id",
                     "telegram_bot_token", "admin_card_number", "prices", "telegram_bot_status")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOKEN = re.compile(r"^\S{8,200}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _wg_of(server: Server) -> int | None:
    value = server.settings.get("candypanel_wg")
    return value if type(value) is int and not server.settings.get("candypanel_deleted") else None


async def _candy_servers(uow: CandyPanelUnitOfWork) -> dict[int, Server]:
    """wg number -> live (not deleted) CandyPanel interface."""
    found: dict[int, Server] = {}
    for server in await uow.vpn_servers.list(group=GROUP):
        wg = _wg_of(server)
        if wg is not None and server.kind is ServerKind.WIREGUARD:
            found[wg] = server
    return found


async def _interface(uow: CandyPanelUnitOfWork, wg: int) -> Server:
    server = (await _candy_servers(uow)).get(wg)
    if server is None:
        raise NotFoundError(f"Interface wg{wg} not found.", code="INTERFACE_NOT_FOUND")
    return server


def _parse_network(raw: object, what: str) -> IPv4Network:
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError(f"{what} must be an IPv4 range such as 10.0.0.1/24", field=what)
    try:
        network = IPv4Network(raw.strip(), strict=False)
    except ValueError as exc:
        raise ValidationError(f"{what}: {exc}", field=what) from None
    if network.prefixlen > 30 or network.prefixlen < 16:
        raise ValidationError(f"{what} must be a /16 to /30 range", field=what)
    return network


def _parse_port(raw: object, what: str) -> int:
    value: int | None = None
    if type(raw) is int:
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not 1 <= value <= 65535:
        raise ValidationError(f"{what} must be a port number from 1 to 65535", field=what)
    return value


def _parse_dns(raw: object) -> list[str]:
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("dns must be one or more IP addresses separated by commas", field="dns")
    servers = [part.strip() for part in raw.split(",") if part.strip()]
    try:
        for part in servers:
            IPv4Address(part)
    except ValueError:
        raise ValidationError("dns must be one or more IPv4 addresses separated by commas", field="dns") from None
    return servers


def _parse_host(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > 200 or any(c.isspace() for c in raw.strip()):
        raise ValidationError("server_ip must be the server's public IP address or host name", field="server_ip")
    return raw.strip()


def parse_prices(raw: str) -> dict[str, int]:
    """The ``prices`` setting: a JSON object with positive whole toman for ``1GB`` and ``1Month``."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        raise ValidationError('prices must be a JSON object such as {"1GB": 4000, "1Month": 75000}',
                              field="prices") from None
    if not isinstance(data, dict):
        raise ValidationError('prices must be a JSON object such as {"1GB": 4000, "1Month": 75000}', field="prices")
    prices: dict[str, int] = {}
    for key in ("1GB", "1Month"):
        value = data.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is not int or not 0 < value <= 10**12:
            raise ValidationError(f"prices.{key} must be a positive whole number of toman", field="prices")
        prices[key] = value
    return prices


# ------------------------------------------------------------------------------------------ settings / install
@frozen
class InstallCommand:
    server_ip: str
    wg_port: int | str
    wg_address_range: str = "10.0.0.1/24"
    wg_dns: str = "8.8.8.8"
    admin_user: str = "admin"
    admin_password: str = "admin"


class CandyPanelSetup:
    """Installation (exactly once), the settings table and the bot admin's Telegram id.

    ``default_admin_telegram_id`` (``VPNSMM_TELEGRAM_ADMIN_ID``) is used until the ``telegram_bot_admin_id``
    setting is set.
    """

    def __init__(self, uow: CandyPanelUnitOfWorkFactory, clock: Clock, hasher: PasswordHasher,
                 panels: PanelDirectory, box: SecretBox, *, default_admin_telegram_id: int | None = None) -> None:
        self._uow, self._clock, self._hasher, self._panels, self._box = uow, clock, hasher, panels, box
        self._default_admin = default_admin_telegram_id

    async def settings(self) -> dict[str, str]:
        async with self._uow(read_only=True) as uow:
            return dict(await uow.candypanel.settings())

    async def installed(self) -> bool:
        return (await self.settings()).get("install") == "1"

    async def admin_telegram_id(self) -> int | None:
        stored = (await self.settings()).get("telegram_bot_admin_id", "").strip()
        if stored.isdigit():
            return int(stored)
        return self._default_admin

    async def install(self, cmd: InstallCommand) -> User:
        """Create the admin, the CandyPanel plan and interface ``wg0``, and the settings, in ONE transaction.

        Works once: ConflictError ALREADY_INSTALLED afterwards (also for the loser of two concurrent installs);
        nothing is written when any part fails (ValidationError for bad input, ConflictError for a taken username).
        """
        host = _parse_host(cmd.server_ip)
        port = _parse_port(cmd.wg_port, "wg_port")
        network = _parse_network(cmd.wg_address_range, "wg_address_range")
        dns = _parse_dns(cmd.wg_dns)
        username = normalise_username(cmd.admin_user)
        # CandyPanel's own contract: any non-empty password, default "admin" (the operator's one-time choice;
        # docs/dialects/candypanel.md tells them to pick a strong one). Every other way in keeps the policy.
        if not cmd.admin_password or len(cmd.admin_password) > 1024:
            raise ValidationError("admin_password: must be 1 to 1024 characters", field="admin_password")
        if await self.installed():
            raise ConflictError("CandyPanel is already installed.", code="ALREADY_INSTALLED")
        password_hash = await self._hasher.hash(cmd.admin_password)
        now = self._clock.now()
        settings, credentials = self._panels.prepare(ServerKind.WIREGUARD, _interface_settings(0, network, port, dns),
                                                     {})
        async with self._uow() as uow:
            if not await uow.candypanel.claim_setting("install", "1", now=now):
                raise ConflictError("CandyPanel is already installed.", code="ALREADY_INSTALLED")
            if await uow.users.get_by_username(username) is not None:
                raise ConflictError(f"username {username!r} is already taken", code="USERNAME_TAKEN",
                                    details={"field": "admin_user"})
            admin = User.register(username=username, password_hash=password_hash, joined_at=now, role=Role.ADMIN)
            await uow.users.add(admin)
            plan = Plan(name="CandyPanel", prices={CURRENCY: Money(DEFAULT_PRICES["1Month"], CURRENCY)},
                        duration_days=MONTH_DAYS, traffic_bytes=None, created_at=now, server_group=GROUP,
                        active=False, description="CandyPanel clients (priced by the prices setting)")
            await uow.vpn_plans.add(plan)
            server = Server(kind=ServerKind.WIREGUARD, name="candypanel-wg0", address=f"{host}:{port}",
                            credentials=self._box.seal(credentials), created_at=now, settings=settings, group=GROUP,
                            location="CandyPanel", capacity=max(1, network.num_addresses - 3), updated_at=now)
            await uow.vpn_servers.add(server)
            values = {"server_ip": host, "dns": ",".join(dns), "mtu": "1420", "reset_time": "0",
                      "auto_backup": "1", "status": "active", "alert": "[]", "bandwidth": "0",
                      "telegram_bot_status": "0", "telegram_bot_token": "", "admin_card_number": "",
                      "telegram_bot_admin_id": str(self._default_admin or ""),
                      "prices": json.dumps(DEFAULT_PRICES), "admin_user_id": str(admin.id),
                      "plan_id": str(plan.id), "installed_at": now.isoformat()}
            for key, value in values.items():
                await uow.candypanel.put_setting(key, value, now=now)
            await audit(uow, actor_id=admin.id, action="candypanel.installed", target=f"server:{server.id}", now=now,
                        admin=username)
            await uow.commit()
        return admin

    async def update_setting(self, key: str, value: object, *, actor_id: int | None) -> None:
        """Change one setting. ``server_ip``, ``dns`` and ``mtu`` are pushed to every interface.

        Raises ValidationError for a key that cannot be changed or a bad value.
        """
        if key not in WRITABLE_SETTINGS:
            raise ValidationError(f"setting {key!r} cannot be changed (changeable: {', '.join(WRITABLE_SETTINGS)})",
                                  field="key")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("value must be a string", field="value")
        text = str(value).strip()
        server_changes: dict[str, Any] = {}
        if key == "server_ip":
            text = _parse_host(text)
        elif key == "dns":
            server_changes = {"dns": _parse_dns(text)}
            text = ",".join(server_changes["dns"])
        elif key == "mtu":
            if not text.isdigit() or not 576 <= int(text) <= 9000:
                raise ValidationError("mtu must be a number from 576 to 9000", field="value")
            server_changes = {"mtu": int(text)}
        elif key == "prices":
            text = json.dumps(parse_prices(text))
        elif key == "telegram_bot_admin_id":
            if text and (not text.isdigit() or not 0 < int(text) < 2**63):
                raise ValidationError("telegram_bot_admin_id must be a numeric Telegram id", field="value")
        elif key in ("reset_time", "auto_backup", "telegram_bot_status"):
            if not text.isdigit() or len(text) > 9:
                raise ValidationError(f"{key} must be a whole number", field="value")
        elif len(text) > 255:
            raise ValidationError(f"{key} must be at most 255 characters", field="value")
        now = self._clock.now()
        changed: list[int] = []
        async with self._uow() as uow:
            await uow.candypanel.put_setting(key, text, now=now)
            for server in (await _candy_servers(uow)).values():
                if key == "server_ip":
                    port = server.settings.get("listen_port") or 51820
                    server.address = f"{text}:{port}"
                elif server_changes:
                    server.settings = {**server.settings, **server_changes}
                else:
                    continue
                server.updated_at = now
                server.validate()
                await uow.vpn_servers.update(server)
                changed.append(server.id)
            await audit(uow, actor_id=actor_id, action="candypanel.setting_changed", target=f"setting:{key}", now=now)
            await uow.commit()
        for server_id in changed:
            self._panels.forget(server_id)


def _interface_settings(wg: int, network: IPv4Network, port: int, dns: Sequence[str], mtu: int = 1420,
                        ) -> dict[str, Any]:
    # render_only False: the panel drives wgN when `wg show wgN` works here, and renders configs only otherwise.
    return {"interface": f"wg{wg}", "ipv4_network": str(network), "listen_port": port, "dns": list(dns),
            "mtu": mtu, "client_allowed_ips": ["0.0.0.0/0"], "render_only": False, "candypanel_wg": wg}


async def _require_installed(uow: CandyPanelUnitOfWork) -> dict[str, str]:
    settings = dict(await uow.candypanel.settings())
    if settings.get("install") != "1":
        raise ValidationError("CandyPanel is not installed yet; POST /api/auth with action install first.",
                              code="NOT_INSTALLED")
    return settings


# ------------------------------------------------------------------------------------------ interfaces
@frozen
class InterfaceView:
    wg: int
    server: Server
    clients: int


class CandyPanelInterfaces:
    """WireGuard interfaces = CandyPanel servers. Deleting one revokes its clients and retires the server
    (kept, inactive, because revoked accounts still refer to it)."""

    def __init__(self, uow: CandyPanelUnitOfWorkFactory, clock: Clock, panels: PanelDirectory, box: SecretBox,
                 revoke: RevokeAccount) -> None:
        self._uow, self._clock, self._panels, self._box, self._revoke = uow, clock, panels, box, revoke

    async def list(self) -> list[InterfaceView]:
        async with self._uow(read_only=True) as uow:
            servers = await _candy_servers(uow)
            loads = await uow.vpn_accounts.load_by_server()
        return [InterfaceView(wg, s, loads.get(s.id, 0)) for wg, s in sorted(servers.items())]

    async def create(self, address_range: object, port: object, *, actor_id: int | None) -> int:
        """A new interface ``wg<N>`` (N one above the highest ever used). Returns N."""
        network = _parse_network(address_range, "address_range")
        listen = _parse_port(port, "port")
        now = self._clock.now()
        async with self._uow() as uow:
            settings = await _require_installed(uow)
            every = await uow.vpn_servers.list(group=GROUP)
            for server in every:
                if _wg_of(server) is not None and server.settings.get("listen_port") == listen:
                    raise ConflictError(f"port {listen} is already used by {server.settings.get('interface')}",
                                        code="PORT_TAKEN")
            used = [s.settings.get("candypanel_wg") for s in every]
            wg = max([n for n in used if type(n) is int] + [-1]) + 1
            dns = [d for d in settings.get("dns", "8.8.8.8").split(",") if d]
            mtu = int(settings.get("mtu", "1420") or 1420)
            prepared, credentials = self._panels.prepare(ServerKind.WIREGUARD,
                                                         _interface_settings(wg, network, listen, dns, mtu), {})
            server = Server(kind=ServerKind.WIREGUARD, name=f"candypanel-wg{wg}",
                            address=f"{settings.get('server_ip', 'localhost')}:{listen}",
                            credentials=self._box.seal(credentials), created_at=now, settings=prepared, group=GROUP,
                            location="CandyPanel", capacity=max(1, network.num_addresses - 3), updated_at=now)
            await uow.vpn_servers.add(server)
            await audit(uow, actor_id=actor_id, action="candypanel.interface_created", target=f"server:{server.id}",
                        now=now, wg=wg)
            await uow.commit()
        return wg

    async def update(self, name: object, *, address: object = None, port: object = None, status: object = None,
                     actor_id: int | None) -> str:
        """Change an interface's range (only while it has no clients), port or active flag."""
        if not isinstance(name, str) or not re.fullmatch(r"wg\d{1,4}", name.strip()):
            raise ValidationError("name must be an interface name such as wg0", field="name")
        if status is not None and not isinstance(status, bool):
            raise ValidationError("status must be true or false", field="status")
        wg = int(name.strip()[2:])
        now = self._clock.now()
        async with self._uow() as uow:
            server = await _interface(uow, wg)
            changes: dict[str, Any] = {}
            if address is not None:
                network = _parse_network(address, "address")
                if str(network) != server.settings.get("ipv4_network"):
                    if (await uow.vpn_accounts.load_by_server()).get(server.id, 0):
                        raise ConflictError(f"wg{wg} has clients; its address range cannot change",
                                            code="INTERFACE_IN_USE")
                    changes["ipv4_network"] = str(network)
            if port is not None:
                listen = _parse_port(port, "port")
                changes["listen_port"] = listen
                server.address = f"{server.address.rsplit(':', 1)[0]}:{listen}"
            if changes:
                server.settings = {**server.settings, **changes}
            if status is not None:
                server.active = bool(status)
            server.updated_at = now
            server.validate()
            await uow.vpn_servers.update(server)
            await audit(uow, actor_id=actor_id, action="candypanel.interface_updated", target=f"server:{server.id}",
                        now=now, fields=sorted([*changes, *(["status"] if status is not None else [])]))
            await uow.commit()
        self._panels.forget(server.id)
        return f"wg{wg}"

    async def delete(self, wg: object, *, actor_id: int | None) -> str:
        """Revoke every client of ``wg<N>`` and retire the interface. NotFoundError for an unknown one."""
        wg = wg_number(wg)
        async with self._uow(read_only=True) as uow:
            server = await _interface(uow, wg)
            names = [c for c in await uow.candypanel.clients() if c.wg == wg]
        for client in names:
            await self._revoke(None, client.account_id, actor_id=actor_id)
        now = self._clock.now()
        async with self._uow() as uow:
            for client in names:
                await uow.candypanel.remove_client(client.name)
            fresh = await _interface(uow, wg)
            fresh.settings = {**fresh.settings, "candypanel_deleted": True}
            fresh.active, fresh.updated_at = False, now
            fresh.name = f"candypanel-wg{wg}-deleted-{int(now.timestamp())}"
            await uow.vpn_servers.update(fresh)
            await audit(uow, actor_id=actor_id, action="candypanel.interface_deleted", target=f"server:{server.id}",
                        now=now, clients=len(names))
            await uow.commit()
        self._panels.forget(server.id)
        return f"wg{wg}"


# ------------------------------------------------------------------------------------------ clients
@frozen
class ClientView:
    name: ClientName
    account: VpnAccount


def wg_number(raw: object, what: str = "wg_id") -> int:
    """An interface number as sent: 0, "0" (or "wg0")."""
    text = raw.strip().removeprefix("wg") if isinstance(raw, str) else None
    if type(raw) is int and 0 <= raw < 10_000:
        return raw
    if text is not None and text.isdigit() and int(text) < 10_000:
        return int(text)
    raise ValidationError(f"{what} must be a non-negative interface number", field=what)


def _check_name(raw: object) -> str:
    if not isinstance(raw, str) or not _NAME.match(raw.strip()):
        raise ValidationError("name must be 1-64 letters, digits or _ . @ -", field="name")
    return raw.strip()


def parse_traffic(raw: object) -> int | None:
    """Bytes as the document sends them (a string, or a number); 0 means unlimited (None)."""
    value: int | None = None
    if type(raw) is int:
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    if value is None or value < 0 or value > 2**62:
        raise ValidationError("traffic must be a whole number of bytes (as a string), 0 for unlimited",
                              field="traffic")
    return value or None


def parse_expiry(raw: object, now: datetime) -> datetime:
    """An ISO datetime (naive = UTC). A past one is accepted, as CandyPanel does: the client is expired at once
    (the document's own examples use dates that have passed)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("expires must be an ISO datetime such as 2025-12-31T23:59:59", field="expires")
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("expires must be an ISO datetime such as 2025-12-31T23:59:59", field="expires") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=now.tzinfo)
    if value.year < 2000:
        raise ValidationError("expires must be a date after the year 2000", field="expires")
    if value > now + timedelta(days=36525):
        raise ValidationError("expires must be within a hundred years", field="expires")
    return value


class CandyPanelClients:
    """Named WireGuard clients: each is a VPN account on a CandyPanel interface, provisioned through the panel."""

    def __init__(self, uow: CandyPanelUnitOfWorkFactory, clock: Clock, panels: PanelDirectory,
                 revoke: RevokeAccount) -> None:
        self._uow, self._clock, self._panels, self._revoke = uow, clock, panels, revoke

    async def create(self, *, owner_id: int, name: object, expires: object, traffic: object,
                     wg: object = 0, note: object = "", actor_id: int | None = None) -> ClientView:
        """Write the account and its name (ConflictError CLIENT_NAME_TAKEN for a taken name), ensure the peer on
        the interface, then start the account with exactly ``expires`` (ISO, future) and ``traffic`` bytes
        (0 = unlimited). A panel refusal revokes it again. ValidationError for bad input, nothing written."""
        client_name = _check_name(name)
        now = self._clock.now()
        expires_at = parse_expiry(expires, now)
        traffic_bytes = parse_traffic(traffic)
        wg = wg_number(wg)
        if not isinstance(note, str) or len(note) > 500:
            raise ValidationError("note must be a string of at most 500 characters", field="note")
        async with self._uow() as uow:
            settings = await _require_installed(uow)
            server = await _interface(uow, wg)
            if not server.active:
                raise ValidationError(f"interface wg{wg} is stopped", field="wg_id", code="INTERFACE_STOPPED")
            if await uow.candypanel.client(client_name) is not None:
                raise ConflictError("Client with this name already exists.", code="CLIENT_NAME_TAKEN")
            plan = await uow.vpn_plans.get(int(settings["plan_id"]))
            if plan is None:  # pragma: no cover - written by install
                raise NotFoundError("the CandyPanel plan is missing", code="PLAN_NOT_FOUND")
            account = VpnAccount.open(user_id=owner_id, plan=plan, server=server, now=now,
                                      token=new_subscription_token())
            account.traffic_limit_bytes = traffic_bytes
            account.duration_days = max(1, math.ceil((expires_at - now) / timedelta(days=1)))
            account.start_on_first_use = False
            await uow.vpn_accounts.add(account)
            await uow.candypanel.add_client(ClientName(name=client_name, account_id=account.id, wg=wg,
                                                       created_at=now, note=note.strip()))
            await audit(uow, actor_id=actor_id, action="candypanel.client_created", target=f"account:{account.id}",
                        now=now, name=client_name)
            await uow.commit()
        panel = await self._panels.panel_for(server)
        try:
            provisioned = await panel.ensure_client(account.client_spec())
        except VpnsmmError:
            await self._revoke(None, account.id, actor_id=actor_id)
            async with self._uow() as uow:
                await uow.candypanel.remove_client(client_name)
                await uow.commit()
            raise
        async with self._uow() as uow:
            fresh = await uow.vpn_accounts.get(account.id)
            assert fresh is not None
            fresh.provisioned(remote_id=provisioned.remote_id, links=provisioned.links, config=provisioned.config,
                              subscription_url=provisioned.subscription_url, now=self._clock.now())
            fresh.expires_at = expires_at
            fresh.check_expiry(self._clock.now())
            await uow.vpn_accounts.update(fresh)
            await uow.commit()
        await push_account(self._uow, self._clock, panel, fresh)
        return await self.get(client_name)

    async def get(self, name: object) -> ClientView:
        client_name = _check_name(name)
        async with self._uow(read_only=True) as uow:
            found = await uow.candypanel.client(client_name)
            account = await uow.vpn_accounts.get(found.account_id) if found is not None else None
        if found is None or account is None:
            raise NotFoundError(f"Client '{client_name}' not found.", code="CLIENT_NOT_FOUND")
        return ClientView(found, account)

    async def config(self, name: object) -> str:
        view = await self.get(name)
        if view.account.config is None or view.account.status in (AccountStatus.PENDING, AccountStatus.REVOKED):
            raise ValidationError(f"client '{view.name.name}' has no config", field="name", code="NO_CONFIG")
        return view.account.config

    async def list(self) -> list[ClientView]:
        async with self._uow(read_only=True) as uow:
            names = await uow.candypanel.clients()
            views = []
            for client in names:
                account = await uow.vpn_accounts.get(client.account_id)
                if account is not None:
                    views.append(ClientView(client, account))
        return views

    async def of_user(self, user_id: int) -> ClientView | None:
        """The user's newest client that is not revoked."""
        async with self._uow(read_only=True) as uow:
            for client in reversed(list(await uow.candypanel.clients())):
                account = await uow.vpn_accounts.get(client.account_id)
                if account is not None and account.user_id == user_id and account.status is not AccountStatus.REVOKED:
                    return ClientView(client, account)
        return None

    async def update(self, name: object, *, expires: object = None, traffic: object = None,
                     expires_at: datetime | None = None, traffic_bytes: int | None = None,
                     enabled: bool | None = None, note: str | None = None,
                     actor_id: int | None = None) -> ClientView:
        """Set the given fields (None leaves one alone; ``traffic`` "0" clears the quota) and push to the panel.
        ``expires``/``traffic`` are the wire values, ``expires_at``/``traffic_bytes`` already parsed ones."""
        view = await self.get(name)
        unlimited = False
        if expires is not None:
            expires_at = parse_expiry(expires, self._clock.now())
        if traffic is not None:
            traffic_bytes = parse_traffic(traffic)
            unlimited = traffic_bytes is None
        if note is not None and len(note) > 500:
            raise ValidationError("note must be at most 500 characters", field="note")
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.vpn_accounts.get(view.account.id)
            assert account is not None
            if account.status is AccountStatus.REVOKED:
                raise NotFoundError(f"Client '{view.name.name}' not found.", code="CLIENT_NOT_FOUND")
            if expires_at is not None:
                account.expires_at = expires_at
            if traffic_bytes is not None or unlimited:
                account.traffic_limit_bytes = None if unlimited else traffic_bytes
            if enabled is True:
                account.enable(now)
            elif enabled is False:
                account.disable(now)
            account.check_expiry(now)
            account.updated_at = now
            account.needs_push = True
            await uow.vpn_accounts.update(account)
            if note is not None:
                await uow.candypanel.update_client(ClientName(name=view.name.name, account_id=account.id,
                                                              wg=view.name.wg, created_at=view.name.created_at,
                                                              note=note.strip()))
            await audit(uow, actor_id=actor_id, action="candypanel.client_updated", target=f"account:{account.id}",
                        now=now, name=view.name.name)
            await uow.commit()
            server = await uow.vpn_servers.get(account.server_id)
        if server is not None and account.status is not AccountStatus.PENDING:
            await push_account(self._uow, self._clock, await self._panels.panel_for(server), account)
        return await self.get(view.name.name)

    async def delete(self, name: object, *, actor_id: int | None = None) -> str:
        """Revoke the account (panel first) and free the name. NotFoundError for an unknown name."""
        view = await self.get(name)
        await self._revoke(None, view.account.id, actor_id=actor_id)
        async with self._uow() as uow:
            await uow.candypanel.remove_client(view.name.name)
            await uow.commit()
        return view.name.name

    async def name_account(self, account: VpnAccount, name: str) -> ClientName:
        """Give an account (made by the fulfiller) its CandyPanel name, once. Idempotent."""
        now = self._clock.now()
        async with self._uow() as uow:
            existing = await uow.candypanel.client_of_account(account.id)
            if existing is not None:
                return existing
            server = await uow.vpn_servers.get(account.server_id)
            wg = _wg_of(server) if server is not None else None
            client = ClientName(name=name, account_id=account.id, wg=wg or 0, created_at=now)
            try:
                await uow.candypanel.add_client(client)
                await uow.commit()
                return client
            except ConflictError:
                pass  # a concurrent approval named it first: use that name
        async with self._uow(read_only=True) as uow:
            raced = await uow.candypanel.client_of_account(account.id)
        if raced is None:
            raise ConflictError(f"Client with the name {name!r} already exists.", code="CLIENT_NAME_TAKEN")
        return raced


# ------------------------------------------------------------------------------------------ API tokens
class CandyPanelTokens:
    """Named API tokens chosen by the admin, accepted as ``Authorization: Bearer <token>``. Stored as SHA-256."""

    def __init__(self, uow: CandyPanelUnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def put(self, name: object, token: object, *, user_id: int) -> str:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
            raise ValidationError("name must be 1-100 characters", field="name")
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise ValidationError("token must be 8-200 characters without spaces", field="token")
        async with self._uow() as uow:
            await uow.candypanel.put_token(ApiTokenRecord(name=name.strip(), token_hash=token_hash(token),
                                                          user_id=user_id, created_at=self._clock.now()))
            await audit(uow, actor_id=user_id, action="candypanel.api_token_set", target=f"api_token:{name.strip()}",
                        now=self._clock.now())
            await uow.commit()
        return name.strip()

    async def delete(self, name: object, *, actor_id: int | None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name is required", field="name")
        async with self._uow() as uow:
            if not await uow.candypanel.remove_token(name.strip()):
                raise NotFoundError(f"API token '{name.strip()}' not found.", code="API_TOKEN_NOT_FOUND")
            await audit(uow, actor_id=actor_id, action="candypanel.api_token_deleted",
                        target=f"api_token:{name.strip()}", now=self._clock.now())
            await uow.commit()
        return name.strip()

    async def names(self) -> list[str]:
        async with self._uow(read_only=True) as uow:
            return [t.name for t in await uow.candypanel.tokens()]

    async def authenticate(self, token: str) -> Principal:
        """The token's owner, who must still be an active admin. AuthenticationError otherwise."""
        digest = token_hash(token) if _TOKEN.match(token or "") else ""
        async with self._uow(read_only=True) as uow:
            record = await uow.candypanel.token_by_hash(digest) if digest else None
            user = await uow.users.get(record.user_id) if record is not None else None
        if record is None or not hmac.compare_digest(record.token_hash, digest) or user is None:
            raise AuthenticationError("Invalid authentication credentials", code="INVALID_TOKEN")
        if not user.is_active:
            raise AuthenticationError("this account is not active", code="ACCOUNT_BANNED")
        return Principal(user=user)


# ------------------------------------------------------------------------------------------ sync
@frozen
class SyncResult:
    servers: int
    failed: Mapping[int, str]
    enforced: int


class CandyPanelSync:
    """Read usage from every CandyPanel interface and enforce expiry/quota now (what CandyPanel's sync does)."""

    def __init__(self, uow: CandyPanelUnitOfWorkFactory, sync: SyncUsage, enforce: EnforceLimits) -> None:
        self._uow, self._sync, self._enforce = uow, sync, enforce

    async def __call__(self) -> SyncResult:
        async with self._uow(read_only=True) as uow:
            servers = await _candy_servers(uow)
        failed: dict[int, str] = {}
        for wg, server in servers.items():
            try:
                await self._sync(server.id)
            except UpstreamError as exc:
                failed[wg] = exc.message
        report = await self._enforce()
        return SyncResult(servers=len(servers), failed=failed, enforced=len(report.changed))


# ------------------------------------------------------------------------------------------ the bot
@frozen
class BotUser:
    user: User
    client: ClientView | None


@frozen
class Quote:
    prices: Mapping[str, int]
    admin_card_number: str
    admin_telegram_id: int | None
    amount: int  # toman
    order: CardOrder | None = None  # set when the purchase was submitted


@frozen
class OrderView:
    order: CardOrder
    payment: Payment

    @property
    def status(self) -> str:
        """CandyPanel's transaction status: pending, approved or rejected."""
        if self.payment.status is PaymentStatus.PAID:
            return "approved"
        if self.payment.status in (PaymentStatus.REJECTED, PaymentStatus.CANCELED, PaymentStatus.FAILED):
            return "rejected"
        return "pending"


@frozen
class Approval:
    order: CardOrder
    client: ClientView


def _card_claim(order_id: str, card_number_sent: str) -> CardTransferClaim:
    # CandyPanel's bot sends free text ("User confirmed payment"); the order id stands in for the bank reference
    # and the last four digits in the text (0000 when it has none) for the payer's card; the text itself is kept.
    reference = re.sub(r"[^A-Za-z0-9]", "", order_id)[:40].ljust(4, "0")
    digits = re.sub(r"\D", "", card_number_sent)
    return CardTransferClaim(transaction_id=reference, card_last4=digits[-4:] if len(digits) >= 4 else "0000",
                             receipt_ref=card_number_sent[:255])


def _positive_quantity(raw: object) -> int:
    value: int | None = None
    if type(raw) is int:
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not 1 <= value <= 10_000:
        raise ValidationError("quantity must be a whole number from 1 to 10000", field="quantity")
    return value


def telegram_id_of(raw: object, field: str = "telegram_id") -> int:
    value: int | None = None
    if type(raw) is int:
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not 0 < value < 2**63:
        raise ValidationError(f"{field} must be a numeric Telegram id", field=field)
    return value


class CandyPanelBot:
    """The Telegram bot's use cases: users, card-to-card purchases and their review, broadcasts, support."""

    def __init__(self, uow: CandyPanelUnitOfWorkFactory, clock: Clock, setup: CandyPanelSetup,
                 clients: CandyPanelClients, register_user: RegisterUser, set_user_status: SetUserStatus,
                 create_invoice: CreateInvoice, pay_invoice: PayInvoice, submit_receipt: SubmitCardReceipt,
                 review: ReviewCardPayment, fulfil: FulfilInvoice) -> None:
        self._uow, self._clock, self._setup, self._clients = uow, clock, setup, clients
        self._register, self._set_status = register_user, set_user_status
        self._create, self._pay, self._submit, self._review, self._fulfil = (
            create_invoice, pay_invoice, submit_receipt, review, fulfil)

    # -- users ------------------------------------------------------------------------------------------------
    async def register(self, telegram_id: int) -> tuple[User, bool]:
        """The user with this Telegram id, created if new (True). Idempotent."""
        async with self._uow(read_only=True) as uow:
            existing = await uow.users.get_by_telegram_id(telegram_id)
        if existing is not None:
            return existing, False
        try:
            user = await self._register(RegisterUserCommand(username=f"tg_{telegram_id}",
                                                            password=secrets.token_urlsafe(24),
                                                            telegram_id=telegram_id))
        except ConflictError:
            async with self._uow(read_only=True) as uow:
                raced = await uow.users.get_by_telegram_id(telegram_id)
            if raced is None:
                raise
            return raced, False
        return user, True

    async def user(self, telegram_id: int, *, allow_banned: bool = False) -> BotUser:
        """A registered bot user. NotFoundError if unknown, PermissionDeniedError if banned."""
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get_by_telegram_id(telegram_id)
        if user is None:
            raise NotFoundError("User not registered. Register with /bot_api/user/register first.",
                                code="USER_NOT_FOUND")
        if not allow_banned and not user.is_active:
            raise PermissionDeniedError("You are banned from using this service.", code="USER_BANNED")
        return BotUser(user, await self._clients.of_user(user.id))

    async def all_users(self) -> list[BotUser]:
        users: list[User] = []
        async with self._uow(read_only=True) as uow:
            offset = 0
            while batch := await uow.users.list(UserFilter(), limit=500, offset=offset):
                users += [u for u in batch if u.telegram_id is not None]
                offset += len(batch)
        return [BotUser(u, await self._clients.of_user(u.id)) for u in users]

    # -- admin -------------------------------------------------------------------------------------------------
    async def is_admin(self, telegram_id: int) -> bool:
        admin = await self._setup.admin_telegram_id()
        return admin is not None and hmac.compare_digest(str(admin), str(telegram_id))

    async def require_admin(self, telegram_id: int) -> int:
        """The user id that acts for the bot admin (the installed admin, or the admin's own user)."""
        if not await self.is_admin(telegram_id):
            raise PermissionDeniedError("Unauthorized: this Telegram id is not the bot admin.", code="NOT_ADMIN")
        async with self._uow(read_only=True) as uow:
            settings = await _require_installed(uow)
            linked = await uow.users.get_by_telegram_id(telegram_id)
        if linked is not None and linked.role.at_least(Role.ADMIN):
            return linked.id
        return int(settings["admin_user_id"])

    # -- buying -----------------------------------------------------------------------------------------------
    async def quote(self, telegram_id: int, purchase_type: object, quantity: object, *, order_id: object = None,
                    card_number_sent: object = None) -> Quote:
        """Price a purchase; with ``order_id`` and ``card_number_sent`` also submit it for review.

        The submission opens an invoice (``vpn_purchase`` for the user's first client, ``vpn_addon`` for their
        live one), starts a card-to-card payment and records the transfer claim. Repeating the same order id with
        the same purchase returns the same order; ConflictError ORDER_ID_TAKEN for a different one.
        """
        if purchase_type not in ("gb", "month"):
            raise ValidationError("purchase_type must be 'gb' or 'month'", field="purchase_type")
        count = _positive_quantity(quantity)
        bot_user = await self.user(telegram_id)
        async with self._uow(read_only=True) as uow:
            settings = await _require_installed(uow)
        prices = parse_prices(settings.get("prices") or json.dumps(DEFAULT_PRICES))
        amount = prices["1GB" if purchase_type == "gb" else "1Month"] * count
        quote = Quote(prices=prices, admin_card_number=settings.get("admin_card_number", ""),
                      admin_telegram_id=await self._setup.admin_telegram_id(), amount=amount)
        if order_id is None and card_number_sent is None:
            return quote
        if not isinstance(order_id, str) or not _ORDER_ID.match(order_id.strip()):
            raise ValidationError("order_id must be 1-64 letters, digits or _ . : -", field="order_id")
        if not isinstance(card_number_sent, str) or not card_number_sent.strip() or len(card_number_sent) > 255:
            raise ValidationError("card_number_sent must be 1-255 characters", field="card_number_sent")
        oid, sent = order_id.strip(), card_number_sent.strip()
        user_id = bot_user.user.id

        def same(found: CardOrder) -> CardOrder:
            if (found.user_id, found.purchase_type, found.quantity) != (user_id, purchase_type, count):
                raise ConflictError("this order_id is already used", code="ORDER_ID_TAKEN")
            return found

        # Claim the order id first (its primary key decides between concurrent submissions), then make the
        # invoice and card payment; a retry after a crash in between resumes the claimed order.
        async with self._uow(read_only=True) as uow:
            existing = await uow.candypanel.order(oid)
        claimed: CardOrder | None = None
        if existing is None:
            claimed = CardOrder(order_id=oid, user_id=user_id, telegram_id=telegram_id, invoice_id=None,
                                payment_id=None, purchase_type=purchase_type, quantity=count, amount=amount,
                                card_number_sent=sent, requested_at=self._clock.now())
            try:
                async with self._uow() as uow:
                    await uow.candypanel.add_order(claimed)
                    await uow.commit()
                existing = claimed
            except ConflictError:
                async with self._uow(read_only=True) as uow:
                    raced = await uow.candypanel.order(oid)
                if raced is None:
                    raise
                if same(raced).payment_id is None:
                    raise ConflictError(f"order {oid} is being submitted; retry shortly",
                                        code="ORDER_IN_PROGRESS") from None
                existing = raced
        order = same(existing)
        if order.payment_id is None:
            if order is not claimed and self._clock.now() - order.requested_at < CLAIM_RESUME_AFTER:
                # another request is making this order's payment right now
                raise ConflictError(f"order {oid} is being submitted; retry shortly", code="ORDER_IN_PROGRESS")
            order = await self._submit_order(order, bot_user, settings)
        return Quote(prices=prices, admin_card_number=quote.admin_card_number,
                     admin_telegram_id=quote.admin_telegram_id, amount=order.amount, order=order)

    async def _submit_order(self, order: CardOrder, bot_user: BotUser, settings: Mapping[str, str]) -> CardOrder:
        """The claimed order's invoice, card payment and transfer claim; each step idempotent, so it resumes."""
        user_id, oid, count = order.user_id, order.order_id, order.quantity
        price = Money(order.amount, CURRENCY)
        client = bot_user.client
        if client is None:
            gb = order.purchase_type == "gb"
            new = NewInvoice(user_id=user_id, purpose=InvoicePurpose.VPN_PURCHASE, amount=price,
                             description=f"CandyPanel {count} {'GB' if gb else 'month(s)'} (order {oid})",
                             item={"plan_id": int(settings["plan_id"]), "server_group": GROUP, "location": None,
                                   "duration_days": GB_PURCHASE_DAYS if gb else MONTH_DAYS * count,
                                   "traffic_bytes": count * GIB if gb else None, "candypanel_order": oid},
                             idempotency_key=f"candypanel:{oid}")
        else:
            kind = AddOnKind.TRAFFIC if order.purchase_type == "gb" else AddOnKind.DAYS
            new = NewInvoice(user_id=user_id, purpose=InvoicePurpose.VPN_ADDON, amount=price,
                             description=f"CandyPanel add-on {count} {order.purchase_type} (order {oid})",
                             item={"account_id": client.account.id, "kind": kind.value, "quantity": count,
                                   "traffic_bytes": count * GIB if kind is AddOnKind.TRAFFIC else 0,
                                   "days": count * MONTH_DAYS if kind is AddOnKind.DAYS else 0,
                                   "candypanel_order": oid},
                             idempotency_key=f"candypanel:{oid}")
        invoice = await self._create(new)
        async with self._uow(read_only=True) as uow:
            started = [p for p in await uow.payments.for_invoice(invoice.id)
                       if p.gateway is Gateway.CARD and p.status in (PaymentStatus.PENDING, PaymentStatus.SUBMITTED)]
        payment_id = started[0].id if started else (await self._pay(user_id, invoice.id, Gateway.CARD)).payment.id
        payment = await self._submit(user_id, payment_id, _card_claim(oid, order.card_number_sent))
        async with self._uow() as uow:
            await uow.candypanel.attach_payment(oid, invoice.id, payment.id)
            await uow.commit()
        return CardOrder(order_id=oid, user_id=user_id, telegram_id=order.telegram_id, invoice_id=invoice.id,
                         payment_id=payment.id, purchase_type=order.purchase_type, quantity=count,
                         amount=order.amount, card_number_sent=order.card_number_sent,
                         requested_at=order.requested_at)

    async def orders(self, status: str | None = None) -> list[OrderView]:
        if status not in (None, "all", "pending", "approved", "rejected"):
            raise ValidationError("status_filter must be pending, approved, rejected or all", field="status_filter")
        views: list[OrderView] = []
        async with self._uow(read_only=True) as uow:
            for order in await uow.candypanel.orders():
                payment = await uow.payments.get(order.payment_id) if order.payment_id is not None else None
                if payment is not None:
                    views.append(OrderView(order, payment))
        return [v for v in views if status in (None, "all") or v.status == status]

    async def _order(self, order_id: object) -> tuple[CardOrder, int, int]:
        """The submitted order with its payment and invoice ids."""
        if not isinstance(order_id, str) or not order_id.strip():
            raise ValidationError("order_id is required", field="order_id")
        async with self._uow(read_only=True) as uow:
            order = await uow.candypanel.order(order_id.strip())
        if order is None:
            raise NotFoundError(f"Transaction {order_id.strip()} not found.", code="TRANSACTION_NOT_FOUND")
        if order.payment_id is None or order.invoice_id is None:
            raise ConflictError(f"Transaction {order.order_id} is still being submitted.", code="ORDER_IN_PROGRESS")
        return order, order.payment_id, order.invoice_id

    async def approve(self, admin_telegram_id: int, order_id: object, note: str = "") -> Approval:
        """Approve the order's card payment (credits once), deliver it (creates the WireGuard client on the first
        purchase, extends it afterwards) and name the client. Repeating it returns the same client and credits
        nothing; after a rejection it raises InvalidTransitionError."""
        actor = await self.require_admin(admin_telegram_id)
        order, payment_id, invoice_id = await self._order(order_id)
        await self._review(actor, payment_id, approve=True, text=note)
        invoice = await self._fulfil(invoice_id)  # idempotent; retries a delivery that failed transiently
        if invoice.status is not InvoiceStatus.FULFILLED:
            raise UpstreamRejectedError(
                f"Transaction {order.order_id} was approved but the client could not be created"
                + (" (the amount was refunded to the user's wallet)" if invoice.status is InvoiceStatus.REFUNDED
                   else "; approve again to retry") + f": {invoice.last_error}", code="FULFILMENT_FAILED")
        async with self._uow() as uow:
            account = (await uow.vpn_accounts.get_by_invoice(invoice.id)
                       if invoice.purpose is InvoicePurpose.VPN_PURCHASE
                       else await uow.vpn_accounts.get(int(invoice.item["account_id"])))
            stored = await uow.candypanel.order(order.order_id)
            if stored is not None and stored.admin_note is None and note:
                await uow.candypanel.set_admin_note(order.order_id, note[:500])
                await uow.commit()
        if account is None:  # pragma: no cover - a fulfilled purchase has its account
            raise NotFoundError("the delivered account is missing", code="ACCOUNT_NOT_FOUND")
        name = await self._clients.name_account(
            account, f"user_{order.telegram_id}_{int(order.requested_at.timestamp())}")
        return Approval(order, await self._clients.get(name.name))

    async def reject(self, admin_telegram_id: int, order_id: object, note: str = "") -> CardOrder:
        """Reject the order's card payment: final, nothing is credited. Repeating it is a no-op; after an
        approval it raises InvalidTransitionError."""
        actor = await self.require_admin(admin_telegram_id)
        order, payment_id, _ = await self._order(order_id)
        await self._review(actor, payment_id, approve=False, text=note or "Rejected by the admin")
        if note:
            async with self._uow() as uow:
                stored = await uow.candypanel.order(order.order_id)
                if stored is not None and stored.admin_note is None:
                    await uow.candypanel.set_admin_note(order.order_id, note[:500])
                    await uow.commit()
        return order

    # -- management -------------------------------------------------------------------------------------------
    async def manage_user(self, admin_telegram_id: int, target_telegram_id: int, action: object,
                          value: object = None) -> str:
        """ban / unban (the user's bot access), update_traffic (quota := value GB), update_time (expiry :=
        now + value days) of the user's client. Returns CandyPanel's message."""
        actor = await self.require_admin(admin_telegram_id)
        target = await self.user(target_telegram_id, allow_banned=True)
        if action in ("ban", "unban"):
            await self._set_status(target.user.id, banned=action == "ban", reason="banned by the bot admin")
            return f"User {target_telegram_id} has been {'banned' if action == 'ban' else 'unbanned'}."
        if action not in ("update_traffic", "update_time"):
            raise ValidationError("action must be ban, unban, update_traffic or update_time", field="action")
        amount = _positive_quantity(value)
        if target.client is None:
            raise NotFoundError(f"User {target_telegram_id} has no client yet.", code="CLIENT_NOT_FOUND")
        if action == "update_traffic":
            await self._clients.update(target.client.name.name, traffic_bytes=amount * GIB, actor_id=actor)
            return f"Traffic for user {target_telegram_id} set to {amount} GB."
        await self._clients.update(target.client.name.name,
                                   expires_at=self._clock.now() + timedelta(days=amount), actor_id=actor)
        return f"Time for user {target_telegram_id} set to {amount} days."

    async def broadcast(self, admin_telegram_id: int, message: object) -> OutboxMessage:
        """Record a broadcast to every active bot user in the outbox (the bot sends it)."""
        await self.require_admin(admin_telegram_id)
        text = _message(message)
        recipients = [u.user.telegram_id for u in await self.all_users()
                      if u.user.status is UserStatus.ACTIVE and u.user.telegram_id is not None]
        return await self._outbox("broadcast", admin_telegram_id, recipients, text)

    async def call_support(self, telegram_id: int, message: object) -> tuple[OutboxMessage, int | None]:
        """Record the user's support request for the admin in the outbox; returns it and the admin's id."""
        await self.user(telegram_id)
        text = _message(message)
        admin = await self._setup.admin_telegram_id()
        support = f"Support request from User {telegram_id} (ID: {telegram_id}):\n\n{text}"
        return await self._outbox("support", telegram_id, [admin] if admin else [], support), admin

    async def _outbox(self, kind: str, sender: int, recipients: Sequence[int], text: str) -> OutboxMessage:
        async with self._uow() as uow:
            stored = await uow.candypanel.add_message(OutboxMessage(kind=kind, sender_telegram_id=sender,
                                                                    recipients=list(recipients), message=text,
                                                                    created_at=self._clock.now()))
            await uow.commit()
        return stored


def _message(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 4096:
        raise ValidationError("message must be 1-4096 characters", field="message")
    return raw.strip()


__all__ = ["CandyPanelBot", "CandyPanelClients", "CandyPanelInterfaces", "CandyPanelSetup", "CandyPanelSync",
           "CandyPanelTokens", "InstallCommand", "parse_expiry", "parse_prices", "parse_traffic", "telegram_id_of"]
