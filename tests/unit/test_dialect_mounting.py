"""Dialect mounting: default prefixes, VPNSMM_DIALECTS moves and switches off, collisions stop startup by name."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from litestar import Controller, Litestar, get, post
from litestar.testing import TestClient
from litestar.types import ControllerRouterHandler

from vpnsmm.config import ConfigError, load_settings
from vpnsmm.entrypoints.http.app import native_route_handlers
from vpnsmm.entrypoints.http.dialects import Dialect, mount_dialects, registered_dialects


class _Orders(Controller):
    path = "/api/v1/orders"

    @get("/")
    async def list_orders(self) -> dict[str, str]:
        return {"from": "orders"}

    @get("/{order_id:int}")
    async def get_order(self, order_id: int) -> dict[str, int]:
        return {"id": order_id}


@post("/api/v1/balance/")
async def _balance() -> dict[str, str]:
    return {"from": "balance"}


@get("/v1/me")
async def _shadow_me() -> dict[str, str]:
    return {"from": "shadow"}


def _dialect(name: str, prefix: str, *handlers: ControllerRouterHandler) -> Dialect:
    def build() -> Sequence[ControllerRouterHandler]:
        return list(handlers)

    return Dialect(name=name, document=f"{name}.md", default_prefix=prefix, build=build)


REGISTRY = {
    "alpha": _dialect("alpha", "/", _Orders, _balance),
    "beta": _dialect("beta", "/compat/beta", _Orders),
}


def _paths(routers: list[object]) -> set[str]:
    app = Litestar(route_handlers=routers)  # type: ignore[arg-type]
    return {route.path_format for route in app.routes}


def test_defaults_mount_every_dialect_at_its_own_prefix() -> None:
    routers = mount_dialects({}, native=[], registry=REGISTRY)
    assert _paths(list(routers)) >= {"/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/balance",
                                     "/compat/beta/api/v1/orders", "/compat/beta/api/v1/orders/{order_id}"}


def test_a_dialect_can_be_moved_and_switched_off() -> None:
    routers = mount_dialects({"alpha": "/x", "beta": "off"}, native=[], registry=REGISTRY)
    paths = _paths(list(routers))
    assert "/x/api/v1/orders" in paths
    assert not any(p.startswith("/compat/beta") for p in paths)
    with TestClient(Litestar(route_handlers=routers)) as client:
        assert client.get("/x/api/v1/orders/7").json() == {"id": 7}


def test_two_dialects_on_the_same_paths_stop_startup_naming_both_routes() -> None:
    with pytest.raises(ConfigError) as caught:
        mount_dialects({"beta": "/"}, native=[], registry=REGISTRY)
    message = str(caught.value)
    assert "VPNSMM_DIALECTS" in message
    assert "dialect beta GET /api/v1/orders" in message
    assert "dialect alpha GET /api/v1/orders" in message


def test_a_dialect_shadowing_the_native_api_is_refused() -> None:
    registry = {"gamma": _dialect("gamma", "/", _shadow_me)}
    with pytest.raises(ConfigError, match=r"dialect gamma GET /v1/me collides with native API GET /v1/me"):
        mount_dialects({}, native=native_route_handlers(), registry=registry)


def test_unknown_dialect_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown dialect 'nope' \(known: alpha, beta\)"):
        mount_dialects({"nope": "/"}, native=[], registry=REGISTRY)


@pytest.mark.parametrize(("raw", "expected"), [
    ("smm-rest=/, smm-spring=off", {"smm-rest": "/", "smm-spring": "off"}),
    ("candypanel=/candy/", {"candypanel": "/candy"}),
    ("", {}),
])
def test_the_setting_parses(raw: str, expected: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_DIALECTS": raw}, persist_secret=False)
    assert dict(settings.dialects) == expected


@pytest.mark.parametrize("raw", ["smm-rest", "smm-rest=api", "a=/x,a=/y", "x=/{id}", "=/"])
def test_bad_settings_name_the_setting(raw: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VPNSMM_DIALECTS"):
        load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_DIALECTS": raw}, persist_secret=False)


def test_the_shipped_dialects_mount_together_by_default() -> None:
    routers = mount_dialects({}, native=native_route_handlers())
    assert len(routers) == len(registered_dialects())


def test_serve_refuses_an_unknown_dialect_with_one_line(tmp_path: Path) -> None:
    env = {"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_DIALECTS": "no-such-dialect=/", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "vpnsmm", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "unknown dialect 'no-such-dialect'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("DELETE", "/api/v1/plans/", {"error": "Method not allowed", "detail": "Method Not Allowed"}),  # v2ray
    ("DELETE", "/tariffs", {"error": "Method Not Allowed", "code": "METHOD_NOT_ALLOWED"}),  # ru-vpn
    ("DELETE", "/api/data", {"message": "Method Not Allowed", "success": False}),  # candypanel
    ("DELETE", "/compat/smm-rest/api/v1/balance",
     {"success": False, "error": {"code": "VALIDATION_ERROR", "message": "Method Not Allowed"}}),  # smm-rest
])
def test_routing_errors_on_a_dialect_path_come_in_its_format(method: str, path: str, expected: object,
                                                              tmp_path: Path) -> None:
    from vpnsmm.container import build_container
    from vpnsmm.entrypoints.http.app import create_app

    settings = load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_RATE_LIMITS": "off"}, persist_secret=False)
    with TestClient(create_app(build_container(settings))) as client:
        response = client.request(method, path)
        assert response.status_code == 405
        assert response.json() == expected
        native = client.request("DELETE", "/v1/me")
        assert native.status_code == 405 and native.json()["code"] == "METHOD_NOT_ALLOWED"
