"""Identity: users, login sessions (refresh-token families) and API keys.

Secrets never live here in clear: passwords are held as argon2id hashes, refresh tokens and API key
secrets as SHA-256 digests. Generating and checking them is the application's job.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum

from attrs import define, frozen

from vpnsmm.domain.errors import InvalidTransitionError, ValidationError

USERNAME_MAX = 64
PASSWORD_MIN = 8
PASSWORD_MAX = 256  # argon2 copes with more, but a bound stops hashing megabytes (OWASP API4)
NAME_MAX = 100
EMAIL_MAX = 254

_USERNAME = re.compile(r"^[\w.@+-]+$")  # letters (any script), digits, _ . @ + -
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(StrEnum):
    """What a user may do. Ordered by privilege: each role can do what the ones before it can."""

    USER = "user"
    RESELLER = "reseller"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, raw: object, *, field_name: str = "role") -> Role:
        try:
            return cls(str(raw).strip().lower())
        except ValueError:
            raise ValidationError(f"unknown role {raw!r}; expected one of {', '.join(r.value for r in cls)}",
                                  field=field_name) from None


class UserStatus(StrEnum):
    ACTIVE = "active"
    BANNED = "banned"


def normalise_username(raw: str) -> str:
    """NFKC-normalised, stripped username; raises ValidationError when empty, too long or odd characters."""
    if not isinstance(raw, str):
        raise ValidationError("username must be a string", field="username")
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise ValidationError("username must not be empty", field="username")
    if len(name) > USERNAME_MAX:
        raise ValidationError(f"username must be at most {USERNAME_MAX} characters", field="username")
    if not _USERNAME.match(name):
        raise ValidationError("username may contain only letters, digits and _ . @ + -", field="username")
    return name


def normalise_email(raw: str | None) -> str | None:
    if raw is None:
        return None
    email = raw.strip()
    if not email:
        return None
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise ValidationError("email is not a valid address", field="email")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def check_password_policy(password: str) -> None:
    """Raise ValidationError unless ``password`` is a string of PASSWORD_MIN..PASSWORD_MAX characters."""
    if not isinstance(password, str):
        raise ValidationError("password must be a string", field="password")
    if len(password) < PASSWORD_MIN:
        raise ValidationError(f"password must be at least {PASSWORD_MIN} characters", field="password")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"password must be at most {PASSWORD_MAX} characters", field="password")


def _name(raw: str | None, field_name: str) -> str:
    value = (raw or "").strip()
    if len(value) > NAME_MAX:
        raise ValidationError(f"{field_name} must be at most {NAME_MAX} characters", field=field_name)
    return value


def normalise_telegram_id(raw: int | str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError("telegram_id must be a number", field="telegram_id") from None
    if not 0 < value < 2**63:
        raise ValidationError("telegram_id is out of range", field="telegram_id")
    return value


@define(eq=False)
class User:
    """A person or program that holds a wallet and buys things. ``id`` is 0 until first stored."""

    username: str
    password_hash: str
    joined_at: datetime
    role: Role = Role.USER
    status: UserStatus = UserStatus.ACTIVE
    email: str | None = None
    telegram_id: int | None = None
    first_name: str = ""
    last_name: str = ""
    id: int = 0
    ban_reason: str = ""

    @classmethod
    def register(cls, *, username: str, password_hash: str, joined_at: datetime, email: str | None = None,
                 role: Role = Role.USER, telegram_id: int | str | None = None, first_name: str | None = None,
                 last_name: str | None = None) -> User:
        """A new active user with every field validated and normalised."""
        return cls(username=normalise_username(username), password_hash=password_hash, joined_at=joined_at,
                   role=role, email=normalise_email(email), telegram_id=normalise_telegram_id(telegram_id),
                   first_name=_name(first_name, "first_name"), last_name=_name(last_name, "last_name"))

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def update_profile(self, *, email: str | None = None, first_name: str | None = None,
                       last_name: str | None = None, telegram_id: int | str | None = None,
                       clear_email: bool = False) -> None:
        """Change the given profile fields (None leaves a field as it is)."""
        if clear_email:
            self.email = None
        elif email is not None:
            self.email = normalise_email(email)
        if first_name is not None:
            self.first_name = _name(first_name, "first_name")
        if last_name is not None:
            self.last_name = _name(last_name, "last_name")
        if telegram_id is not None:
            self.telegram_id = normalise_telegram_id(telegram_id)

    def ban(self, reason: str = "") -> None:
        """Idempotent: banning a banned user only updates the reason."""
        self.status = UserStatus.BANNED
        self.ban_reason = reason.strip()[:500]

    def unban(self) -> None:
        self.status = UserStatus.ACTIVE
        self.ban_reason = ""

    def set_role(self, role: Role) -> None:
        self.role = role


@define(eq=False)
class AuthSession:
    """One login: a refresh-token family. Revoking it kills its refresh tokens and its access tokens."""

    id: str  # random, opaque; carried in access tokens as ``sid``
    user_id: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str = ""

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def revoke(self, now: datetime, reason: str) -> None:
        if self.revoked_at is None:
            self.revoked_at, self.revoke_reason = now, reason


@define(eq=False)
class RefreshToken:
    """A single-use refresh token of a session, stored as the SHA-256 of its secret."""

    token_hash: str
    session_id: str
    created_at: datetime
    used_at: datetime | None = None
    id: int = 0

    def mark_used(self, now: datetime) -> None:
        if self.used_at is not None:
            raise InvalidTransitionError("refresh token already used", code="TOKEN_REUSED")
        self.used_at = now


@frozen
class ApiKeyInfo:
    """What may be shown about a key after creation: never its secret."""

    id: int
    prefix: str  # e.g. "vsm_1a2b3c4d"; also the lookup handle
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@define(eq=False)
class ApiKey:
    """An API key ``<prefix>_<public_id>_<secret>``; only ``public_id`` and ``sha256(secret)`` are stored."""

    user_id: int
    public_id: str
    secret_hash: str
    prefix: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    id: int = 0

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now

    def info(self) -> ApiKeyInfo:
        return ApiKeyInfo(id=self.id, prefix=f"{self.prefix}_{self.public_id}", name=self.name,
                          created_at=self.created_at, last_used_at=self.last_used_at,
                          revoked_at=self.revoked_at)


__all__ = ["ApiKey", "ApiKeyInfo", "AuthSession", "RefreshToken", "Role", "User", "UserStatus",
           "check_password_policy", "normalise_email", "normalise_username"]
