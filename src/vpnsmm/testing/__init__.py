"""Test support for programs built on vpnsmm: Hypothesis strategies for domain values and entities (money in
every currency, plans, SMM services and orders, ledger operations, valid and invalid panel payloads), the
in-memory fakes of every port, and the packaged contract suites (:mod:`vpnsmm.testing.contracts`).
Needs the ``testing`` extra (``pip install vpnsmm[testing]``) for the strategies.

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
    add_orders,
    amounts,
    client_keys,
    client_specs,
    currencies,
    exchange_rates,
    invalid_client_keys,
    invalid_marzban_user_payloads,
    invalid_plan_changes,
    invalid_usernames,
    invalid_xui_client_payloads,
    ledger_operations,
    marzban_user_payloads,
    money,
    plan_drafts,
    plans,
    provider_services,
    smm_orders,
    smm_services,
    transfer_requests,
    usernames,
    xui_client_payloads,
    xui_envelopes,
)

__all__ = [
    "FakeSmmProvider", "FakeVpnPanel", "FrozenClock", "InMemoryLedger", "InMemoryPaymentGateway",
    "InMemoryUnitOfWorkFactory", "add_orders", "amounts", "client_keys", "client_specs", "currencies",
    "exchange_rates", "invalid_client_keys", "invalid_marzban_user_payloads", "invalid_plan_changes",
    "invalid_usernames", "invalid_xui_client_payloads", "ledger_operations", "marzban_user_payloads", "money",
    "plan_drafts", "plans", "provider_services", "smm_orders", "smm_services", "transfer_requests", "usernames",
    "xui_client_payloads", "xui_envelopes",
]


class FrozenClock:
    """A ``Clock`` that stands still until told to move (``advance(minutes=5)``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)
