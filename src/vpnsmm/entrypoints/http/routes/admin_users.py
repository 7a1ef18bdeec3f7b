"""/v1/admin/users: list, inspect, ban, unban and change roles (admin only)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import Parameter

from vpnsmm.application.identity import FindUser, ListUsers, Principal, SetUserRole, SetUserStatus
from vpnsmm.application.ports.persistence import UserFilter
from vpnsmm.domain.identity import Role, UserStatus
from vpnsmm.entrypoints.http.schemas import BanIn, RoleIn, UserOut, UserPage


class AdminUsersController(Controller):
    path = "/v1/admin/users"
    tags = ["admin"]

    @get("", operation_id="AdminListUsers")
    async def list_users(
        self, admin: Principal, list_users: ListUsers,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=10**9)] = 0,
        role: Annotated[str | None, Parameter(max_length=16)] = None,
        status: Annotated[str | None, Parameter(max_length=16)] = None,
        search: Annotated[str | None, Parameter(max_length=100)] = None,
    ) -> UserPage:
        flt = UserFilter(role=Role.parse(role) if role else None,
                         status=UserStatus(status) if status in {s.value for s in UserStatus} else None,
                         search=search)
        users, total = await list_users(flt, limit=limit, offset=offset)
        return UserPage(items=[UserOut.of(u) for u in users], total=total, limit=limit, offset=offset)

    @get("/{user_id:int}", operation_id="AdminGetUser")
    async def get_user(self, user_id: int, admin: Principal, find_user: FindUser) -> UserOut:
        return UserOut.of(await find_user(user_id))

    @post("/{user_id:int}/ban", operation_id="AdminBanUser")
    async def ban(self, user_id: int, admin: Principal, set_user_status: SetUserStatus,
                  data: BanIn | None = None) -> UserOut:
        """Ban the user and end all their sessions at once. Idempotent."""
        return UserOut.of(await set_user_status(user_id, banned=True, reason=data.reason if data else ""))

    @post("/{user_id:int}/unban", operation_id="AdminUnbanUser")
    async def unban(self, user_id: int, admin: Principal, set_user_status: SetUserStatus) -> UserOut:
        return UserOut.of(await set_user_status(user_id, banned=False))

    @post("/{user_id:int}/role", operation_id="AdminSetUserRole")
    async def set_role(self, user_id: int, data: RoleIn, admin: Principal, set_user_role: SetUserRole) -> UserOut:
        return UserOut.of(await set_user_role(user_id, Role.parse(data.role)))
