"""Users, sessions, refresh tokens and API keys in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import translated
from vpnsmm.adapters.sqlalchemy.hot import HotStatement, Prefixed, asyncpg_driver
from vpnsmm.adapters.sqlalchemy.tables import api_keys, auth_sessions, refresh_tokens, users
from vpnsmm.application.ports.persistence import UserFilter
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.identity import ApiKey, AuthSession, RefreshToken, Role, User, UserStatus


def _user_values(user: User) -> dict[str, Any]:
    return {
        "username": user.username, "username_ci": user.username.casefold(),
        "email": user.email, "email_ci": user.email.casefold() if user.email else None,
        "telegram_id": user.telegram_id, "first_name": user.first_name, "last_name": user.last_name,
        "password_hash": user.password_hash, "role": user.role.value, "status": user.status.value,
        "ban_reason": user.ban_reason, "joined_at": user.joined_at,
    }


def _user(row: sa.Row[Any]) -> User:
    return User(id=row.id, username=row.username, email=row.email, telegram_id=row.telegram_id,
                first_name=row.first_name, last_name=row.last_name, password_hash=row.password_hash,
                role=Role(row.role), status=UserStatus(row.status), ban_reason=row.ban_reason,
                joined_at=row.joined_at)


# Built once (hot: every API-key request runs both), so SQLAlchemy's compiled cache is hit by a memoised key.
_GET_USER = sa.select(users).where(users.c.id == sa.bindparam("id"))
# The key and its owner in one query: API-key authentication reads both, the user right after the key. The user
# row is handed to the next ``users.get`` of the same unit of work (any other user call drops it first), which
# under READ COMMITTED is indistinguishable from reading it a moment later.
_KEY_WITH_USER = HotStatement(sa.select(api_keys, *[c.label(f"u_{c.name}") for c in users.columns])
                              .outerjoin(users, users.c.id == api_keys.c.user_id)
                              .where(api_keys.c.public_id == sa.bindparam("public_id")))



class SqlUserRepository:
    def __init__(self, conn: AsyncConnection, prefetched: dict[int, User] | None = None) -> None:
        self._c = conn
        self._prefetched = prefetched if prefetched is not None else {}

    async def add(self, user: User) -> User:
        self._prefetched.clear()  # a write: a prefetched row must not outlive it
        async with translated():
            result = await self._c.execute(users.insert().values(**_user_values(user)).returning(users.c.id))
        user.id = int(result.scalar_one())
        return user

    async def _one(self, where: sa.ColumnElement[bool]) -> User | None:
        row = (await self._c.execute(sa.select(users).where(where))).first()
        return _user(row) if row else None

    async def get(self, user_id: int) -> User | None:
        prefetched = self._prefetched.pop(user_id, None)
        self._prefetched.clear()
        if prefetched is not None:
            return prefetched
        row = (await self._c.execute(_GET_USER, {"id": user_id})).first()  # every authenticated request
        return _user(row) if row else None

    async def get_by_username(self, username: str) -> User | None:
        return await self._one(users.c.username_ci == username.casefold())

    async def get_by_telegram_id(self, telegram_id: int) -> User | None:
        return await self._one(users.c.telegram_id == telegram_id)

    async def update(self, user: User) -> None:
        self._prefetched.clear()
        async with translated():
            result = await self._c.execute(users.update().where(users.c.id == user.id).values(**_user_values(user)))
        if result.rowcount == 0:
            raise NotFoundError("user not found", code="USER_NOT_FOUND")

    @staticmethod
    def _where(f: UserFilter) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if f.role is not None:
            clauses.append(users.c.role == f.role.value)
        if f.status is not None:
            clauses.append(users.c.status == f.status.value)
        if f.search:
            needle = "%" + f.search.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(sa.or_(users.c.username_ci.like(needle, escape="\\"),
                                  users.c.email_ci.like(needle, escape="\\")))
        return clauses

    async def list(self, filter: UserFilter, *, limit: int, offset: int) -> Sequence[User]:
        query = sa.select(users).where(*self._where(filter)).order_by(users.c.id).limit(limit).offset(offset)
        return [_user(r) for r in await self._c.execute(query)]

    async def count(self, filter: UserFilter) -> int:
        query = sa.select(sa.func.count()).select_from(users).where(*self._where(filter))
        return int((await self._c.execute(query)).scalar_one())


def _session(row: sa.Row[Any]) -> AuthSession:
    return AuthSession(id=row.id, user_id=row.user_id, created_at=row.created_at, expires_at=row.expires_at,
                       revoked_at=row.revoked_at, revoke_reason=row.revoke_reason)


class SqlSessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, session: AuthSession) -> None:
        async with translated():
            await self._c.execute(auth_sessions.insert().values(
                id=session.id, user_id=session.user_id, created_at=session.created_at,
                expires_at=session.expires_at, revoked_at=session.revoked_at, revoke_reason=session.revoke_reason))

    async def get(self, session_id: str) -> AuthSession | None:
        row = (await self._c.execute(sa.select(auth_sessions).where(auth_sessions.c.id == session_id))).first()
        return _session(row) if row else None

    async def revoke(self, session_id: str, *, now: datetime, reason: str) -> None:
        await self._c.execute(auth_sessions.update()
                              .where(auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None))
                              .values(revoked_at=now, revoke_reason=reason))

    async def revoke_all_for_user(self, user_id: int, *, now: datetime, reason: str) -> int:
        result = await self._c.execute(auth_sessions.update()
                                       .where(auth_sessions.c.user_id == user_id,
                                              auth_sessions.c.revoked_at.is_(None))
                                       .values(revoked_at=now, revoke_reason=reason))
        return int(result.rowcount)

    async def add_refresh_token(self, token: RefreshToken) -> None:
        async with translated():
            result = await self._c.execute(refresh_tokens.insert().values(
                token_hash=token.token_hash, session_id=token.session_id, created_at=token.created_at,
                used_at=token.used_at).returning(refresh_tokens.c.id))
        token.id = int(result.scalar_one())

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = (await self._c.execute(sa.select(refresh_tokens)
                                     .where(refresh_tokens.c.token_hash == token_hash))).first()
        if row is None:
            return None
        return RefreshToken(id=row.id, token_hash=row.token_hash, session_id=row.session_id,
                            created_at=row.created_at, used_at=row.used_at)

    async def claim_refresh_token(self, token_id: int, *, now: datetime) -> bool:
        result = await self._c.execute(refresh_tokens.update()
                                       .where(refresh_tokens.c.id == token_id, refresh_tokens.c.used_at.is_(None))
                                       .values(used_at=now))
        return bool(result.rowcount == 1)


def _key(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(id=row.id, user_id=row.user_id, public_id=row.public_id, secret_hash=row.secret_hash,
                  prefix=row.prefix, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at,
                  revoked_at=row.revoked_at)


class SqlApiKeyRepository:
    def __init__(self, conn: AsyncConnection, prefetched_users: dict[int, User] | None = None, *,
                 driver: Any = None) -> None:
        self._c, self._driver = conn, asyncpg_driver(conn, driver)
        self._users = prefetched_users if prefetched_users is not None else {}

    async def add(self, key: ApiKey) -> ApiKey:
        async with translated():
            result = await self._c.execute(api_keys.insert().values(
                user_id=key.user_id, public_id=key.public_id, secret_hash=key.secret_hash, prefix=key.prefix,
                name=key.name, created_at=key.created_at, last_used_at=key.last_used_at,
                revoked_at=key.revoked_at).returning(api_keys.c.id))
        key.id = int(result.scalar_one())
        return key

    async def get_by_public_id(self, public_id: str) -> ApiKey | None:
        row = await _KEY_WITH_USER.first(self._c, self._driver, {"public_id": public_id})
        if row is None:
            return None
        if row.u_id is not None:
            self._users.clear()
            self._users[row.u_id] = _user(Prefixed(row, "u_"))  # type: ignore[arg-type]
        return _key(row)

    async def get_for_user(self, key_id: int, user_id: int) -> ApiKey | None:
        row = (await self._c.execute(sa.select(api_keys).where(api_keys.c.id == key_id,
                                                               api_keys.c.user_id == user_id))).first()
        return _key(row) if row else None

    async def list_for_user(self, user_id: int) -> Sequence[ApiKey]:
        rows = await self._c.execute(sa.select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.id))
        return [_key(r) for r in rows]

    async def update(self, key: ApiKey) -> None:
        result = await self._c.execute(api_keys.update().where(api_keys.c.id == key.id).values(
            name=key.name, last_used_at=key.last_used_at, revoked_at=key.revoked_at))
        if result.rowcount == 0:
            raise NotFoundError("API key not found", code="API_KEY_NOT_FOUND")

    async def touch(self, key_id: int, *, now: datetime) -> None:
        await self._c.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now))
