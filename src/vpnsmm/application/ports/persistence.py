"""The unit of work and the repositories it carries.

Only use cases commit. Repositories ``add``/``get``/``update`` inside the current transaction and never
commit; a unit of work that leaves its ``async with`` block without ``commit()`` rolls everything back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from attrs import frozen

from vpnsmm.domain.identity import ApiKey, AuthSession, RefreshToken, Role, User, UserStatus


@frozen
class UserFilter:
    role: Role | None = None
    status: UserStatus | None = None
    search: str | None = None  # substring of username or email, case-insensitive


class UserRepository(Protocol):
    async def add(self, user: User) -> User:
        """Store a new user and assign ``user.id``.

        Raises ConflictError (``field`` = username, email or telegram_id) when a unique value is taken;
        usernames and emails are unique case-insensitively.
        """
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_by_username(self, username: str) -> User | None:
        """Case-insensitive lookup."""
        ...

    async def get_by_telegram_id(self, telegram_id: int) -> User | None: ...

    async def update(self, user: User) -> None:
        """Persist changed fields. Raises ConflictError like ``add``; NotFoundError if the user is gone."""
        ...

    async def list(self, filter: UserFilter, *, limit: int, offset: int) -> Sequence[User]:
        """Users ordered by id ascending."""
        ...

    async def count(self, filter: UserFilter) -> int: ...


class SessionRepository(Protocol):
    async def add(self, session: AuthSession) -> None: ...

    async def get(self, session_id: str) -> AuthSession | None: ...

    async def revoke(self, session_id: str, *, now: datetime, reason: str) -> None:
        """Idempotent: a revoked session stays revoked with its first reason."""
        ...

    async def revoke_all_for_user(self, user_id: int, *, now: datetime, reason: str) -> int:
        """Revoke every live session of the user; returns how many were live."""
        ...

    async def add_refresh_token(self, token: RefreshToken) -> None: ...

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    async def claim_refresh_token(self, token_id: int, *, now: datetime) -> bool:
        """Compare-and-set ``used_at`` from NULL to ``now``. True for exactly one concurrent caller."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> ApiKey:
        """Store and assign ``key.id``. Raises ConflictError if ``public_id`` collides."""
        ...

    async def get_by_public_id(self, public_id: str) -> ApiKey | None: ...

    async def get_for_user(self, key_id: int, user_id: int) -> ApiKey | None:
        """Ownership is part of the lookup: another user's key is None."""
        ...

    async def list_for_user(self, user_id: int) -> Sequence[ApiKey]: ...

    async def update(self, key: ApiKey) -> None: ...

    async def touch(self, key_id: int, *, now: datetime) -> None:
        """Record use of the key (``last_used_at``)."""
        ...


class UnitOfWork(Protocol):
    """One business transaction. Rolls back on exit unless ``commit()`` was awaited."""

    users: UserRepository
    sessions: SessionRepository
    api_keys: ApiKeyRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def commit(self) -> None:
        """Make every change durable at once. May raise ConflictError (unique clash found at commit)."""
        ...


@runtime_checkable
class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per business transaction (safe to share between concurrent requests)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """``read_only`` transactions may not write; on SQLite they do not take the write lock."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be reached (used by readiness checks)."""
        ...
