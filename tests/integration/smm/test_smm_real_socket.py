"""PerfectPanelProvider over a real TCP socket: the simulated provider served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from vpnsmm.adapters.smm import PerfectPanelProvider, SimulatedPanel, create_app
from vpnsmm.application.ports.smm_provider import AddOrder, ProviderOrderStatus, ProviderRejectedError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import OrderStatus


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served() -> AsyncIterator[tuple[SimulatedPanel, str]]:
    panel = SimulatedPanel(api_key="socket-key", balance="10.00000")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(panel), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    yield panel, f"http://127.0.0.1:{port}/api/v2"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=5)


async def test_adapter_over_a_real_socket(served: tuple[SimulatedPanel, str]) -> None:
    panel, url = served
    async with httpx.AsyncClient(timeout=5) as client:
        provider = PerfectPanelProvider(client, url, "socket-key", currency_hint=Currency.USD)

        assert len(await provider.services()) == 12
        order_id = await provider.add(AddOrder(service="1", link="https://x.com/a", quantity=1000))
        panel.advance(order_id, OrderStatus.COMPLETED)
        state = (await provider.status([order_id, "1"]))[order_id]
        assert isinstance(state, ProviderOrderStatus)
        assert (state.status, state.remains) == (OrderStatus.COMPLETED, 0)
        assert await provider.balance() == Money.parse("9.10", Currency.USD)

        wrong = PerfectPanelProvider(client, url, "nope")
        with pytest.raises(ProviderRejectedError, match="Invalid API key"):
            await wrong.balance()
