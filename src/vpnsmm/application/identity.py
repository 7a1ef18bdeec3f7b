"""Identity use cases: registration, login, token refresh with reuse detection, logout, API keys, admin.

Every use case is a small class with one ``async __call__``; it owns its transaction(s) and commits.
Secrets (refresh tokens, API keys) are generated here, returned to the caller once and stored hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from attrs import frozen

from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory, UserFilter
from vpnsmm.application.ports.security import AccessTokenCodec, IssuedToken, PasswordHasher
from vpnsmm.application.ports.system import Clock
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from vpnsmm.domain.identity import (
    ApiKey,
    ApiKeyInfo,
    AuthSession,
    RefreshToken,
    Role,
    User,
    check_password_policy,
    normalise_username,
)

REFRESH_PREFIX = "rt_"
_BAD_LOGIN = "invalid username or password"


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@frozen
class Principal:
    """Who is calling, established by an access token or an API key."""

    user: User
    session_id: str | None = None
    api_key_id: int | None = None

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def role(self) -> Role:
        return self.user.role

    def require(self, role: Role) -> None:
        """Raise PermissionDeniedError unless the caller holds ``role`` or a higher one."""
        if not self.user.role.at_least(role):
            raise PermissionDeniedError(f"this action needs the {role.value} role")


@frozen
class TokenPair:
    user: User
    session_id: str
    access: IssuedToken
    refresh_token: str
    refresh_expires_at: datetime


@frozen
class AuthPolicy:
    refresh_ttl: timedelta = timedelta(days=30)
    api_key_prefix: str = "vsm"


# --------------------------------------------------------------------------------------------- users
@frozen
class RegisterUserCommand:
    username: str
    password: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    telegram_id: int | str | None = None
    role: Role = Role.USER


class RegisterUser:
    """Create a user with an argon2id password hash.

    Raises ValidationError for a bad field and ConflictError (field username/email/telegram_id) for a taken one.
    Not idempotent: a second call with the same username is a conflict.
    """

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, cmd: RegisterUserCommand) -> User:
        check_password_policy(cmd.password)
        user = User.register(username=cmd.username, password_hash="", joined_at=self._clock.now(),
                             email=cmd.email, role=cmd.role, telegram_id=cmd.telegram_id,
                             first_name=cmd.first_name, last_name=cmd.last_name)
        # Check before the slow hash so an obvious duplicate answers fast; the unique index still decides.
        async with self._uow(read_only=True) as uow:
            await _ensure_free(uow, user)
        user.password_hash = await self._hasher.hash(cmd.password)
        async with self._uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        return user


async def _ensure_free(uow: UnitOfWork, user: User) -> None:
    if await uow.users.get_by_username(user.username) is not None:
        raise ConflictError("username is already taken", code="USERNAME_TAKEN", details={"field": "username"})


class _Sessions:
    """Opening sessions and minting token pairs, shared by login and refresh."""

    def __init__(self, tokens: AccessTokenCodec, policy: AuthPolicy) -> None:
        self._tokens, self._policy = tokens, policy

    async def open(self, uow: UnitOfWork, user: User, now: datetime) -> TokenPair:
        session = AuthSession(id=secrets.token_urlsafe(18), user_id=user.id, created_at=now,
                              expires_at=now + self._policy.refresh_ttl)
        await uow.sessions.add(session)
        return await self.mint(uow, user, session, now)

    async def mint(self, uow: UnitOfWork, user: User, session: AuthSession, now: datetime) -> TokenPair:
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        await uow.sessions.add_refresh_token(RefreshToken(token_hash=sha256_hex(refresh), session_id=session.id,
                                                          created_at=now))
        access = self._tokens.issue(user_id=user.id, session_id=session.id, role=user.role, now=now)
        return TokenPair(user=user, session_id=session.id, access=access, refresh_token=refresh,
                         refresh_expires_at=session.expires_at)


class Login:
    """Check a username and password and open a new session.

    Raises AuthenticationError with the same message for an unknown user and a wrong password (and spends
    the same time on both), and AuthenticationError code ACCOUNT_BANNED for a banned user with the right password.
    """

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, tokens: AccessTokenCodec, clock: Clock,
                 policy: AuthPolicy) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock
        self._sessions = _Sessions(tokens, policy)

    async def __call__(self, username: str, password: str) -> TokenPair:
        try:
            name = normalise_username(username)
        except ValidationError:
            name = None
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get_by_username(name) if name else None
        if user is None or not isinstance(password, str) or len(password) > 1024:
            await self._hasher.dummy_verify(password if isinstance(password, str) else "")
            raise AuthenticationError(_BAD_LOGIN, code="INVALID_CREDENTIALS")
        if not await self._hasher.verify(user.password_hash, password):
            raise AuthenticationError(_BAD_LOGIN, code="INVALID_CREDENTIALS")
        if not user.is_active:
            raise AuthenticationError("this account is banned", code="ACCOUNT_BANNED")
        now = self._clock.now()
        async with self._uow() as uow:
            pair = await self._sessions.open(uow, user, now)
            await uow.commit()
        return pair


class RefreshSession:
    """Exchange a refresh token for a new access token and a new refresh token (rotation).

    A refresh token works once. Presenting one that was already used is treated as theft: its whole
    session (family) is revoked, so the thief's and the victim's tokens all stop working. Two concurrent
    refreshes with the same token: exactly one wins, the other is a reuse. Raises AuthenticationError.
    """

    def __init__(self, uow: UnitOfWorkFactory, tokens: AccessTokenCodec, clock: Clock, policy: AuthPolicy) -> None:
        self._uow, self._clock = uow, clock
        self._sessions = _Sessions(tokens, policy)

    async def __call__(self, refresh_token: str) -> TokenPair:
        if not isinstance(refresh_token, str) or not refresh_token.startswith(REFRESH_PREFIX) \
                or len(refresh_token) > 200:
            raise AuthenticationError("invalid refresh token", code="INVALID_TOKEN")
        now = self._clock.now()
        reused = False
        async with self._uow() as uow:
            stored = await uow.sessions.get_refresh_token(sha256_hex(refresh_token))
            session = await uow.sessions.get(stored.session_id) if stored else None
            if stored is None or session is None:
                raise AuthenticationError("invalid refresh token", code="INVALID_TOKEN")
            if not session.is_live(now):
                raise AuthenticationError("session has ended; log in again", code="SESSION_REVOKED")
            if not await uow.sessions.claim_refresh_token(stored.id, now=now):
                await uow.sessions.revoke(session.id, now=now, reason="refresh token reuse")
                reused = True
            else:
                user = await uow.users.get(session.user_id)
                if user is None or not user.is_active:
                    await uow.sessions.revoke(session.id, now=now, reason="user inactive")
                    await uow.commit()
                    raise AuthenticationError("this account is banned", code="ACCOUNT_BANNED")
                pair = await self._sessions.mint(uow, user, session, now)
            await uow.commit()
        if reused:
            raise AuthenticationError("refresh token was already used; the session is revoked",
                                      code="TOKEN_REUSED")
        return pair


class Logout:
    """End the caller's session: its refresh tokens and its access tokens stop working. Idempotent."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, principal: Principal) -> None:
        if principal.session_id is None:
            return  # an API key has no session; revoke the key instead
        async with self._uow() as uow:
            await uow.sessions.revoke(principal.session_id, now=self._clock.now(), reason="logout")
            await uow.commit()


