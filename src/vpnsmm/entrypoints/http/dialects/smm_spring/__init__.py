"""The ``smm-spring`` dialect: the Spring Boot SMM panel API of ``smm-spring-api.md`` at its own paths.

JWT (our access tokens; the same users as every API) or ``X-API-Key``; ``{"data", "success", "message"}``
envelopes where the document shows them; Spring pages (``page`` from 0); the Standard Error Response
``{"error", "code", "timestamp", "path", "details"}``. Its Perfect Panel ``/api/v2`` is the native one.
See docs/dialects/smm-spring.md for every endpoint and each mapping decision.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from vpnsmm.application.identity import Authenticate, Principal
from vpnsmm.entrypoints.http.dependencies import resolve_principal
from vpnsmm.entrypoints.http.dialects import Dialect
from vpnsmm.entrypoints.http.dialects.smm_spring.admin import OPERATOR_ROUTES
from vpnsmm.entrypoints.http.dialects.smm_spring.errors import EXCEPTION_HANDLERS
from vpnsmm.entrypoints.http.dialects.smm_spring.routes import USER_ROUTES
from vpnsmm.entrypoints.http.dialects.smm_spring.wire import now_iso
from vpnsmm.entrypoints.http.dialects.smm_spring.ws import order_updates

_REASONS = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 429: "RATE_LIMITED"}


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """Errors raised before this router's handlers (the limiter's 429, routing's 404/405) in the Standard
    Error Response format."""
    text = f"Too many requests: {message}" if status == 429 else message
    return {"error": text, "code": status, "timestamp": now_iso(), "path": path,
            "details": {"reason": _REASONS.get(status, "HTTP_ERROR")}}


async def principal(request: Request[Any, Any, Any], authenticate: Authenticate) -> Principal:
    """The caller: ``Authorization: Bearer``, ``X-API-Key``, or the document's ``key`` query parameter."""
    if not request.headers.get("authorization") and not request.headers.get("x-api-key"):
        key = request.query_params.get("key")
        if key:
            return await authenticate.api_key(key)
    return await resolve_principal(request, authenticate)


def build() -> list[Any]:
    return [*USER_ROUTES, *OPERATOR_ROUTES, order_updates]


DIALECT = Dialect(name="smm-spring", document="smm-spring-api.md", default_prefix="/", build=build,
                  exception_handlers=EXCEPTION_HANDLERS, error_body=error_body,
                  dependencies={"principal": Provide(principal)},
                  description="Spring Boot SMM panel API (/api/v1, /api/v2/admin, /api/v2/webhooks, /ws)")
