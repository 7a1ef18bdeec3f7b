"""The one composition root: builds every adapter and use case from Settings.

HTTP, the CLI, background jobs, tests and library users all get their objects here. Nothing inside
domain/, application/ or adapters/ imports this module (import-linter checks it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from vpnsmm.adapters.security import Argon2PasswordHasher, JwtAccessTokens, SystemClock
from vpnsmm.adapters.sqlalchemy import migrate
from vpnsmm.adapters.sqlalchemy.engine import make_engine
from vpnsmm.adapters.sqlalchemy.uow import SqlUnitOfWorkFactory
from vpnsmm.application.demo import LoadDemoData
from vpnsmm.application.identity import (
    Authenticate,
    AuthPolicy,
    ChangePassword,
    FindUser,
    GetUser,
    ListUsers,
    Login,
    Logout,
    LogoutAll,
    ManageApiKeys,
    RefreshSession,
    RegisterUser,
    SetPassword,
    SetUserRole,
    SetUserStatus,
    UpdateProfile,
)
from vpnsmm.config import Settings


def _engine(settings: Settings) -> AsyncEngine:
    # Creating an engine does no I/O; connections open lazily. stop() disposes it.
    return make_engine(settings.effective_database_url, pool_size=settings.db_pool_size)


class Container(containers.DeclarativeContainer):
    """Every long-lived object of a running vpnsmm, wired once."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    engine = providers.Singleton(_engine, settings)
    uow = providers.Singleton(SqlUnitOfWorkFactory, engine)
    password_hasher = providers.Singleton(Argon2PasswordHasher)
    access_tokens = providers.Singleton(
        JwtAccessTokens, secret=settings.provided.secret_key,
        ttl=providers.Factory(timedelta, seconds=settings.provided.access_token_ttl),
        issuer=settings.provided.jwt_issuer)
    auth_policy = providers.Singleton(
        AuthPolicy, refresh_ttl=providers.Factory(timedelta, seconds=settings.provided.refresh_token_ttl),
        api_key_prefix=settings.provided.api_key_prefix)

    # identity
    register_user = providers.Singleton(RegisterUser, uow, password_hasher, clock)
    login = providers.Singleton(Login, uow, password_hasher, access_tokens, clock, auth_policy)
    refresh_session = providers.Singleton(RefreshSession, uow, access_tokens, clock, auth_policy)
    logout = providers.Singleton(Logout, uow, clock)
    logout_all = providers.Singleton(LogoutAll, uow, clock)
    authenticate = providers.Singleton(Authenticate, uow, access_tokens, clock)
    get_user = providers.Singleton(GetUser, uow)
    find_user = providers.Singleton(FindUser, uow)
    update_profile = providers.Singleton(UpdateProfile, uow)
    change_password = providers.Singleton(ChangePassword, uow, password_hasher, clock)
    list_users = providers.Singleton(ListUsers, uow)
    set_user_status = providers.Singleton(SetUserStatus, uow, clock)
    set_user_role = providers.Singleton(SetUserRole, uow, clock)
    set_password = providers.Singleton(SetPassword, uow, password_hasher, clock)
    api_keys = providers.Singleton(ManageApiKeys, uow, clock, auth_policy)

    load_demo_data = providers.Singleton(LoadDemoData, uow, register_user, set_password)


def build_container(settings: Settings) -> Container:
    """A container for ``settings``; call :func:`start` (or use :func:`opened`) before using it."""
    return Container(settings=settings)


async def start(container: Container, *, run_migrations: bool = True) -> None:
    """Bring the schema up to date (connections themselves open lazily)."""
    if run_migrations and isinstance(container.uow(), SqlUnitOfWorkFactory):
        await migrate.upgrade(container.engine())


async def stop(container: Container) -> None:
    """Close every resource (engine pools, HTTP clients). Safe to call twice."""
    if isinstance(container.uow(), SqlUnitOfWorkFactory):
        await container.engine().dispose()


@asynccontextmanager
async def opened(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[Container]:
    """``async with opened(settings) as c: await c.login()(...)`` -- started and always stopped."""
    container = build_container(settings)
    await start(container, run_migrations=run_migrations)
    try:
        yield container
    finally:
        await stop(container)
