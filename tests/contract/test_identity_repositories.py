"""One contract for the identity repositories, run on the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from vpnsmm.application.ports.persistence import UnitOfWorkFactory, UserFilter
from vpnsmm.domain.errors import ConflictError, NotFoundError
from vpnsmm.domain.identity import ApiKey, AuthSession, RefreshToken, Role, User, UserStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def a_user(name: str, **kw: object) -> User:
    return User.register(username=name, password_hash="$argon2id$fake", joined_at=T0, **kw)  # type: ignore[arg-type]


async def add(uow_factory: UnitOfWorkFactory, user: User) -> User:
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def test_committed_user_is_visible_in_the_next_transaction(uow_factory: UnitOfWorkFactory) -> None:
    user = await add(uow_factory, a_user("Alice", email="Alice@Example.COM", telegram_id=42, first_name="Al"))
    assert user.id > 0
    async with uow_factory(read_only=True) as uow:
        by_id = await uow.users.get(user.id)
        by_name = await uow.users.get_by_username("aLiCe")
        by_tg = await uow.users.get_by_telegram_id(42)
    assert by_id is not None and by_name is not None and by_tg is not None
    assert by_id.username == "Alice" and by_id.email == "Alice@example.com" and by_id.first_name == "Al"
    assert by_name.id == by_tg.id == user.id
    assert by_id.joined_at == T0 and by_id.joined_at.tzinfo is not None


async def test_uncommitted_changes_roll_back(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.users.add(a_user("ghost"))
    async with uow_factory(read_only=True) as uow:
        assert await uow.users.get_by_username("ghost") is None


async def test_exception_inside_a_transaction_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await uow.users.add(a_user("half"))
            raise RuntimeError("boom")
    async with uow_factory(read_only=True) as uow:
        assert await uow.users.count(UserFilter()) == 0


@pytest.mark.parametrize(("field", "second"), [
    ("username", {"name": "BOB"}),
    ("email", {"name": "carol", "email": "bob@x.io"}),
    ("telegram_id", {"name": "dave", "telegram_id": 7}),
])
async def test_unique_fields_conflict_case_insensitively(uow_factory: UnitOfWorkFactory, field: str,
                                                         second: dict[str, object]) -> None:
    await add(uow_factory, a_user("bob", email="BOB@x.io", telegram_id=7))
    fields = dict(second)  # the parametrized dict is shared between backends
    name = str(fields.pop("name"))
    with pytest.raises(ConflictError) as caught:
        async with uow_factory() as uow:
            await uow.users.add(a_user(name, **fields))
            await uow.commit()
    assert caught.value.details["field"] == field


async def test_update_persists_and_detects_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    bob = await add(uow_factory, a_user("bob"))
    await add(uow_factory, a_user("eve", email="eve@x.io"))
    async with uow_factory() as uow:
        bob.update_profile(first_name="Robert", email="rob@x.io")
        bob.ban("spam")
        bob.set_role(Role.RESELLER)
        await uow.users.update(bob)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        stored = await uow.users.get(bob.id)
    assert stored is not None
    assert (stored.first_name, stored.email, stored.status, stored.ban_reason, stored.role) == (
        "Robert", "rob@x.io", UserStatus.BANNED, "spam", Role.RESELLER)
    with pytest.raises(ConflictError):
        async with uow_factory() as uow:
            bob.update_profile(email="EVE@x.io")
            await uow.users.update(bob)
            await uow.commit()
    ghost = a_user("nobody")
    ghost.id = 99_999
    with pytest.raises(NotFoundError):
        async with uow_factory() as uow:
            await uow.users.update(ghost)


async def test_list_filters_and_pages(uow_factory: UnitOfWorkFactory) -> None:
    for i in range(7):
        user = a_user(f"user{i}", email=f"u{i}@shop.io")
        if i % 3 == 0:
            user.set_role(Role.RESELLER)
        if i == 5:
            user.ban()
        await add(uow_factory, user)
    async with uow_factory(read_only=True) as uow:
        page = await uow.users.list(UserFilter(), limit=3, offset=2)
        resellers = await uow.users.list(UserFilter(role=Role.RESELLER), limit=50, offset=0)
        banned = await uow.users.count(UserFilter(status=UserStatus.BANNED))
        found = await uow.users.list(UserFilter(search="U4@SHOP"), limit=50, offset=0)
        nothing = await uow.users.count(UserFilter(search="%"))
    assert [u.username for u in page] == ["user2", "user3", "user4"]
    assert [u.username for u in resellers] == ["user0", "user3", "user6"]
    assert banned == 1
    assert [u.username for u in found] == ["user4"]
    assert nothing == 0  # LIKE wildcards in the search are taken literally


async def test_sessions_revoke_and_refresh_tokens_claim_once(uow_factory: UnitOfWorkFactory) -> None:
    bob = await add(uow_factory, a_user("bob"))
    async with uow_factory() as uow:
        for sid in ("s1", "s2"):
            await uow.sessions.add(AuthSession(id=sid, user_id=bob.id, created_at=T0,
                                               expires_at=T0 + timedelta(days=1)))
        token = RefreshToken(token_hash="h" * 64, session_id="s1", created_at=T0)
        await uow.sessions.add_refresh_token(token)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.sessions.get_refresh_token("h" * 64)
        assert stored is not None and stored.id == token.id and stored.used_at is None
        assert await uow.sessions.claim_refresh_token(stored.id, now=T0) is True
        assert await uow.sessions.claim_refresh_token(stored.id, now=T0) is False
        await uow.sessions.revoke("s1", now=T0, reason="logout")
        await uow.sessions.revoke("s1", now=T0 + timedelta(hours=1), reason="again")
        await uow.commit()
    async with uow_factory() as uow:
        s1 = await uow.sessions.get("s1")
        assert s1 is not None and s1.revoked_at == T0 and s1.revoke_reason == "logout"
        assert await uow.sessions.revoke_all_for_user(bob.id, now=T0, reason="all") == 1
        assert await uow.sessions.revoke_all_for_user(bob.id, now=T0, reason="all") == 0
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        s2 = await uow.sessions.get("s2")
        assert s2 is not None and not s2.is_live(T0)


async def test_concurrent_refresh_claims_have_one_winner(uow_factory: UnitOfWorkFactory) -> None:
    bob = await add(uow_factory, a_user("bob"))
    async with uow_factory() as uow:
        await uow.sessions.add(AuthSession(id="s", user_id=bob.id, created_at=T0, expires_at=T0 + timedelta(days=1)))
        token = RefreshToken(token_hash="c" * 64, session_id="s", created_at=T0)
        await uow.sessions.add_refresh_token(token)
        await uow.commit()

    async def claim() -> bool:
        async with uow_factory() as uow:
            won = await uow.sessions.claim_refresh_token(token.id, now=T0)
            await uow.commit()
            return won

    results = await asyncio.gather(*(claim() for _ in range(10)))
    assert results.count(True) == 1


async def test_api_keys_are_scoped_to_their_owner(uow_factory: UnitOfWorkFactory) -> None:
    bob = await add(uow_factory, a_user("bob"))
    eve = await add(uow_factory, a_user("eve"))
    async with uow_factory() as uow:
        key = await uow.api_keys.add(ApiKey(user_id=bob.id, public_id="abcdef012345", secret_hash="s" * 64,
                                            prefix="vsm", name="bot", created_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.api_keys.get_for_user(key.id, eve.id) is None
        mine = await uow.api_keys.get_for_user(key.id, bob.id)
        assert mine is not None and mine.name == "bot"
        assert [k.id for k in await uow.api_keys.list_for_user(bob.id)] == [key.id]
        assert await uow.api_keys.list_for_user(eve.id) == []
        await uow.api_keys.touch(key.id, now=T0 + timedelta(minutes=5))
        mine.revoke(T0 + timedelta(hours=1))
        mine.last_used_at = T0 + timedelta(minutes=5)
        await uow.api_keys.update(mine)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        again = await uow.api_keys.get_by_public_id("abcdef012345")
    assert again is not None and again.revoked_at == T0 + timedelta(hours=1)
    assert again.last_used_at == T0 + timedelta(minutes=5)
    with pytest.raises(ConflictError):
        async with uow_factory() as uow:
            await uow.api_keys.add(ApiKey(user_id=eve.id, public_id="abcdef012345", secret_hash="t" * 64,
                                          prefix="vsm", name="dup", created_at=T0))
            await uow.commit()