class LogoutAll:
    """End every session of the user (all refresh and access tokens). Returns how many were live. Idempotent."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, user_id: int) -> int:
        async with self._uow() as uow:
            count = await uow.sessions.revoke_all_for_user(user_id, now=self._clock.now(), reason="logout-all")
            await uow.commit()
        return count


# ------------------------------------------------------------------------------------ authentication
class Authenticate:
    """Turn an access token or an API key into a Principal. Raises AuthenticationError.

    An access token is accepted only while its session is live and its user active, so logout and
    logout-all take effect immediately, not when the token expires.
    """

    #: API key use is recorded at most this often, so reads do not turn into writes.
    touch_interval = timedelta(minutes=1)

    def __init__(self, uow: UnitOfWorkFactory, tokens: AccessTokenCodec, clock: Clock) -> None:
        self._uow, self._tokens, self._clock = uow, tokens, clock

    async def access_token(self, token: str) -> Principal:
        now = self._clock.now()
        claims = self._tokens.decode(token, now=now)
        async with self._uow(read_only=True) as uow:
            session = await uow.sessions.get(claims.session_id)
            if session is None or session.user_id != claims.user_id or not session.is_live(now):
                raise AuthenticationError("session has ended; log in again", code="SESSION_REVOKED")
            user = await uow.users.get(claims.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("this account is not active", code="ACCOUNT_BANNED")
        return Principal(user=user, session_id=session.id)

    async def api_key(self, presented: str) -> Principal:
        parsed = parse_api_key(presented)
        if parsed is None:
            raise AuthenticationError("invalid API key", code="INVALID_API_KEY")
        public_id, secret = parsed
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            key = await uow.api_keys.get_by_public_id(public_id)
            ok = key is not None and key.is_live and hmac.compare_digest(key.secret_hash, sha256_hex(secret))
            user = await uow.users.get(key.user_id) if key is not None and ok else None
        if key is None or not ok or user is None:
            raise AuthenticationError("invalid API key", code="INVALID_API_KEY")
        if not user.is_active:
            raise AuthenticationError("this account is not active", code="ACCOUNT_BANNED")
        if key.last_used_at is None or now - key.last_used_at > self.touch_interval:
            async with self._uow() as uow:
                await uow.api_keys.touch(key.id, now=now)
                await uow.commit()
        return Principal(user=user, api_key_id=key.id)


def parse_api_key(presented: str) -> tuple[str, str] | None:
    """Split ``<prefix>_<public_id>_<secret>`` into (public_id, secret); None if malformed."""
    if not isinstance(presented, str) or len(presented) > 200:
        return None
    parts = presented.strip().split("_")
    if len(parts) != 3 or not all(parts) or len(parts[1]) != 12 or len(parts[2]) < 32:
        return None
    return parts[1], parts[2]


# ------------------------------------------------------------------------------------------ profile
class GetUser:
    """The user by id. Raises NotFoundError."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: int) -> User:
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise NotFoundError("user not found", code="USER_NOT_FOUND")
        return user


