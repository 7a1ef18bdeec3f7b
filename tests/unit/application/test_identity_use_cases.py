"""Identity use cases against the in-memory unit of work, a frozen clock and real (fast) argon2id."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest

from tests.conftest import FrozenClock
from vpnsmm.adapters.memory import InMemoryUnitOfWorkFactory
from vpnsmm.adapters.security import Argon2PasswordHasher, JwtAccessTokens
from vpnsmm.application.identity import (
    Authenticate,
    AuthPolicy,
    Login,
    Logout,
    LogoutAll,
    ManageApiKeys,
    RefreshSession,
    RegisterUser,
    RegisterUserCommand,
    SetUserStatus,
)
from vpnsmm.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError

SECRET = "s" * 48


class World:
    def __init__(self, hasher: Argon2PasswordHasher, clock: FrozenClock) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.clock = clock
        self.tokens = JwtAccessTokens(SECRET, ttl=timedelta(minutes=15))
        policy = AuthPolicy(refresh_ttl=timedelta(days=30))
        self.register = RegisterUser(self.uow, hasher, clock)
        self.login = Login(self.uow, hasher, self.tokens, clock, policy)
        self.refresh = RefreshSession(self.uow, self.tokens, clock, policy)
        self.logout = Logout(self.uow, clock)
        self.logout_all = LogoutAll(self.uow, clock)
        self.auth = Authenticate(self.uow, self.tokens, clock)
        self.keys = ManageApiKeys(self.uow, clock, policy)
        self.status = SetUserStatus(self.uow, clock)


@pytest.fixture
async def world(fast_hasher: Argon2PasswordHasher, clock: FrozenClock) -> World:
    w = World(fast_hasher, clock)
    await w.register(RegisterUserCommand(username="alice", password="correct horse"))
    return w


async def test_login_then_access_token_identifies_the_user(world: World) -> None:
    pair = await world.login("ALICE", "correct horse")
    principal = await world.auth.access_token(pair.access.token)
    assert principal.user.username == "alice" and principal.session_id == pair.session_id
    assert pair.access.expires_in == 900


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong password"), ("nobody", "correct horse")])
async def test_bad_login_gives_one_message_for_both_cases(world: World, username: str, password: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await world.login(username, password)
    assert caught.value.message == "invalid username or password"
    assert caught.value.code == "INVALID_CREDENTIALS"


async def test_duplicate_username_is_a_conflict(world: World) -> None:
    with pytest.raises(ConflictError):
        await world.register(RegisterUserCommand(username="Alice", password="another one"))


async def test_short_password_is_refused_before_anything_is_written(world: World) -> None:
    with pytest.raises(ValidationError):
        await world.register(RegisterUserCommand(username="bob", password="123"))
    with pytest.raises(AuthenticationError):
        await world.login("bob", "123")


async def test_access_token_expires_with_the_clock(world: World) -> None:
    pair = await world.login("alice", "correct horse")
    world.clock.advance(minutes=15)
    with pytest.raises(AuthenticationError) as caught:
        await world.auth.access_token(pair.access.token)
    assert caught.value.code == "TOKEN_EXPIRED"


async def test_tampered_and_unsigned_tokens_are_rejected(world: World) -> None:
    pair = await world.login("alice", "correct horse")
    claims = jwt.decode(pair.access.token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": "999"}, "another-secret-of-sufficient-length-123", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    for token in (forged, unsigned, pair.access.token[:-2] + "xx", "garbage"):
        with pytest.raises(AuthenticationError):
            await world.auth.access_token(token)


async def test_refresh_rotates_and_reuse_revokes_the_family(world: World) -> None:
    first = await world.login("alice", "correct horse")
    second = await world.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.session_id == first.session_id
    await world.auth.access_token(second.access.token)  # still fine
    with pytest.raises(AuthenticationError) as caught:
        await world.refresh(first.refresh_token)  # replay of a spent token = theft
    assert caught.value.code == "TOKEN_REUSED"
    with pytest.raises(AuthenticationError):
        await world.refresh(second.refresh_token)
    with pytest.raises(AuthenticationError):
        await world.auth.access_token(second.access.token)


async def test_two_concurrent_refreshes_have_exactly_one_winner(world: World) -> None:
    pair = await world.login("alice", "correct horse")
    results = await asyncio.gather(*(world.refresh(pair.refresh_token) for _ in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1


async def test_logout_ends_only_this_session_and_logout_all_ends_every_one(world: World) -> None:
    phone = await world.login("alice", "correct horse")
    laptop = await world.login("alice", "correct horse")
    tablet = await world.login("alice", "correct horse")
    await world.logout(await world.auth.access_token(phone.access.token))
    with pytest.raises(AuthenticationError):
        await world.auth.access_token(phone.access.token)
    await world.auth.access_token(laptop.access.token)
    assert await world.logout_all(laptop.user.id) == 2
    for pair in (laptop, tablet):
        with pytest.raises(AuthenticationError):
            await world.auth.access_token(pair.access.token)
        with pytest.raises(AuthenticationError):
            await world.refresh(pair.refresh_token)


async def test_banning_cuts_off_tokens_and_keys(world: World) -> None:
    pair = await world.login("alice", "correct horse")
    made = await world.keys.generate(pair.user.id, "bot")
    await world.status(pair.user.id, banned=True, reason="fraud")
    with pytest.raises(AuthenticationError):
        await world.auth.access_token(pair.access.token)
    with pytest.raises(AuthenticationError):
        await world.auth.api_key(made.secret)
    with pytest.raises(AuthenticationError) as caught:
        await world.login("alice", "correct horse")
    assert caught.value.code == "ACCOUNT_BANNED"


async def test_api_keys_are_shown_once_stored_hashed_and_rotate(world: World) -> None:
    pair = await world.login("alice", "correct horse")
    made = await world.keys.generate(pair.user.id, "reseller bot")
    assert made.secret.startswith("vsm_") and made.info.prefix == made.secret.rsplit("_", 1)[0]
    stored = world.uow.store.api_keys[made.info.id]
    assert made.secret.rsplit("_", 1)[1] not in stored.secret_hash
    principal = await world.auth.api_key(made.secret)
    assert principal.user.username == "alice" and principal.api_key_id == made.info.id
    rotated = await world.keys.rotate(pair.user.id, made.info.id)
    with pytest.raises(AuthenticationError):
        await world.auth.api_key(made.secret)
    await world.auth.api_key(rotated.secret)
    assert await world.keys.revoke(pair.user.id, rotated.info.id) == 1
    assert await world.keys.revoke(pair.user.id, rotated.info.id) == 0  # idempotent
    with pytest.raises(AuthenticationError):
        await world.auth.api_key(rotated.secret)


async def test_another_users_key_is_not_found(world: World) -> None:
    await world.register(RegisterUserCommand(username="eve", password="eve password"))
    alice = await world.login("alice", "correct horse")
    eve = await world.login("eve", "eve password")
    made = await world.keys.generate(alice.user.id)
    with pytest.raises(NotFoundError):
        await world.keys.revoke(eve.user.id, made.info.id)
    with pytest.raises(NotFoundError):
        await world.keys.rotate(eve.user.id, made.info.id)


@pytest.mark.parametrize("presented", ["", "vsm", "vsm_short_x", "vsm_abcdef012345_" + "x" * 40, "a_b_c_d", "x" * 500])
async def test_malformed_or_unknown_api_keys_are_rejected(world: World, presented: str) -> None:
    with pytest.raises(AuthenticationError):
        await world.auth.api_key(presented)


async def test_api_key_use_is_recorded_at_most_once_a_minute(world: World) -> None:
    pair = await world.login("alice", "correct horse")
    made = await world.keys.generate(pair.user.id)
    await world.auth.api_key(made.secret)
    first = world.uow.store.api_keys[made.info.id].last_used_at
    world.clock.advance(seconds=30)
    await world.auth.api_key(made.secret)
    assert world.uow.store.api_keys[made.info.id].last_used_at == first
    world.clock.advance(seconds=31)
    await world.auth.api_key(made.secret)
    assert world.uow.store.api_keys[made.info.id].last_used_at == world.clock.now()
