"""Argon2id password hashing, HS256 access tokens and the system clock."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vpnsmm.application.ports.security import AccessClaims, IssuedToken
from vpnsmm.domain.errors import AuthenticationError
from vpnsmm.domain.identity import Role


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Argon2PasswordHasher:
    """argon2id with OWASP's minimum (19 MiB, t=2, p=1) by default, hashed in worker threads.

    At most ``max_concurrent`` hashes run at once so a login flood cannot exhaust memory.
    """

    def __init__(self, *, time_cost: int = 2, memory_cost: int = 19_456, parallelism: int = 1,
                 max_concurrent: int = 4) -> None:
        self._argon = _Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._gate = asyncio.Semaphore(max_concurrent)
        self._dummy = self._argon.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        async with self._gate:
            return await asyncio.to_thread(self._argon.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._gate:
            return await asyncio.to_thread(self._verify_sync, password_hash, password)

    async def dummy_verify(self, password: str) -> None:
        await self.verify(self._dummy, password or "x")

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class JwtAccessTokens:
    """HS256 JWTs with ``sub``, ``sid`` (session), ``role``, ``iat``, ``exp``, ``jti`` and ``iss``.

    The algorithm is pinned on decode, so ``alg: none`` and key-confusion tokens fail.
    """

    algorithm = "HS256"

    def __init__(self, secret: str, *, ttl: timedelta, issuer: str = "vpnsmm") -> None:
        if len(secret) < 32:
            raise ValueError("JWT secret must be at least 32 characters")
        self._secret, self._ttl, self._issuer = secret, ttl, issuer

    def issue(self, *, user_id: int, session_id: str, role: Role, now: datetime) -> IssuedToken:
        expires = now + self._ttl
        claims = {"sub": str(user_id), "sid": session_id, "role": role.value, "iss": self._issuer,
                  "iat": int(now.timestamp()), "exp": int(expires.timestamp()), "jti": secrets.token_hex(8),
                  "typ": "access"}
        token = jwt.encode(claims, self._secret, algorithm=self.algorithm)
        return IssuedToken(token=token, expires_at=expires, expires_in=int(self._ttl.total_seconds()))

    def decode(self, token: str, *, now: datetime) -> AccessClaims:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise AuthenticationError("missing or malformed access token", code="INVALID_TOKEN")
        try:
            # Expiry is checked against the injected clock below, not the wall clock inside PyJWT.
            data = jwt.decode(token, self._secret, algorithms=[self.algorithm], issuer=self._issuer,
                              options={"require": ["sub", "sid", "exp", "iat", "iss"], "verify_exp": False})
        except jwt.PyJWTError:
            raise AuthenticationError("invalid access token", code="INVALID_TOKEN") from None
        try:
            expires = datetime.fromtimestamp(int(data["exp"]), UTC)
            issued = datetime.fromtimestamp(int(data["iat"]), UTC)
            claims = AccessClaims(user_id=int(data["sub"]), session_id=str(data["sid"]),
                                  role=Role(data.get("role", "user")), issued_at=issued, expires_at=expires,
                                  token_id=str(data.get("jti", "")))
        except (ValueError, TypeError, KeyError):
            raise AuthenticationError("invalid access token", code="INVALID_TOKEN") from None
        if data.get("typ") != "access":
            raise AuthenticationError("not an access token", code="INVALID_TOKEN")
        if now >= expires:
            raise AuthenticationError("access token has expired", code="TOKEN_EXPIRED")
        return claims
