"""Password hashing and access-token codecs."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from attrs import frozen

from vpnsmm.domain.identity import Role


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id in production)."""

    async def hash(self, password: str) -> str:
        """A self-describing hash of ``password``. Never raises on content; bounded concurrency."""
        ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """True only when ``password`` matches. Takes about as long for a wrong password as a right one."""
        ...

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a verify without a user, so unknown usernames are not revealed by timing."""
        ...


@frozen
class AccessClaims:
    user_id: int
    session_id: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    token_id: str


@frozen
class IssuedToken:
    token: str
    expires_at: datetime
    expires_in: int  # seconds


class AccessTokenCodec(Protocol):
    """Short-lived signed access tokens bound to a session."""

    def issue(self, *, user_id: int, session_id: str, role: Role, now: datetime) -> IssuedToken:
        ...

    def decode(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a valid, unexpired token. Raises AuthenticationError for anything else."""
        ...
