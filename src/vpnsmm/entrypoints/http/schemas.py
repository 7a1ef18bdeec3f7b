"""Wire shapes of the native API (msgspec Structs). Inbound Structs forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from vpnsmm.application.identity import NewApiKey, TokenPair
from vpnsmm.domain.identity import ApiKeyInfo, User

Username = Annotated[str, Meta(min_length=1, max_length=64, description="letters, digits and _ . @ + -")]
Password = Annotated[str, Meta(min_length=1, max_length=256)]
Name = Annotated[str, Meta(max_length=100)]
Email = Annotated[str, Meta(max_length=254)]
TelegramId = Annotated[int, Meta(gt=0, le=2**63 - 1)]


class In(Struct, forbid_unknown_fields=True):
    """Base of request bodies: an unexpected field is a 400, not silently ignored (mass assignment)."""


class RegisterIn(In):
    username: Username
    password: Password
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    telegram_id: TelegramId | None = None


class LoginIn(In):
    username: Annotated[str, Meta(max_length=256)]
    password: Annotated[str, Meta(max_length=1024)]


class RefreshIn(In):
    refresh_token: Annotated[str, Meta(max_length=512)]


class ProfilePatchIn(In):
    email: Email | UnsetType | None = UNSET
    first_name: Name | UnsetType = UNSET
    last_name: Name | UnsetType = UNSET
    telegram_id: TelegramId | UnsetType = UNSET


class PasswordChangeIn(In):
    current_password: Password
    new_password: Password


class UserOut(Struct):
    id: int
    username: str
    email: str | None
    first_name: str
    last_name: str
    telegram_id: int | None
    role: str
    status: str
    joined_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, username=user.username, email=user.email, first_name=user.first_name,
                   last_name=user.last_name, telegram_id=user.telegram_id, role=user.role.value,
                   status=user.status.value, joined_at=user.joined_at)


class TokenOut(Struct):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime
    user: UserOut

    @classmethod
    def of(cls, pair: TokenPair) -> TokenOut:
        return cls(access_token=pair.access.token, token_type="Bearer", expires_in=pair.access.expires_in,
                   refresh_token=pair.refresh_token, refresh_expires_at=pair.refresh_expires_at,
                   user=UserOut.of(pair.user))


class LogoutAllOut(Struct):
    sessions_revoked: int


class UserPage(Struct):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class BanIn(In):
    reason: Annotated[str, Meta(max_length=500)] = ""


class RoleIn(In):
    role: Annotated[str, Meta(max_length=16)]


class ApiKeyCreateIn(In):
    name: Annotated[str, Meta(min_length=1, max_length=100)] = "default"


class ApiKeyOut(Struct):
    id: int
    prefix: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, info: ApiKeyInfo) -> ApiKeyOut:
        return cls(id=info.id, prefix=info.prefix, name=info.name, created_at=info.created_at,
                   last_used_at=info.last_used_at, revoked_at=info.revoked_at, active=info.revoked_at is None)


class NewApiKeyOut(ApiKeyOut):
    key: str = msgspec.field(default="")  # the whole secret: shown once, never again

    @classmethod
    def new(cls, made: NewApiKey) -> NewApiKeyOut:
        base = ApiKeyOut.of(made.info)
        return cls(**{f: getattr(base, f) for f in base.__struct_fields__}, key=made.secret)


class HealthOut(Struct):
    status: str
    version: str
    checks: dict[str, str]
