"""Load a ready-to-try dataset so a newcomer can exercise every flow in a minute.

Each area contributes a step; the report lists what was created, credentials included. Running it
again is safe: existing demo users are kept and get fresh passwords, so the printed ones always work.
"""

from __future__ import annotations

import secrets

from attrs import define, field, frozen

from vpnsmm.application.identity import RegisterUser, RegisterUserCommand, SetPassword
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.identity import Role


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


class LoadDemoData:
    """Create (or refresh) the demo users. Idempotent; returns what it did."""

    def __init__(self, uow: UnitOfWorkFactory, register: RegisterUser, set_password: SetPassword) -> None:
        self._uow, self._register, self._set_password = uow, register, set_password

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
        return report
