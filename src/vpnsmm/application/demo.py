"""Load a ready-to-try dataset so a newcomer can exercise every flow in a minute.

Each area contributes a step; the report lists what was created, credentials included. Running it
again is safe: existing demo users are kept and get fresh passwords, so the printed ones always work.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from attrs import define, field, frozen

from vpnsmm.application.billing import Wallets
from vpnsmm.application.identity import RegisterUser, RegisterUserCommand, SetPassword
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.identity import Role
from vpnsmm.domain.money import Currency, Money


@frozen
class DemoCredential:
    username: str
    password: str
    role: Role
    created: bool  # False when the user existed and only the password was reset


@define
class DemoReport:
    credentials: list[DemoCredential] = field(factory=list)
    notes: list[str] = field(factory=list)


DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("demo-admin", Role.ADMIN, "admin@demo.vpnsmm.local"),
    ("demo-reseller", Role.RESELLER, "reseller@demo.vpnsmm.local"),
    ("demo", Role.USER, "demo@demo.vpnsmm.local"),
)


DEMO_FUNDS: tuple[Money, ...] = (Money(5_000_000, Currency.IRR), Money(5_000, Currency.USD))


class LoadDemoData:
    """Create (or refresh) the demo users. Idempotent; returns what it did."""

    def __init__(self, uow: UnitOfWorkFactory, register: RegisterUser, set_password: SetPassword,
                 wallets: Wallets | None = None, vpn: Callable[[], Awaitable[list[str]]] | None = None,
                 smm: Callable[[], Awaitable[list[str]]] | None = None) -> None:
        self._uow, self._register, self._set_password = uow, register, set_password
        self._wallets = wallets
        self._vpn = vpn  # the VPN step (plans and a demo server), see application/vpn.py
        self._smm = smm  # the SMM step (a simulated provider and its services), see application/smm.py

    async def __call__(self) -> DemoReport:
        report = DemoReport()
        for username, role, email in DEMO_USERS:
            password = "demo-" + secrets.token_urlsafe(9)
            async with self._uow(read_only=True) as uow:
                existing = await uow.users.get_by_username(username)
            if existing is None:
                await self._register(RegisterUserCommand(username=username, password=password, email=email, role=role))
            else:
                await self._set_password(existing.id, password)
            report.credentials.append(DemoCredential(username, password, role, created=existing is None))
        if self._wallets is not None:
            await self._fund(report)
        if self._vpn is not None:
            report.notes += await self._vpn()
        if self._smm is not None:
            report.notes += await self._smm()
        return report

    async def _fund(self, report: DemoReport) -> None:
        """Give the demo customer and reseller money to spend (once: the keys make re-runs no-ops)."""
        async with self._uow(read_only=True) as uow:
            users = {name: await uow.users.get_by_username(name) for name in ("demo", "demo-reseller")}
        assert self._wallets is not None
        for name, user in users.items():
            if user is None:
                continue
            for amount in DEMO_FUNDS:
                await self._wallets.adjust(actor_id=None, user_id=user.id, amount=amount, reason="demo funds",
                                           idempotency_key=f"demo-fund-{user.id}-{amount.currency.value}")
            report.notes.append(f"{name}'s wallet holds " + " and ".join(str(m) for m in DEMO_FUNDS))
