"""/v1/api-keys: generate, list, rotate and revoke the caller's API keys."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from vpnsmm.application.identity import ManageApiKeys, Principal
from vpnsmm.entrypoints.http.schemas import ApiKeyCreateIn, ApiKeyOut, NewApiKeyOut


class ApiKeysController(Controller):
    path = "/v1/api-keys"
    tags = ["api-keys"]

    @post("", operation_id="CreateApiKey", status_code=HTTP_201_CREATED)
    async def create(self, principal: Principal, api_keys: ManageApiKeys,
                     data: ApiKeyCreateIn | None = None) -> NewApiKeyOut:
        """A new key. The ``key`` field is shown only in this response: store it now."""
        return NewApiKeyOut.new(await api_keys.generate(principal.user_id, data.name if data else "default"))

    @get("", operation_id="ListApiKeys")
    async def list_keys(self, principal: Principal, api_keys: ManageApiKeys) -> list[ApiKeyOut]:
        """Every key of the caller (prefix, name, dates); never the secret."""
        return [ApiKeyOut.of(info) for info in await api_keys.list(principal.user_id)]

    @post("/{key_id:int}/rotate", operation_id="RotateApiKey", status_code=HTTP_201_CREATED)
    async def rotate(self, key_id: int, principal: Principal, api_keys: ManageApiKeys) -> NewApiKeyOut:
        """Revoke the key and return its replacement (shown once). Another user's key id gives 404."""
        return NewApiKeyOut.new(await api_keys.rotate(principal.user_id, key_id))

    @delete("/{key_id:int}", operation_id="RevokeApiKey", status_code=HTTP_204_NO_CONTENT)
    async def revoke(self, key_id: int, principal: Principal, api_keys: ManageApiKeys) -> None:
        """Revoke the key at once. Idempotent; another user's key id gives 404."""
        await api_keys.revoke(principal.user_id, key_id)
