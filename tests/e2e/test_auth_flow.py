"""The identity flow over a real socket against ``vpnsmm serve``, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets

import httpx

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def register(http: httpx.AsyncClient, username: str, password: str = "a long password") -> dict[str, object]:
    response = await http.post("/v1/auth/register", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_register_login_me_refresh_reuse_and_logout_all(http: httpx.AsyncClient) -> None:
    name = unique("alice")
    registered = await register(http, name)
    assert registered["token_type"] == "Bearer" and registered["expires_in"] == 900

    login = await http.post("/v1/auth/login", json={"username": name, "password": "a long password"})
    assert login.status_code == 200
    tokens = login.json()

    me = await http.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["username"] == name and "password_hash" not in me.json()

    rotated = await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await http.get("/v1/me", headers=bearer(new["access_token"]))).status_code == 200

    # The spent refresh token is rejected, and presenting it revokes its whole family.
    replay = await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401 and replay.json()["code"] == "TOKEN_REUSED"
    assert (await http.post("/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})).status_code == 401
    assert (await http.get("/v1/me", headers=bearer(new["access_token"]))).status_code == 401
    assert (await http.get("/v1/me", headers=bearer(tokens["access_token"]))).status_code == 401

    # Two more devices, then logout-all: every old token of every device stops working.
    devices = []
    for _ in range(2):
        response = await http.post("/v1/auth/login", json={"username": name, "password": "a long password"})
        devices.append(response.json())
    out = await http.post("/v1/auth/logout-all", headers=bearer(devices[0]["access_token"]))
    # live were: the session registration opened, and the two devices (the login's family was revoked above)
    assert out.status_code == 200 and out.json()["sessions_revoked"] == 3
    for device in [registered, *devices]:
        assert (await http.get("/v1/me", headers=bearer(device["access_token"]))).status_code == 401
        again = await http.post("/v1/auth/refresh", json={"refresh_token": device["refresh_token"]})
        assert again.status_code == 401


async def test_logout_ends_only_the_current_session(http: httpx.AsyncClient) -> None:
    name = unique("bob")
    first = await register(http, name)
    second = (await http.post("/v1/auth/login", json={"username": name, "password": "a long password"})).json()
    assert (await http.post("/v1/auth/logout", headers=bearer(str(first["access_token"])))).status_code == 204
    assert (await http.get("/v1/me", headers=bearer(str(first["access_token"])))).status_code == 401
    assert (await http.get("/v1/me", headers=bearer(second["access_token"]))).status_code == 200


async def test_patch_me_changes_profile_and_refuses_mass_assignment(http: httpx.AsyncClient) -> None:
    tokens = await register(http, unique("carol"))
    auth = bearer(str(tokens["access_token"]))
    email = f"{unique('c')}@Example.ORG"
    patched = await http.patch("/v1/me", headers=auth, json={"first_name": "Кэрол", "email": email})
    assert patched.status_code == 200
    assert patched.json()["first_name"] == "Кэрол" and patched.json()["email"].endswith("@example.org")
    sneaky = await http.patch("/v1/me", headers=auth, json={"role": "admin"})
    assert sneaky.status_code == 400 and sneaky.json()["errors"][0]["field"] == "role"
    assert (await http.get("/v1/me", headers=auth)).json()["role"] == "user"
    cleared = await http.patch("/v1/me", headers=auth, json={"email": None})
    assert cleared.status_code == 200 and cleared.json()["email"] is None


async def test_duplicate_username_is_409_and_wrong_password_is_401_without_a_hint(http: httpx.AsyncClient) -> None:
    name = unique("dave")
    await register(http, name)
    duplicate = await http.post("/v1/auth/register", json={"username": name.upper(), "password": "whatever123"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith(PROBLEM)
    assert duplicate.json()["errors"] == [{"field": "username", "message": "username is already taken"}]

    wrong = await http.post("/v1/auth/login", json={"username": name, "password": "not it at all"})
    unknown = await http.post("/v1/auth/login", json={"username": unique("nobody"), "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()  # no hint which part was wrong


async def test_bad_input_gets_a_4xx_problem_with_field_details(http: httpx.AsyncClient) -> None:
    cases = [
        ({"password": "a long password"}, "username"),  # missing field
        ({"username": 12345, "password": "a long password"}, "username"),  # wrong type
        ({"username": "x" * 65, "password": "a long password"}, "username"),  # overlong
        ({"username": "has space", "password": "a long password"}, "username"),  # bad characters
        ({"username": unique("eve"), "password": "short"}, "password"),  # policy
        ({"username": unique("eve"), "password": "a long password", "telegram_id": -5}, "telegram_id"),
        ({"username": unique("eve"), "password": "a long password", "telegram_id": 10**30}, "telegram_id"),
        ({"username": unique("eve"), "password": "a long password", "email": "nope"}, "email"),
    ]
    for body, field in cases:
        response = await http.post("/v1/auth/register", json=body)
        assert response.status_code == 400, (body, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith(PROBLEM)
        assert problem["status"] == 400 and problem["code"]
        assert field in [e["field"] for e in problem["errors"]], (body, problem)


async def test_unicode_usernames_round_trip(http: httpx.AsyncClient) -> None:
    for name in (unique("مهدی"), unique("Дмитрий"), unique("李")):
        tokens = await register(http, name)
        me = await http.get("/v1/me", headers=bearer(str(tokens["access_token"])))
        assert me.json()["username"] == name


async def test_malformed_and_huge_bodies_are_rejected_cleanly(http: httpx.AsyncClient) -> None:
    malformed = await http.post("/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    huge = await http.post("/v1/auth/register", content=b"{" + b" " * (10 * 1024 * 1024) + b"}",
                           headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert (await http.post("/v1/auth/login", json=[1, 2, 3])).status_code == 400
    assert (await http.get("/v1/me", headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await http.get("/v1/me", headers=bearer("x" * 5000))).status_code == 401


async def test_concurrent_duplicate_registrations_create_one_user(http: httpx.AsyncClient) -> None:
    name = unique("race")
    responses = await asyncio.gather(*(http.post("/v1/auth/register", json={
        "username": name, "password": "a long password"}) for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, codes


async def test_api_key_lifecycle_and_ownership(http: httpx.AsyncClient) -> None:
    alice = await register(http, unique("alice"))
    eve = await register(http, unique("eve"))
    made = await http.post("/v1/api-keys", headers=bearer(str(alice["access_token"])), json={"name": "bot"})
    assert made.status_code == 201
    key = made.json()
    assert key["key"].startswith(key["prefix"] + "_")
    me = await http.get("/v1/me", headers={"X-API-Key": key["key"]})
    assert me.status_code == 200 and me.json()["id"] == alice["user"]["id"]  # type: ignore[index]
    listed = (await http.get("/v1/api-keys", headers=bearer(str(alice["access_token"])))).json()
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    stolen = await http.delete(f"/v1/api-keys/{key['id']}", headers=bearer(str(eve["access_token"])))
    assert stolen.status_code == 404
    rotated = await http.post(f"/v1/api-keys/{key['id']}/rotate", headers=bearer(str(alice["access_token"])))
    assert rotated.status_code == 201
    assert (await http.get("/v1/me", headers={"X-API-Key": key["key"]})).status_code == 401
    assert (await http.get("/v1/me", headers={"X-API-Key": rotated.json()["key"]})).status_code == 200


async def test_admin_routes_are_forbidden_to_users(http: httpx.AsyncClient) -> None:
    user = await register(http, unique("mallory"))
    response = await http.get("/v1/admin/users", headers=bearer(str(user["access_token"])))
    assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"
    assert (await http.get("/v1/admin/users")).status_code == 401


async def test_health_metrics_and_openapi_are_served(http: httpx.AsyncClient) -> None:
    health = await http.get("/health")
    assert health.status_code == 200 and health.json()["checks"] == {"database": "ok"}
    schema = (await http.get("/schema/openapi.json")).json()
    assert "/v1/auth/login" in schema["paths"] and "BearerToken" in schema["components"]["securitySchemes"]
    assert (await http.get("/schema/swagger")).status_code == 200
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200 and "vpnsmm_requests_total" in metrics.text
