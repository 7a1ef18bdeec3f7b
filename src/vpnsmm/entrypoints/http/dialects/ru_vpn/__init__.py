"""``ru-vpn``: the ru-vpn frontend's backend API (ru-vpn-frontend-spec.md) at its documented paths."""

from __future__ import annotations

from vpnsmm.entrypoints.http.dialects import Dialect
from vpnsmm.entrypoints.http.dialects.ru_vpn.routes import EXCEPTION_HANDLERS, early_error_body, route_handlers

DIALECT = Dialect(
    name="ru-vpn", document="ru-vpn-frontend-spec.md", default_prefix="/", build=route_handlers,
    exception_handlers=EXCEPTION_HANDLERS, error_body=early_error_body,
    description="auth, tariffs, nodes, profile, clients, VPN config/renew/top-up, payments, billing (kopecks)",
)

__all__ = ["DIALECT"]
