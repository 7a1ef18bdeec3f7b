"""Test support for programs built on vpnsmm: Hypothesis strategies for domain values and the in-memory fakes
of every port. Needs the ``testing`` extra (``pip install vpnsmm[testing]``) for the strategies.

vpnsmm's own test suite uses these same strategies and fakes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vpnsmm.adapters.memory import InMemoryUnitOfWorkFactory
from vpnsmm.adapters.memory_ledger import InMemoryLedger
from vpnsmm.adapters.panels.fake import FakeVpnPanel
from vpnsmm.adapters.payments.memory import InMemoryPaymentGateway
from vpnsmm.adapters.smm.fake_provider import FakeSmmProvider
from vpnsmm.testing.strategies import (
    amounts,
    currencies,
    exchange_rates,
    invalid_usernames,
    money,
    transfer_requests,
    usernames,
)

__all__ = [
    "FakeSmmProvider", "FakeVpnPanel", "FrozenClock", "InMemoryLedger", "InMemoryPaymentGateway",
    "InMemoryUnitOfWorkFactory", "amounts", "currencies", "exchange_rates", "invalid_usernames", "money",
    "transfer_requests", "usernames",
]


class FrozenClock:
    """A ``Clock`` that stands still until told to move (``advance(minutes=5)``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)
