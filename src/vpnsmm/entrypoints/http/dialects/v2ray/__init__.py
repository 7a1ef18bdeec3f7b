"""``v2ray``: the V2Ray Account Management System API (v2ray-account-api.md) at its documented paths."""

from __future__ import annotations

from vpnsmm.entrypoints.http.dialects import Dialect
from vpnsmm.entrypoints.http.dialects.v2ray.routes import EXCEPTION_HANDLERS, early_error_body, route_handlers

DIALECT = Dialect(
    name="v2ray", document="v2ray-account-api.md", default_prefix="/", build=route_handlers,
    exception_handlers=EXCEPTION_HANDLERS, error_body=early_error_body,
    description="JWT access/refresh, users/me, V2Ray accounts, plans, Zarinpal and card payments, 3x-UI panels",
)

__all__ = ["DIALECT"]