@frozen
class ProfileUpdate:
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    telegram_id: int | str | None = None
    clear_email: bool = False


class UpdateProfile:
    """Change a user's own profile fields. Raises ValidationError / ConflictError (e.g. email taken)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: int, change: ProfileUpdate) -> User:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            user.update_profile(email=change.email, first_name=change.first_name, last_name=change.last_name,
                                telegram_id=change.telegram_id, clear_email=change.clear_email)
            await uow.users.update(user)
            await uow.commit()
        return user


class ChangePassword:
    """Replace the password after checking the current one, and end every other session."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, principal: Principal, current: str, new: str) -> None:
        check_password_policy(new)
        if not await self._hasher.verify(principal.user.password_hash, current):
            raise AuthenticationError("current password is wrong", code="INVALID_CREDENTIALS")
        new_hash = await self._hasher.hash(new)
        now = self._clock.now()
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
            if user is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            user.password_hash = new_hash
            await uow.users.update(user)
            await uow.sessions.revoke_all_for_user(user.id, now=now, reason="password changed")
            await uow.commit()


# -------------------------------------------------------------------------------------------- admin
class FindUser:
    """A user by numeric id or username. Raises NotFoundError."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, ref: str | int) -> User:
        async with self._uow(read_only=True) as uow:
            user = None
            if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
                user = await uow.users.get(int(ref))
            if user is None and isinstance(ref, str):
                user = await uow.users.get_by_username(ref)
        if user is None:
            raise NotFoundError(f"no user {ref!r}", code="USER_NOT_FOUND")
        return user


class ListUsers:
    """A page of users and the total matching count."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, filter: UserFilter, *, limit: int = 50, offset: int = 0) -> tuple[Sequence[User], int]:
        limit = max(1, min(limit, 500))
        async with self._uow(read_only=True) as uow:
            return await uow.users.list(filter, limit=limit, offset=max(0, offset)), await uow.users.count(filter)


