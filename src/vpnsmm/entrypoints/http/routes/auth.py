"""/v1/auth: register, login, refresh (rotating), logout, logout-all."""

from __future__ import annotations

from litestar import Controller, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from vpnsmm.application.identity import (
    Login,
    Logout,
    LogoutAll,
    Principal,
    RefreshSession,
    RegisterUser,
    RegisterUserCommand,
)
from vpnsmm.entrypoints.http.schemas import LoginIn, LogoutAllOut, RefreshIn, RegisterIn, TokenOut


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post("/register", operation_id="Register", status_code=HTTP_201_CREATED, security=[])
    async def register(self, data: RegisterIn, register_user: RegisterUser, login: Login) -> TokenOut:
        """Create an account and log it in. 409 when the username, email or Telegram id is taken."""
        await register_user(RegisterUserCommand(username=data.username, password=data.password, email=data.email,
                                                first_name=data.first_name, last_name=data.last_name,
                                                telegram_id=data.telegram_id))
        return TokenOut.of(await login(data.username, data.password))

    @post("/login", operation_id="Login", status_code=HTTP_200_OK, security=[])
    async def login(self, data: LoginIn, login: Login) -> TokenOut:
        """Exchange a username and password for an access token and a refresh token. 401 on any mismatch."""
        return TokenOut.of(await login(data.username, data.password))

    @post("/refresh", operation_id="Refresh", status_code=HTTP_200_OK, security=[])
    async def refresh(self, data: RefreshIn, refresh_session: RefreshSession) -> TokenOut:
        """Rotate: the refresh token is spent and a new pair returned. Reusing a spent token ends the session."""
        return TokenOut.of(await refresh_session(data.refresh_token))

    @post("/logout", operation_id="Logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(self, principal: Principal, logout: Logout) -> None:
        """End this session: its refresh and access tokens stop working now."""
        await logout(principal)

    @post("/logout-all", operation_id="LogoutAll", status_code=HTTP_200_OK)
    async def logout_all(self, principal: Principal, logout_all: LogoutAll) -> LogoutAllOut:
        """End every session of this user, on every device."""
        return LogoutAllOut(sessions_revoked=await logout_all(principal.user_id))
