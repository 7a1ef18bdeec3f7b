"""``error_bodies``: a dialect's error renderer applies on exactly its routes, wherever it is mounted."""

from __future__ import annotations

from typing import Any

from litestar import get, post

from vpnsmm.entrypoints.http.dialects import Dialect, error_bodies, registered_dialects


@get("/api/v1/orders/{order_id:int}")
async def _order(order_id: int) -> dict[str, int]:
    return {"id": order_id}


@post("/api/v1/orders")
async def _place() -> dict[str, str]:
    return {}


def _body(path: str, status: int, message: str) -> dict[str, Any]:
    return {"path": path, "status": status, "message": message}


_DEMO = Dialect(name="demo", document="demo.md", default_prefix="/", build=lambda: [_order, _place],
                error_body=_body)
_PLAIN = Dialect(name="plain", document="plain.md", default_prefix="/plain", build=lambda: [_place])


def _matching(patterns: list[Any], path: str) -> list[Any]:
    return [render for pattern, render in patterns if pattern.match(path)]


def test_patterns_cover_the_dialects_routes_only() -> None:
    found = error_bodies({}, registry={"demo": _DEMO, "plain": _PLAIN})
    assert _matching(found, "/api/v1/orders/12") == [_body]
    assert _matching(found, "/api/v1/orders") == [_body] and _matching(found, "/api/v1/orders/") == [_body]
    assert _matching(found, "/api/v1/orders/12/cancel") == [] and _matching(found, "/v1/orders") == []
    assert _matching(found, "/plain/api/v1/orders") == []  # the other dialect keeps the native body


def test_patterns_follow_the_prefix_and_off() -> None:
    moved = error_bodies({"demo": "/compat/demo"}, registry={"demo": _DEMO})
    assert _matching(moved, "/compat/demo/api/v1/orders/3") == [_body] and _matching(moved, "/api/v1/orders/3") == []
    assert error_bodies({"demo": "off"}, registry={"demo": _DEMO}) == []


def test_smm_spring_renders_the_standard_error_response() -> None:
    spring = registered_dialects()["smm-spring"]
    assert spring.error_body is not None
    body = spring.error_body("/api/v1/orders", 429, "rate limit exceeded")
    assert set(body) == {"error", "code", "timestamp", "path", "details"}
    assert body["code"] == 429 and body["path"] == "/api/v1/orders" and body["details"]["reason"] == "RATE_LIMITED"
    found = error_bodies({})
    assert _matching(found, "/api/v2/admin/orders/5/actions") and _matching(found, "/api/v1/auth/login")
    assert not _matching(found, "/api/v2") and not _matching(found, "/v1/auth/login")  # native stays native
