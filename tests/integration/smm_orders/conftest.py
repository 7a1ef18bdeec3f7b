"""The SMM world (use cases over a unit of work of each backend, a simulated provider) for these tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import FrozenClock
from tests.integration.smm_orders.harness import SmmWorld
from vpnsmm.application.ports.persistence import UnitOfWorkFactory


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> AsyncIterator[SmmWorld]:
    w = SmmWorld(uow_factory, clock)
    await w.with_simulated_provider()
    yield w
    await w.close()
