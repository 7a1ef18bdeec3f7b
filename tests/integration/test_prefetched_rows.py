"""Rows read together to save a round trip (an API key with its owner, a service with its provider) are never
served stale: a change made in the same unit of work in between is what the next read returns. Every backend."""

from __future__ import annotations

from datetime import UTC, datetime

from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.domain.identity import ApiKey, User, UserStatus
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.smm import ServiceType
from vpnsmm.domain.smm_orders import Category, Provider, ProviderKind, Service

NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def test_the_owner_read_with_an_api_key_is_fresh(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        user = await uow.users.add(User(username="owner", password_hash="x", joined_at=NOW))
        await uow.api_keys.add(ApiKey(user_id=user.id, public_id="pub1", secret_hash="h", prefix="vsm_pub1",
                                      name="k", created_at=NOW))
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        key = await uow.api_keys.get_by_public_id("pub1")
        assert key is not None and key.user_id == user.id
        owner = await uow.users.get(user.id)
        assert owner is not None and owner.username == "owner" and owner.status is UserStatus.ACTIVE
        assert await uow.api_keys.get_by_public_id("nope") is None
    async with uow_factory() as uow:
        assert await uow.api_keys.get_by_public_id("pub1") is not None
        changed = await uow.users.get(user.id)
        assert changed is not None
        changed.status = UserStatus.BANNED
        await uow.users.update(changed)
        again = await uow.users.get(user.id)  # read again after the write: the new row, not the prefetched one
        assert again is not None and again.status is UserStatus.BANNED
        assert await uow.api_keys.get_by_public_id("pub1") is not None
        await uow.users.update(changed)
        after = await uow.users.get(user.id)
        assert after is not None and after.status is UserStatus.BANNED
        await uow.commit()


async def test_the_provider_read_with_a_service_is_fresh(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        provider = await uow.smm_catalogue.add_provider(Provider(
            name="p", kind=ProviderKind.SIMULATED, api_url="http://sim.invalid/api/v2", api_key_encrypted="x",
            currency=Currency.USD, created_at=NOW))
        category = await uow.smm_catalogue.add_category(Category(name="c"))
        service = await uow.smm_catalogue.add_service(Service(
            name="s", type=ServiceType.DEFAULT, category_id=category.id, rate=Money(100, Currency.USD), min=10,
            max=1000, provider_id=provider.id, provider_service_id="1"))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.smm_catalogue.get_service(service.id)
        assert found is not None and found.provider_id == provider.id
        same = await uow.smm_catalogue.get_provider(provider.id)
        assert same is not None and same.name == "p" and same.active
        await uow.smm_catalogue.get_service(service.id)
        provider.active = False
        await uow.smm_catalogue.update_provider(provider)
        now_inactive = await uow.smm_catalogue.get_provider(provider.id)
        assert now_inactive is not None and not now_inactive.active
        assert await uow.smm_catalogue.get_service(service.id + 1000) is None
        assert await uow.smm_catalogue.get_provider(provider.id + 1000) is None
        await uow.commit()