class SetUserStatus:
    """Ban (ending every session at once) or unban a user. Idempotent."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, user_id: int, *, banned: bool, reason: str = "") -> User:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            if banned:
                user.ban(reason)
                await uow.sessions.revoke_all_for_user(user.id, now=self._clock.now(), reason="banned")
            else:
                user.unban()
            await uow.users.update(user)
            await uow.commit()
        return user


class SetUserRole:
    """Change a user's role; their sessions end so new tokens carry the new role. Idempotent."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, user_id: int, role: Role) -> User:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            if user.role is not role:
                user.set_role(role)
                await uow.users.update(user)
                await uow.sessions.revoke_all_for_user(user.id, now=self._clock.now(), reason="role changed")
                await uow.commit()
        return user


# ----------------------------------------------------------------------------------------- API keys
@frozen
class NewApiKey:
    """A freshly made key. ``secret`` is the full key string: show it once, it cannot be recovered."""

    info: ApiKeyInfo
    secret: str


class ManageApiKeys:
    """Generate, rotate, revoke and list a user's API keys. Ownership is checked in every lookup."""

    max_live_keys = 20

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: AuthPolicy) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy

    def _make(self, user_id: int, name: str) -> tuple[ApiKey, str]:
        public_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32).replace("_", "x").replace("-", "y")  # '_' separates parts
        key = ApiKey(user_id=user_id, public_id=public_id, secret_hash=sha256_hex(secret),
                     prefix=self._policy.api_key_prefix, name=name, created_at=self._clock.now())
        return key, f"{self._policy.api_key_prefix}_{public_id}_{secret}"

    async def generate(self, user_id: int, name: str = "default") -> NewApiKey:
        """A new key. Raises ValidationError for a bad name or when the user already has too many live keys."""
        name = (name or "default").strip()
        if len(name) > 100:
            raise ValidationError("name must be at most 100 characters", field="name")
        async with self._uow() as uow:
            live = [k for k in await uow.api_keys.list_for_user(user_id) if k.is_live]
            if len(live) >= self.max_live_keys:
                raise ValidationError(f"at most {self.max_live_keys} live API keys per user", field="name",
                                      code="TOO_MANY_KEYS")
            key, secret = self._make(user_id, name)
            await uow.api_keys.add(key)
            await uow.commit()
        return NewApiKey(info=key.info(), secret=secret)

    async def rotate(self, user_id: int, key_id: int | None = None) -> NewApiKey:
        """Revoke the key (or every live key when ``key_id`` is None) and issue one replacement."""
        now = self._clock.now()
        async with self._uow() as uow:
            if key_id is None:
                old = [k for k in await uow.api_keys.list_for_user(user_id) if k.is_live]
                name = old[-1].name if old else "default"
            else:
                one = await uow.api_keys.get_for_user(key_id, user_id)
                if one is None or not one.is_live:
                    raise NotFoundError("API key not found", code="API_KEY_NOT_FOUND")
                old, name = [one], one.name
            for key in old:
                key.revoke(now)
                await uow.api_keys.update(key)
            fresh, secret = self._make(user_id, name)
            await uow.api_keys.add(fresh)
            await uow.commit()
        return NewApiKey(info=fresh.info(), secret=secret)

    async def revoke(self, user_id: int, key_id: int | None = None) -> int:
        """Revoke one key (or all when ``key_id`` is None). Idempotent; returns how many were live."""
        now = self._clock.now()
        async with self._uow() as uow:
            if key_id is None:
                keys = [k for k in await uow.api_keys.list_for_user(user_id) if k.is_live]
            else:
                one = await uow.api_keys.get_for_user(key_id, user_id)
                if one is None:
                    raise NotFoundError("API key not found", code="API_KEY_NOT_FOUND")
                keys = [one] if one.is_live else []
            for key in keys:
                key.revoke(now)
                await uow.api_keys.update(key)
            await uow.commit()
        return len(keys)

    async def list(self, user_id: int) -> list[ApiKeyInfo]:
        async with self._uow(read_only=True) as uow:
            return [k.info() for k in await uow.api_keys.list_for_user(user_id)]


class SetPassword:
    """Set a user's password as an operator (no old password needed) and end all their sessions."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, user_id: int, password: str) -> None:
        check_password_policy(password)
        new_hash = await self._hasher.hash(password)
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFoundError("user not found", code="USER_NOT_FOUND")
            user.password_hash = new_hash
            await uow.users.update(user)
            await uow.sessions.revoke_all_for_user(user.id, now=self._clock.now(), reason="password set")
            await uow.commit()
