"""/v1/me: the caller's own profile."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.status_codes import HTTP_204_NO_CONTENT
from msgspec import UNSET

from vpnsmm.application.identity import ChangePassword, Principal, ProfileUpdate, UpdateProfile
from vpnsmm.entrypoints.http.schemas import PasswordChangeIn, ProfilePatchIn, UserOut


class MeController(Controller):
    path = "/v1/me"
    tags = ["me"]

    @get("", operation_id="GetMe")
    async def get_me(self, principal: Principal) -> UserOut:
        return UserOut.of(principal.user)

    @patch("", operation_id="UpdateMe")
    async def update_me(self, data: ProfilePatchIn, principal: Principal, update_profile: UpdateProfile) -> UserOut:
        """Change email, names or Telegram id. ``"email": null`` removes the email. 409 if the email is taken."""
        change = ProfileUpdate(
            email=None if data.email is UNSET or data.email is None else data.email,
            clear_email=data.email is None,
            first_name=None if data.first_name is UNSET else data.first_name,
            last_name=None if data.last_name is UNSET else data.last_name,
            telegram_id=None if data.telegram_id is UNSET else data.telegram_id,
        )
        return UserOut.of(await update_profile(principal.user_id, change))

    @post("/password", operation_id="ChangePassword", status_code=HTTP_204_NO_CONTENT)
    async def change_password(self, data: PasswordChangeIn, principal: Principal,
                              change_password: ChangePassword) -> None:
        """Change the password; every session ends, log in again."""
        await change_password(principal, data.current_password, data.new_password)
