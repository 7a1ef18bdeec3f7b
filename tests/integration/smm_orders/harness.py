"""An SMM world for tests: the SMM use cases over a unit of work and a simulated provider (no network)."""

from __future__ import annotations

import httpx

from tests.conftest import FrozenClock
from vpnsmm.adapters.smm.registry import FernetSecretCipher, ProviderRegistry
from vpnsmm.adapters.smm.simulated_panel import SimulatedPanel
from vpnsmm.application.billing import Wallets
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.application.smm import (
    AdminOrders,
    ManageProviders,
    ManageServices,
    NewOrder,
    NewProvider,
    OrderStatistics,
    PlaceOrder,
    SmmCatalogue,
    SmmOrders,
    SubmitOrders,
    SyncOrders,
)
from vpnsmm.domain.identity import User
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm_orders import Provider, ProviderKind, Service

USD = Currency.USD


class SmmWorld:
    def __init__(self, uow: UnitOfWorkFactory, clock: FrozenClock, *, shop: Currency = USD) -> None:
        self.uow, self.clock = uow, clock
        self.http = httpx.AsyncClient()
        self.cipher = FernetSecretCipher("test secret key")
        self.registry = ProviderRegistry(self.http, self.cipher)
        self.submit = SubmitOrders(uow, clock, self.registry)
        self.place = PlaceOrder(uow, clock, self.submit)
        self.sync = SyncOrders(uow, clock, self.registry)
        self.catalogue = SmmCatalogue(uow)
        self.orders = SmmOrders(uow, clock, self.registry)
        self.admin = AdminOrders(uow, clock, self.submit, self.orders)
        self.providers = ManageProviders(uow, clock, self.registry, self.cipher, shop)
        self.services = ManageServices(uow, clock)
        self.stats = OrderStatistics(uow, clock)
        self.wallets = Wallets(uow, clock)
        self.provider: Provider | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def user(self, name: str) -> User:
        async with self.uow() as uow:
            user = await uow.users.add(User.register(username=name, password_hash="x", joined_at=self.clock.now()))
            await uow.commit()
        return user

    async def fund(self, user: User, amount: str, currency: Currency = USD) -> None:
        await self.wallets.adjust(actor_id=None, user_id=user.id, amount=Money.parse(amount, currency),
                                  reason="test funds", idempotency_key=f"fund-{user.id}-{amount}-{currency.value}")

    async def balance(self, user: User, currency: Currency = USD) -> Money:
        return (await self.wallets.balance(user.id, currency)).balance

    async def with_simulated_provider(self, *, markup: str = "0", exchange_rate: str = "1") -> Provider:
        provider = await self.providers.add(NewProvider(
            name="sim", api_url="http://simulated.invalid/api/v2", api_key="sim-key", kind=ProviderKind.SIMULATED,
            currency=USD, exchange_rate=exchange_rate))
        await self.providers.sync_services(provider.id, markup=markup)
        self.provider = provider
        return provider

    @property
    def panel(self) -> SimulatedPanel:
        assert self.provider is not None
        return self.registry.simulated_panel(self.provider)

    async def service(self, provider_service_id: str) -> Service:
        found = [p.service for p in await self.catalogue.services(active=None)
                 if p.service.provider_service_id == provider_service_id]
        assert found, provider_service_id
        return found[0]

    async def order(self, user: User, provider_service_id: str = "1", **fields: object) -> NewOrder:
        service = await self.service(provider_service_id)
        values: dict[str, object] = {"link": "https://instagram.com/p/abc", "quantity": 1000}
        values.update(fields)
        return NewOrder(user_id=user.id, service_id=service.id, **values)  # type: ignore[arg-type]

    async def books_balance(self) -> None:
        async with self.uow(read_only=True) as uow:
            totals = await uow.ledger.totals()
            assert all(t.balanced for t in totals.values()), totals
